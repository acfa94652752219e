/**
 * What every repository operation shares once a repository is open: backend, header,
 * derived keys, codec settings, runtime options, and the manifest store.
 *
 * Manifests are immutable once committed, so the store caches decoded manifests by point
 * id for the life of the Repository object; a deleted point is dropped from the cache.
 * Errors: a missing manifest → NOT_FOUND; an unreadable one → INTEGRITY naming the point;
 * a newer manifest version → FORMAT_TOO_NEW.
 */
import { BackstopError, type ErrorCode, hasCode } from '../../shared/result.ts';
import type { Backend } from '../storage/backend.ts';
import type { Sealer } from '../crypto/seal.ts';
import type { HeaderBody } from './header.ts';
import type { ChunkCodecConfig } from './chunk-codec.ts';
import type { EncoderWorkers } from './encoder-pool.ts';
import type { ChunkCache } from './chunk-cache.ts';
import { decodeManifest, ManifestDamagedError, ManifestVersionError, type Manifest } from './manifest.ts';
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

export interface ScanResult {
  /** Readable manifests sorted by creation time (oldest first). */
  good: Manifest[];
  damaged: DamagedPoint[];
}

export function compareManifests(a: Manifest, b: Manifest): number {
  return a.info.createdAt < b.info.createdAt ? -1 : a.info.createdAt > b.info.createdAt ? 1 : a.info.id < b.info.id ? -1 : a.info.id > b.info.id ? 1 : 0;
}

/** Manifests a scan reads at once (ManifestStore.scan). */
const SCAN_READS = 8;

export class ManifestStore {
  private readonly cache = new Map<string, Manifest>();

  constructor(
    private readonly backend: Backend,
    private readonly sealer: Sealer,
  ) {}

  async listIds(): Promise<string[]> {
    const objs = await this.backend.list(POINTS_PREFIX);
    const ids: string[] = [];
    for (const o of objs) {
      const id = pointIdFromKey(o.key);
      if (id) ids.push(id);
    }
    return ids.sort();
  }

  async load(pointId: string): Promise<Manifest> {
    const cached = this.cache.get(pointId);
    if (cached) return cached;
    let bytes: Buffer;
    try {
      bytes = await this.backend.get(pointKey(pointId));
    } catch (e) {
      if (hasCode(e, 'NOT_FOUND')) {
        throw new BackstopError('NOT_FOUND', `Restore point ${pointId} does not exist in ${this.backend.location}.`);
      }
      throw e;
    }
    let m: Manifest;
    try {
      m = decodeManifest(bytes, pointId, this.sealer);
    } catch (e) {
      if (e instanceof ManifestVersionError) {
        throw new BackstopError('FORMAT_TOO_NEW', `Restore point ${pointId} was written in manifest format ${e.version} by a newer Backstop. Update Backstop to read it.`);
      }
      if (e instanceof ManifestDamagedError) {
        throw new BackstopError('INTEGRITY', `Restore point ${pointId} is damaged: its manifest ${pointKey(pointId)}: ${e.message}. This point cannot be restored; other points are not affected.`);
      }
      throw e;
    }
    this.cache.set(pointId, m);
    return m;
  }

  forget(pointId: string): void {
    this.cache.delete(pointId);
  }

  /**
   * Loads every manifest; unreadable ones are reported, never skipped silently. Up to
   * SCAN_READS at once: on a remote destination each is a round trip, and a folder of
   * hundreds of points read one after another takes hundreds of round trips to list.
   */
  async scan(): Promise<ScanResult> {
    const ids = await this.listIds();
    const good: Manifest[] = [];
    const damaged: DamagedPoint[] = [];
    await mapLimit(ids, SCAN_READS, async (id) => {
      try {
        good.push(await this.load(id));
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
