/**
 * Coalesced ranged reads for restores: turns a sequence of wanted byte ranges into few
 * ranged GETs and yields the slices in the requested order.
 *
 * Contract:
 * - Ranges that follow each other in the request sequence, name the same key, lie at
 *   most `maxGap` bytes apart (default 1 MiB) and together span at most `maxSpan` bytes
 *   (default 16 MiB) are served by one `backend.get(key, span)`. Ranges are never
 *   reordered or grouped across other requests, so memory stays bounded.
 * - At most `concurrency` groups (default 4) are held at once: the one being consumed
 *   and the next ones, fetched ahead in parallel; memory ≤ concurrency × maxSpan
 *   (a single range longer than maxSpan is fetched alone, at its own size).
 * - Each yielded slice equals what `backend.get(key, { offset, length })` would return
 *   (short at the end of an object, empty past it). Slices are views into the fetched
 *   span: copy them to keep them beyond the next iteration cheaply.
 * - A failed GET is thrown when the consumer reaches its first slice; stopping early
 *   is fine (fetches already started finish and are dropped).
 * Pure and backend-generic: it depends only on `Backend.get`.
 */
import type { Backend } from './backend.ts';

export interface RangeRequest {
  key: string;
  offset: number;
  length: number;
}

export interface CoalesceOptions {
  maxGap?: number;
  maxSpan?: number;
  concurrency?: number;
  signal?: AbortSignal;
}

export interface RangeGroup {
  key: string;
  offset: number;
  length: number;
  /** The requests served by this group, in request order. */
  members: RangeRequest[];
}

const MIB = 1024 * 1024;

/** Groups consecutive requests lazily (pure; exposed for tests and planning). */
export async function* planRangeGroups(
  requests: Iterable<RangeRequest> | AsyncIterable<RangeRequest>,
  options: Pick<CoalesceOptions, 'maxGap' | 'maxSpan'> = {},
): AsyncGenerator<RangeGroup> {
  const maxGap = options.maxGap ?? MIB;
  const maxSpan = options.maxSpan ?? 16 * MIB;
  let g: RangeGroup | undefined;
  for await (const r of requests) {
    if (!Number.isSafeInteger(r.offset) || !Number.isSafeInteger(r.length) || r.offset < 0 || r.length < 0) {
      throw new RangeError(`invalid byte range ${r.offset}+${r.length} of "${r.key}"`);
    }
    if (g && g.key === r.key) {
      const end = g.offset + g.length;
      const start = Math.min(g.offset, r.offset);
      const mergedEnd = Math.max(end, r.offset + r.length);
      const gap = Math.max(0, r.offset - end, g.offset - (r.offset + r.length));
      if (gap <= maxGap && mergedEnd - start <= maxSpan) {
        g.offset = start;
        g.length = mergedEnd - start;
        g.members.push(r);
        continue;
      }
    }
    if (g) yield g;
    g = { key: r.key, offset: r.offset, length: r.length, members: [r] };
  }
  if (g) yield g;
}

/** Yields one Buffer per request, in request order, fetching coalesced spans concurrently. */
export async function* readRanges(
  backend: Pick<Backend, 'get'>,
  requests: Iterable<RangeRequest> | AsyncIterable<RangeRequest>,
  options: CoalesceOptions = {},
): AsyncGenerator<Buffer> {
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const groups = planRangeGroups(requests, options);
  const queue: { group: RangeGroup; data: Promise<Buffer> }[] = [];
  let exhausted = false;
  const fill = async () => {
    while (!exhausted && queue.length < concurrency) {
      options.signal?.throwIfAborted();
      const next = await groups.next();
      if (next.done) {
        exhausted = true;
        break;
      }
      const group = next.value;
      const data = backend.get(group.key, { offset: group.offset, length: group.length });
      data.catch(() => {}); // surfaced when the consumer reaches this group
      queue.push({ group, data });
    }
  };
  try {
    for (;;) {
      await fill();
      const head = queue.shift(); // the other queued fetches keep running while `head` is consumed
      if (!head) return;
      const buf = await head.data;
      for (const r of head.group.members) {
        options.signal?.throwIfAborted();
        const start = Math.min(r.offset - head.group.offset, buf.length);
        yield buf.subarray(start, Math.min(buf.length, start + r.length));
      }
    }
  } finally {
    await groups.return(undefined);
  }
}
