import { describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { DEFAULT_CDC, FastCdcChunker, FixedChunker, GEAR, validateCdcParams } from '../../../electron/engine/repository/chunker.ts';
import { SMALL_CDC, dumpLike, pseudoRandom } from './helpers.ts';

function lengthsDigest(chunks: Buffer[]): string {
  return createHash('sha256').update(chunks.map((c) => c.length).join(',')).digest('hex');
}

function cut(data: Buffer, chunker: { push(b: Uint8Array): Buffer[]; finish(): Buffer | null }, piece: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += piece) out.push(...chunker.push(data.subarray(i, i + piece)));
  const last = chunker.finish();
  if (last) out.push(last);
  return out;
}

describe('FastCDC', () => {
  it('gear table is the fixed format constant', () => {
    // Changing these changes every chunk boundary in existing repositories (docs/FORMAT.md §5).
    expect(Array.from(GEAR.slice(0, 3))).toEqual([2019057542, 1177064019, -1060403607]);
    expect(new Set(GEAR).size).toBe(256);
  });

  it('cuts exactly where format version 1 cuts (golden boundaries)', () => {
    // Recorded from the one-byte-per-step reference loop. A change here moves every chunk
    // boundary, so new backups would stop deduplicating against existing chains.
    const small = cut(dumpLike(3_000_000, 21), new FastCdcChunker(SMALL_CDC), 65521);
    expect(small.length).toBe(542);
    expect(small.slice(0, 8).map((c) => c.length)).toEqual([1927, 8216, 8869, 5457, 7307, 4931, 5428, 4332]);
    expect(lengthsDigest(small)).toBe('cb83e0f29fd3d0aa37053e5a904ee6eef309fa3cef4b34a15308f00e55fce943');
    const large = cut(dumpLike(40_000_000, 22), new FastCdcChunker(DEFAULT_CDC), 65521);
    expect(large.length).toBe(31);
    expect(large.slice(0, 8).map((c) => c.length)).toEqual([1509005, 732705, 532899, 1283305, 529906, 1115854, 3417071, 726884]);
    expect(lengthsDigest(large)).toBe('39d7acab15bd52fcb0a51b881f1054b8312718b39c4e9e262a23f7a04c6f0983');
  });

  it('cuts identically whatever the input buffer sizes', () => {
    const data = pseudoRandom(400_000, 11);
    const a = cut(data, new FastCdcChunker(SMALL_CDC), 1);
    const b = cut(data, new FastCdcChunker(SMALL_CDC), 4093);
    const c = cut(data, new FastCdcChunker(SMALL_CDC), 400_000);
    const lens = (x: Buffer[]) => x.map((y) => y.length);
    expect(lens(b)).toEqual(lens(a));
    expect(lens(c)).toEqual(lens(a));
    expect(Buffer.concat(a).equals(data)).toBe(true);
  });

  it('respects min and max and averages near avg', () => {
    const data = pseudoRandom(2_000_000, 5);
    const chunks = cut(data, new FastCdcChunker(SMALL_CDC), 65536);
    for (const ch of chunks.slice(0, -1)) {
      expect(ch.length).toBeGreaterThanOrEqual(SMALL_CDC.min);
      expect(ch.length).toBeLessThanOrEqual(SMALL_CDC.max);
    }
    const avg = data.length / chunks.length;
    expect(avg).toBeGreaterThan(SMALL_CDC.avg * 0.8);
    expect(avg).toBeLessThan(SMALL_CDC.avg * 2);
  });

  it('cuts at max on data without cut points (all zeros)', () => {
    const chunks = cut(Buffer.alloc(100_000), new FastCdcChunker(SMALL_CDC), 5000);
    expect(chunks.slice(0, -1).every((c) => c.length === SMALL_CDC.max)).toBe(true);
  });

  it('resynchronises after an insertion (content-defined)', () => {
    const data = dumpLike(600_000, 3);
    const edited = Buffer.concat([data.subarray(0, 1000), Buffer.from('INSERTED ROW\n'), data.subarray(1000)]);
    const ids = (b: Buffer) => new Set(cut(b, new FastCdcChunker(SMALL_CDC), 8192).map((c) => c.toString('base64')));
    const before = ids(data);
    const after = [...ids(edited)];
    const shared = after.filter((c) => before.has(c)).length;
    expect(shared / after.length).toBeGreaterThan(0.9);
  });

  it('emits chunks that own their memory (transferable to workers)', () => {
    const chunks = cut(pseudoRandom(100_000, 9), new FastCdcChunker(SMALL_CDC), 3000);
    for (const c of chunks) {
      expect(c.byteOffset).toBe(0);
      expect(c.buffer.byteLength).toBe(c.length);
    }
  });

  it('works with the default parameters (512 KiB / 1 MiB / 8 MiB)', () => {
    const data = randomBytes(24 * 1024 * 1024);
    const chunks = cut(data, new FastCdcChunker(DEFAULT_CDC), 1 << 20);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    for (const ch of chunks.slice(0, -1)) {
      expect(ch.length).toBeGreaterThanOrEqual(DEFAULT_CDC.min);
      expect(ch.length).toBeLessThanOrEqual(DEFAULT_CDC.max);
    }
    expect(chunks.length).toBeGreaterThan(8);
    expect(chunks.length).toBeLessThan(40);
  });

  it('validates parameters', () => {
    expect(validateCdcParams(DEFAULT_CDC)).toBeNull();
    expect(validateCdcParams({ min: 1024, avg: 3000, max: 9000 })).toMatch(/power of two/);
    expect(validateCdcParams({ min: 8192, avg: 4096, max: 16384 })).toMatch(/min < avg < max/);
    expect(() => new FastCdcChunker({ min: 10, avg: 4096, max: 16384 })).toThrow(/at least 64/);
  });
});

describe('fixed chunker', () => {
  it('cuts page-aligned blocks regardless of input splits', () => {
    const data = pseudoRandom(10 * 4096 + 100, 2);
    const chunks = cut(data, new FixedChunker(4096), 777);
    expect(chunks.map((c) => c.length)).toEqual([...Array(10).fill(4096), 100]);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(() => new FixedChunker(100)).toThrow(/between/);
  });
});
