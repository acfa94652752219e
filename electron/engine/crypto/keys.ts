/**
 * Repository keys: generation, fingerprint and HKDF sub-key derivation.
 *
 * Contract: the repository key is 32 random bytes held by the caller (the OS keychain in
 * the app); it is never written to a repository. Everything stored is protected by
 * sub-keys derived with HKDF-SHA-256 (RFC 5869) from it, salted with the repository id so
 * two repositories under the same key share no chunk ids or key-check values. The
 * fingerprint is salt-free on purpose: it is the same in every repository of a key and is
 * what the UI shows next to a key. Pure functions; safe to call from any thread.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

export const KEY_LENGTH = 32;

/** HKDF `info` labels. Part of the on-disk format (docs/FORMAT.md §3): never change them. */
export const KDF_INFO = {
  chunkId: 'backstop/v1/chunk-id-hmac',
  data: 'backstop/v1/data-aes-256-gcm',
  keyCheck: 'backstop/v1/key-check',
  fingerprint: 'backstop/v1/fingerprint',
} as const;

const KEY_CHECK_MESSAGE = 'backstop/v1/key-check-value';

export interface SubKeys {
  /** HMAC-SHA-256 key for chunk ids. */
  chunkId: Buffer;
  /** AES-256-GCM key for chunks, pack indexes and manifests. */
  data: Buffer;
  /** Key for the key-check value stored in the plaintext header. */
  keyCheck: Buffer;
}

export function generateKey(): Buffer {
  return randomBytes(KEY_LENGTH);
}

export function isValidKey(key: Uint8Array): boolean {
  return key.length === KEY_LENGTH;
}

function hkdf(master: Uint8Array, salt: Uint8Array, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, salt, info, KEY_LENGTH));
}

export function deriveSubKeys(master: Uint8Array, salt: Uint8Array): SubKeys {
  if (!isValidKey(master)) throw new RangeError(`repository key must be ${KEY_LENGTH} bytes`);
  return {
    chunkId: hkdf(master, salt, KDF_INFO.chunkId),
    data: hkdf(master, salt, KDF_INFO.data),
    keyCheck: hkdf(master, salt, KDF_INFO.keyCheck),
  };
}

/** Short, non-secret, human-readable id of a key: 16 hex digits in groups of four. */
export function keyFingerprint(master: Uint8Array): string {
  if (!isValidKey(master)) throw new RangeError(`repository key must be ${KEY_LENGTH} bytes`);
  const hex = hkdf(master, new Uint8Array(0), KDF_INFO.fingerprint).subarray(0, 8).toString('hex');
  return hex.match(/.{4}/g)!.join('-');
}

/** The value stored in a repository header that proves a key is the right one without reading data. */
export function keyCheckValue(keyCheckKey: Uint8Array, salt: Uint8Array): Buffer {
  return createHmac('sha256', keyCheckKey).update(KEY_CHECK_MESSAGE).update(salt).digest();
}

export function keyCheckMatches(keyCheckKey: Uint8Array, salt: Uint8Array, expected: Uint8Array): boolean {
  const actual = keyCheckValue(keyCheckKey, salt);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
