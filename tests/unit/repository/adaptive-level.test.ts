/**
 * Adaptive compression level (issue #21 item 5): the policy itself, and real writes whose
 * encoders fall behind the input (chunks then compressed at a lower level, never again)
 * or keep up (every chunk at the configured level). Either way the point restores
 * byte-identical and verifies; the manifest records the raw bytes per level. A point may
 * take a level of its own (WAL points: 1), zstd's negative fast levels included.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { AdaptiveLevel } from '../../../electron/engine/repository/adaptive-level.ts';
import { ChunkDecoder, ChunkEncoder } from '../../../electron/engine/repository/chunk-codec.ts';
import { chunkIdFunction } from '../../../electron/engine/crypto/chunk-id.ts';
import { initRepository, openRepository } from '../../../electron/engine/repository/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { generateKey } from '../../../electron/engine/crypto/index.ts';
import { FAST, SMALL_CDC, SMALL_PACK, collect, dumpLike, pieces, pointOpts, rejection, sha256, tempDir } from './helpers.ts';

let dir: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(() => dir.cleanup());

describe('AdaptiveLevel', () => {
  it('keeps the configured level while the encoders keep up, steps down as they lag, and never leaves [min, max]', () => {
    const a = new AdaptiveLevel(3, 1, 2, 6);
    expect([0, 1, 2, 3, 4, 5, 6, 40].map((b) => a.levelFor(b))).toEqual([3, 3, 3, 2, 2, 1, 1, 1]);
    const wide = new AdaptiveLevel(9, 1, 4, 16);
    let last = Infinity;
    for (let b = 0; b <= 20; b++) {
      const l = wide.levelFor(b);
      expect(l).toBeGreaterThanOrEqual(1);
      expect(l).toBeLessThanOrEqual(9);
      expect(l).toBeLessThanOrEqual(last);
      last = l;
    }
    expect(wide.levelFor(4)).toBe(9);
    expect(wide.levelFor(15)).toBe(1);
  });

  it('does not adapt when min equals max, when compression is off, or inline (no workers: no backlog)', () => {
    expect([0, 3, 5, 9].map((b) => new AdaptiveLevel(3, 3, 2, 6).levelFor(b))).toEqual([3, 3, 3, 3]);
    expect(new AdaptiveLevel(0, 0, 2, 6).levelFor(5)).toBe(0);
    expect([0, 3, 10].map((b) => new AdaptiveLevel(3, 1, 0, 4).levelFor(b))).toEqual([3, 3, 3]);
    expect(new AdaptiveLevel(3, 1, 1, 4).levelFor(3)).toBe(1);
    expect(() => new AdaptiveLevel(3, 4, 2, 6)).toThrow(RangeError);
  });

  it('a chunk compressed at any level decodes with the same decoder (the level is not part of the format)', () => {
    const config = { encryption: 1, dataKey: generateKey(), chunkIdKey: generateKey(), level: 3 };
    const enc = new ChunkEncoder(config);
    const dec = new ChunkDecoder(config);
    const raw = dumpLike(200_000, 9);
    const id = chunkIdFunction(config.chunkIdKey)(raw);
    const sizes: number[] = [];
    for (const level of [1, 2, 3, 9]) {
      const stored = enc.encode(id, raw, level);
      sizes.push(stored.length);
      expect(dec.decode(id, stored, raw.length).equals(raw)).toBe(true);
    }
    expect(sizes[0]).toBeGreaterThan(sizes[3]!); // the levels really differ
  });
});

describe('writes with an adaptive level', () => {
  for (const encrypted of [true, false]) {
    it(`encoders behind the input: some chunks go at a lower level, and the point restores and verifies (${encrypted ? 'encrypted' : 'unencrypted'})`, async () => {
      const key = encrypted ? generateKey() : null;
      const repo = await initRepository(new LocalBackend(dir.path), { key, chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST, workers: 1 });
      // An in-memory source outruns one worker: once it is warm the backlog reaches the limit.
      const data = dumpLike(1_200_000, 31);
      const p = await repo.writePoint(pieces(data), pointOpts({ expectedSize: 64 * 1024 * 1024 }));
      const byLevel = p.stats.bytesNewByLevel!;
      expect(Object.keys(byLevel).sort()).toContain('1');
      expect(Object.values(byLevel).reduce((a, b) => a + b, 0)).toBe(p.stats.bytesNew);
      const reopened = await openRepository(new LocalBackend(dir.path), { key, ...FAST });
      expect(sha256(await collect(await reopened.readPoint(p.id)))).toBe(sha256(data));
      expect(await reopened.verify()).toMatchObject({ ok: true, problems: [] });
      // An incremental on top (its new chunks are deltas at the configured level) restores too.
      const changed = Buffer.from(data);
      changed[600_000] = 0x21;
      const inc = await repo.writePoint(pieces(changed), pointOpts({ kind: 'incremental', expectedSize: 64 * 1024 * 1024 }));
      expect(inc.stats.chunksDelta).toBeGreaterThan(0);
      expect(sha256(await collect(await reopened.readPoint(inc.id)))).toBe(sha256(changed));
    });
  }

  it('encoders keeping up with a slow input: every chunk at the configured level', async () => {
    const repo = await initRepository(new LocalBackend(dir.path), { key: generateKey(), chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST, workers: 2 });
    const data = dumpLike(48_000, 32);
    // Pieces shorter than the smallest chunk: at most one chunk ends in each.
    async function* slow(): AsyncGenerator<Buffer> {
      for await (const piece of pieces(data, 1000)) {
        await sleep(30);
        yield piece;
      }
    }
    const p = await repo.writePoint(slow(), pointOpts({ expectedSize: 64 * 1024 * 1024 }));
    // Every chunk when the worker answers within 30 ms; a stall of the loaded test machine may cost one or two.
    expect(p.stats.bytesNewByLevel!['3']).toBeGreaterThanOrEqual(p.stats.bytesNew * 0.9);
    expect(Object.values(p.stats.bytesNewByLevel!).reduce((a, b) => a + b, 0)).toBe(p.stats.bytesNew);
    expect(sha256(await collect(await repo.readPoint(p.id)))).toBe(sha256(data));

  });

  it('minCompressionLevel = compressionLevel keeps every chunk at that level even when the encoders lag', async () => {
    const repo = await initRepository(new LocalBackend(dir.path), { chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST, workers: 1, minCompressionLevel: 3 });
    const data = dumpLike(1_200_000, 33);
    const p = await repo.writePoint(pieces(data), pointOpts({ expectedSize: 64 * 1024 * 1024 }));
    expect(p.stats.bytesNewByLevel).toEqual({ '3': p.stats.bytesNew });
    expect(sha256(await collect(await repo.readPoint(p.id)))).toBe(sha256(data));
  });

  it('a point level (WAL points take 1; negative levels are zstd\'s fast ones) replaces the configured level for that point only; each restores and verifies', async () => {
    const repo = await initRepository(new LocalBackend(dir.path), { key: generateKey(), chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST, workers: 1, minCompressionLevel: 3 });
    const datas = [dumpLike(600_000, 41), dumpLike(600_000, 42), dumpLike(600_000, 43)];
    const levels = [1, -3, undefined];
    const points: Awaited<ReturnType<typeof repo.writePoint>>[] = [];
    for (const [i, level] of levels.entries()) {
      const p = await repo.writePoint(pieces(datas[i]!), pointOpts({ expectedSize: 64 * 1024 * 1024, ...(level === undefined ? {} : { compressionLevel: level }) }));
      expect(p.stats.bytesNewByLevel).toEqual({ [String(level ?? 3)]: p.stats.bytesNew });
      points.push(p);
    }
    // A fast level stores more than level 1, which stores more than 3 (same kind of data, all new chunks).
    const ratio = (i: number) => points[i]!.stats.bytesStored / points[i]!.stats.bytesNew;
    expect(ratio(1)).toBeGreaterThan(ratio(0));
    expect(ratio(0)).toBeGreaterThan(ratio(2));
    for (const [i, p] of points.entries()) expect(sha256(await collect(await repo.readPoint(p.id)))).toBe(sha256(datas[i]!));
    expect(await repo.verify()).toMatchObject({ ok: true, problems: [] });
  });

  it('a point level that is not a zstd level (0, a fraction, above 19) is refused before anything is written', async () => {
    const repo = await initRepository(new LocalBackend(dir.path), { chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST, workers: 1 });
    const before = (await new LocalBackend(dir.path).list('')).sort();
    for (const level of [0, 1.5, 20, -23]) {
      const err = await rejection(repo.writePoint(pieces(dumpLike(10_000, 44)), pointOpts({ compressionLevel: level })));
      expect(err).toMatchObject({ code: 'VALIDATION', message: `a point's compression level must be an integer from -22 to 19 other than 0 (was ${level})` });
    }
    expect((await new LocalBackend(dir.path).list('')).sort()).toEqual(before);
    expect(await repo.listPoints()).toEqual([]);
  });

  it('a lowest level outside 1..compressionLevel is refused before anything is written', async () => {
    for (const [min, level] of [[4, 3], [0, 3], [1.5, 3], [2, 0]] as const) {
      const err = await rejection(initRepository(new LocalBackend(dir.path), { ...FAST, compressionLevel: level, minCompressionLevel: min }));
      expect(err).toMatchObject({ code: 'VALIDATION', message: `the lowest compression level must be an integer from ${Math.min(1, level)} to the compression level (${level})` });
      expect(await new LocalBackend(dir.path).list('')).toEqual([]);
    }
  });
});
