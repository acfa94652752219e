/**
 * Storage backends for backup repositories: the `Backend` interface and its contract,
 * the local-folder and in-memory implementations, and decorators (retry, fault injection
 * for tests). S3 will live here too and must pass tests/unit/storage/backend-contract.ts.
 */
export { isValidKey, assertValidKey, bodyChunks, type Backend, type ByteRange, type ObjectInfo, type PutBody, type PutOptions } from './backend.ts';
export { LocalBackend } from './local-backend.ts';
export { MemoryBackend, type MemoryBackendOptions } from './memory-backend.ts';
export { FaultyBackend, SimulatedCrash, type FaultRule, type BackendOp } from './faulty-backend.ts';
export { RetryBackend, type RetryOptions } from './retry-backend.ts';
export { storageError } from './errors.ts';
