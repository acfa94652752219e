/**
 * Whether an incremental's input is the newest point's content again, apart from the bytes
 * its dump tool varies on every run (a header timestamp): then the write stores nothing
 * (writer.ts, `writePointUnlessUnchanged`; docs/FORMAT.md §9).
 *
 * The test uses what the writer computes anyway — the keyed chunk ids, in stream order —
 * plus one extra keyed hash of the first chunk only: its bytes with the volatile ranges
 * zeroed, followed by the ranges themselves (`maskedFirstChunkId`), recorded in every point
 * such a write commits (`meta.maskedFirstChunkId`).
 *
 * Contract: `sameAsNewest` is true only when the input has exactly the newest point's
 * chunk ids in order, except that the first chunk may differ when both first chunks'
 * masked ids are known and equal. Anything unknown (no masked id on either side: the
 * format could not tell its volatile bytes, or the point was written before this test)
 * counts as changed. So a false "unchanged" needs a keyed-hash collision; a false
 * "changed" only costs a point.
 */
import { chunkIdFunction } from '../crypto/chunk-id.ts';
import type { VolatileBytes } from './types.ts';

/** The point meta field holding its first chunk's masked id (hex). */
export const MASKED_ID_META = 'maskedFirstChunkId';

/**
 * The keyed id (hex) of the first chunk with the ranges `volatile` names zeroed, the ranges
 * appended; null when `volatile` cannot tell or names bytes outside the chunk.
 */
export function maskedFirstChunkId(pieces: readonly Uint8Array[], volatile: VolatileBytes, chunkIdKey: Uint8Array | null): string | null {
  const head = Buffer.concat(pieces); // a copy: the pieces themselves are never changed
  const ranges = volatile(head);
  if (!ranges) return null;
  for (const [start, end] of ranges) {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || start >= end || end > head.length) return null;
    head.fill(0, start, end);
  }
  return chunkIdFunction(chunkIdKey)(Buffer.concat([head, Buffer.from(JSON.stringify(ranges))])).toString('hex');
}

export interface ComparedPoint {
  refs: readonly { id: Buffer }[];
  meta: Record<string, unknown>;
}

export function sameAsNewest(ids: readonly Buffer[], maskedId: string | null, newest: ComparedPoint): boolean {
  if (ids.length !== newest.refs.length) return false;
  for (let i = 0; i < ids.length; i++) {
    if (ids[i]!.equals(newest.refs[i]!.id)) continue;
    if (i !== 0 || maskedId === null || newest.meta[MASKED_ID_META] !== maskedId) return false;
  }
  return true;
}
