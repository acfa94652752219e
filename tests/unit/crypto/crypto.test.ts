import { describe, expect, it } from 'vitest';
import {
  AesGcmSealer,
  ChecksumSealer,
  SealOpenError,
  chunkIdFunction,
  deriveSubKeys,
  generateKey,
  keyCheckMatches,
  keyCheckValue,
  keyFingerprint,
  createSealer,
} from '../../../electron/engine/crypto/index.ts';
import { createHash, createHmac } from 'node:crypto';

const salt = Buffer.alloc(16, 7);

describe('keys', () => {
  it('fingerprints are stable, formatted, and differ between keys', () => {
    const k = Buffer.alloc(32, 1);
    expect(keyFingerprint(k)).toMatch(/^[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}$/);
    expect(keyFingerprint(k)).toBe(keyFingerprint(Buffer.alloc(32, 1)));
    expect(keyFingerprint(generateKey())).not.toBe(keyFingerprint(k));
  });

  it('derives three distinct sub-keys, different per salt', () => {
    const k = generateKey();
    const a = deriveSubKeys(k, salt);
    const b = deriveSubKeys(k, Buffer.alloc(16, 8));
    expect(new Set([a.chunkId, a.data, a.keyCheck, b.chunkId].map((x) => x.toString('hex'))).size).toBe(4);
    expect(a.data).toHaveLength(32);
  });

  it('rejects keys of the wrong length', () => {
    expect(() => deriveSubKeys(Buffer.alloc(16), salt)).toThrow(/32 bytes/);
    expect(() => keyFingerprint(Buffer.alloc(31))).toThrow(/32 bytes/);
  });

  it('key-check value accepts the right key only', () => {
    const k = generateKey();
    const check = keyCheckValue(deriveSubKeys(k, salt).keyCheck, salt);
    expect(keyCheckMatches(deriveSubKeys(k, salt).keyCheck, salt, check)).toBe(true);
    expect(keyCheckMatches(deriveSubKeys(generateKey(), salt).keyCheck, salt, check)).toBe(false);
  });
});

describe('sealing', () => {
  const aad = Buffer.from('chunk-id');
  const plain = Buffer.from('hello backstop '.repeat(100));

  it('AES-256-GCM round-trips with random nonces and 28 bytes overhead', () => {
    const s = new AesGcmSealer(generateKey());
    const a = s.seal(plain, aad);
    const b = s.seal(plain, aad);
    expect(a.length).toBe(plain.length + 28);
    expect(a.equals(b)).toBe(false);
    expect(s.open(a, aad).equals(plain)).toBe(true);
    expect(a.includes(Buffer.from('hello backstop'))).toBe(false);
  });

  it('AES-256-GCM detects a flipped byte, wrong aad, wrong key, truncation', () => {
    const key = generateKey();
    const s = new AesGcmSealer(key);
    const sealed = s.seal(plain, aad);
    const flipped = Buffer.from(sealed);
    flipped[40]! ^= 1;
    expect(() => s.open(flipped, aad)).toThrow(SealOpenError);
    expect(() => s.open(sealed, Buffer.from('other'))).toThrow(SealOpenError);
    expect(() => new AesGcmSealer(generateKey()).open(sealed, aad)).toThrow(SealOpenError);
    expect(() => s.open(sealed.subarray(0, 20), aad)).toThrow(SealOpenError);
  });

  it('checksum sealer keeps plaintext and detects changes', () => {
    const s = new ChecksumSealer();
    const sealed = s.seal(plain, aad);
    expect(sealed.length).toBe(plain.length + 16);
    expect(s.open(sealed, aad).equals(plain)).toBe(true);
    const bad = Buffer.from(sealed);
    bad[3]! ^= 0x80;
    expect(() => s.open(bad, aad)).toThrow(SealOpenError);
    expect(() => s.open(sealed, Buffer.from('x'))).toThrow(SealOpenError);
  });

  it('createSealer maps algorithm ids and refuses unknown ones', () => {
    expect(createSealer(1, generateKey())).toBeInstanceOf(AesGcmSealer);
    expect(createSealer(0, null)).toBeInstanceOf(ChecksumSealer);
    expect(() => createSealer(1, null)).toThrow();
    expect(() => createSealer(9, null)).toThrow(/unknown/);
  });
});

describe('chunk ids', () => {
  it('are HMAC-SHA-256 with a key, SHA-256 without', () => {
    const key = Buffer.alloc(32, 3);
    const data = Buffer.from('abc');
    expect(chunkIdFunction(key)(data).equals(createHmac('sha256', key).update(data).digest())).toBe(true);
    expect(chunkIdFunction(null)(data).equals(createHash('sha256').update(data).digest())).toBe(true);
  });
});
