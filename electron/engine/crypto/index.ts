/**
 * Crypto primitives of the backup repository: key generation and fingerprint, HKDF
 * sub-keys, key-check values, chunk ids, and sealing (AES-256-GCM or integrity-only).
 * Format-level meaning of each is in docs/FORMAT.md.
 */
export {
  KEY_LENGTH,
  KDF_INFO,
  generateKey,
  isValidKey,
  deriveSubKeys,
  keyFingerprint,
  keyCheckValue,
  keyCheckMatches,
  type SubKeys,
} from './keys.ts';
export { AesGcmSealer, ChecksumSealer, SealOpenError, createSealer, NONCE_LENGTH, TAG_LENGTH, type Sealer } from './seal.ts';
export { CHUNK_ID_LENGTH, chunkIdFunction, type ChunkIdFn } from './chunk-id.ts';
