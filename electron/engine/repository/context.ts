/**
 * What every repository operation shares once a repository is open: backend, header,
 * derived keys, codec settings, runtime options, and the manifest store.
 *
 * Manifests are immutable once committed, so the store caches what it decoded by point id
 * for the life of the Repository object; a deleted point is dropped from the cache. Whole
 * manifests (every chunk's location: ~200 bytes a chunk, a few MB for a database of GBs) are
 * kept only up to `cachedLocations` chunk locations, the least recently used dropped first;
 * a scan keeps of each point only its summary and the packs it names (`ScannedPoint`), so a
 * folder of thousands of points of a large database is listed in bounded memory.
 * With a local manifest cache (RuntimeOptions.manifestCache, remote destinations) the bytes of
 * a listed manifest are read from the local disk when that version (size and time as listed)
 * was read before; they are decoded and authenticated the same way, and a cached copy that
 * fails is dropped and the destination's read instead. `load(id, { fresh: true })` (verify)
 * always reads the destination.
 * The run's view of the folder: the store remembers its last listing of `points/` (plus the
 * points this Repository committed since, minus those it deleted). `listIds`/`scan` with
 * `{ reuse: true }` answer from it instead of a new LIST (a round trip, and a billed request on
 * S3) when there is one — for the steps of one backup run that only need the folder as the run
 * first saw it (docs/DESTINATIONS.md, requests). Without `reuse` every call lists the
 * destination, so whatever needs fresh state (a point another machine committed or deleted:
 * the check after a write's marker landed, garbage collection, a prune before it deletes) gets it.
 * Errors: a missing manifest → NOT_FOUND; an unreadable one → INTEGRITY naming the point;
 * a newer manifest version → FORMAT_TOO_NEW.
 */
import { BackstopError, type ErrorCode, hasCode } from '../../shared/result.ts';
import type { Backend } from '../storage/backend.ts';
import type { Sealer } from '../crypto/seal.ts';
import type { HeaderBody } from './header.ts';
import type { ChunkCodecConfig } from './chunk-codec.ts';
import type { EncoderWorkers } from './encoder-pool.ts';
import type { ChunkCache, ManifestCache, ObjectVersion } from './chunk-cache.ts';
import { decodeManifest, manifestLocations, ManifestDamagedError, ManifestVersionError, type Manifest, type ManifestInfo } from './manifest.ts';
import { POINTS_PREFIX, pointIdFromKey, pointKey } from './layout.ts';
import { mapLimit } from '../runtime/map-limit.ts';

export interface RuntimeOptions {
  /** Worker threads that compress and seal chunks; 0 = inline on the calling thread. */
  workers: number;
  /** zstd level for chunks and manifests (1–19; 0 = store uncompressed). */
  compressionLevel: number;
  /**
   * The lowest zstd level a write drops to while its encoders lag behind the input
   * (adaptive-level.ts); 1 to compressionLevel. Equal to compressionLevel: no adaptation.
   */
  minCompressionLevel: number;
  now: () => number;
  /** Unreferenced packs younger than this are never collected. */
  gcGraceMs: number;
  /** An in-flight marker not refreshed for this long belongs to a dead writer. */
  markerStaleMs: number;
  /** How often a running write refreshes its marker (besides after each pack). */
  markerHeartbeatMs: number;
  progressIntervalMs: number;
  /** Chunks submitted for encoding but not yet in a pack; bounds memory (× max chunk size). */
  maxChunksInFlight: number;
  /**
   * Compression workers shared with other writes (one set per process for a server-wide
   * backup); when null each write starts `workers` private workers. Owned by the caller.
   */
  encoderWorkers: EncoderWorkers | null;
  /**
   * Local cache of stored chunks for a remote destination: a write adds the chunks it
   * stores and reads delta bases from it before downloading them. null: no cache.
   */
  chunkCache: ChunkCache | null;
  /**
   * Local cache of a remote destination's manifests (ManifestStore): a listing reads only
   * the manifests it has not read before. null: every manifest is read from the destination.
   */
  manifestCache: ManifestCache | null;
  /**
   * Format 2: compute and record each new chunk's resemblance sketch, and look for a delta
   * base by sketch when the chunk at the same stream position is absent or less alike
   * (default true; false: no sketches, positional candidates only).
   */
  sketchBases: boolean;
  /**
   * A full backup into a format-1 repository upgrades it to format 2 (format-upgrade.ts;
   * default true). false keeps it format 1, readable by builds without delta chunks.
   */
  upgradeFormat: boolean;
  /** Chunk locations the whole manifests kept in memory may hold together (default CACHED_LOCATIONS). */
  cachedLocations: number;
}

export interface RepoContext {
  backend: Backend;
  header: HeaderBody;
  /**
   * The format version the header declares (1 or 2); format 1 gets no delta chunks. A full
   * backup raises it to 2 (format-upgrade.ts).
   */
  formatVersion: number;
  sealer: Sealer;
  codec: ChunkCodecConfig;
  options: RuntimeOptions;
  manifests: ManifestStore;
}

export interface DamagedPoint {
  id: string;
  code: ErrorCode;
  message: string;
}

/** What a scan keeps of a readable point: never its chunk list (load the manifest for that). */
export interface ScannedPoint {
  info: ManifestInfo;
  chunkCount: number;
  /** Every pack the point's chunks (and the bases they need) are in. */
  packIds: readonly string[];
}

export interface ScanResult {
  /** Readable points sorted by creation time (oldest first). */
  good: ScannedPoint[];
  damaged: DamagedPoint[];
}

export function compareManifests(a: { info: ManifestInfo }, b: { info: ManifestInfo }): number {
  return a.info.createdAt < b.info.createdAt ? -1 : a.info.createdAt > b.info.createdAt ? 1 : a.info.id < b.info.id ? -1 : a.info.id > b.info.id ? 1 : 0;
}

/** Manifests a scan reads at once (ManifestStore.scan). */
const SCAN_READS = 8;

/** Chunk locations the whole manifests kept in memory may hold together (~200 bytes each: ~100 MB). */
export const CACHED_LOCATIONS = 500_000;

function scannedOf(m: Manifest): ScannedPoint {
  return { info: m.info, chunkCount: m.refs.length, packIds: [...new Set(manifestLocations(m).map((r) => r.packId))] };
}

export class ManifestStore {
  /** Whole manifests, least recently used first, holding `locations` chunk locations together. */
  private readonly cache = new Map<string, Manifest>();
  private locations = 0;
  private readonly scanned = new Map<string, ScannedPoint>();
  /** Each listed manifest's version (size, time) as the last listing gave it: what the local cache is keyed by. */
  private readonly versions = new Map<string, ObjectVersion>();
  /** The run's view: the ids of the last listing, with this Repository's commits and deletions since (null: never listed). */
  private view: Set<string> | null = null;

  constructor(
    private readonly backend: Backend,
    private readonly sealer: Sealer,
    private readonly maxLocations = CACHED_LOCATIONS,
    private readonly local: { cache: ManifestCache; repositoryId: string } | null = null,
  ) {}

  /** The point ids in the folder, sorted: listed now, or with `reuse` from the run's view when there is one. */
  async listIds(options: { reuse?: boolean } = {}): Promise<string[]> {
    if (options.reuse && this.view) return [...this.view].sort();
    const objs = await this.backend.list(POINTS_PREFIX);
    const ids: string[] = [];
    for (const o of objs) {
      const id = pointIdFromKey(o.key);
      if (!id) continue;
      ids.push(id);
      // A listing that gives no time (0, or only the time it was listed) cannot tell a rewrite
      // of the same size, nor name a version to find again: never cached then.
      if (!o.modifiedUnknown && Number.isFinite(o.modifiedMs) && o.modifiedMs > 0) this.versions.set(id, { size: o.size, modifiedMs: o.modifiedMs });
      else this.versions.delete(id);
    }
    // Points another machine deleted (or rewrote) would only take room in the cache until evicted.
    if (this.local) {
      const listed = new Set(ids);
      for (const id of this.versions.keys()) if (!listed.has(id)) this.versions.delete(id);
      await this.local.cache.keepManifests(this.local.repositoryId, this.versions);
    }
    this.view = new Set(ids);
    return ids.sort();
  }

  /**
   * A point this Repository just committed (`bytes`: the manifest as stored) joins the run's view
   * (no LIST needed to see it), and its manifest is known without a download — decoded from
   * the stored bytes, as a read would (the writer's own object lacks what decoding derives,
   * such as the bases a point needs). Its listed version (size, time) is not known yet: the
   * local cache files it as committed here, taken as the version a later listing names
   * (ManifestCache.putCommitted), so no look after the run downloads it.
   */
  async noteCommitted(pointId: string, bytes: Buffer): Promise<void> {
    try {
      this.decoded(pointId, this.decode(pointId, bytes));
      this.view?.add(pointId);
    } catch {
      // Never expected (these are the bytes just encoded); the point is committed all the same. The
      // view is dropped, so the run's next step lists the folder (and finds it) instead.
      this.view = null;
      return;
    }
    await this.local?.cache.putCommitted(this.local.repositoryId, pointId, bytes).catch(() => {});
  }

  async load(pointId: string, options: { fresh?: boolean } = {}): Promise<Manifest> {
    const cached = options.fresh ? undefined : this.cache.get(pointId);
    if (cached) {
      this.cache.delete(pointId);
      this.cache.set(pointId, cached);
      return cached;
    }
    const version = this.versions.get(pointId);
    const local = !options.fresh && version && this.local ? await this.local.cache.getManifest(this.local.repositoryId, pointId, version) : null;
    if (local) {
      try {
        return this.decoded(pointId, decodeManifest(local, pointId, this.sealer));
      } catch {
        // Damaged on the local disk (or a newer format than it says): the destination's copy decides.
        await this.local!.cache.dropManifest(this.local!.repositoryId, pointId, version!);
      }
    }
    let bytes: Buffer;
    try {
      bytes = await this.backend.get(pointKey(pointId));
    } catch (e) {
      if (hasCode(e, 'NOT_FOUND')) {
        throw new BackstopError('NOT_FOUND', `Restore point ${pointId} does not exist in ${this.backend.location}.`);
      }
      throw e;
    }
    const m = this.decode(pointId, bytes);
    if (version && this.local) await this.local.cache.putManifest(this.local.repositoryId, pointId, version, bytes);
    return this.decoded(pointId, m);
  }

  private decode(pointId: string, bytes: Buffer): Manifest {
    try {
      return decodeManifest(bytes, pointId, this.sealer);
    } catch (e) {
      if (e instanceof ManifestVersionError) {
        throw new BackstopError('FORMAT_TOO_NEW', `Restore point ${pointId} was written in manifest format ${e.version} by a newer Backstop. Update Backstop to read it.`);
      }
      if (e instanceof ManifestDamagedError) {
        throw new BackstopError('INTEGRITY', `Restore point ${pointId} is damaged: its manifest ${pointKey(pointId)}: ${e.message}. This point cannot be restored; other points are not affected.`);
      }
      throw e;
    }
  }

  private decoded(pointId: string, m: Manifest): Manifest {
    this.scanned.set(pointId, scannedOf(m));
    this.keep(pointId, m);
    return m;
  }

  /** Whole manifests held now, and their chunk locations together (for tests of the bound). */
  cached(): { manifests: number; locations: number } {
    return { manifests: this.cache.size, locations: this.locations };
  }

  private keep(pointId: string, m: Manifest): void {
    const had = this.cache.get(pointId);
    if (had) this.locations -= manifestLocations(had).length;
    this.cache.delete(pointId);
    this.cache.set(pointId, m);
    this.locations += manifestLocations(m).length;
    // The one just loaded stays, however large: its caller is about to use it.
    for (const [id, old] of this.cache) {
      if (this.locations <= this.maxLocations || id === pointId) break;
      this.cache.delete(id);
      this.locations -= manifestLocations(old).length;
    }
  }

  forget(pointId: string): void {
    const m = this.cache.get(pointId);
    if (m) this.locations -= manifestLocations(m).length;
    this.cache.delete(pointId);
    this.scanned.delete(pointId);
    this.view?.delete(pointId);
    const version = this.versions.get(pointId);
    this.versions.delete(pointId);
    // A deleted point's cached copy would only take room until evicted.
    if (version && this.local) void this.local.cache.dropManifest(this.local.repositoryId, pointId, version);
  }

  /**
   * Loads every manifest; unreadable ones are reported, never skipped silently. Up to
   * SCAN_READS at once: on a remote destination each is a round trip, and a folder of
   * hundreds of points read one after another takes hundreds of round trips to list.
   * `reuse`: the ids of the run's view (listIds), when there is one.
   */
  async scan(options: { reuse?: boolean } = {}): Promise<ScanResult> {
    const ids = await this.listIds(options);
    const good: ScannedPoint[] = [];
    const damaged: DamagedPoint[] = [];
    await mapLimit(ids, SCAN_READS, async (id) => {
      try {
        const known = this.scanned.get(id);
        if (known) good.push(known);
        else {
          await this.load(id);
          good.push(this.scanned.get(id)!);
        }
      } catch (e) {
        if (hasCode(e, 'INTEGRITY', 'FORMAT_TOO_NEW')) damaged.push({ id, code: e.code, message: e.message });
        else if (!hasCode(e, 'NOT_FOUND')) throw e; // NOT_FOUND: deleted meanwhile
      }
    });
    good.sort(compareManifests);
    damaged.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { good, damaged };
  }
}
