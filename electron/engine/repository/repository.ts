/**
 * Opening, creating and operating on one backup repository (one database's folder).
 *
 * Who may call: engine code (backup/restore/verify/retention jobs), normally from a worker
 * thread. A Repository object may run several operations at once; writes of different
 * processes into the same repository are safe (in-flight markers, GC rule), but the
 * engine should still run one backup per database at a time.
 */
import { availableParallelism } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { BackstopError, hasCode, isBackstopError } from '../../shared/result.ts';
import type { BackupType } from '../../shared/domain.ts';
import { mayReplaceWithGap, sweepLeftovers, type Backend } from '../storage/backend.ts';
import { deriveSubKeys, isValidKey, keyCheckMatches, keyCheckValue, keyFingerprint } from '../crypto/keys.ts';
import { createSealer } from '../crypto/seal.ts';
import { CHUNK_ID, CHUNKER, COMPRESSION, ENCRYPTION } from './algorithms.ts';
import { DEFAULT_CDC, validateCdcParams, type CdcParams } from './chunker.ts';
import { CACHED_LOCATIONS, ManifestStore, type DamagedPoint, type RepoContext, type RuntimeOptions, type ScannedPoint } from './context.ts';
import { decideGarbage, isLiveMarker, type InflightMarker } from './gc.ts';
import { decodeVersionedHeader, encodeHeader, type HeaderBody } from './header.ts';
import { FORMAT_VERSION, OLDEST_FORMAT_VERSION, HEADER_KEY, INFLIGHT_PREFIX, PACKS_PREFIX, packIdFromKey, packKey, pointIdTime, pointKey } from './layout.ts';
import { latestPoint, newestFirst, type OrderedPoint } from '../../shared/latest-point.ts';
import { missingPoints, startRead } from './inflight-marker.ts';
import { manifestLocations } from './manifest.ts';
import { deletedMeanwhile, readPoint } from './reader.ts';
import { verify, type VerifyOptions } from './verify.ts';
import { summarize, writePoint, writePointUnlessUnchanged } from './writer.ts';
import type { ChainSummary, DeleteResult, GcResult, PointSummary, RepositoryInfo, UnchangedWrite, VerifyReport, VolatileBytes, WritePointOptions } from './types.ts';

export const DEFAULT_PACK_SIZE = 32 * 1024 * 1024;
export const DEFAULT_COMPRESSION_LEVEL = 3;

export interface OpenOptions extends Partial<RuntimeOptions> {
  /** The 32-byte repository key; required iff the repository is encrypted. */
  key?: Uint8Array | null;
}

export interface InitOptions extends OpenOptions {
  chunker?: CdcParams;
  /** Target pack size in bytes (default 32 MiB). */
  packSize?: number;
  /**
   * Format version to create (default FORMAT_VERSION, 2). 1 makes a repository that
   * Backstop versions without delta chunks can read; its first full upgrades it to 2
   * unless `upgradeFormat: false`.
   */
  formatVersion?: number;
}

/** Compression workers a write uses when the caller does not say: one per core, 1 to 4. */
export function defaultEncoderWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

function runtimeOptions(o: OpenOptions): RuntimeOptions {
  const workers = o.workers ?? defaultEncoderWorkers();
  const level = o.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL;
  if (!Number.isInteger(level) || level < 0 || level > 19) throw new BackstopError('VALIDATION', 'compression level must be an integer from 0 (off) to 19');
  const minLevel = o.minCompressionLevel ?? Math.min(1, level);
  if (!Number.isInteger(minLevel) || minLevel < Math.min(1, level) || minLevel > level) throw new BackstopError('VALIDATION', `the lowest compression level must be an integer from ${Math.min(1, level)} to the compression level (${level})`);
  if (!Number.isInteger(workers) || workers < 0 || workers > 64) throw new BackstopError('VALIDATION', 'workers must be an integer from 0 to 64');
  return {
    workers,
    compressionLevel: level,
    minCompressionLevel: minLevel,
    now: o.now ?? Date.now,
    gcGraceMs: o.gcGraceMs ?? 15 * 60_000,
    markerStaleMs: o.markerStaleMs ?? 60 * 60_000,
    markerHeartbeatMs: o.markerHeartbeatMs ?? 5 * 60_000,
    progressIntervalMs: o.progressIntervalMs ?? 250,
    maxChunksInFlight: o.maxChunksInFlight ?? Math.max(4, (o.encoderWorkers?.size ?? workers) * 3),
    encoderWorkers: o.encoderWorkers ?? null,
    chunkCache: o.chunkCache ?? null,
    manifestCache: o.manifestCache ?? null,
    sketchBases: o.sketchBases ?? true,
    upgradeFormat: o.upgradeFormat ?? true,
    cachedLocations: o.cachedLocations ?? CACHED_LOCATIONS,
  };
}

async function readHeader(backend: Backend): Promise<{ version: number; body: HeaderBody }> {
  let bytes: Buffer;
  try {
    bytes = await backend.get(HEADER_KEY);
  } catch (e) {
    if (hasCode(e, 'NOT_FOUND')) {
      const any = (await backend.list('')).length > 0;
      throw new BackstopError(
        'NOT_A_BACKUP',
        any
          ? `${backend.location} is not a Backstop repository: it has files but no ${HEADER_KEY} header. Choose the folder Backstop created for the database.`
          : `${backend.location} is not a Backstop repository: it is empty or does not exist.`,
      );
    }
    throw e;
  }
  return decodeVersionedHeader(bytes, backend.location);
}

/** "Restore point X is in use: a restore is reading it", for every point of `inUse`. */
export function inUseText(inUse: ReadonlyMap<string, string>): string {
  const each = [...inUse];
  if (each.length === 1) return `Restore point ${each[0]![0]} is in use: ${each[0]![1]}`;
  return `Restore points ${each.map(([id, why]) => `${id} (${why})`).join(', ')} are in use`;
}

export async function isRepository(backend: Backend): Promise<boolean> {
  return (await backend.stat(HEADER_KEY)) !== null;
}

/**
 * Creates a repository in an empty location. CONFLICT if one exists already — also when
 * another writer creates one there at the same moment: the header is put create-only
 * (`ifAbsent`), so of two racing writers exactly one header stays, never the second
 * replacing the first under a writer already using it (AlreadyThereError; open it instead).
 */
export async function initRepository(backend: Backend, options: InitOptions = {}): Promise<Repository> {
  if (await isRepository(backend)) throw new BackstopError('CONFLICT', `${backend.location} already holds a Backstop repository.`);
  runtimeOptions(options); // bad runtime options are refused before anything is written
  const chunker = options.chunker ?? DEFAULT_CDC;
  const err = validateCdcParams(chunker);
  if (err) throw new BackstopError('VALIDATION', err);
  const packSize = options.packSize ?? DEFAULT_PACK_SIZE;
  if (!Number.isInteger(packSize) || packSize < 4096 || packSize > 1024 * 1024 * 1024) throw new BackstopError('VALIDATION', 'pack size must be between 4 KiB and 1 GiB');
  const key = options.key ?? null;
  if (key && !isValidKey(key)) throw new BackstopError('VALIDATION', 'the repository key must be 32 bytes');
  const repositoryId = randomBytes(16).toString('hex');
  let keyInfo: HeaderBody['key'] = null;
  if (key) {
    const sub = deriveSubKeys(key, Buffer.from(repositoryId, 'hex'));
    keyInfo = { kdf: 'hkdf-sha256', fingerprint: keyFingerprint(key), check: keyCheckValue(sub.keyCheck, Buffer.from(repositoryId, 'hex')).toString('hex') };
  }
  const header: HeaderBody = {
    repositoryId,
    algorithms: {
      chunkId: key ? CHUNK_ID.HMAC_SHA256 : CHUNK_ID.SHA256,
      compression: COMPRESSION.ZSTD,
      encryption: key ? ENCRYPTION.AES_256_GCM : ENCRYPTION.NONE_SHA256_TAG,
      chunker: CHUNKER.FASTCDC_GEAR_V1,
    },
    chunker: { min: chunker.min, avg: chunker.avg, max: chunker.max },
    packSize,
    key: keyInfo,
  };
  const version = options.formatVersion ?? FORMAT_VERSION;
  if (!Number.isInteger(version) || version < OLDEST_FORMAT_VERSION || version > FORMAT_VERSION) throw new BackstopError('VALIDATION', `format version must be from ${OLDEST_FORMAT_VERSION} to ${FORMAT_VERSION}`);
  await backend.put(HEADER_KEY, encodeHeader(header, version), { ifAbsent: true });
  return openRepository(backend, options);
}

/**
 * Opens an existing repository. Reads only the header before checking the key:
 * NOT_A_BACKUP, FORMAT_TOO_NEW, INTEGRITY (damaged header), KEY_REQUIRED, KEY_MISMATCH.
 */
export async function openRepository(backend: Backend, options: OpenOptions = {}): Promise<Repository> {
  const opts = runtimeOptions(options);
  const { version: formatVersion, body: header } = await readHeader(backend);
  const key = options.key ?? null;
  const salt = Buffer.from(header.repositoryId, 'hex');
  let dataKey: Buffer | null = null;
  let chunkIdKey: Buffer | null = null;
  if (header.key) {
    if (!key) {
      throw new BackstopError('KEY_REQUIRED', `The repository at ${backend.location} is encrypted with key ${header.key.fingerprint}. Provide that key to open it.`);
    }
    const given = isValidKey(key) ? keyFingerprint(key) : 'invalid';
    if (!isValidKey(key) || !keyCheckMatches(deriveSubKeys(key, salt).keyCheck, salt, Buffer.from(header.key.check, 'hex'))) {
      throw new BackstopError(
        'KEY_MISMATCH',
        `The key ${given} does not open the repository at ${backend.location}: it was encrypted with key ${header.key.fingerprint}. Use the key with fingerprint ${header.key.fingerprint}.`,
      );
    }
    const sub = deriveSubKeys(key, salt);
    dataKey = sub.data;
    chunkIdKey = sub.chunkId;
  } else if (key) {
    throw new BackstopError('KEY_MISMATCH', `The repository at ${backend.location} is not encrypted, but a key (${isValidKey(key) ? keyFingerprint(key) : 'invalid'}) was given. Open it without a key.`);
  }
  const sealer = createSealer(header.algorithms.encryption, dataKey);
  const ctx: RepoContext = {
    backend,
    header,
    formatVersion,
    sealer,
    codec: { encryption: header.algorithms.encryption, dataKey, chunkIdKey, level: opts.compressionLevel },
    options: opts,
    manifests: new ManifestStore(backend, sealer, opts.cachedLocations, opts.manifestCache ? { cache: opts.manifestCache, repositoryId: header.repositoryId } : null),
  };
  return new Repository(ctx);
}

/** A scanned point as the listings give it (summarize() of its whole manifest, without loading it). */
function scannedSummary(p: ScannedPoint): PointSummary {
  return { ...p.info, chunkCount: p.chunkCount };
}

/** How many readable point ids an INTEGRITY error of listPoints names. */
const READABLE_SHOWN = 5;

export class Repository {
  constructor(private readonly ctx: RepoContext) {}

  /** What the header says; `formatVersion` becomes 2 once a full upgraded a format-1 repository. */
  get info(): RepositoryInfo {
    const ctx = this.ctx;
    const h = ctx.header;
    return {
      location: ctx.backend.location,
      formatVersion: ctx.formatVersion,
      repositoryId: h.repositoryId,
      encrypted: h.key !== null,
      keyFingerprint: h.key?.fingerprint ?? null,
      chunker: { ...h.chunker },
      packSize: h.packSize,
      algorithms: { ...h.algorithms },
    };
  }

  /**
   * Writes one restore point from `input`. Full → a new chain; incremental → the newest
   * chain of the same backup type (NoChainError / NOT_FOUND when there is none). Resolves
   * once the point is committed. Errors: VALIDATION, CANCELED, DISK_FULL, STORAGE,
   * WORKER_CRASHED — in every case nothing was committed and earlier points are intact.
   */
  writePoint(input: AsyncIterable<Uint8Array>, opts: WritePointOptions): Promise<PointSummary> {
    return writePoint(this.ctx, input, opts, () => this.collectAfterCrash());
  }

  /**
   * writePoint, except that an incremental whose input equals the newest point's apart from
   * the bytes `volatile` names stores nothing and resolves to an UnchangedWrite (see
   * writer.ts for the exact test). Every point it writes records what the next one is
   * compared with (`meta.maskedFirstChunkId`).
   */
  writePointUnlessUnchanged(input: AsyncIterable<Uint8Array>, opts: WritePointOptions, volatile: VolatileBytes): Promise<PointSummary | UnchangedWrite> {
    return writePointUnlessUnchanged(this.ctx, input, opts, volatile, () => this.collectAfterCrash());
  }

  /**
   * The cheap check a write runs first: only a stale in-flight marker (a writer that died)
   * can leave unreferenced packs behind (a failing writer removes its packs before its
   * marker; deletePoints collects itself), so a full collection — which reads every
   * manifest — runs only when one exists. So does the walk of the whole folder for the
   * temporary files of the dead writer's cut-short puts (a live writer whose put fails
   * removes its own): those not written for `markerStaleMs - markerHeartbeatMs` (at least
   * half of `markerStaleMs`) go — the dead writer refreshed its marker at most one heartbeat
   * before it last wrote a file, so when the marker is stale its files are this old, while a
   * running put keeps writing its file (a silent connection fails it within a minute).
   */
  private async collectAfterCrash(): Promise<GcResult | null> {
    const { backend, options } = this.ctx;
    const now = options.now();
    const markers = await backend.list(INFLIGHT_PREFIX);
    if (!markers.some((m) => !isLiveMarker(m, now, options.markerStaleMs))) return null;
    const olderThanMs = Math.max(options.markerStaleMs - options.markerHeartbeatMs, options.markerStaleMs / 2);
    const leftovers = await sweepLeftovers(backend, olderThanMs, now).catch(() => ({ removed: 0, bytes: 0 }));
    const gc = await this.collectGarbage();
    return { ...gc, bytesFreed: gc.bytesFreed + leftovers.bytes, tempFilesDeleted: leftovers.removed };
  }

  /**
   * Every readable point (oldest first), and the points whose manifest cannot be read (damaged, or a newer format).
   * `reuse` (here and below): from the run's view of the folder when there is one, not a new listing (ManifestStore).
   */
  async scanPoints(options: { reuse?: boolean } = {}): Promise<{ points: PointSummary[]; unreadable: DamagedPoint[] }> {
    const { good, damaged } = await this.ctx.manifests.scan(options);
    return { points: good.map(scannedSummary), unreadable: damaged };
  }

  /**
   * Every point, oldest first. When a manifest cannot be read: INTEGRITY (or FORMAT_TOO_NEW
   * if all such points are newer-format) naming them and the newest readable ones (which a
   * restore by id still reads) — unless `skipDamaged`, which returns the readable ones (use
   * verify() to report the rest).
   */
  async listPoints(options: { skipDamaged?: boolean; reuse?: boolean } = {}): Promise<PointSummary[]> {
    const { good, damaged } = await this.ctx.manifests.scan({ reuse: options.reuse === true });
    if (damaged.length > 0 && !options.skipDamaged) {
      const shown = good.slice(-READABLE_SHOWN).map((m) => m.info.id);
      const readable =
        good.length === 0
          ? ' No point here can be read.'
          : ` Readable points here (newest last${good.length > shown.length ? `, ${good.length - shown.length} older not shown` : ''}): ${shown.join(', ')}; restore one of them by its id.`;
      throw new BackstopError(
        damaged.every((d) => d.code === 'FORMAT_TOO_NEW') ? 'FORMAT_TOO_NEW' : 'INTEGRITY',
        `${damaged.length} restore point(s) in ${this.ctx.backend.location} cannot be read: ${damaged.map((d) => d.id).join(', ')}. ${damaged[0]!.message}${readable}`,
      );
    }
    return good.map(scannedSummary);
  }

  /**
   * The point "latest" means (shared/latest-point.ts) among the readable points. Every manifest is
   * read (on a remote folder the local manifest cache answers the ones read before): which point
   * continues which is in them, not in the ids, whose dates a clock jump makes lie (an incremental
   * written after the clock was set back is dated before the point it continues). A manifest that
   * cannot be read and may be the latest (dated by its id, it ranks above the chosen point by the
   * rule among the readable points; one a readable point continues does not): the
   * full listing's error naming it (INTEGRITY, or FORMAT_TOO_NEW), unless `skipDamaged`; an older
   * damaged point does not stop it.
   */
  async latestPoint(now: Date, options: { skipDamaged?: boolean } = {}): Promise<PointSummary | undefined> {
    const { good, damaged } = await this.ctx.manifests.scan();
    const readable = good.map(scannedSummary);
    const chosen = latestPoint(readable, now);
    if (damaged.length === 0 || options.skipDamaged) return chosen;
    // Each unreadable one as its id dates it, among all the readable ones (not beside the chosen alone): one that
    // a readable point continues is not the latest, and a point dated ahead ranks by what it continues.
    const times = damaged.map((d) => ({ id: d.id, time: pointIdTime(d.id) }));
    if (chosen && times.every((d) => Number.isFinite(d.time))) {
      const dated = times.map((d) => ({ id: d.id, createdAt: new Date(d.time).toISOString() }));
      if (latestPoint<OrderedPoint>([...readable, ...dated], now) === chosen) return chosen;
    }
    return latestPoint(await this.listPoints({ ...options, reuse: true }), now);
  }

  async getPoint(pointId: string): Promise<PointSummary> {
    return summarize(await this.ctx.manifests.load(pointId));
  }

  /** The point's bytes, verified chunk by chunk and as a whole (see reader.ts). */
  readPoint(pointId: string, options: { signal?: AbortSignal; readAhead?: boolean } = {}): Promise<Readable> {
    return readPoint(this.ctx, pointId, options.signal, options.readAhead ?? true);
  }

  /**
   * Marks `pointIds` in use for a restore that reads several of them one after another (a
   * base backup and its WAL, a dump and its log), so a prune running meanwhile deletes none of
   * them (docs/FORMAT.md §10). NOT_FOUND when one is gone already. Release it when done.
   */
  async holdPoints(pointIds: readonly string[]): Promise<{ release(): Promise<void> }> {
    const ids = [...new Set(pointIds)];
    const packs = new Set<string>();
    for (const id of ids) for (const r of manifestLocations(await this.ctx.manifests.load(id))) packs.add(r.packId);
    const { marker, gone } = await startRead(this.ctx.backend, ids, [...packs], new Date(this.ctx.options.now()), this.ctx.options.markerHeartbeatMs);
    if (gone.length > 0) throw deletedMeanwhile(gone[0]!, this.ctx.backend.location);
    return { release: async () => marker?.release() };
  }

  verify(pointId?: string, options: VerifyOptions = {}): Promise<VerifyReport> {
    return verify(this.ctx, pointId, options);
  }

  /**
   * Chains built from the readable points, each one's points in the order they were written
   * (shared/latest-point.ts: a point after the points it continues; time only between unrelated
   * ones) with its `newest` the chain's latest; the chains ordered by their newest the same way.
   */
  async chains(options: { reuse?: boolean } = {}): Promise<ChainSummary[]> {
    const { good } = await this.ctx.manifests.scan(options);
    const now = new Date(this.ctx.options.now());
    const written = newestFirst(good.map(scannedSummary), now);
    const byChain = new Map<string, PointSummary[]>();
    for (const m of [...written].reverse()) {
      const list = byChain.get(m.chainId) ?? [];
      list.push(m);
      byChain.set(m.chainId, list);
    }
    const out: ChainSummary[] = [];
    for (const [chainId, points] of byChain) {
      const newest = latestPoint(points, now)!;
      out.push({
        chainId,
        backupType: newest.backupType,
        pointIds: points.map((p) => p.id),
        fullPointId: points.find((p) => p.kind === 'full' && p.id === chainId)?.id ?? null,
        newest,
      });
    }
    // Where each chain's newest stands in the order of every point (its links weigh in: ranked alone, a newest
    // dated ahead of this clock would lose what it continues), oldest first.
    const at = new Map(written.map((p, i) => [p.id, i]));
    return out.sort((a, b) => at.get(b.newest.id)! - at.get(a.newest.id)!);
  }

  /** The chain an incremental of `backupType` would join now, or null (then a full is needed). */
  async newestChain(backupType: BackupType, options: { reuse?: boolean } = {}): Promise<ChainSummary | null> {
    const newest = await this.newestPoint(backupType, options);
    if (!newest) return null;
    // The listing newestPoint just made (or reused): one look, not two.
    return (await this.chains({ reuse: true })).find((c) => c.chainId === newest.chainId) ?? null;
  }

  /** The latest point of `backupType` (shared/latest-point.ts): what an incremental of that type continues. */
  async newestPoint(backupType: BackupType, options: { reuse?: boolean } = {}): Promise<PointSummary | null> {
    const { good } = await this.ctx.manifests.scan(options);
    const ofType = good.filter((m) => m.info.backupType === backupType).map(scannedSummary);
    return latestPoint(ofType, new Date(this.ctx.options.now())) ?? null;
  }

  /**
   * Deletes points, then collects packs no remaining point references. All ids must
   * exist (NOT_FOUND, nothing deleted). A point in use — a running write builds on it, or a
   * restore, extract or test restore reads it (a live in-flight marker names it, FORMAT.md
   * §10) — is never deleted: CONFLICT naming it and what uses it (nothing deleted), or with
   * `skipInUse` (retention) it is kept for the next prune and listed in `inUse`. The markers
   * are read again once the manifests are gone: a point that a read or write registered on
   * meanwhile is put back (the same bytes) before any pack is collected.
   */
  async deletePoints(ids: readonly string[], options: { skipInUse?: boolean } = {}): Promise<DeleteResult> {
    const { backend } = this.ctx;
    const unique = [...new Set(ids)];
    // A fresh listing (it refreshes the run's view): the ids must exist now, not when the caller looked.
    const missing = await missingPoints(backend, unique, this.ctx.manifests);
    if (missing.length > 0) throw new BackstopError('NOT_FOUND', `No restore point ${missing.join(', ')} in ${backend.location}; nothing was deleted.`);
    const inUse = await this.pointsInUse(unique);
    if (inUse.size > 0 && !options.skipInUse) throw new BackstopError('CONFLICT', `${inUseText(inUse)}; nothing was deleted. Try again when it has finished.`);
    const doomed = unique.filter((id) => !inUse.has(id));
    const manifests = new Map<string, Buffer>();
    for (const id of doomed) {
      manifests.set(id, await backend.get(pointKey(id)));
      await backend.delete(pointKey(id));
      this.ctx.manifests.forget(id);
    }
    // A read or write that registered after the first look may have seen these points still there.
    const late = doomed.length > 0 ? await this.pointsInUse(doomed) : new Map<string, string>();
    for (const [id, why] of late) {
      await backend.put(pointKey(id), manifests.get(id)!);
      inUse.set(id, why);
    }
    const gc = await this.collectGarbage();
    return { deleted: doomed.filter((id) => !late.has(id)), inUse: unique.filter((id) => inUse.has(id)), ...gc };
  }

  /** Which of `ids` a live in-flight marker names, with what uses each (an unreadable live marker: all of them). */
  private async pointsInUse(ids: readonly string[]): Promise<Map<string, string>> {
    const now = this.ctx.options.now();
    const out = new Map<string, string>();
    for (const { marker, info } of await this.readMarkers()) {
      if (!isLiveMarker(info, now, this.ctx.options.markerStaleMs)) continue;
      for (const id of ids) {
        if (out.has(id) || (marker !== null && !marker.basePoints.includes(id))) continue;
        out.set(id, marker?.reading ? 'a restore is reading it' : 'a backup is running that builds on it');
      }
    }
    return out;
  }

  /**
   * Deletes unreferenced packs and stale in-flight markers by the rule in gc.ts (one listing
   * of the packs, the markers read before the manifests, and again after them where a marker can be
   * briefly absent while it is replaced: ReplacesWithGap; temporary files of cut-short puts are swept only after a dead writer, by
   * collectAfterCrash, so `tempFilesDeleted` is 0 here).
   */
  async collectGarbage(): Promise<GcResult> {
    const { backend, options } = this.ctx;
    const packs: { id: string; info: Awaited<ReturnType<Backend['list']>>[number] }[] = [];
    for (const o of await backend.list(PACKS_PREFIX)) {
      const id = packIdFromKey(o.key);
      if (id) packs.push({ id, info: o });
    }
    const first = await this.readMarkers();
    const { good, damaged } = await this.ctx.manifests.scan();
    // Read again where a marker being replaced can be absent for a moment (FTP onto a server that
    // cannot rename over a file: backend.ts, ReplacesWithGap); a moment later it is back. Either
    // read protects; the later one wins for a marker in both (it may have been refreshed since).
    // Elsewhere a replacement is atomic, and one read (one LIST) is enough.
    const second = mayReplaceWithGap(backend) ? await this.readMarkers() : first;
    const again = new Set(second.map((m) => m.key));
    const markers = [...second, ...first.filter((m) => !again.has(m.key))];
    if (damaged.length > 0) {
      return { packsDeleted: 0, bytesFreed: 0, markersDeleted: 0, tempFilesDeleted: 0, skipped: `restore point(s) ${damaged.map((d) => d.id).join(', ')} cannot be read, so unused packs cannot be told apart` };
    }
    const referenced = new Set<string>();
    // A manifest names its chunks' bases too (format 2), so a base a kept point needs is kept.
    for (const m of good) for (const packId of m.packIds) referenced.add(packId);
    const decision = decideGarbage({ packs, markers, referenced, now: options.now(), graceMs: options.gcGraceMs, markerStaleMs: options.markerStaleMs });
    let bytesFreed = 0;
    for (const p of decision.deletePacks) {
      await backend.delete(packKey(p.id));
      bytesFreed += p.size;
    }
    for (const key of decision.deleteMarkers) await backend.delete(key);
    return { packsDeleted: decision.deletePacks.length, bytesFreed, markersDeleted: decision.deleteMarkers.length, tempFilesDeleted: 0, skipped: null };
  }

  private async readMarkers(): Promise<{ key: string; info: Awaited<ReturnType<Backend['list']>>[number]; marker: InflightMarker | null }[]> {
    const out = [];
    for (const o of await this.ctx.backend.list(INFLIGHT_PREFIX)) {
      let marker: InflightMarker | null = null;
      try {
        const parsed = JSON.parse((await this.ctx.backend.get(o.key)).toString('utf8')) as Partial<InflightMarker>;
        if (Array.isArray(parsed.packs) && Array.isArray(parsed.basePoints)) marker = parsed as InflightMarker;
      } catch (e) {
        if (hasCode(e, 'NOT_FOUND')) continue; // finished meanwhile
        if (isBackstopError(e) && e.code !== 'INTEGRITY') throw e;
      }
      out.push({ key: o.key, info: o, marker });
    }
    return out;
  }
}
