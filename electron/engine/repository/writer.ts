/**
 * writePoint: one input stream → one committed restore point (docs/FORMAT.md §9).
 *
 * Pipeline (one call, this thread + encoder pool):
 *   read (backpressure: the source is pulled only as chunks are consumed)
 *   → chunk (FastCDC / fixed; views of the input) → SHA-256 of the stream
 *   → hand over (hand-over.ts: the input's own buffers are moved to the worker when the
 *     input hands them over, else the chunk is copied into one buffer)
 *   → pool (≤ maxChunksInFlight): chunk id, and compress + seal unless the chain has the id
 *   → in stream order: known in the chain or earlier in this point? reuse the ref
 *     : append to the open pack → pack full: marker names it, then put it
 *     (one pack upload overlaps with filling the next; at most two packs in memory)
 *   → all packs stored → put the manifest (the commit) → delete the in-flight marker.
 * A failure or cancel before the manifest put leaves no point; the write deletes the
 * packs it stored (best effort — anything left is unreferenced and collected later).
 * If the manifest put itself fails, the manifest is probed: if it exists the point is
 * committed after all and is returned.
 */
import { createHash, randomBytes } from 'node:crypto';
import { BackstopError, isBackstopError } from '../../shared/result.ts';
import type { BackupType } from '../../shared/domain.ts';
import { chunkPieceStream, createChunker, validateFixedSize } from './chunker.ts';
import { HandedOver, handOver } from './hand-over.ts';
import { createEncoderPool } from './encoder-pool.ts';
import type { TakenChunk } from './chunk-codec.ts';
import { compareManifests, type RepoContext } from './context.ts';
import { inflightKey, newPointId, packKey, pointKey } from './layout.ts';
import { encodeManifest, type ChunkRef, type Manifest, type ManifestInfo } from './manifest.ts';
import { PackBuilder } from './pack.ts';
import { etaSeconds, ProgressThrottle, type WriteProgress } from './progress.ts';
import type { InflightMarker } from './gc.ts';
import { MAX_META_BYTES, type PointSummary, type WritePointOptions } from './types.ts';

/** Streams announced (expectedSize) below this are encoded inline, without worker threads. */
export const SMALL_STREAM_BYTES = 16 * 1024 * 1024;

/** Thrown by an incremental write when there is no chain of that backup type yet. */
export class NoChainError extends BackstopError {
  readonly reason = 'NO_CHAIN' as const;
  constructor(
    readonly backupType: BackupType,
    location: string,
  ) {
    super(
      'NOT_FOUND',
      `No full ${backupType} backup exists in ${location}, so an incremental backup has nothing to build on. Run a full backup first.`,
    );
  }
}

export function isNoChainError(e: unknown): e is NoChainError {
  return e instanceof NoChainError;
}

interface PackSlot {
  id: string | null;
}
interface Loc {
  id: Buffer;
  pack: PackSlot;
  offset: number;
  storedLength: number;
  rawLength: number;
}

export function summarize(m: Manifest): PointSummary {
  return { ...m.info, chunkCount: m.refs.length };
}

function validate(opts: WritePointOptions): void {
  const bad = (msg: string): never => {
    throw new BackstopError('VALIDATION', msg);
  };
  if (typeof opts.database !== 'string' || opts.database.length === 0) bad('database name must not be empty');
  if (opts.kind !== 'full' && opts.kind !== 'incremental') bad('kind must be "full" or "incremental"');
  if (opts.backupType !== 'logical' && opts.backupType !== 'snapshot') bad('backupType must be "logical" or "snapshot"');
  if (opts.chunking?.kind === 'fixed') {
    const err = validateFixedSize(opts.chunking.size);
    if (err) bad(err);
  } else if (opts.chunking && opts.chunking.kind !== 'cdc') bad('chunking must be {kind:"cdc"} or {kind:"fixed", size}');
  if (opts.meta !== undefined) {
    if (typeof opts.meta !== 'object' || opts.meta === null || Array.isArray(opts.meta)) bad('meta must be a JSON object');
    const size = Buffer.byteLength(JSON.stringify(opts.meta), 'utf8');
    if (size > MAX_META_BYTES) bad(`meta is ${size} bytes as JSON; at most ${MAX_META_BYTES} are allowed`);
  }
}

function abortError(): BackstopError {
  return new BackstopError('CANCELED', 'canceled');
}

/**
 * Iterates `source`, rejecting promptly when `signal` aborts even if the source is stalled.
 * (One abort listener per pending read, removed when it settles: racing every read against
 * one long-lived promise would keep every chunk ever read reachable.)
 */
async function* abortable(source: AsyncIterable<Uint8Array>, signal: AbortSignal | undefined): AsyncGenerator<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  try {
    for (;;) {
      if (signal?.aborted) throw abortError();
      const next = it.next();
      const r = !signal
        ? await next
        : await new Promise<IteratorResult<Uint8Array>>((resolve, reject) => {
            const onAbort = () => reject(abortError());
            signal.addEventListener('abort', onAbort, { once: true });
            next.then(
              (v) => {
                signal.removeEventListener('abort', onAbort);
                resolve(v);
              },
              (e: unknown) => {
                signal.removeEventListener('abort', onAbort);
                reject(e instanceof Error ? e : new Error(String(e)));
              },
            );
          });
      if (r.done) return;
      yield r.value;
    }
  } finally {
    // Not awaited: a source stuck inside its own await would never answer return().
    void Promise.resolve(it.return?.()).catch(() => {});
  }
}

/** Passes `source` through, recording each buffer the input hands over. */
async function* recording(source: AsyncIterable<Uint8Array>, handed: HandedOver): AsyncGenerator<Uint8Array> {
  for await (const data of source) {
    handed.add(data);
    yield data;
  }
}

export async function writePoint(ctx: RepoContext, input: AsyncIterable<Uint8Array>, opts: WritePointOptions, collectGarbage: () => Promise<unknown>): Promise<PointSummary> {
  validate(opts);
  const { backend, options } = ctx;
  const signal = opts.signal;
  const what = `restore point of database "${opts.database}"`;
  if (signal?.aborted) throw new BackstopError('CANCELED', `The backup of "${opts.database}" was canceled before it started; nothing was written.`);

  const started = options.now();
  const createdAt = new Date(started);
  const pointId = newPointId(createdAt, randomBytes(4).toString('hex'));
  const writeId = randomBytes(16).toString('hex');

  // Leftovers of crashed writers go first (best effort: a backup must not fail because of them).
  try {
    await collectGarbage();
  } catch (e) {
    if (!isBackstopError(e)) throw e;
  }

  let chainId = pointId;
  let parentId: string | null = null;
  const known = new Map<string, Loc>();
  const basePoints: string[] = [];
  if (opts.kind === 'incremental') {
    const { good } = await ctx.manifests.scan();
    const ofType = good.filter((m) => m.info.backupType === opts.backupType).sort(compareManifests);
    const newest = ofType[ofType.length - 1];
    if (!newest) throw new NoChainError(opts.backupType, backend.location);
    chainId = newest.info.chainId;
    parentId = newest.info.id;
    const slots = new Map<string, PackSlot>();
    for (const m of ofType) {
      if (m.info.chainId !== chainId) continue;
      basePoints.push(m.info.id);
      for (const r of m.refs) {
        const key = r.id.toString('hex');
        if (known.has(key)) continue;
        let slot = slots.get(r.packId);
        if (!slot) slots.set(r.packId, (slot = { id: r.packId }));
        known.set(key, { id: r.id, pack: slot, offset: r.offset, storedLength: r.storedLength, rawLength: r.rawLength });
      }
    }
  }

  const marker: InflightMarker = { writeId, startedAt: createdAt.toISOString(), basePoints, packs: [] };
  let markerChain: Promise<void> = Promise.resolve();
  const putMarker = (): Promise<void> => {
    const body = Buffer.from(JSON.stringify(marker), 'utf8');
    markerChain = markerChain.catch(() => {}).then(() => backend.put(inflightKey(writeId), body));
    return markerChain;
  };

  // Starting workers costs more than it saves on small streams.
  const small = opts.expectedSize !== undefined && opts.expectedSize < SMALL_STREAM_BYTES;
  const chainIds = [...known.values()].map((l) => l.id);
  const pool = small
    ? createEncoderPool(0, ctx.codec, chainIds)
    : options.encoderWorkers
      ? options.encoderWorkers.session(ctx.codec, chainIds)
      : createEncoderPool(options.workers, ctx.codec, chainIds);
  const heartbeat = setInterval(() => void putMarker().catch(() => {}), options.markerHeartbeatMs);
  heartbeat.unref();

  const stats = { bytesRead: 0, bytesNew: 0, bytesStored: 0, chunksNew: 0, chunksReused: 0, packsWritten: 0 };
  const expected = opts.expectedSize ?? null;
  const progress = new ProgressThrottle<WriteProgress>(opts.onProgress, options.now, options.progressIntervalMs);
  const snapshot = (done: boolean): WriteProgress => {
    const elapsedMs = options.now() - started;
    return { ...stats, expectedBytes: expected, etaSeconds: done ? 0 : etaSeconds(stats.bytesRead, expected, elapsedMs), elapsedMs, done };
  };

  let builder = new PackBuilder(ctx.sealer);
  let slot: PackSlot = { id: null };
  let upload: Promise<void> = Promise.resolve();
  let uploadError: unknown = null;
  const queue: { rawLength: number; taken: Promise<TakenChunk> }[] = [];
  const refs: Loc[] = [];
  let committed = false;

  const rotatePack = async (): Promise<void> => {
    if (builder.count === 0) return;
    const finished = builder.finish();
    slot.id = finished.id;
    builder = new PackBuilder(ctx.sealer);
    slot = { id: null };
    await upload;
    if (uploadError) throw uploadError;
    upload = (async () => {
      marker.packs.push(finished.id);
      await putMarker();
      await backend.put(packKey(finished.id), finished.parts, { signal });
      stats.packsWritten++;
    })();
    upload.catch((e: unknown) => {
      uploadError ??= e;
    });
  };

  // Chunks are placed in stream order, so the first copy of a repeated chunk is the one kept.
  const drainOne = async (): Promise<void> => {
    const item = queue.shift()!;
    const { id, stored } = await item.taken;
    const key = id.toString('hex');
    const existing = known.get(key);
    if (existing) {
      stats.chunksReused++;
      refs.push(existing);
      return;
    }
    if (!stored) throw new BackstopError('INTERNAL', `A compression worker skipped chunk ${key.slice(0, 16)}… as already stored, but this backup does not have it.`);
    const entry = builder.add(id, stored, item.rawLength);
    const loc: Loc = { id, pack: slot, offset: entry.offset, storedLength: stored.length, rawLength: item.rawLength };
    known.set(key, loc);
    refs.push(loc);
    stats.chunksNew++;
    stats.bytesNew += item.rawLength;
    stats.bytesStored += stored.length;
    if (uploadError) throw uploadError;
    if (builder.size >= ctx.header.packSize) await rotatePack();
  };

  try {
    await putMarker();
    const chunking = opts.chunking ?? { kind: 'cdc' as const };
    const chunker = createChunker(chunking, ctx.header.chunker);
    const streamHash = createHash('sha256');

    // Inline, the pool reads the views before take returns: nothing to copy or move.
    const handed = pool.size > 0 && opts.handsOverBuffers ? new HandedOver() : null;
    const source = handed ? recording(abortable(input, signal), handed) : abortable(input, signal);
    for await (const chunk of chunkPieceStream(source, chunker)) {
      if (signal?.aborted) throw abortError();
      const rawLength = chunk.length;
      stats.bytesRead += rawLength;
      let hashed = 0;
      for (const p of chunk.pieces) {
        streamHash.update(p);
        hashed += p.byteLength;
      }
      // A buffer moved away by someone else (handsOverBuffers on a shared stream) reads as empty.
      if (hashed !== rawLength) throw new BackstopError('INTERNAL', `${hashed} of the ${rawLength} bytes of a chunk were readable: the input's buffers were taken over elsewhere while this backup read them. Nothing was committed.`);
      // Moved buffers are detached (length 0) for this thread from here on.
      const taken = pool.take(pool.size > 0 ? handOver(chunk, handed) : { pieces: chunk.pieces, transfer: [] });
      taken.catch(() => {});
      queue.push({ rawLength, taken });
      while (queue.length >= options.maxChunksInFlight) await drainOne();
      progress.tick(() => snapshot(false));
    }
    while (queue.length > 0) {
      if (signal?.aborted) throw abortError();
      await drainOne();
    }
    await rotatePack();
    await upload;
    if (uploadError) throw uploadError;
    if (signal?.aborted) throw abortError();

    const chunkRefs: ChunkRef[] = refs.map((l) => ({ id: l.id, packId: l.pack.id!, offset: l.offset, storedLength: l.storedLength, rawLength: l.rawLength }));
    const info: ManifestInfo = {
      id: pointId,
      database: opts.database,
      serverIdentity: opts.serverIdentity,
      engineVersion: opts.engineVersion,
      dumpToolVersion: opts.dumpToolVersion,
      kind: opts.kind,
      backupType: opts.backupType,
      createdAt: createdAt.toISOString(),
      chainId,
      parentId,
      chunking: chunking.kind === 'fixed' ? { kind: 'fixed', size: chunking.size } : { kind: 'cdc', ...ctx.header.chunker },
      length: stats.bytesRead,
      sha256: streamHash.digest('hex'),
      stats: { chunksNew: stats.chunksNew, chunksReused: stats.chunksReused, bytesNew: stats.bytesNew, bytesStored: stats.bytesStored, packsWritten: stats.packsWritten },
      meta: opts.meta ?? {},
    };
    const manifest: Manifest = { info, refs: chunkRefs };
    const bytes = encodeManifest(manifest, ctx.sealer, options.compressionLevel);
    try {
      await backend.put(pointKey(pointId), bytes);
    } catch (e) {
      // Did the manifest land anyway (e.g. the reply was lost)? undefined = cannot tell.
      const probe = await backend.stat(pointKey(pointId)).catch(() => undefined);
      if (probe === undefined) {
        committed = true; // unknown: keep the packs; GC removes them if no manifest refers to them
        throw e;
      }
      if (probe === null) throw e;
    }
    committed = true;
    clearInterval(heartbeat);
    await markerChain.catch(() => {});
    await backend.delete(inflightKey(writeId)).catch(() => {});
    const summary = summarize(manifest);
    progress.final(snapshot(true));
    return summary;
  } catch (e) {
    clearInterval(heartbeat);
    await pool.close();
    await Promise.allSettled(queue.map((q) => q.taken));
    await upload.catch(() => {});
    await markerChain.catch(() => {});
    if (!committed) {
      // Every pack this write named, including one whose put failed half-way on a non-atomic store.
      for (const id of marker.packs) await backend.delete(packKey(id)).catch(() => {});
      await backend.delete(inflightKey(writeId)).catch(() => {});
    }
    const canceled = signal?.aborted === true || (isBackstopError(e) && e.code === 'CANCELED') || (e instanceof Error && e.name === 'AbortError');
    if (canceled) {
      throw new BackstopError('CANCELED', `The backup of "${opts.database}" was canceled; no ${what} was written. Earlier restore points are unchanged.`, { cause: e });
    }
    if (isBackstopError(e) && e.code === 'DISK_FULL') {
      throw new BackstopError(
        'DISK_FULL',
        `${backend.location} ran out of space while writing a ${what}. The point was not saved (nothing was committed) and earlier restore points are intact. Free space and run the backup again. (${e.message})`,
        { cause: e },
      );
    }
    throw e;
  } finally {
    clearInterval(heartbeat);
    await pool.close();
  }
}
