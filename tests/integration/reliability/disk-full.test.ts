/**
 * A full destination disk: a 4 MiB tmpfs mounted by the test (we run as root) as the
 * local destination. The run that does not fit fails with DISK_FULL, names the problem,
 * lists no partial point, leaves no packs/markers/temp files behind, and the earlier point
 * still verifies and restores. Once space is added, the next run succeeds.
 * If mounting is not permitted, the FaultyBackend ENOSPC variant below still runs (and the
 * mount case is skipped with a message) — docs/RELIABILITY.md says which ran.
 * A full disk under the local chunk and manifest cache only costs downloads and leaves no temp file.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initRepository, LocalChunkCache, openRepository } from '../../../electron/engine/repository/index.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { FaultyBackend } from '../../fixtures/storage/faulty-backend.ts';
import { cli, filesUnder, Scratch } from '../../fixtures/reliability/common.ts';
import { fillSqlite, sqliteCount } from '../../fixtures/reliability/kill-harness.ts';
import { garbageReport } from '../../fixtures/reliability/repo-check.ts';
import { cliInProcess } from '../../fixtures/cli.ts';
import { scratchRows } from '../../fixtures/scratch-targets.ts';
import { TmpfsMounts } from '../../fixtures/tmpfs.ts';
import { FAST, pointOpts } from '../../unit/repository/helpers.ts';

const scratch = new Scratch();
const tmpfs = new TmpfsMounts();
const tryMount = (dir: string, size: string) => tmpfs.tryMount(dir, size);
afterAll(() => {
  tmpfs.unmountAll();
  scratch.cleanup();
});

describe('a full destination disk', () => {
  it('fails the run with DISK_FULL, keeps the earlier point intact and lists no partial point', async (ctx) => {
    const destination = join(scratch.dir(), 'small-disk');
    mkdirSync(destination);
    if (!tryMount(destination, '4m')) ctx.skip('mount -t tmpfs is not permitted here; the FaultyBackend case covers DISK_FULL');
    const folder = scratch.dir();
    const dataDir = scratch.dir();
    const db = join(folder, 'ledger.db');
    fillSqlite(db, 5_000); // ~1.2 MB file, ~0.6 MB stored
    const task = join(scratch.dir(), 'task.json');
    writeFileSync(task, JSON.stringify({ name: 'disk', server: { kind: 'sqlite', folder }, type: 'snapshot', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: destination }] }));
    const location = join(destination, encodeDatabaseFolder('ledger.db'));

    const first = await cli('backup', '--config', task, '--data-dir', dataDir, '--json');
    expect(first.code, first.out).toBe(0);
    fillSqlite(db, 40_000); // now ~10 MB of incompressible-ish text: cannot fit in 4 MiB
    const second = await cli('backup', '--config', task, '--data-dir', dataDir, '--json');
    expect(second.code).toBe(1);
    const failed = (second.json as { databases: { status: string; error?: { code: string; message: string } }[] }).databases[0]!;
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatchObject({ code: 'DISK_FULL', message: expect.stringMatching(/space|full/i) });

    const points = await cli('points', location, '--data-dir', dataDir, '--json');
    expect(points.code).toBe(0);
    expect((points.json as unknown[]).length).toBe(1);
    expect(readdirSync(join(location, 'points'))).toHaveLength(1);
    const verify = await cli('verify', location, '--data-dir', dataDir, '--json');
    expect(verify.json).toMatchObject({ ok: true, pointsChecked: 1 });
    const g = await garbageReport(new LocalBackend(location));
    expect({ unreferenced: g.unreferenced, markers: g.markers }).toEqual({ unreferenced: 0, markers: 0 });
    expect(filesUnder(location).filter((f) => f.split('/').pop()!.startsWith('.'))).toEqual([]);

    const serverFile = join(scratch.dir(), 'server.json');
    writeFileSync(serverFile, JSON.stringify({ kind: 'sqlite', folder }));
    const restore = await cli('restore', location, '--point', 'latest', '--server', serverFile, '--database', 'back.db', '--data-dir', dataDir, '--json');
    expect(restore.code, restore.out).toBe(0);
    expect(sqliteCount(join(folder, 'back.db'))).toBe(5_000);

    // Space added: the next run goes through.
    execFileSync('mount', ['-o', 'remount,size=64m', destination]);
    const third = await cli('backup', '--config', task, '--data-dir', dataDir, '--json');
    expect(third.code, third.out).toBe(0);
    expect(((await cli('points', location, '--data-dir', dataDir, '--json')).json as unknown[]).length).toBe(2);
  });

  it('ENOSPC injected at each put of a write (FaultyBackend): DISK_FULL, nothing committed, earlier points intact', async () => {
    const dir = scratch.dir();
    const faulty = new FaultyBackend(new LocalBackend(dir));
    const repo = await initRepository(faulty, { workers: 0, packSize: 64 * 1024 });
    const stream = (n: number) =>
      (async function* () {
        for (let i = 0; i < n; i++) yield randomBytes(64 * 1024);
      })();
    const opts = { kind: 'full', backupType: 'logical', database: 'x', serverIdentity: 'test', engineVersion: '1', dumpToolVersion: '1', chunking: { kind: 'fixed', size: 16 * 1024 } } as const;
    const first = await repo.writePoint(stream(8), opts);
    for (const prefix of ['inflight/', 'packs/', 'points/']) {
      faulty.clear();
      faulty.inject({ op: 'put', keyPrefix: prefix, error: 'ENOSPC', after: prefix === 'packs/' ? 2 : 0 });
      await expect(repo.writePoint(stream(8), opts)).rejects.toMatchObject({
        code: 'DISK_FULL',
      });
      faulty.clear();
      expect((await repo.listPoints()).map((p) => p.id)).toEqual([first.id]);
      expect((await repo.verify()).ok).toBe(true);
      const g = await garbageReport(new LocalBackend(dir));
      expect({ prefix, unreferenced: g.unreferenced, markers: g.markers }).toEqual({ prefix, unreferenced: 0, markers: 0 });
    }
  });
});

describe('a full disk under the local chunk and manifest cache', () => {
  it('listings still read every point, and the failed cache writes leave no temp file behind (each used to leave one per manifest per look)', async (ctx) => {
    const dest = scratch.dir();
    const repo = await initRepository(new LocalBackend(dest), FAST);
    const written: string[] = [];
    for (let i = 0; i < 3; i++) {
      const point = await repo.writePoint((async function* () {
        yield randomBytes(32 * 1024);
      })(), pointOpts({ kind: i === 0 ? 'full' : 'incremental' }));
      written.push(point.id);
    }
    const cacheDir = join(scratch.dir(), 'chunk-cache');
    mkdirSync(cacheDir);
    if (!tryMount(cacheDir, '64k')) ctx.skip('mount -t tmpfs is not permitted here');
    const filler = join(cacheDir, 'filler');
    try {
      writeFileSync(filler, Buffer.alloc(1024 * 1024));
    } catch (e) {
      expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC'); // the disk is now full
    }
    const cache = new LocalChunkCache(cacheDir);
    const look = async () => (await (await openRepository(new LocalBackend(dest), { ...FAST, manifestCache: cache })).listPoints()).map((p) => p.id);
    for (let i = 0; i < 2; i++) expect(await look()).toEqual(written);
    expect(filesUnder(cacheDir).filter((f) => f !== 'filler')).toEqual([]);
    // Space again: the next look fills the cache, and the one after reads from it, the same points.
    rmSync(filler);
    expect(await look()).toEqual(written);
    expect(filesUnder(cacheDir).filter((f) => f.split('/').pop()!.startsWith('.'))).toEqual([]);
    expect(filesUnder(cacheDir).filter((f) => f.includes('/points/'))).toHaveLength(3);
    expect(await look()).toEqual(written);
  });
});

describe('a test restore whose SQLite scratch folder is too small', () => {
  it('is refused up front with DISK_FULL naming both sizes and the folder; no scratch folder or record is left, the backup is untouched', { timeout: 120_000 }, async (ctx) => {
    const dir = scratch.dir('tr-space');
    const folder = join(dir, 'server');
    mkdirSync(folder);
    fillSqlite(join(folder, 'ledger.db'), 30_000); // ~7 MB
    const dataDir = join(dir, 'data');
    const scratchDir = join(dataDir, 'test-restores');
    mkdirSync(scratchDir, { recursive: true });
    if (!tryMount(scratchDir, '2m')) ctx.skip('mount -t tmpfs is not permitted here');
    const task = join(dir, 'task.json');
    writeFileSync(task, JSON.stringify({ name: 'files', server: { kind: 'sqlite', folder }, type: 'snapshot', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: join(dir, 'backups') }] }));
    expect(JSON.parse((await cliInProcess('backup', '--config', task, '--json', '--data-dir', dataDir)).out).status).toBe('success');
    const r = await cliInProcess('test-restore', '--config', task, '--json', '--data-dir', dataDir);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out) as { databases: { database: string; status: string; checks: { name: string; ok: boolean; detail: string }[] }[] };
    expect(doc.databases.map((d) => [d.database, d.status, d.checks.map((c) => c.name)])).toEqual([['ledger.db', 'failed', ['restore']]]);
    expect(doc.databases[0]!.checks[0]!.detail).toMatch(
      new RegExp(`^DISK_FULL: Restoring "ledger\\.db" needs about \\d+(\\.\\d)? MB free in "${scratchDir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/backstop_test_\\d{14}_[0-9a-f]{8}", but only \\d+(\\.\\d)? MB is free\\. Free space there \\(or restore into another folder\\)\\. Nothing was created\\.$`),
    );
    expect(readdirSync(scratchDir)).toEqual([]);
    expect(scratchRows(dataDir)).toEqual([]);
    expect(sqliteCount(join(folder, 'ledger.db'))).toBe(30_000);
  });
});
