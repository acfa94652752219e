/**
 * The backup repository: one per database folder, holding restore points (full or
 * incremental, logical or snapshot) as content-defined, deduplicated, compressed and
 * (optionally) encrypted chunks in packs, with one manifest per point. Byte-level format:
 * docs/FORMAT.md. Entry points: initRepository / openRepository → Repository
 * (writePoint, listPoints, readPoint, verify, deletePoints, collectGarbage, chains, …).
 */
export { initRepository, openRepository, isRepository, Repository, defaultEncoderWorkers, DEFAULT_PACK_SIZE, DEFAULT_COMPRESSION_LEVEL, type OpenOptions, type InitOptions } from './repository.ts';
export { NoChainError, isNoChainError } from './writer.ts';
export { closeRead } from './reader.ts';
export { latestPoint } from '../../shared/latest-point.ts';
export { FORMAT_VERSION } from './layout.ts';
export { DEFAULT_CDC, FastCdcChunker, FixedChunker, chunkStream, createChunker, type CdcParams, type ChunkingOption, type Chunker } from './chunker.ts';
export { registerAlgorithm, algorithmName, CHUNK_ID, COMPRESSION, ENCRYPTION, CHUNKER, type AlgorithmGroup } from './algorithms.ts';
export { EncoderWorkers, createEncoderPool, type EncoderPool } from './encoder-pool.ts';
export { LocalChunkCache, DEFAULT_CHUNK_CACHE_BYTES, localCacheDir, remoteCache, type ChunkCache, type ManifestCache } from './chunk-cache.ts';
export { decideGarbage, type InflightMarker, type GcInputs, type GcDecision } from './gc.ts';
export type { RuntimeOptions, DamagedPoint } from './context.ts';
export type { WriteProgress, ProgressSink } from './progress.ts';
export type { VerifyOptions } from './verify.ts';
export type {
  WritePointOptions,
  PointSummary,
  ChainSummary,
  RepositoryInfo,
  VerifyProblem,
  VerifyProgress,
  VerifyReport,
  GcResult,
  DeleteResult,
  JsonObject,
  JsonValue,
  VolatileBytes,
  UnchangedWrite,
} from './types.ts';
