/**
 * readPoint: a restore point's manifest → a byte stream equal to the one written.
 *
 * Before the first byte: the manifest is read (NOT_FOUND / INTEGRITY / FORMAT_TOO_NEW) and
 * every referenced pack is checked to exist and be long enough (one list call), so a
 * missing or truncated pack fails before anything is emitted. While streaming: chunks are
 * fetched with ranged reads (adjacent chunks of one pack coalesced into reads of at most
 * `readSpanLimit` bytes: a whole default pack is one read, so about 32 pack reads per GB
 * restored on every kind (#23 target ≤ 64); one read ahead), each is authenticated,
 * decompressed and checked against its id before it
 * is emitted; a delta chunk's base is resolved first (chunk-resolver.ts: the bases of one
 * read are fetched together with it, in coalesced ranged reads of nearby chunks, deeper
 * bases one ranged read each, at most a few per chunk; bases this stream itself emits are kept for
 * it; a base is authenticated but hashed against its id only through the chunks decoded
 * against it, and named when it is at fault); the whole-stream length (and its SHA-256, when
 * the manifest has one: version 1 and early version-2 manifests) is checked at the end and a
 * mismatch errors the stream instead of ending it. Every INTEGRITY message names the point and pack.
 * From before the preflight until the stream closes, a reading marker (inflight-marker.ts
 * startRead) keeps a prune from deleting the point and GC from deleting its packs; a point
 * deleted just before it landed → NOT_FOUND (deletedMeanwhile), nothing emitted.
 * Memory: at most 2 reads held at once (the one being decoded and the next one, fetched
 * while it is), each ≤ readSpanLimit (40 MiB for default repositories) and each with the
 * stored bases its chunks need (≤ readSpanLimit; only for points with deltas), plus the
 * chunk being decoded, resolved bases (≤ 64 MiB) and the 1 MiB stream buffer. Abort →
 * stream errors with CANCELED.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { BackstopError, hasCode } from '../../shared/result.ts';
import { ChunkDecoder, ChunkDamagedError } from './chunk-codec.ts';
import type { RepoContext } from './context.ts';
import { PACKS_PREFIX, packIdFromKey, packKey } from './layout.ts';
import { manifestLocations, type ChunkRef, type Manifest } from './manifest.ts';
import { ChunkResolver, ChunkUnreadableError } from './chunk-resolver.ts';
import { PACK_TRAILER_LENGTH } from './pack.ts';
import { startRead } from './inflight-marker.ts';

const MIB = 1024 * 1024;
/** Reads longer than a pack's worth are split at this many bytes (plus one chunk). */
const READ_SPAN = 32 * MIB;
/** Room for a stored chunk's framing and sealing beyond its raw length. */
const FRAME_SLACK = 64 * 1024;
const READ_AHEAD = 1;

/**
 * The longest ranged read of one restore stream. A pack is closed at the first chunk that
 * takes it to `packSize`, so its chunks span less than packSize + one stored chunk: with
 * packs up to 32 MiB each pack is one read (a limit of 32 MiB flat split every pack in two,
 * ~64 reads per GB); bigger packs are read in spans of 32 MiB plus one chunk.
 */
export function readSpanLimit(header: { packSize: number; chunker: { max: number } }): number {
  return Math.min(header.packSize, READ_SPAN) + header.chunker.max + FRAME_SLACK;
}

interface ReadGroup {
  packId: string;
  offset: number;
  length: number;
  refs: ChunkRef[];
}

export function integrity(pointId: string, packId: string | null, detail: string): BackstopError {
  const where = packId ? `pack ${packId} ` : '';
  return new BackstopError('INTEGRITY', `Restore point ${pointId} is damaged: ${where}${detail}. Restore a different point, or run verify to see everything affected.`);
}

const released = new WeakMap<Readable, Promise<void>>();

/**
 * Ends a read of readPoint's stream (destroys it if it was not read to its end) and resolves
 * once its reading marker is removed: call it when a restore is done with the stream, so a
 * job's thread that ends right after leaves no marker holding the point.
 */
export async function closeRead(stream: Readable): Promise<void> {
  stream.destroy();
  await released.get(stream);
}

/** A point a prune (or another Backstop) deleted between listing it and starting to read it. */
export function deletedMeanwhile(pointId: string, location: string): BackstopError {
  return new BackstopError(
    'NOT_FOUND',
    `Restore point ${pointId} was deleted from ${location} (by a prune or another Backstop) just as this read started; nothing was read or restored. Choose another point.`,
  );
}

function groupRefs(refs: readonly ChunkRef[], limit: number): ReadGroup[] {
  const groups: ReadGroup[] = [];
  let g: ReadGroup | null = null;
  for (const r of refs) {
    if (g && g.packId === r.packId && g.offset + g.length === r.offset && g.length + r.storedLength <= limit) {
      g.length += r.storedLength;
      g.refs.push(r);
    } else {
      g = { packId: r.packId, offset: r.offset, length: r.storedLength, refs: [r] };
      groups.push(g);
    }
  }
  return groups;
}

/** Checks that every pack the manifest needs exists and is long enough. */
export async function preflight(ctx: RepoContext, m: Manifest): Promise<void> {
  const need = new Map<string, number>();
  for (const r of manifestLocations(m)) need.set(r.packId, Math.max(need.get(r.packId) ?? 0, r.offset + r.storedLength + PACK_TRAILER_LENGTH));
  if (need.size === 0) return;
  const sizes = new Map<string, number>();
  for (const o of await ctx.backend.list(PACKS_PREFIX)) {
    const id = packIdFromKey(o.key);
    if (id) sizes.set(id, o.size);
  }
  for (const [packId, min] of need) {
    const size = sizes.get(packId);
    if (size === undefined) throw integrity(m.info.id, packId, `is missing (${packKey(packId)} not found in ${ctx.backend.location})`);
    if (size < min) throw integrity(m.info.id, packId, `is truncated (${size} bytes, needs at least ${min})`);
  }
}

async function fetchGroup(ctx: RepoContext, pointId: string, g: ReadGroup): Promise<Buffer> {
  let buf: Buffer;
  try {
    buf = await ctx.backend.get(packKey(g.packId), { offset: g.offset, length: g.length });
  } catch (e) {
    if (hasCode(e, 'NOT_FOUND')) throw integrity(pointId, g.packId, 'is missing');
    throw e;
  }
  if (buf.length !== g.length) throw integrity(pointId, g.packId, `is truncated (read ${buf.length} of ${g.length} bytes at offset ${g.offset})`);
  return buf;
}

/** `readAhead` false: one pack read at a time (half the memory, for many restores at once). */
export async function readPoint(ctx: RepoContext, pointId: string, signal?: AbortSignal, readAhead = true): Promise<Readable> {
  if (signal?.aborted) throw new BackstopError('CANCELED', `Reading restore point ${pointId} was canceled.`);
  const m = await ctx.manifests.load(pointId);
  // While the stream is open its point is in use: a prune skips it, GC keeps its packs.
  const packIds = [...new Set(manifestLocations(m).map((r) => r.packId))];
  const { marker, gone } = await startRead(ctx.backend, [pointId], packIds, new Date(ctx.options.now()), ctx.options.markerHeartbeatMs);
  if (gone.length > 0) throw deletedMeanwhile(pointId, ctx.backend.location);
  try {
    await preflight(ctx, m);
  } catch (e) {
    await marker?.release();
    throw e;
  }
  const groups = groupRefs(m.refs, readSpanLimit(ctx.header));
  const decoder = new ChunkDecoder(ctx.codec);
  // Bases are hashed only through the chunks decoded against them (each of which is checked).
  const resolver = new ChunkResolver(ctx, decoder, undefined, true);
  const spanLimit = readSpanLimit(ctx.header);
  const baseIds = new Set<string>();
  for (const r of manifestLocations(m)) if (r.base) baseIds.add(r.base.id.toString('hex'));

  /** The stored bases a read's chunks need (not those it holds itself), fetched ahead. */
  const basesOf = (g: ReadGroup): Promise<Map<string, Buffer>> => {
    const own = new Set(g.refs.map((r) => r.id.toString('hex')));
    const bases = g.refs.flatMap((r) => (r.base && !own.has(r.base.id.toString('hex')) ? [r.base] : []));
    return bases.length > 0 ? resolver.fetchAhead(bases, spanLimit) : Promise.resolve(new Map<string, Buffer>());
  };

  async function* generate(): AsyncGenerator<Buffer> {
    try {
      yield* chunks();
    } finally {
      // Before the stream ends or errors: a reader that sees the end finds the marker gone.
      await marker?.release();
    }
  }

  async function* chunks(): AsyncGenerator<Buffer> {
    // Version-2 manifests written without it: every chunk was checked against its id already.
    const hash = m.info.sha256 === undefined ? null : createHash('sha256');
    let total = 0;
    const ahead: { data: Promise<Buffer>; bases: Promise<Map<string, Buffer>> }[] = [];
    let next = 0;
    const fill = () => {
      while (ahead.length < (readAhead ? READ_AHEAD : 0) + 1 && next < groups.length) {
        const g = groups[next++]!;
        const item = { data: fetchGroup(ctx, pointId, g), bases: basesOf(g) };
        item.data.catch(() => {});
        item.bases.catch(() => {});
        ahead.push(item);
      }
    };
    fill();
    for (const g of groups) {
      const item = ahead.shift()!;
      const buf = await item.data;
      const stored = await item.bases;
      for (const r of g.refs) {
        if (signal?.aborted) throw new BackstopError('CANCELED', `Reading restore point ${pointId} was canceled.`);
        const at = r.offset - g.offset;
        let raw: Buffer;
        try {
          const base = r.base ? { id: r.base.id, raw: await resolver.raw(r.base, stored) } : null;
          try {
            raw = decoder.decode(r.id, buf.subarray(at, at + r.storedLength), r.rawLength, base);
          } catch (e) {
            if (e instanceof ChunkDamagedError && r.base) resolver.confirm(r.base); // a bad base is named, not the delta
            throw e;
          }
        } catch (e) {
          if (e instanceof ChunkUnreadableError) throw integrity(pointId, e.packId, `${e.detail} (a base of chunk ${r.id.toString('hex').slice(0, 16)}…)`);
          if (e instanceof ChunkDamagedError) throw integrity(pointId, r.packId, `holds a bad chunk at offset ${r.offset}: ${e.message}`);
          throw e;
        }
        if (baseIds.size > 0 && baseIds.has(r.id.toString('hex'))) resolver.remember(r.id, raw);
        hash?.update(raw);
        total += raw.length;
        yield raw;
      }
      // The next read starts once this one is consumed: at most two reads (each with its
      // bases) are held at once.
      fill();
    }
    if (total !== m.info.length) throw integrity(pointId, null, `the restored stream is ${total} bytes, the manifest says ${m.info.length}`);
    const digest = hash?.digest('hex');
    if (hash && digest !== m.info.sha256) throw integrity(pointId, null, `the restored stream's SHA-256 ${digest} differs from the manifest's ${m.info.sha256}`);
  }

  const stream = Readable.from(generate(), { objectMode: false, highWaterMark: 1024 * 1024 });
  released.set(stream, new Promise((resolve) => stream.once('close', () => resolve(marker?.release()))));
  if (signal) {
    const onAbort = () => stream.destroy(new BackstopError('CANCELED', `Reading restore point ${pointId} was canceled.`));
    signal.addEventListener('abort', onAbort, { once: true });
    stream.once('close', () => signal.removeEventListener('abort', onAbort));
  }
  return stream;
}
