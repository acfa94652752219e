/**
 * Public shapes of the repository API (inputs, results, reports). No behaviour here.
 */
import type { BackupType, PointKind } from '../../shared/domain.ts';
import type { ErrorCode } from '../../shared/result.ts';
import type { CdcParams, ChunkingOption } from './chunker.ts';
import type { ManifestInfo } from './manifest.ts';
import type { ProgressSink, WriteProgress } from './progress.ts';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };
export type JsonObject = { [k: string]: JsonValue };

/** Largest accepted `meta` (serialized JSON): room for the compressed facts of ~200,000 tables (facts/dump-facts.ts). */
export const MAX_META_BYTES = 4 * 1024 * 1024;

export interface WritePointOptions {
  /** The database's true name (not the folder name). */
  database: string;
  /** Stable identity of the server (e.g. "postgres://db1.example:5432" or a server id). */
  serverIdentity: string;
  engineVersion: string;
  dumpToolVersion: string;
  kind: PointKind;
  backupType: BackupType;
  /** Default {kind:'cdc'}; {kind:'fixed', size} for page-structured snapshots (SQLite). */
  chunking?: ChunkingOption;
  /** Caller data stored (encrypted) in the manifest, ≤ MAX_META_BYTES (4 MiB) as JSON. */
  meta?: JsonObject;
  /**
   * More meta known only once the input has ended (e.g. facts counted from the stream);
   * called once before the commit and merged over `meta` (the same size limit applies).
   */
  lateMeta?: () => JsonObject;
  /** Expected stream size in bytes, for the ETA. */
  expectedSize?: number;
  signal?: AbortSignal;
  onProgress?: ProgressSink<WriteProgress>;
  /**
   * The input hands its buffers over: once yielded, nothing else reads or writes them (a
   * child process's stdout). The writer may then move them to its worker threads (they
   * become detached, length 0) instead of copying every byte. Default false.
   */
  handsOverBuffers?: boolean;
  /**
   * Default true (format 2). false: no new chunk is tried as a delta against the parent
   * point's chunk at the same stream offset, so no base is read and each chunk is compressed
   * once. For streams whose points never share content at the same offsets (WAL: each point
   * is new log), where every try fails and only costs time.
   */
  deltaBases?: boolean;
  /**
   * This point's zstd level in place of the repository's configured one (the adaptive level
   * then steps down from it; a delta chunk keeps the configured level). Negative values are
   * zstd's fast levels. Ignored when the repository stores chunks uncompressed. A zstd frame
   * decodes the same whatever level made it: readers need nothing.
   */
  compressionLevel?: number;
}

export type PointSummary = ManifestInfo & { chunkCount: number };

/**
 * The byte ranges [start, end) of a stream's first chunk that its tool varies on every run
 * (a dump header's timestamp), or null when they cannot be told (nothing may be ignored).
 * [] means the stream is byte-identical when its content is.
 */
export type VolatileBytes = (firstChunk: Uint8Array) => readonly (readonly [number, number])[] | null;

/** `writePointUnlessUnchanged`'s result when the input equals the newest point's: nothing was stored. */
export interface UnchangedWrite {
  unchanged: true;
  /** The newest point, whose content the input has (apart from its volatile bytes). */
  sameAs: string;
  /** Bytes read from the input. */
  length: number;
}

export interface ChainSummary {
  chainId: string;
  backupType: BackupType;
  /** Point ids, oldest first. */
  pointIds: string[];
  /** The full point that started the chain, if it still exists. */
  fullPointId: string | null;
  newest: PointSummary;
}

export interface RepositoryInfo {
  location: string;
  formatVersion: number;
  repositoryId: string;
  encrypted: boolean;
  keyFingerprint: string | null;
  chunker: CdcParams;
  packSize: number;
  algorithms: { chunkId: number; compression: number; encryption: number; chunker: number };
}

export interface VerifyProblem {
  /** The restore point affected; null when the problem is not tied to one point. */
  pointId: string | null;
  /** The pack at fault; null when the manifest itself is at fault. */
  packId: string | null;
  code: ErrorCode;
  message: string;
}

export interface VerifyProgress {
  packsChecked: number;
  packsTotal: number;
  bytesChecked: number;
  done: boolean;
}

export interface VerifyReport {
  ok: boolean;
  pointsChecked: number;
  packsChecked: number;
  chunksChecked: number;
  bytesChecked: number;
  problems: VerifyProblem[];
}

export interface GcResult {
  packsDeleted: number;
  bytesFreed: number;
  markersDeleted: number;
  /** Temporary files of interrupted puts removed (their bytes are in `bytesFreed`). */
  tempFilesDeleted: number;
  /** Why nothing was collected (e.g. a damaged manifest makes references unknowable). */
  skipped: string | null;
}

export interface DeleteResult extends GcResult {
  deleted: string[];
  /** Points asked for but kept because a running backup or read uses them (deletePoints `skipInUse`). */
  inUse: string[];
}
