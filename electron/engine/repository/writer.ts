/**
 * writePoint: one input stream → one committed restore point (docs/FORMAT.md §9).
 *
 * Pipeline (one call, this thread + encoder pool):
 *   read (backpressure: the source is pulled only as chunks are consumed)
 *   → chunk (FastCDC / fixed; views of the input) → SHA-256 of the stream (format 1 only:
 *     a format-2 manifest's sealed chunk ids pin the stream, so each byte is hashed once)
 *   → hand over (hand-over.ts: the input's own buffers are moved to the worker when the
 *     input hands them over, else the chunk is copied into one buffer)
 *   → pool (≤ maxChunksInFlight): chunk id, and compress + seal unless the chain has the id,
 *     at a zstd level chosen from the encoders' backlog (adaptive-level.ts: lower while they
 *     lag behind the input, never re-compressed)
 *     (format 2: the worker also computes each new chunk's resemblance sketch, sketch.ts,
 *     recorded in the manifest; incremental: a new chunk comes back raw when it has a base
 *     candidate — the parent point's chunk overlapping its stream range most, or, when that
 *     is absent or shares fewer super-features, the chain's chunk whose sketch is most
 *     alike (`chooseBase`); the base is read from the destination
 *     (chunk-resolver.ts) and the chunk is stored as a delta against it when that pays,
 *     keeping every chunk at most MAX_DELTA_DEPTH bases away from a whole one; never with
 *     `deltaBases: false`)
 *   → in stream order: known in the chain or earlier in this point? reuse the ref
 *     : append to the open pack → pack full: marker names it, then put it
 *     (one pack upload overlaps with filling the next; at most two packs in memory)
 *   → (writePointUnlessUnchanged, incremental: the chunk ids equal the newest point's, the
 *     first chunk compared with its volatile bytes masked, and no pack sent yet → delete the
 *     marker, commit nothing, return `unchanged`; unchanged-write.ts, docs/FORMAT.md §9a)
 *   → all packs stored → put the manifest (the commit) → delete the in-flight marker.
 * A failure or cancel before the manifest put leaves no point; the write deletes the
 * packs it stored (best effort — anything left is unreferenced and collected later).
 * If the manifest put itself fails, the manifest is probed: if it exists the point is
 * committed after all and is returned.
 *
 * A full of a format-1 repository first upgrades it to format 2 (format-upgrade.ts, best
 * effort): the new chain is the first that can hold delta chunks.
 * The stages are their own units: the chain to build on and a new chunk's base
 * (write-chain.ts), the in-flight
 * marker and its heartbeat (inflight-marker.ts), packs and the upload in flight
 * (pack-writer.ts), the commit (`commitManifest`); `writePoint` is the loop over chunks.
 */
import { createHash, randomBytes } from 'node:crypto';
import { BackstopError, hasCode, isBackstopError } from '../../shared/result.ts';
import { chunkPieceStream, createChunker, validateFixedSize } from './chunker.ts';
import { HandedOver, handOver } from './hand-over.ts';
import { createEncoderPool } from './encoder-pool.ts';
import { AdaptiveLevel } from './adaptive-level.ts';
import type { EncodedChunk } from './chunk-codec.ts';
import type { RepoContext } from './context.ts';
import { InflightWrite, missingPoints } from './inflight-marker.ts';
import { newPointId, pointKey } from './layout.ts';
import { encodeManifest, type ChunkRef, type Manifest, type ManifestInfo } from './manifest.ts';
import { ChunkDecoder } from './chunk-codec.ts';
import { ChunkResolver, ChunkUnreadableError } from './chunk-resolver.ts';
import { upgradeToFormat2 } from './format-upgrade.ts';
import { PackWriter, type ChunkLocation } from './pack-writer.ts';
import { etaSeconds, ProgressThrottle, type WriteProgress } from './progress.ts';
import type { Backend } from '../storage/backend.ts';
import { candidateAt, chooseBase, loadChain, shallowEnough } from './write-chain.ts';
import { MAX_META_BYTES, type JsonValue, type PointSummary, type UnchangedWrite, type VolatileBytes, type WritePointOptions } from './types.ts';
import { MASKED_ID_META, maskedFirstChunkId, sameAsNewest } from './unchanged-write.ts';

/** Streams announced (expectedSize) below this are encoded inline, without worker threads. */
export const SMALL_STREAM_BYTES = 16 * 1024 * 1024;

export { isNoChainError, MAX_DELTA_DEPTH, NoChainError } from './write-chain.ts';

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

/** `meta` with what became known at the input's end (`lateMeta`, then the writer's own `extra`) merged over it, within the size limit. */
function finalMeta(opts: WritePointOptions, extra: Record<string, JsonValue>): Record<string, JsonValue> {
  const meta = { ...(opts.meta ?? {}), ...(opts.lateMeta?.() ?? {}), ...extra };
  const size = Buffer.byteLength(JSON.stringify(meta), 'utf8');
  if (size > MAX_META_BYTES) throw new BackstopError('VALIDATION', `meta is ${size} bytes as JSON; at most ${MAX_META_BYTES} are allowed`);
  return meta;
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

/**
 * Puts the manifest: the commit. If the put fails, the manifest is probed: present means
 * committed after all (returns normally). `uncertain` on the thrown error means the probe
 * could not tell, so the caller must keep the packs (GC removes them if no manifest refers
 * to them).
 */
async function commitManifest(backend: Backend, pointId: string, bytes: Buffer): Promise<void> {
  try {
    await backend.put(pointKey(pointId), bytes);
  } catch (e) {
    const probe = await backend.stat(pointKey(pointId)).catch(() => undefined);
    if (probe === null) throw e;
    if (probe === undefined) throw Object.assign(new CommitUncertain(), { cause: e });
  }
}

class CommitUncertain extends Error {}

/** A point the write builds on was deleted before its marker landed; thrown before any input is read. */
class ChainChanged extends Error {
  constructor(readonly gone: string[]) {
    super(`restore point(s) ${gone.join(', ')} were deleted while the write started`);
  }
}
const CHAIN_ATTEMPTS = 3;

/** The error a failed or canceled write reports (nothing was committed). */
function writeFailure(e: unknown, opts: WritePointOptions, location: string): unknown {
  const what = `restore point of database "${opts.database}"`;
  const canceled = opts.signal?.aborted === true || (hasCode(e, 'CANCELED')) || (e instanceof Error && e.name === 'AbortError');
  if (canceled) return new BackstopError('CANCELED', `The backup of "${opts.database}" was canceled; no ${what} was written. Earlier restore points are unchanged.`, { cause: e });
  if (hasCode(e, 'DISK_FULL')) {
    return new BackstopError(
      'DISK_FULL',
      `${location} ran out of space while writing a ${what}. The point was not saved (nothing was committed) and earlier restore points are intact. Free space and run the backup again. (${e.message})`,
      { cause: e },
    );
  }
  return e;
}

export async function writePoint(ctx: RepoContext, input: AsyncIterable<Uint8Array>, opts: WritePointOptions, collectGarbage: () => Promise<unknown>): Promise<PointSummary> {
  const written = await writeOnChain({ ctx, input, opts, volatile: null, collectGarbage });
  // Without `volatile` a write never finds its input unchanged.
  if ('unchanged' in written) throw new BackstopError('INTERNAL', 'A write without an unchanged test reported its input unchanged.');
  return written;
}

/**
 * writePoint, but an incremental whose chunks equal the newest point's apart from the bytes
 * `volatile` names (unchanged-write.ts) stores nothing: decided once every chunk is known,
 * before the commit and only while no pack has been handed to an upload (nothing but the
 * in-flight marker reached the destination; the marker is removed, the open pack dropped).
 * A write that already started a pack upload commits as usual.
 */
export async function writePointUnlessUnchanged(
  ctx: RepoContext,
  input: AsyncIterable<Uint8Array>,
  opts: WritePointOptions,
  volatile: VolatileBytes,
  collectGarbage: () => Promise<unknown>,
): Promise<PointSummary | UnchangedWrite> {
  return writeOnChain({ ctx, input, opts, volatile, collectGarbage });
}

/** One write: the repository, the input, its options, the bytes an unchanged test ignores (null: no test), and the collector run first. */
interface WriteJob {
  ctx: RepoContext;
  input: AsyncIterable<Uint8Array>;
  opts: WritePointOptions;
  volatile: VolatileBytes | null;
  collectGarbage: () => Promise<unknown>;
}

/**
 * `write`, again on the chain as it is now when a prune deleted a point of the chain between
 * reading it and the marker landing (FORMAT.md §10): the input is not read before that check.
 */
async function writeOnChain(job: WriteJob): Promise<PointSummary | UnchangedWrite> {
  const { ctx, opts } = job;
  for (let attempt = 1; ; attempt++) {
    try {
      return await write(job);
    } catch (e) {
      if (!(e instanceof ChainChanged)) throw e;
      if (attempt >= CHAIN_ATTEMPTS) {
        throw new BackstopError(
          'CONFLICT',
          `The backup of "${opts.database}" could not start: restore points ${e.gone.join(', ')} of the chain it builds on in ${ctx.backend.location} were deleted while it started, ${CHAIN_ATTEMPTS} times (another Backstop is pruning there). Nothing was written; run the backup again.`,
        );
      }
    }
  }
}

async function write({ ctx, input, opts, volatile, collectGarbage }: WriteJob): Promise<PointSummary | UnchangedWrite> {
  validate(opts);
  const { backend, options } = ctx;
  const signal = opts.signal;
  if (signal?.aborted) throw new BackstopError('CANCELED', `The backup of "${opts.database}" was canceled before it started; nothing was written.`);

  const started = options.now();
  const createdAt = new Date(started);
  const pointId = newPointId(createdAt, randomBytes(4).toString('hex'));

  // Leftovers of crashed writers go first (best effort: a backup must not fail because of them).
  try {
    await collectGarbage();
  } catch (e) {
    if (!isBackstopError(e)) throw e;
  }

  // A new chain is the safe point to move a format-1 repository to format 2.
  if (opts.kind === 'full' && options.upgradeFormat) await upgradeToFormat2(ctx);

  const { chainId, parentId, basePoints, known, parent, sketches: similar, comparable } = await loadChain(ctx, opts, pointId);
  // The first chunk's id with the volatile bytes masked: recorded with the point, compared with the newest's.
  let maskedId: string | null = null;
  const resolver = parent ? new ChunkResolver(ctx, new ChunkDecoder(ctx.codec)) : null;
  const inflight = new InflightWrite(backend, randomBytes(16).toString('hex'), createdAt, basePoints, options.markerHeartbeatMs);
  // Acknowledged pack bytes report progress too: on a slow link they are all that moves for a while.
  const packs = new PackWriter(backend, ctx.sealer, ctx.header.packSize, inflight, signal, () => progress.tick(() => snapshot(false)));

  // Starting workers costs more than it saves on small streams.
  const small = opts.expectedSize !== undefined && opts.expectedSize < SMALL_STREAM_BYTES;
  const chainIds = [...known.values()].map((l) => l.id);
  // Format 2: every new chunk's sketch, so the next incremental can find it as a base.
  const codec = ctx.formatVersion >= 2 && ctx.codec.level > 0 && options.sketchBases && opts.deltaBases !== false ? { ...ctx.codec, sketches: true } : ctx.codec;
  const pool = small
    ? createEncoderPool(0, codec, chainIds)
    : options.encoderWorkers
      ? options.encoderWorkers.session(codec, chainIds)
      : createEncoderPool(options.workers, codec, chainIds);
  const newSketches = new Map<string, Uint32Array>();

  const stats = { bytesRead: 0, bytesNew: 0, bytesStored: 0, chunksNew: 0, chunksReused: 0 };
  // The input ended: what is left is encoding the last chunks, uploading packs and the commit.
  let inputEnded = false;
  let chunksDelta = 0;
  const expected = opts.expectedSize ?? null;
  const progress = new ProgressThrottle<WriteProgress>(opts.onProgress, options.now, options.progressIntervalMs);
  const snapshot = (done: boolean): WriteProgress => {
    const elapsedMs = options.now() - started;
    const upload = { bytesToUpload: packs.bytesHandedOver, bytesUploaded: packs.bytesUploaded, phase: inputEnded ? ('uploading' as const) : ('reading' as const) };
    return { ...stats, ...upload, expectedBytes: expected, etaSeconds: done ? 0 : etaSeconds(stats.bytesRead, expected, elapsedMs), elapsedMs, done };
  };

  type Placed = EncodedChunk & { base?: ChunkLocation | null };
  const queue: { rawLength: number; level: number; encoded: Promise<Placed> }[] = [];
  // Chunks handed to the encoders and not back yet: how far they lag behind the input.
  if (opts.compressionLevel !== undefined && (!Number.isInteger(opts.compressionLevel) || opts.compressionLevel === 0 || opts.compressionLevel < -22 || opts.compressionLevel > 19)) {
    throw new BackstopError('VALIDATION', `a point's compression level must be an integer from -22 to 19 other than 0 (was ${opts.compressionLevel})`);
  }
  // This point's level (WAL points take a fast one), when the repository compresses at all.
  const pointLevel = ctx.codec.level > 0 && opts.compressionLevel !== undefined ? opts.compressionLevel : ctx.codec.level;
  const levels = new AdaptiveLevel(pointLevel, Math.min(options.minCompressionLevel, pointLevel), pool.size, options.maxChunksInFlight);
  let backlog = 0;
  // Until the first chunk is back the backlog measures the workers' start-up, not their pace.
  let warm = false;
  const back = (): void => {
    backlog--;
    warm = true;
  };
  const bytesNewByLevel = new Map<number, number>();

  /**
   * A new chunk that came back raw: stored against its base candidate when that pays. A
   * base that cannot be read (damaged; verify reports it) only costs the delta.
   */
  const againstBase = async (chunk: EncodedChunk, candidate: ChunkRef | null): Promise<Placed> => {
    const sketch = chunk.sketch;
    if (!candidate) return { ...(await pool.encodeAgainst(chunk.id, chunk.raw!, null)), sketch };
    const base = shallowEnough(candidate);
    // The base's location in this chain (always there: bases come from the chain's manifests).
    const baseLoc = known.get(base.id.toString('hex')) ?? null;
    let baseRaw: Buffer | null = null;
    if (baseLoc) {
      try {
        baseRaw = await resolver!.raw(base);
      } catch (e) {
        if (!(e instanceof ChunkUnreadableError)) throw e;
      }
    }
    const encoded = await pool.encodeAgainst(chunk.id, chunk.raw!, baseRaw ? { id: base.id, raw: baseRaw } : null);
    return encoded.delta ? { ...encoded, base: baseLoc, sketch } : { ...encoded, sketch };
  };
  const refs: ChunkLocation[] = [];
  let committed = false;

  // Chunks are placed in stream order, so the first copy of a repeated chunk is the one kept.
  const drainOne = async (): Promise<void> => {
    const item = queue.shift()!;
    const { id, stored, base, sketch } = await item.encoded;
    const key = id.toString('hex');
    const existing = known.get(key);
    if (existing) {
      stats.chunksReused++;
      refs.push(existing);
      return;
    }
    if (!stored) throw new BackstopError('INTERNAL', `A compression worker skipped chunk ${key.slice(0, 16)}… as already stored, but this backup does not have it.`);
    const loc = await packs.add(id, stored, item.rawLength);
    if (base) {
      loc.base = base;
      chunksDelta++;
    }
    const level = base ? ctx.codec.level : item.level; // a delta is compressed at the configured level
    if (level !== 0) bytesNewByLevel.set(level, (bytesNewByLevel.get(level) ?? 0) + item.rawLength);
    known.set(key, loc);
    if (sketch) newSketches.set(key, sketch);
    // Format 2 with a remote destination: the next incremental finds its bases locally.
    if (ctx.formatVersion >= 2 && options.chunkCache) await options.chunkCache.put(ctx.header.repositoryId, id, stored);
    refs.push(loc);
    stats.chunksNew++;
    stats.bytesNew += item.rawLength;
    stats.bytesStored += stored.length;
  };

  try {
    await inflight.start();
    // A prune that read the markers before this one landed may have deleted a point of the chain:
    // the one LIST a write needs fresh (the chain came from the run's view), and the view becomes it.
    const gone = await missingPoints(backend, basePoints, ctx.manifests);
    if (gone.length > 0) throw new ChainChanged(gone);
    const chunking = opts.chunking ?? { kind: 'cdc' as const };
    const chunker = createChunker(chunking, ctx.header.chunker);
    // Format 2 hashes each byte once (its chunk id); format 1's manifest needs the stream's SHA-256.
    const streamHash = ctx.formatVersion >= 2 ? null : createHash('sha256');

    // Inline, the pool reads the views before encode returns: nothing to copy or move.
    const handed = pool.size > 0 && opts.handsOverBuffers ? new HandedOver() : null;
    const source = handed ? recording(abortable(input, signal), handed) : abortable(input, signal);
    for await (const chunk of chunkPieceStream(source, chunker)) {
      if (signal?.aborted) throw abortError();
      const rawLength = chunk.length;
      // Before the pieces may be handed over to a worker.
      if (volatile && stats.bytesRead === 0) maskedId = maskedFirstChunkId(chunk.pieces, volatile, ctx.codec.chunkIdKey);
      const candidate = candidateAt(parent, stats.bytesRead, rawLength);
      stats.bytesRead += rawLength;
      let hashed = 0;
      for (const p of chunk.pieces) {
        streamHash?.update(p);
        hashed += p.byteLength;
      }
      // A buffer moved away by someone else (handsOverBuffers on a shared stream) reads as empty.
      if (hashed !== rawLength) throw new BackstopError('INTERNAL', `${hashed} of the ${rawLength} bytes of a chunk were readable: the input's buffers were taken over elsewhere while this backup read them. Nothing was committed.`);
      // Moved buffers are detached (length 0) for this thread from here on.
      // A new chunk comes back raw when it may have a base: positional, or found by its sketch.
      const mayDelta = candidate !== null || (similar !== null && similar.size > 0);
      // A chunk kept raw for delta coding is compressed later, at the configured level.
      const level = mayDelta ? ctx.codec.level : !warm ? pointLevel : levels.levelFor(backlog);
      backlog++;
      const first = pool.encode(pool.size > 0 ? handOver(chunk, handed) : { pieces: chunk.pieces, transfer: [] }, mayDelta, level);
      const encoded: Promise<Placed> = mayDelta ? first.then((c) => (c.raw ? againstBase(c, chooseBase(candidate, c.sketch, similar)) : c)) : first;
      encoded.then(back, back);
      queue.push({ rawLength, level, encoded });
      while (queue.length >= options.maxChunksInFlight) await drainOne();
      progress.tick(() => snapshot(false));
    }
    inputEnded = true;
    progress.tick(() => snapshot(false));
    while (queue.length > 0) {
      if (signal?.aborted) throw abortError();
      await drainOne();
    }
    if (volatile && opts.kind === 'incremental' && comparable && packs.packsStarted === 0 && sameAsNewest(refs.map((r) => r.id), maskedId, { refs: comparable.refs, meta: comparable.info.meta })) {
      if (signal?.aborted) throw abortError();
      await inflight.rollback(); // names no pack: deletes only the marker
      Object.assign(stats, { bytesNew: 0, bytesStored: 0, chunksNew: 0, chunksReused: refs.length });
      progress.final(snapshot(true));
      return { unchanged: true, sameAs: comparable.info.id, length: stats.bytesRead };
    }
    await packs.flush();
    if (signal?.aborted) throw abortError();

    const meta = finalMeta(opts, maskedId ? { [MASKED_ID_META]: maskedId } : {});
    const asRef = new Map<ChunkLocation, ChunkRef>();
    const toRef = (l: ChunkLocation): ChunkRef => {
      let r = asRef.get(l);
      if (!r) asRef.set(l, (r = { id: l.id, packId: l.pack.id!, offset: l.offset, storedLength: l.storedLength, rawLength: l.rawLength, base: l.base ? toRef(l.base) : null }));
      return r;
    };
    const chunkRefs: ChunkRef[] = refs.map(toRef);
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
      ...(streamHash ? { sha256: streamHash.digest('hex') } : {}),
      stats: {
        chunksNew: stats.chunksNew,
        chunksReused: stats.chunksReused,
        bytesNew: stats.bytesNew,
        bytesStored: stats.bytesStored,
        packsWritten: packs.packsWritten,
        ...(ctx.formatVersion >= 2 ? { chunksDelta, bytesBaseRead: resolver?.bytesRead ?? 0 } : {}),
        ...(bytesNewByLevel.size > 0 ? { bytesNewByLevel: Object.fromEntries([...bytesNewByLevel].sort((a, b) => b[0] - a[0]).map(([l, n]) => [String(l), n])) } : {}),
      },
      meta,
    };
    const manifest: Manifest = newSketches.size > 0 ? { info, refs: chunkRefs, sketches: newSketches } : { info, refs: chunkRefs };
    const encoded = encodeManifest(manifest, ctx.sealer, options.compressionLevel, ctx.formatVersion >= 2 ? 2 : 1);
    try {
      await commitManifest(backend, pointId, encoded);
    } catch (e) {
      if (e instanceof CommitUncertain) {
        committed = true; // unknown: keep the packs
        throw e.cause;
      }
      throw e;
    }
    committed = true;
    // The run's later steps (retention) see this point without listing the folder again.
    await ctx.manifests.noteCommitted(pointId, encoded);
    await inflight.release();
    const summary = summarize(manifest);
    progress.final(snapshot(true));
    return summary;
  } catch (e) {
    await pool.close();
    await Promise.allSettled(queue.map((q) => q.encoded));
    await packs.settle();
    if (committed) await inflight.settle();
    else await inflight.rollback(); // every pack it named, including one whose put failed half-way
    throw e instanceof ChainChanged ? e : writeFailure(e, opts, backend.location);
  } finally {
    await inflight.settle();
    await pool.close();
  }
}
