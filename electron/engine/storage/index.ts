/**
 * Storage backends for backup repositories: the `Backend` interface and its contract,
 * the local-folder implementation, the retry decorator, the S3 backend with its connection probe, and coalesced ranged reads.
 * Every backend passes tests/unit/storage/backend-contract.ts. Test doubles (in-memory,
 * fault-injecting) live with the tests in tests/fixtures/storage/; product code has none.
 */
export { AlreadyThereError, isValidKey, assertValidKey, bodyChunks, freeSpaceOf, innermost, type Backend, type ByteRange, type ObjectInfo, type PutBody, type PutOptions } from './backend.ts';
export { BackendDecorator } from './backend-decorator.ts';
export { LocalBackend, freeBytesAt } from './local-backend.ts';
export { RetryBackend, type RetryOptions } from './retry-backend.ts';
export { storageError } from './errors.ts';
export { S3Backend, createS3Backend, normalizePrefix, type S3BackendOptions, type S3Credentials, type S3ChecksumMode } from './s3-backend.ts';
export { probeS3 } from './s3-probe.ts';
export { probeBackend, type ProbeFailure, type ProbeKind } from './probe.ts';
export { probeSftp, type SftpErrorKind } from './sftp-probe.ts';
export { SftpBackend, HostKeyRefused, createSftpBackend, fetchHostKey, hostKeyFingerprint, isHostKeyFingerprint, type SftpBackendOptions } from './sftp-backend.ts';
export { classifyS3Error, type S3ErrorInfo, type S3ErrorKind } from './s3-errors.ts';
export { readRanges, planRangeGroups, type RangeRequest, type RangeGroup, type CoalesceOptions } from './coalesce.ts';
export { ThrottledBackend, newUploadBudget, budgetRate, take, throttledBody, throttledStream } from './throttle.ts';
export { AzureBackend, createAzureBackend, azureServiceUrl, type AzureBackendOptions, type AzureCredentials, type AzureAccessTier } from './azure-backend.ts';
export { probeAzure } from './azure-probe.ts';
export { classifyAzureError, type AzureErrorInfo, type AzureErrorKind } from './azure-errors.ts';
export { FtpBackend, createFtpBackend, probeFtp, normalizeFingerprint, type FtpBackendOptions, type FtpTls } from './ftp-backend.ts';
export { classifyFtpError, type FtpErrorInfo, type FtpErrorKind } from './ftp-errors.ts';
