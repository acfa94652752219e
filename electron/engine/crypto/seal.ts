/**
 * Sealing: authenticated encryption (AES-256-GCM) or, for unencrypted repositories, a
 * plain SHA-256 integrity tag. Both have the same shape so the repository format is the
 * same with and without a key.
 *
 *   AES-256-GCM sealed = nonce (12 random bytes) ‖ ciphertext ‖ GCM tag (16)
 *   checksum    sealed = plaintext ‖ first 16 bytes of SHA-256(aad ‖ plaintext)
 *
 * Contract: `open` returns the plaintext only if it is exactly what `seal` was given with
 * the same `aad`; otherwise it throws `SealOpenError` (callers turn that into INTEGRITY or
 * KEY_MISMATCH with context). Instances are stateless apart from the key and may be used
 * concurrently; nonces are random, so a key may seal ~2^32 messages safely (far beyond a
 * repository's chunk count, since each repository has its own derived key).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { KEY_LENGTH } from './keys.ts';

export class SealOpenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SealOpenError';
  }
}

export interface Sealer {
  /** Algorithm id as registered in repository/algorithms.ts (ENCRYPTION group). */
  readonly algorithmId: number;
  /** Bytes added by `seal`. */
  readonly overhead: number;
  seal(plaintext: Uint8Array, aad: Uint8Array): Buffer;
  open(sealed: Uint8Array, aad: Uint8Array): Buffer;
}

export const NONCE_LENGTH = 12;
export const TAG_LENGTH = 16;

/** Algorithm id 1. */
export class AesGcmSealer implements Sealer {
  readonly algorithmId = 1;
  readonly overhead = NONCE_LENGTH + TAG_LENGTH;
  private readonly key: Buffer;

  constructor(key: Uint8Array) {
    if (key.length !== KEY_LENGTH) throw new RangeError('AES-256-GCM needs a 32-byte key');
    this.key = Buffer.from(key);
  }

  seal(plaintext: Uint8Array, aad: Uint8Array): Buffer {
    const out = Buffer.allocUnsafeSlow(plaintext.length + this.overhead);
    const nonce = randomBytes(NONCE_LENGTH);
    nonce.copy(out, 0);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(aad);
    let pos = NONCE_LENGTH;
    pos += cipher.update(plaintext).copy(out, pos);
    pos += cipher.final().copy(out, pos);
    cipher.getAuthTag().copy(out, pos);
    return out;
  }

  open(sealed: Uint8Array, aad: Uint8Array): Buffer {
    if (sealed.length < this.overhead) throw new SealOpenError('sealed data is shorter than nonce and tag');
    const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.length);
    const decipher = createDecipheriv('aes-256-gcm', this.key, buf.subarray(0, NONCE_LENGTH));
    decipher.setAAD(aad);
    decipher.setAuthTag(buf.subarray(buf.length - TAG_LENGTH));
    try {
      const a = decipher.update(buf.subarray(NONCE_LENGTH, buf.length - TAG_LENGTH));
      const b = decipher.final();
      return b.length === 0 ? a : Buffer.concat([a, b]);
    } catch {
      throw new SealOpenError('authentication failed (data damaged or wrong key)');
    }
  }
}

/** Algorithm id 0: no confidentiality, integrity only. */
export class ChecksumSealer implements Sealer {
  readonly algorithmId = 0;
  readonly overhead = TAG_LENGTH;

  private tag(plaintext: Uint8Array, aad: Uint8Array): Buffer {
    return createHash('sha256').update(aad).update(plaintext).digest().subarray(0, TAG_LENGTH);
  }

  seal(plaintext: Uint8Array, aad: Uint8Array): Buffer {
    const out = Buffer.allocUnsafeSlow(plaintext.length + TAG_LENGTH);
    out.set(plaintext, 0);
    this.tag(plaintext, aad).copy(out, plaintext.length);
    return out;
  }

  open(sealed: Uint8Array, aad: Uint8Array): Buffer {
    if (sealed.length < TAG_LENGTH) throw new SealOpenError('sealed data is shorter than its checksum');
    const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.length);
    const body = buf.subarray(0, buf.length - TAG_LENGTH);
    if (!timingSafeEqual(this.tag(body, aad), buf.subarray(buf.length - TAG_LENGTH))) {
      throw new SealOpenError('checksum mismatch (data damaged)');
    }
    return body;
  }
}

/** Builds the sealer for an ENCRYPTION algorithm id; `key` is the derived data key. */
export function createSealer(algorithmId: number, key: Uint8Array | null): Sealer {
  if (algorithmId === 1) {
    if (!key) throw new RangeError('AES-256-GCM needs a key');
    return new AesGcmSealer(key);
  }
  if (algorithmId === 0) return new ChecksumSealer();
  throw new RangeError(`unknown encryption algorithm id ${algorithmId}`);
}
