import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { initRepository, openRepository, isNoChainError, type Repository, type WriteProgress } from '../../../electron/engine/repository/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { MemoryBackend } from '../../fixtures/storage/memory-backend.ts';
import { readSpanLimit } from '../../../electron/engine/repository/reader.ts';
import { MAX_META_BYTES } from '../../../electron/engine/repository/types.ts';
import { readAheadFor } from '../../../electron/engine/restore/restore-server.ts';
import { generateKey, keyFingerprint } from '../../../electron/engine/crypto/index.ts';
import { FAST, SMALL_CDC, SMALL_PACK, collect, dumpLike, pieces, pointOpts, rejection, sha256, tempDir } from './helpers.ts';

describe.each([
  { name: 'encrypted, local folder', encrypted: true },
  { name: 'unencrypted, local folder', encrypted: false },
])('repository ($name)', ({ encrypted }) => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let repo: Repository;
  const key = generateKey();

  beforeEach(async () => {
    dir = await tempDir();
    repo = await initRepository(new LocalBackend(dir.path), { key: encrypted ? key : null, chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST });
  });
  afterEach(() => dir.cleanup());

  it('writes a full point and reads back the same bytes', async () => {
    const data = dumpLike(300_000, 1);
    const p = await repo.writePoint(pieces(data), pointOpts({ meta: { format: 'plain', tables: 3 } }));
    expect(p).toMatchObject({ kind: 'full', backupType: 'logical', database: 'sales', length: data.length, parentId: null, chainId: p.id, meta: { format: 'plain', tables: 3 } });
    expect(p.sha256).toBeUndefined(); // format 2: the sealed chunk ids pin the stream (hash-once.test.ts)
    expect(p.stats.chunksNew).toBe(p.chunkCount);
    expect(p.stats.bytesStored).toBeLessThan(data.length / 3); // zstd on dump text
    const reopened = await openRepository(new LocalBackend(dir.path), { key: encrypted ? key : null, ...FAST });
    expect(sha256(await collect(await reopened.readPoint(p.id)))).toBe(sha256(data));
    expect(await reopened.getPoint(p.id)).toEqual(p);
    expect((await reopened.verify()).ok).toBe(true);
  });

  it('stores only new chunks in an incremental, and each point restores directly', async () => {
    const v1 = dumpLike(400_000, 2);
    const v2 = Buffer.concat([v1.subarray(0, 200_000), Buffer.from('UPDATE row 42;\n'.repeat(50)), v1.subarray(200_000)]);
    const v3 = Buffer.concat([v2, dumpLike(20_000, 99)]);
    const full = await repo.writePoint(pieces(v1), pointOpts());
    const inc1 = await repo.writePoint(pieces(v2, 5000), pointOpts({ kind: 'incremental' }));
    const inc2 = await repo.writePoint(pieces(v3, 65536), pointOpts({ kind: 'incremental' }));
    expect(inc1).toMatchObject({ kind: 'incremental', chainId: full.id, parentId: full.id });
    expect(inc2).toMatchObject({ chainId: full.id, parentId: inc1.id });
    expect(inc1.stats.chunksReused).toBeGreaterThan(inc1.stats.chunksNew * 10);
    expect(inc1.stats.bytesNew).toBeLessThan(v2.length / 10);
    expect(inc2.stats.bytesNew).toBeLessThan(v3.length / 5);
    for (const [p, data] of [
      [full, v1],
      [inc1, v2],
      [inc2, v3],
    ] as const) {
      expect(sha256(await collect(await repo.readPoint(p.id)))).toBe(sha256(data));
    }
    const chains = await repo.chains();
    expect(chains).toHaveLength(1);
    expect(chains[0]).toMatchObject({ chainId: full.id, backupType: 'logical', fullPointId: full.id, pointIds: [full.id, inc1.id, inc2.id] });
    expect((await repo.newestPoint('logical'))?.id).toBe(inc2.id);
  });

  it('a full starts a new chain and stores everything again', async () => {
    const data = dumpLike(100_000, 3);
    const a = await repo.writePoint(pieces(data), pointOpts());
    const b = await repo.writePoint(pieces(data), pointOpts());
    expect(b.chainId).toBe(b.id);
    expect(b.stats.chunksReused).toBe(0);
    expect(b.stats.chunksNew).toBe(a.stats.chunksNew);
    const inc = await repo.writePoint(pieces(data), pointOpts({ kind: 'incremental' }));
    expect(inc.chainId).toBe(b.id);
    expect(inc.stats.chunksNew).toBe(0);
    expect((await repo.chains()).map((c) => c.chainId)).toEqual([a.id, b.id]);
  });

  it('deduplicates repeated chunks within one point', async () => {
    const block = dumpLike(50_000, 4);
    const data = Buffer.concat([block, Buffer.alloc(100_000), block, Buffer.alloc(100_000)]);
    const p = await repo.writePoint(pieces(data), pointOpts());
    expect(p.stats.chunksReused).toBeGreaterThan(5);
    expect(sha256(await collect(await repo.readPoint(p.id)))).toBe(sha256(data));
  });

  it('keeps chains per backup type; incremental without a chain is refused with NO_CHAIN', async () => {
    const e = await rejection(repo.writePoint(pieces(dumpLike(1000)), pointOpts({ kind: 'incremental', backupType: 'snapshot' })));
    expect(isNoChainError(e)).toBe(true);
    expect(e).toMatchObject({ code: 'NOT_FOUND', reason: 'NO_CHAIN', message: expect.stringMatching(/No full snapshot backup exists.*Run a full backup first/) });
    const logical = await repo.writePoint(pieces(dumpLike(20_000, 5)), pointOpts());
    await expect(repo.writePoint(pieces(dumpLike(1000)), pointOpts({ kind: 'incremental', backupType: 'snapshot' }))).rejects.toMatchObject({ reason: 'NO_CHAIN' });
    const snap = await repo.writePoint(pieces(Buffer.alloc(40_960, 1)), pointOpts({ backupType: 'snapshot', chunking: { kind: 'fixed', size: 4096 } }));
    const snapInc = await repo.writePoint(pieces(Buffer.alloc(40_960, 1)), pointOpts({ kind: 'incremental', backupType: 'snapshot', chunking: { kind: 'fixed', size: 4096 } }));
    expect(snapInc.chainId).toBe(snap.id);
    expect(snap.chunking).toEqual({ kind: 'fixed', size: 4096 });
    expect(snap.chunkCount).toBe(10);
    expect(snap.stats.chunksNew).toBe(1);
    expect((await repo.newestChain('logical'))?.chainId).toBe(logical.id);
    expect((await repo.newestChain('snapshot'))?.pointIds).toEqual([snap.id, snapInc.id]);
  });

  it('fixed chunking dedups changed pages only', async () => {
    const pages = dumpLike(64 * 4096, 6);
    const changed = Buffer.from(pages);
    changed.write('CHANGED', 10 * 4096 + 100);
    await repo.writePoint(pieces(pages), pointOpts({ backupType: 'snapshot', chunking: { kind: 'fixed', size: 4096 } }));
    const inc = await repo.writePoint(pieces(changed), pointOpts({ kind: 'incremental', backupType: 'snapshot', chunking: { kind: 'fixed', size: 4096 } }));
    expect(inc.stats.chunksNew).toBe(1);
    expect(inc.stats.bytesNew).toBe(4096);
    expect(sha256(await collect(await repo.readPoint(inc.id)))).toBe(sha256(changed));
  });

  it('handles an empty stream', async () => {
    const p = await repo.writePoint(pieces(Buffer.alloc(0)), pointOpts());
    expect(p).toMatchObject({ length: 0, chunkCount: 0 });
    expect((await collect(await repo.readPoint(p.id))).length).toBe(0);
  });

  it('lists points oldest first with their metadata', async () => {
    const a = await repo.writePoint(pieces(dumpLike(10_000, 7)), pointOpts({ database: 'Sales DB ü' }));
    const b = await repo.writePoint(pieces(dumpLike(10_000, 8)), pointOpts({ kind: 'incremental', meta: { note: 'x' } }));
    const list = await repo.listPoints();
    expect(list.map((p) => p.id)).toEqual([a.id, b.id]);
    expect(list[0]).toMatchObject({ database: 'Sales DB ü', serverIdentity: 'postgres://db1.example:5432', engineVersion: '15.6', dumpToolVersion: 'pg_dump 15.6' });
    expect(new Date(list[0]!.createdAt).toISOString()).toBe(list[0]!.createdAt);
  });

  it('deletes points and collects their packs; a chain is gone with its last point', async () => {
    const v1 = dumpLike(200_000, 9);
    const full = await repo.writePoint(pieces(v1), pointOpts());
    const inc = await repo.writePoint(pieces(Buffer.concat([v1, dumpLike(30_000, 10)])), pointOpts({ kind: 'incremental' }));
    const packsBefore = await readdir(join(dir.path, 'packs'), { recursive: true });
    const r1 = await repo.deletePoints([full.id]);
    expect(r1).toMatchObject({ deleted: [full.id], packsDeleted: 0 }); // the incremental still needs the full's chunks
    expect(sha256(await collect(await repo.readPoint(inc.id)))).toBe(sha256(Buffer.concat([v1, dumpLike(30_000, 10)])));
    expect((await repo.chains())[0]).toMatchObject({ chainId: full.id, fullPointId: null, pointIds: [inc.id] });
    const r2 = await repo.deletePoints([inc.id]);
    expect(r2.packsDeleted).toBeGreaterThan(0);
    expect(r2.bytesFreed).toBeGreaterThan(0);
    expect(await repo.chains()).toEqual([]);
    const left = (await readdir(join(dir.path, 'packs'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    expect(packsBefore.length).toBeGreaterThan(0);
    expect(left).toEqual([]);
    await expect(repo.deletePoints(['20240101T000000000Z-00000000'])).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/nothing was deleted/) });
  });

  it('reports progress at most ~4×/s plus one final report', async () => {
    const reports: WriteProgress[] = [];
    let t = 0;
    const clocked = await openRepository(new LocalBackend(dir.path), { key: encrypted ? key : null, ...FAST, now: () => (t += 10) });
    const data = dumpLike(300_000, 11);
    await clocked.writePoint(pieces(data, 1000), pointOpts({ expectedSize: data.length, onProgress: (p) => reports.push(p) }));
    const running = reports.filter((r) => !r.done);
    const final = reports.filter((r) => r.done);
    expect(final).toHaveLength(1);
    expect(reports[reports.length - 1]).toBe(final[0]);
    expect(final[0]).toMatchObject({ bytesRead: data.length, expectedBytes: data.length, etaSeconds: 0 });
    expect(running.length).toBeGreaterThan(0);
    for (let i = 1; i < running.length; i++) expect(running[i]!.elapsedMs - running[i - 1]!.elapsedMs).toBeGreaterThanOrEqual(250);
    expect(running.some((r) => r.etaSeconds !== null)).toBe(true);
    expect(final[0]!.chunksNew + final[0]!.chunksReused).toBeGreaterThan(10);
  });

  it('validates options', async () => {
    await expect(repo.writePoint(pieces(Buffer.alloc(1)), pointOpts({ database: '' }))).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(repo.writePoint(pieces(Buffer.alloc(1)), pointOpts({ chunking: { kind: 'fixed', size: 100 } }))).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(repo.writePoint(pieces(Buffer.alloc(1)), pointOpts({ meta: { big: 'x'.repeat(MAX_META_BYTES) } }))).rejects.toMatchObject({ code: 'VALIDATION', message: expect.stringMatching(/meta/) });
  });

  it('reports repository info', () => {
    expect(repo.info).toMatchObject({
      formatVersion: 2,
      encrypted,
      keyFingerprint: encrypted ? keyFingerprint(key) : null,
      chunker: SMALL_CDC,
      packSize: SMALL_PACK,
      algorithms: { chunkId: encrypted ? 2 : 1, compression: 1, encryption: encrypted ? 1 : 0, chunker: 1 },
    });
  });
});

describe('repository layout', () => {
  it('keeps the object count small (≤ 64 per GB) with default packs', async () => {
    // 40 MiB of incompressible data with default chunker and packs → 2 packs + header + manifest.
    const backend = new MemoryBackend();
    const repo = await initRepository(backend, { key: generateKey(), ...FAST });
    const { randomBytes } = await import('node:crypto');
    async function* random() {
      for (let i = 0; i < 40; i++) yield randomBytes(1024 * 1024);
    }
    const p = await repo.writePoint(random(), pointOpts());
    const keys = (await backend.list('')).map((o) => o.key);
    expect(keys.filter((k) => k.startsWith('packs/'))).toHaveLength(2);
    expect(keys.filter((k) => k.startsWith('points/'))).toEqual([`points/${p.id}.point`]);
    expect(keys).toContain('backstop.repo');
    expect(keys.filter((k) => k.startsWith('inflight/'))).toEqual([]);
    expect(p.chunking).toEqual({ kind: 'cdc', min: 512 * 1024, avg: 1024 * 1024, max: 8 * 1024 * 1024 });
  });

  it('restores each default pack with one ranged read, also a pack its last chunk took past the pack size', async () => {
    const reads: { key: string; length: number }[] = [];
    class CountingMemory extends MemoryBackend {
      override get(key: string, range?: { offset: number; length: number }): Promise<Buffer> {
        if (key.startsWith('packs/')) reads.push({ key, length: range?.length ?? -1 });
        return super.get(key, range);
      }
    }
    const backend = new CountingMemory();
    const repo = await initRepository(backend, { key: generateKey(), ...FAST });
    const { randomBytes } = await import('node:crypto');
    const data = randomBytes(40 * 1024 * 1024);
    const p = await repo.writePoint(pieces(data, 1024 * 1024), pointOpts());
    const packs = await backend.list('packs/');
    expect(packs).toHaveLength(2);
    // The first pack was closed by the chunk that took it past 32 MiB.
    expect(Math.max(...packs.map((o) => o.size))).toBeGreaterThan(32 * 1024 * 1024);
    expect(sha256(await collect(await repo.readPoint(p.id)))).toBe(sha256(data));
    expect(reads.map((r) => r.key).sort()).toEqual(packs.map((o) => o.key).sort());
    expect(reads.every((r) => r.length > 0 && r.length <= readSpanLimit(repo.info))).toBe(true);
  });

  it('holds two pack reads with read-ahead and one without (restore-server with more than 2 jobs)', async () => {
    let inFlight = 0;
    let most = 0;
    class SlowMemory extends MemoryBackend {
      override async get(key: string, range?: { offset: number; length: number }): Promise<Buffer> {
        if (!key.startsWith('packs/')) return super.get(key, range);
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return super.get(key, range);
      }
    }
    const repo = await initRepository(new SlowMemory(), { chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST, compressionLevel: 0 });
    const { randomBytes } = await import('node:crypto');
    const data = randomBytes(2 * 1024 * 1024); // ~32 packs, more than the stream buffers
    const p = await repo.writePoint(pieces(data, 64 * 1024), pointOpts());
    for (const [readAhead, expected] of [[true, 2], [false, 1]] as const) {
      most = 0;
      const out: Buffer[] = [];
      for await (const c of await repo.readPoint(p.id, { readAhead })) {
        out.push(c as Buffer);
        await new Promise((r) => setTimeout(r, 1)); // a consumer slower than nothing, so reads can pile up
      }
      expect(sha256(Buffer.concat(out))).toBe(sha256(data));
      expect(most).toBe(expected);
    }
    expect([readAheadFor(1), readAheadFor(2), readAheadFor(3), readAheadFor(16)]).toEqual([true, true, false, false]);
  });

  it('refuses to init twice', async () => {
    const backend = new MemoryBackend();
    await initRepository(backend, FAST);
    await expect(initRepository(backend, FAST)).rejects.toMatchObject({ code: 'CONFLICT' });
  });
});
