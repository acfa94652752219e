/**
 * Format 2 delta chunks against real repositories in temp folders: round trips through
 * random edits, inserts, deletions and reorders; the depth bound; GC with bases
 * (property test over random keep/delete sequences); verify/readPoint on a damaged or
 * missing base; format-1 repositories (a fixture written by the format-1 code) still read,
 * verify, restore and stay format 1 when written to.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initRepository, openRepository, type PointSummary, type Repository } from '../../../electron/engine/repository/index.ts';
import { decodeManifest, deltaDepth, manifestLocations, type Manifest } from '../../../electron/engine/repository/manifest.ts';
import { createSealer } from '../../../electron/engine/crypto/seal.ts';
import { MAX_DELTA_DEPTH } from '../../../electron/engine/repository/writer.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { generateKey } from '../../../electron/engine/crypto/index.ts';
import { FAST, SMALL_CDC, SMALL_PACK, collect, dumpLike, pieces, pointOpts, rejection, rng, sha256, tempDir } from './helpers.ts';

let dir: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(() => dir.cleanup());

/** One random edit of a dump: scattered in-place changes, an insert, a deletion or a reorder. */
function edit(data: Buffer, r: () => number): Buffer {
  const kind = Math.floor(r() * 4);
  const at = Math.floor(r() * (data.length - 2000));
  if (kind === 0) {
    const out = Buffer.from(data);
    for (let i = 0; i < 12; i++) out[Math.floor(r() * out.length)] = 0x30 + Math.floor(r() * 10);
    return out;
  }
  if (kind === 1) return Buffer.concat([data.subarray(0, at), Buffer.from(`INSERT INTO public.orders VALUES (${Math.floor(r() * 1e6)}, 'new');\n`), data.subarray(at)]);
  if (kind === 2) return Buffer.concat([data.subarray(0, at), data.subarray(at + 1 + Math.floor(r() * 300))]);
  const len = 500 + Math.floor(r() * 1500);
  const moved = data.subarray(at, at + len);
  const rest = Buffer.concat([data.subarray(0, at), data.subarray(at + len)]);
  const to = Math.floor(r() * rest.length);
  return Buffer.concat([rest.subarray(0, to), moved, rest.subarray(to)]);
}

/** Every manifest in the (unencrypted) repository, decoded. */
async function manifests(path: string): Promise<Manifest[]> {
  const backend = new LocalBackend(path);
  const sealer = createSealer(0, null);
  const out: Manifest[] = [];
  for (const o of await backend.list('points/')) {
    const id = o.key.slice('points/'.length, -'.point'.length);
    out.push(decodeManifest(await backend.get(o.key), id, sealer));
  }
  return out;
}

async function restores(repo: Repository, p: PointSummary, data: Buffer): Promise<void> {
  expect(sha256(await collect(await repo.readPoint(p.id)))).toBe(sha256(data));
}

describe('delta chunks', () => {
  for (const workers of [0, 1]) {
    it(`random edits/inserts/deletions/reorders restore byte-identical and stay within the depth bound (workers: ${workers})`, async () => {
      const repo = await initRepository(new LocalBackend(dir.path), { chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST, workers });
      const r = rng(7 + workers);
      let data = dumpLike(200_000, 3);
      const points: { p: PointSummary; data: Buffer }[] = [];
      points.push({ p: await repo.writePoint(pieces(data), pointOpts({ kind: 'full' })), data });
      let deltas = 0;
      for (let i = 0; i < 8; i++) {
        for (let k = 0; k < 3; k++) data = edit(data, r);
        // expectedSize ≥ 16 MiB makes the write use its worker pool (workers: 1).
        const p = await repo.writePoint(pieces(data), pointOpts({ kind: 'incremental', expectedSize: workers ? 64 * 1024 * 1024 : data.length }));
        deltas += p.stats.chunksDelta ?? 0;
        expect(p.stats.chunksDelta).toBeLessThanOrEqual(p.stats.chunksNew);
        points.push({ p, data });
      }
      expect(deltas).toBeGreaterThan(5);
      for (const { p, data: d } of points) await restores(repo, p, d);
      expect((await repo.verify()).problems).toEqual([]);
      let deepest = 0;
      for (const m of await manifests(dir.path)) for (const ref of manifestLocations(m)) deepest = Math.max(deepest, deltaDepth(ref));
      expect(deepest).toBeGreaterThan(0);
      expect(deepest).toBeLessThanOrEqual(MAX_DELTA_DEPTH);
    });
  }

  it('a changed chunk is stored as its difference: a few changed bytes cost far less than the chunks they touch', async () => {
    const repo = await initRepository(new LocalBackend(dir.path), { chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST });
    const data = dumpLike(400_000, 5);
    await repo.writePoint(pieces(data), pointOpts({ kind: 'full' }));
    const changed = Buffer.from(data);
    for (let i = 0; i < 10; i++) changed[20_000 + i * 37_000] = 0x39;
    const inc = await repo.writePoint(pieces(changed), pointOpts({ kind: 'incremental' }));
    expect(inc.stats.chunksNew).toBeGreaterThanOrEqual(8);
    expect(inc.stats.chunksDelta).toBe(inc.stats.chunksNew);
    // Each new chunk is ~4 KiB of text (~1.3 KiB compressed); its delta is tens of bytes plus the seal.
    expect(inc.stats.bytesStored).toBeLessThan(inc.stats.chunksNew * 120);
    expect(inc.stats.bytesBaseRead).toBeGreaterThan(0);
    await restores(repo, inc, changed);
  });

  it('the same chunk changed again and again is never more than MAX_DELTA_DEPTH bases from a whole chunk', async () => {
    const repo = await initRepository(new LocalBackend(dir.path), { chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST });
    let data = dumpLike(100_000, 6);
    const points: { p: PointSummary; data: Buffer }[] = [{ p: await repo.writePoint(pieces(data), pointOpts({ kind: 'full' })), data }];
    for (let i = 0; i < 2 * MAX_DELTA_DEPTH + 1; i++) {
      data = Buffer.from(data);
      data[50_000 + i] = 0x41 + i;
      const p = await repo.writePoint(pieces(data), pointOpts({ kind: 'incremental' }));
      expect(p.stats.chunksDelta).toBe(1);
      points.push({ p, data });
    }
    const depths = (await manifests(dir.path)).flatMap((m) => m.refs.map(deltaDepth));
    expect(Math.max(...depths)).toBe(MAX_DELTA_DEPTH);
    for (const { p, data: d } of points) await restores(repo, p, d);
  });

  it('a 1% scattered UPDATE (rows leave every chunk, reappear at the end) stores a few percent of the full, with default 1 MiB chunks', async () => {
    const repo = await initRepository(new LocalBackend(dir.path), { packSize: 8 * 1024 * 1024, ...FAST });
    const data = dumpLike(8_000_000, 3);
    const lines = data.toString().split('\n');
    const kept = lines.filter((_, i) => i % 100 !== 37);
    const moved = lines.filter((_, i) => i % 100 === 37).map((l) => l.replace("'customer", "'audited"));
    const changed = Buffer.from([...kept, ...moved].join('\n'));
    const full = await repo.writePoint(pieces(data, 65_536), pointOpts({ kind: 'full' }));
    const inc = await repo.writePoint(pieces(changed, 65_536), pointOpts({ kind: 'incremental' }));
    // Chunk boundaries move, so every chunk is new; each must find the parent chunk it came from
    // (most overlap, not the one at its first byte) and reach all of it (window and hash tables).
    expect(inc.stats.chunksReused).toBe(0);
    expect(inc.stats.chunksDelta).toBeGreaterThanOrEqual(inc.stats.chunksNew - 1);
    expect(inc.stats.bytesStored).toBeLessThan(full.stats.bytesStored * 0.05);
    await restores(repo, inc, changed);
  });

  it('deltaBases: false (WAL points): the same changed chunks are stored whole, no base is read, and the point restores; chunks known in the chain are still reused', async () => {
    const repo = await initRepository(new LocalBackend(dir.path), { chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST });
    const data = dumpLike(400_000, 5);
    await repo.writePoint(pieces(data), pointOpts({ kind: 'full' }));
    const changed = Buffer.from(data);
    for (let i = 0; i < 10; i++) changed[20_000 + i * 37_000] = 0x39;
    const inc = await repo.writePoint(pieces(changed), pointOpts({ kind: 'incremental', deltaBases: false }));
    expect(inc.stats.chunksNew).toBeGreaterThanOrEqual(8);
    expect(inc.stats).toMatchObject({ chunksDelta: 0, bytesBaseRead: 0 });
    expect(inc.stats.chunksReused).toBeGreaterThan(0);
    // Whole chunks: ~4 KiB of text each compresses to over a KiB (a delta would be tens of bytes).
    expect(inc.stats.bytesStored).toBeGreaterThan(inc.stats.chunksNew * 500);
    await restores(repo, inc, changed);
    // The next point of the chain may use deltas again, against these whole chunks.
    const again = Buffer.from(changed);
    again[20_001] = 0x38;
    const next = await repo.writePoint(pieces(again), pointOpts({ kind: 'incremental' }));
    expect(next.stats.chunksDelta).toBe(next.stats.chunksNew);
    await restores(repo, next, again);
  });

  it('a format-2 incremental of an unchanged stream stores nothing new', async () => {
    const repo = await initRepository(new LocalBackend(dir.path), { chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST });
    const data = dumpLike(100_000, 9);
    await repo.writePoint(pieces(data), pointOpts({ kind: 'full' }));
    const inc = await repo.writePoint(pieces(data), pointOpts({ kind: 'incremental' }));
    expect(inc.stats).toMatchObject({ chunksNew: 0, bytesStored: 0, chunksDelta: 0, bytesBaseRead: 0 });
  });
});

describe('GC with bases', () => {
  it('property: after any random sequence of writes and deletions, every remaining point restores and verifies', async () => {
    const repo = await initRepository(new LocalBackend(dir.path), { chunker: SMALL_CDC, packSize: 16 * 1024, ...FAST });
    const r = rng(99);
    let data = dumpLike(120_000, 4);
    const live = new Map<string, { p: PointSummary; data: Buffer }>();
    let deletions = 0;
    let deltas = 0;
    for (let step = 0; step < 24; step++) {
      if (live.size > 0 && r() < 0.35) {
        const ids = [...live.keys()];
        const victim = ids[Math.floor(r() * ids.length)]!;
        await repo.deletePoints([victim]);
        live.delete(victim);
        deletions++;
        for (const { p, data: d } of live.values()) await restores(repo, p, d);
        expect((await repo.verify()).problems).toEqual([]);
        continue;
      }
      data = edit(data, r);
      const full = live.size === 0 || r() < 0.15;
      const p = await repo.writePoint(pieces(data), pointOpts({ kind: full ? 'full' : 'incremental' }));
      deltas += p.stats.chunksDelta ?? 0;
      live.set(p.id, { p, data });
    }
    expect(deletions).toBeGreaterThan(3);
    expect(deltas).toBeGreaterThan(3);
    for (const { p, data: d } of live.values()) await restores(repo, p, d);
  });

  it('a base used only by a kept point survives deleting the only point that references it directly', async () => {
    const repo = await initRepository(new LocalBackend(dir.path), { chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST });
    const data = dumpLike(150_000, 8);
    const full = await repo.writePoint(pieces(data), pointOpts({ kind: 'full' }));
    const changed = Buffer.from(data);
    for (let at = 500; at < changed.length; at += 900) changed[at] = 0x21; // every chunk changes
    const inc = await repo.writePoint(pieces(changed), pointOpts({ kind: 'incremental' }));
    expect(inc.stats.chunksReused).toBe(0);
    expect(inc.stats.chunksDelta).toBeGreaterThan(0);
    const del = await repo.deletePoints([full.id]);
    expect(del.packsDeleted).toBe(0); // the full's packs now hold only bases of the incremental's chunks
    await restores(repo, inc, changed);
    expect((await repo.verify()).problems).toEqual([]);
  });
});

describe('damaged bases', () => {
  async function deltaSetup(): Promise<{ inc: PointSummary; deltaPack: string; key: Uint8Array }> {
    const key = generateKey();
    const repo = await initRepository(new LocalBackend(dir.path), { key, chunker: SMALL_CDC, packSize: 16 * 1024, ...FAST });
    const data = dumpLike(120_000, 12);
    const full = await repo.writePoint(pieces(data), pointOpts({ kind: 'full' }));
    const fullPacks = new Set((await new LocalBackend(dir.path).list('packs/')).map((o) => o.key.split('/')[2]!.replace('.pack', '')));
    const changed = Buffer.from(data);
    changed[60_000] = 0x23;
    const inc = await repo.writePoint(pieces(changed), pointOpts({ kind: 'incremental' }));
    expect(inc.stats.chunksDelta).toBe(1);
    const all = (await new LocalBackend(dir.path).list('packs/')).map((o) => o.key.split('/')[2]!.replace('.pack', ''));
    const deltaPack = all.find((p) => !fullPacks.has(p))!;
    expect(full.id).not.toBe(inc.id);
    return { inc, deltaPack, key };
  }

  it('a damaged or missing base is named like a damaged pack by verify and by readPoint', async () => {
    const { inc, deltaPack, key } = await deltaSetup();
    const backend = new LocalBackend(dir.path);
    // Which pack holds the base: read the incremental's manifest under the key.
    const repo = await openRepository(backend, { key, ...FAST });
    const before = await repo.verify(inc.id);
    expect(before.problems).toEqual([]);
    const m = await (repo as unknown as { ctx: { manifests: { load(id: string): Promise<Manifest> } } }).ctx.manifests.load(inc.id);
    const delta = manifestLocations(m).find((r) => r.base)!;
    expect(delta.packId).toBe(deltaPack);
    const basePack = delta.base!.packId;
    expect(basePack).not.toBe(deltaPack);
    const path = join(dir.path, 'packs', basePack.slice(0, 2), `${basePack}.pack`);
    const original = await readFile(path);
    const bytes = Buffer.from(original);
    bytes[delta.base!.offset + 5]! ^= 1;
    await writeFile(path, bytes);

    const fresh = await openRepository(backend, { key, ...FAST });
    const report = await fresh.verify(inc.id);
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual({ pointId: inc.id, packId: basePack, code: 'INTEGRITY', message: expect.stringMatching(new RegExp(`Restore point ${inc.id} is damaged: pack ${basePack} is damaged`)) });
    const err = await rejection(collect(await fresh.readPoint(inc.id)));
    expect(err).toMatchObject({ code: 'INTEGRITY', message: expect.stringContaining(`pack ${basePack}`) });

    await rm(path);
    const gone = await openRepository(backend, { key, ...FAST });
    const missing = await gone.verify(inc.id);
    expect(missing.problems).toContainEqual({ pointId: inc.id, packId: basePack, code: 'INTEGRITY', message: expect.stringMatching(new RegExp(`pack ${basePack} is missing`)) });
    expect(await rejection(gone.readPoint(inc.id))).toMatchObject({ code: 'INTEGRITY', message: expect.stringContaining(`pack ${basePack} is missing`) });
    await writeFile(path, original);
    expect((await (await openRepository(backend, { key, ...FAST })).verify(inc.id)).problems).toEqual([]);
  });
});

describe('format 1', () => {
  const fixture = join(import.meta.dirname, '../../fixtures/repository/v1-encrypted');
  const expected = JSON.parse(readFileSync(`${fixture}.json`, 'utf8')) as { keyByte: number; points: { id: string; length: number; sha256: string }[] };
  const key = Buffer.alloc(32, expected.keyByte);

  it('a repository written by the format-1 code still reads, verifies and restores', async () => {
    await cp(fixture, dir.path, { recursive: true });
    const repo = await openRepository(new LocalBackend(dir.path), { key, ...FAST });
    expect(repo.info.formatVersion).toBe(1);
    expect((await repo.listPoints()).map((p) => p.id)).toEqual(expected.points.map((p) => p.id));
    for (const p of expected.points) {
      const bytes = await collect(await repo.readPoint(p.id));
      expect(bytes.length).toBe(p.length);
      expect(sha256(bytes)).toBe(p.sha256);
    }
    expect(await repo.verify()).toMatchObject({ ok: true, pointsChecked: 2, problems: [] });
  });

  it('an incremental into a format-1 repository keeps it format 1: no delta chunks, version-1 manifests (only a full upgrades, format-upgrade.test.ts)', async () => {
    await cp(fixture, dir.path, { recursive: true });
    const repo = await openRepository(new LocalBackend(dir.path), { key, ...FAST });
    const last = expected.points[expected.points.length - 1]!;
    const base = await collect(await repo.readPoint(last.id));
    const changed = Buffer.from(base);
    changed[30_000] = 0x2a;
    const inc = await repo.writePoint(pieces(changed), pointOpts({ kind: 'incremental' }));
    expect(inc.stats.chunksNew).toBeGreaterThan(0);
    expect(inc.stats.chunksDelta).toBeUndefined();
    const manifestBytes = await readFile(join(dir.path, 'points', `${inc.id}.point`));
    expect(manifestBytes.readUInt16LE(8)).toBe(1);
    expect((await readFile(join(dir.path, 'backstop.repo'))).readUInt16LE(8)).toBe(1);
    await restores(repo, inc, changed);
  });

  it('a new repository is format 2; format 1 can still be created on request, anything else is refused', async () => {
    const two = await initRepository(new LocalBackend(join(dir.path, 'two')), FAST);
    expect(two.info.formatVersion).toBe(2);
    const one = await initRepository(new LocalBackend(join(dir.path, 'one')), { ...FAST, formatVersion: 1 });
    expect(one.info.formatVersion).toBe(1);
    const err = await rejection(initRepository(new LocalBackend(join(dir.path, 'three')), { ...FAST, formatVersion: 3 }));
    expect(err).toMatchObject({ code: 'VALIDATION', message: 'format version must be from 1 to 2' });
    expect((await new LocalBackend(join(dir.path, 'three')).list('')).length).toBe(0);
  });
});
