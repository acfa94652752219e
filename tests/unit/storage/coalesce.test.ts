import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { type ByteRange } from '../../../electron/engine/storage/index.ts';
import { MemoryBackend } from '../../fixtures/storage/memory-backend.ts';
import { planRangeGroups, readRanges, type RangeRequest } from '../../../electron/engine/storage/coalesce.ts';

const KIB = 1024;
const MIB = 1024 * 1024;

/** A MemoryBackend that counts gets, records their ranges and tracks how many run at once. */
class CountingBackend extends MemoryBackend {
  gets: { key: string; range: ByteRange | undefined }[] = [];
  running = 0;
  maxRunning = 0;
  delayMs = 0;
  failKey: string | null = null;
  override async get(key: string, range?: ByteRange): Promise<Buffer> {
    this.gets.push({ key, range });
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      await new Promise((r) => setTimeout(r, this.delayMs));
      if (key === this.failKey) throw new Error(`injected failure for ${key}`);
      return await super.get(key, range);
    } finally {
      this.running--;
    }
  }
}

async function setup(objects: Record<string, number>): Promise<{ b: CountingBackend; data: Map<string, Buffer> }> {
  const b = new CountingBackend();
  const data = new Map<string, Buffer>();
  for (const [key, size] of Object.entries(objects)) {
    const d = randomBytes(size);
    data.set(key, d);
    await b.put(key, d);
  }
  return { b, data };
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const s of it) out.push(Buffer.from(s));
  return out;
}

/** Byte-exact comparison (vitest's deep equality is far too slow on MiB-sized buffers). */
function same(got: Buffer[], want: Buffer[]): boolean {
  return got.length === want.length && got.every((g, i) => g.equals(want[i]!));
}

function expected(data: Map<string, Buffer>, reqs: RangeRequest[]): Buffer[] {
  return reqs.map((r) => {
    const d = data.get(r.key)!;
    const start = Math.min(r.offset, d.length);
    return d.subarray(start, Math.min(d.length, start + r.length));
  });
}

describe('readRanges', () => {
  it('merges neighbouring ranges of one object into one GET and returns exact slices in order', async () => {
    const { b, data } = await setup({ 'packs/a': 4 * MIB });
    const reqs: RangeRequest[] = [
      { key: 'packs/a', offset: 0, length: 100 * KIB },
      { key: 'packs/a', offset: 100 * KIB, length: 50 * KIB }, // adjacent
      { key: 'packs/a', offset: 200 * KIB, length: 10 * KIB }, // 50 KiB gap
      { key: 'packs/a', offset: 1200 * KIB, length: 10 * KIB }, // 990 KiB gap, still ≤ 1 MiB
    ];
    const got = await collect(readRanges(b, reqs));
    expect(same(got, expected(data, reqs))).toBe(true);
    expect(b.gets).toEqual([{ key: 'packs/a', range: { offset: 0, length: 1210 * KIB } }]);
  });

  it('splits at a gap over maxGap, at a different key, and when the span would exceed maxSpan', async () => {
    const { b, data } = await setup({ a: 40 * MIB, b: MIB });
    const reqs: RangeRequest[] = [
      { key: 'a', offset: 0, length: KIB },
      { key: 'a', offset: KIB + MIB + 1, length: KIB }, // gap = 1 MiB + 1 → new GET
      { key: 'b', offset: 0, length: 10 }, // other key → new GET
      { key: 'a', offset: 10 * MIB, length: 10 * MIB }, // new GET (other key in between)
      { key: 'a', offset: 20 * MIB, length: 7 * MIB }, // adjacent, but span 17 MiB > 16 MiB → new GET
    ];
    const got = await collect(readRanges(b, reqs));
    expect(same(got, expected(data, reqs))).toBe(true);
    expect(b.gets.map((g) => [g.key, g.range?.offset, g.range?.length])).toEqual([
      ['a', 0, KIB],
      ['a', KIB + MIB + 1, KIB],
      ['b', 0, 10],
      ['a', 10 * MIB, 10 * MIB],
      ['a', 20 * MIB, 7 * MIB],
    ]);
  });

  it('serves repeated and backward ranges within a span from the same GET', async () => {
    const { b, data } = await setup({ p: 64 * KIB });
    const reqs: RangeRequest[] = [
      { key: 'p', offset: 8 * KIB, length: 4 * KIB },
      { key: 'p', offset: 0, length: 4 * KIB }, // backwards, 4 KiB gap
      { key: 'p', offset: 8 * KIB, length: 4 * KIB }, // the same chunk again (dedup)
    ];
    expect(same(await collect(readRanges(b, reqs)), expected(data, reqs))).toBe(true);
    expect(b.gets).toHaveLength(1);
  });

  it('is short at the end of an object and empty past it, like backend.get', async () => {
    const { b, data } = await setup({ s: 1000 });
    const reqs: RangeRequest[] = [
      { key: 's', offset: 990, length: 100 },
      { key: 's', offset: 2000, length: 10 },
    ];
    const got = await collect(readRanges(b, reqs));
    expect(got.map((g) => g.length)).toEqual([10, 0]);
    expect(same(got, expected(data, reqs))).toBe(true);
  });

  it('fetches several objects at once, never more than `concurrency`', async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `o${i}`);
    const { b, data } = await setup(Object.fromEntries(keys.map((k) => [k, 4 * KIB])));
    b.delayMs = 15;
    const reqs = keys.map((key) => ({ key, offset: KIB, length: KIB }));
    expect(same(await collect(readRanges(b, reqs, { concurrency: 3 })), expected(data, reqs))).toBe(true);
    expect(b.gets).toHaveLength(12);
    expect(b.maxRunning).toBe(3);
  });

  it('keeps memory bounded: reads the request source lazily, only `concurrency` groups ahead', async () => {
    const { b } = await setup({ x: 1024 });
    let pulled = 0;
    function* source(): Generator<RangeRequest> {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield { key: 'x', offset: (i * 7) % 1000, length: 1 };
      }
    }
    const it = readRanges(b, source(), { concurrency: 2, maxGap: 0, maxSpan: 1 });
    await it.next();
    // 2 groups planned ahead (+1 request read to know the 2nd group ended), nowhere near 1000.
    expect(pulled).toBeLessThanOrEqual(4);
    await it.return(undefined);
    expect(b.gets.length).toBeLessThanOrEqual(3);
  });

  it('throws a failed GET when the consumer reaches it, after yielding the earlier slices', async () => {
    const { b } = await setup({ ok: 100, bad: 100 });
    b.failKey = 'bad';
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const s of readRanges(b, [
          { key: 'ok', offset: 0, length: 5 },
          { key: 'bad', offset: 0, length: 5 },
        ]))
          seen.push(s.length);
      })(),
    ).rejects.toThrow(/injected failure for bad/);
    expect(seen).toEqual([5]);
  });

  it('rejects invalid ranges and honours an abort signal', async () => {
    const { b } = await setup({ k: 10 });
    await expect(collect(readRanges(b, [{ key: 'k', offset: -1, length: 2 }]))).rejects.toThrow(RangeError);
    const ac = new AbortController();
    ac.abort();
    await expect(collect(readRanges(b, [{ key: 'k', offset: 0, length: 2 }], { signal: ac.signal }))).rejects.toThrow();
    expect(b.gets).toHaveLength(0);
  });
});

describe('planRangeGroups', () => {
  it('uses the configured gap and span limits', async () => {
    const groups = [];
    for await (const g of planRangeGroups(
      [
        { key: 'a', offset: 0, length: 10 },
        { key: 'a', offset: 15, length: 10 },
        { key: 'a', offset: 31, length: 10 },
        { key: 'a', offset: 41, length: 100 },
      ],
      { maxGap: 5, maxSpan: 100 },
    )) {
      groups.push([g.offset, g.length, g.members.length]);
    }
    expect(groups).toEqual([
      [0, 25, 2],
      [31, 10, 1],
      [41, 100, 1],
    ]);
  });
});
