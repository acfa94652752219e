/**
 * Resemblance-sketch delta bases (sketch.ts, writer.ts `chooseBase`) against real
 * repositories in temp folders: sketches find similar chunks and only those; they are
 * recorded in version-2 manifests (and manifests without them still read); a reorder
 * workload (blocks moved, a few bytes changed in each) restores byte-identical and stores
 * clearly less with sketches than with positional candidates only, inline and in workers,
 * within the depth bound.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { initRepository, openRepository, type PointSummary, type Repository } from '../../../electron/engine/repository/index.ts';
import { decodeManifest, deltaDepth, encodeManifest, ManifestDamagedError, manifestLocations, type Manifest, type ManifestInfo } from '../../../electron/engine/repository/manifest.ts';
import { chunkSketch, SketchIndex, SUPER_FEATURES } from '../../../electron/engine/repository/sketch.ts';
import { createSealer } from '../../../electron/engine/crypto/seal.ts';
import { GEAR } from '../../../electron/engine/repository/gear-scan.ts';
import { MAX_DELTA_DEPTH } from '../../../electron/engine/repository/writer.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { FAST, SMALL_CDC, SMALL_PACK, collect, dumpLike, pieces, pointOpts, rng, sha256, tempDir } from './helpers.ts';

let dir: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(() => dir.cleanup());

/** The manifests of an unencrypted repository, oldest first. */
async function manifests(path: string): Promise<Manifest[]> {
  const backend = new LocalBackend(path);
  const sealer = createSealer(0, null);
  const out: Manifest[] = [];
  for (const o of (await backend.list('points/')).sort((a, b) => (a.key < b.key ? -1 : 1))) {
    const id = o.key.slice('points/'.length, -'.point'.length);
    out.push(decodeManifest(await backend.get(o.key), id, sealer));
  }
  return out;
}

async function restores(repo: Repository, p: PointSummary, data: Buffer): Promise<void> {
  expect(sha256(await collect(await repo.readPoint(p.id)))).toBe(sha256(data));
}

/** Cuts `data` into blocks of ~`block` bytes at line ends, shuffles them, and changes one byte every `every` bytes. */
function reorder(data: Buffer, block: number, every: number, seed: number): Buffer {
  const r = rng(seed);
  const blocks: Buffer[] = [];
  for (let at = 0; at < data.length; ) {
    let end = Math.min(data.length, at + block);
    const nl = data.indexOf(0x0a, end);
    end = nl < 0 ? data.length : nl + 1;
    blocks.push(data.subarray(at, end));
    at = end;
  }
  for (let i = blocks.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [blocks[i], blocks[j]] = [blocks[j]!, blocks[i]!];
  }
  const out = Buffer.concat(blocks);
  for (let at = Math.floor(every / 2); at < out.length; at += every) if (out[at] !== 0x0a) out[at] = 0x30 + Math.floor(r() * 10);
  return out;
}

function matches(a: Uint32Array | null, b: Uint32Array | null): number {
  if (!a || !b) return 0;
  let m = 0;
  for (let s = 0; s < SUPER_FEATURES; s++) if (a[s] === b[s]) m++;
  return m;
}

/** docs/FORMAT.md §8a, written out one byte at a time (the reference the WebAssembly scan must match). */
function referenceSketch(raw: Uint8Array): Uint32Array | null {
  const fmix = (h: number): number => {
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h >>> 0;
  };
  const M: number[] = [];
  const A: number[] = [];
  let x = 0x9e3779b9;
  for (let k = 0; k < 12; k++) {
    x = fmix(x + 0x6d2b79f5);
    M.push(x | 1);
    x = fmix(x + 0x6d2b79f5);
    A.push(x);
  }
  const features = new Array<number>(12).fill(0);
  let samples = 0;
  let h = 0;
  for (let i = 0; i < raw.length; i++) {
    h = ((h << 1) + GEAR[raw[i]!]!) | 0;
    if (i < 31 || h >>> 24 !== 0) continue;
    samples++;
    for (let k = 0; k < 12; k++) features[k] = Math.max(features[k]!, (Math.imul(h, M[k]!) + A[k]!) >>> 0);
  }
  if (samples < 4) return null;
  const out = new Uint32Array(3);
  for (let s = 0; s < 3; s++) {
    let acc = s + 1;
    for (let k = 4 * s; k < 4 * s + 4; k++) acc = fmix(Math.imul(acc, 0x01000193) ^ features[k]!);
    out[s] = acc;
  }
  return out;
}

describe('chunkSketch', () => {
  it('is the sketch FORMAT.md §8a defines, for text, random bytes, chunks longer than the scan window and tiny ones', () => {
    const r = rng(5);
    const random = Buffer.from(Array.from({ length: 70_000 }, () => Math.floor(r() * 256)));
    const inputs = [dumpLike(9000, 1), dumpLike(3 * 1024 * 1024 + 123, 2), random, random.subarray(0, 1500), Buffer.alloc(5000), Buffer.alloc(20)];
    for (const b of inputs) expect(chunkSketch(b)).toEqual(referenceSketch(b));
    expect(inputs.filter((b) => chunkSketch(b) !== null).length).toBeGreaterThanOrEqual(3);
  });

  it('is deterministic, alike for a chunk with a few changed bytes, unlike for another chunk, and null for a tiny chunk', () => {
    const text = dumpLike(400_000, 21);
    let alike = 0;
    let unlike = 0;
    for (let i = 0; i < 40; i++) {
      const chunk = text.subarray(i * 8192, i * 8192 + 8192);
      const sketch = chunkSketch(chunk)!;
      expect(sketch).toHaveLength(SUPER_FEATURES);
      expect(chunkSketch(Buffer.from(chunk))).toEqual(sketch);
      const edited = Buffer.from(chunk);
      edited[1000] = 0x7e;
      edited[5000] = 0x7e;
      alike += matches(sketch, chunkSketch(edited));
      unlike += matches(sketch, chunkSketch(text.subarray(200_000 + i * 8192, 200_000 + i * 8192 + 8192)));
    }
    // Two changed bytes of 8 KiB leave most super-features; different rows of the same table share almost none.
    expect(alike).toBeGreaterThan(40 * SUPER_FEATURES * 0.6);
    expect(unlike).toBeLessThan(40 * SUPER_FEATURES * 0.1);
    expect(chunkSketch(text.subarray(0, 200))).toBeNull();
  });

  it('the index finds the chunk sharing most super-features and counts a known chunk', () => {
    const index = new SketchIndex<{ id: Buffer; name: string }>();
    const a = { id: Buffer.alloc(32, 1), name: 'a' };
    const b = { id: Buffer.alloc(32, 2), name: 'b' };
    index.add(a, Uint32Array.of(1, 2, 3));
    index.add(b, Uint32Array.of(1, 5, 6));
    expect(index.best(Uint32Array.of(9, 2, 3))).toEqual({ chunk: a, matches: 2 });
    expect(index.best(Uint32Array.of(1, 9, 9))).toEqual({ chunk: b, matches: 1 }); // the newer chunk under a shared super-feature
    expect(index.best(Uint32Array.of(7, 8, 9))).toBeNull();
    expect(index.matches(a.id, Uint32Array.of(1, 2, 9))).toBe(2);
    expect(index.matches(Buffer.alloc(32, 3), Uint32Array.of(1, 2, 3))).toBeNull();
  });
});

describe('sketches in manifests', () => {
  it('every new chunk of a format-2 point has its sketch recorded; a manifest without sketches still reads', async () => {
    const repo = await initRepository(new LocalBackend(dir.path), { chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST });
    const data = dumpLike(150_000, 3);
    const full = await repo.writePoint(pieces(data), pointOpts({ kind: 'full' }));
    const [m] = await manifests(dir.path);
    let at = 0;
    let sketched = 0;
    for (const r of m!.refs) {
      // The sketch recorded is the sketch of the chunk's own bytes (none for a chunk too small to sample).
      const own = chunkSketch(data.subarray(at, at + r.rawLength));
      expect(m!.sketches!.get(r.id.toString('hex')) ?? null).toEqual(own);
      if (own) sketched++;
      at += r.rawLength;
    }
    expect(m!.sketches!.size).toBe(sketched);
    expect(sketched).toBeGreaterThanOrEqual(full.stats.chunksNew - 1); // the stream's last chunk may be tiny

    const sealer = createSealer(0, null);
    const round = decodeManifest(encodeManifest(m!, sealer, 3), m!.info.id, sealer);
    expect(round.sketches).toEqual(m!.sketches);
    expect(round.info).toEqual(m!.info);
    expect(round.info).not.toHaveProperty('sketches');
    const without = decodeManifest(encodeManifest({ info: m!.info, refs: m!.refs }, sealer, 3), m!.info.id, sealer);
    expect(without.sketches).toBeUndefined();
    expect(without.refs.map((r) => r.id)).toEqual(m!.refs.map((r) => r.id));
    // A sketch table that does not fit the manifest is damage, never ignored.
    for (const [bad, why] of [
      [123, 'sketches must be a base64 string'],
      ['AAAA', 'sketch table has a partial entry'],
      [Buffer.alloc(16, 0xff).toString('base64'), 'sketch index out of range'],
    ] as const) {
      const bytes = encodeManifest({ info: { ...m!.info, sketches: bad } as unknown as ManifestInfo, refs: m!.refs }, sealer, 3);
      expect(() => decodeManifest(bytes, m!.info.id, sealer)).toThrow(ManifestDamagedError);
      expect(() => decodeManifest(bytes, m!.info.id, sealer)).toThrow(why);
    }
    // Version 1 cannot carry them: they are left out, the manifest stays readable.
    // (A version-1 manifest must carry the stream's SHA-256, which format 2 no longer writes.)
    const v1 = decodeManifest(encodeManifest({ ...m!, info: { ...m!.info, sha256: 'ab'.repeat(32) } }, sealer, 3, 1), m!.info.id, sealer);
    expect(v1.sketches).toBeUndefined();
  });
});

describe('reordered blocks', () => {
  async function run(path: string, sketchBases: boolean, workers: number, data: Buffer, changed: Buffer[]): Promise<{ stored: number; deltas: number }> {
    const repo = await initRepository(new LocalBackend(path), { chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST, workers, sketchBases });
    // expectedSize ≥ 16 MiB makes the write use its worker pool.
    const size = (n: number) => (workers ? 64 * 1024 * 1024 : n);
    await repo.writePoint(pieces(data), pointOpts({ kind: 'full', expectedSize: size(data.length) }));
    let stored = 0;
    let deltas = 0;
    const points: { p: PointSummary; data: Buffer }[] = [];
    for (const c of changed) {
      const p = await repo.writePoint(pieces(c), pointOpts({ kind: 'incremental', expectedSize: size(c.length) }));
      stored += p.stats.bytesStored;
      deltas += p.stats.chunksDelta ?? 0;
      points.push({ p, data: c });
    }
    for (const { p, data: d } of points) await restores(repo, p, d);
    expect((await repo.verify()).problems).toEqual([]);
    let deepest = 0;
    for (const m of await manifests(path)) {
      for (const r of manifestLocations(m)) deepest = Math.max(deepest, deltaDepth(r));
      // sketchBases: false computes no sketches at all.
      expect(m.sketches !== undefined).toBe(sketchBases);
    }
    expect(deepest).toBeLessThanOrEqual(MAX_DELTA_DEPTH);
    return { stored, deltas };
  }

  for (const workers of [0, 1]) {
    it(`blocks moved and lightly edited restore byte-identical and store far less with sketches than with positional bases only (workers: ${workers})`, async () => {
      const data = dumpLike(300_000, 11);
      // Three rounds on the same table: blocks of ~24 KiB (larger than the largest chunk) shuffled, one byte in 3000 changed.
      const changed: Buffer[] = [];
      let d = data;
      for (let i = 0; i < 3; i++) changed.push((d = reorder(d, 24_000, 3000, 5 + i)));
      const withSketch = await run(join(dir.path, 'sketch'), true, workers, data, changed);
      const positional = await run(join(dir.path, 'positional'), false, workers, data, changed);
      expect(withSketch.deltas).toBeGreaterThan(positional.deltas);
      expect(withSketch.stored).toBeLessThan(positional.stored * 0.5);
    });
  }

  it('a base found by sketch in an older point than the parent is kept by GC when the points in between are deleted', async () => {
    const repo = await initRepository(new LocalBackend(dir.path), { chunker: SMALL_CDC, packSize: 16 * 1024, ...FAST });
    const data = dumpLike(200_000, 17);
    const block = data.subarray(80_000, 120_000);
    const full = await repo.writePoint(pieces(data), pointOpts({ kind: 'full' }));
    // inc1: the block is gone, so only the full holds its chunks.
    const without = Buffer.concat([data.subarray(0, 80_000), data.subarray(120_000)]);
    const inc1 = await repo.writePoint(pieces(without), pointOpts({ kind: 'incremental' }));
    // inc2: the block is back at the end, a few bytes changed.
    const back = Buffer.from(block);
    for (let at = 1000; at < back.length; at += 5000) back[at] = 0x2b;
    const withBack = Buffer.concat([without, back]);
    const inc2 = await repo.writePoint(pieces(withBack), pointOpts({ kind: 'incremental' }));
    expect(inc2.stats.chunksDelta).toBeGreaterThan(3);

    const [, m1, m2] = await manifests(dir.path);
    expect(m1!.info.id).toBe(inc1.id);
    const inParent = new Set(manifestLocations(m1!).map((r) => r.id.toString('hex')));
    const olderBases = m2!.refs.filter((r) => r.base && !inParent.has(r.base.id.toString('hex')));
    expect(olderBases.length).toBeGreaterThan(3); // bases only the full holds: found by sketch, not position

    await repo.deletePoints([full.id, inc1.id]);
    const packs = new Set((await new LocalBackend(dir.path).list('packs/')).map((o) => o.key.split('/')[2]!.replace('.pack', '')));
    for (const r of olderBases) expect(packs.has(r.base!.packId)).toBe(true);
    await restores(repo, inc2, withBack);
    expect((await repo.verify()).problems).toEqual([]);
  });

  it('a chain whose manifests have no sketches (written before them) still gets positional deltas', async () => {
    const repo = await initRepository(new LocalBackend(dir.path), { chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST });
    const data = dumpLike(150_000, 4);
    const full = await repo.writePoint(pieces(data), pointOpts({ kind: 'full' }));
    // Rewrite the full's manifest as a build without sketches wrote it.
    const backend = new LocalBackend(dir.path);
    const sealer = createSealer(0, null);
    const key = `points/${full.id}.point`;
    const m = decodeManifest(await backend.get(key), full.id, sealer);
    expect(m.sketches?.size).toBeGreaterThan(0);
    await backend.put(key, encodeManifest({ info: m.info, refs: m.refs }, sealer, 3));
    const changed = Buffer.from(data);
    changed[70_000] = 0x21;
    const fresh = await openRepository(backend, FAST);
    const inc = await fresh.writePoint(pieces(changed), pointOpts({ kind: 'incremental' }));
    expect(inc.stats.chunksDelta).toBe(1);
    await restores(fresh, inc, changed);
    await restores(fresh, full, data);
  });
});
