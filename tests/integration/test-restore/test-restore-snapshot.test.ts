/**
 * Test restores of a PostgreSQL cluster snapshot task (issue #22, base backup + WAL in
 * `~server/base.tar`) against a real PostgreSQL 15: each database the newest base backup
 * recorded (not the templates, `postgres` or the task's exclusions) is recovered out of the
 * newest point in a temporary cluster and restored into a recorded scratch database, its
 * tables listed and counted, then dropped; a damaged WAL pack fails every database by name,
 * raises the test-restore alert, and leaves no scratch database, record or temporary cluster.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Alert } from '../../../electron/shared/domain.ts';
import { encodeDatabaseFolder, SERVER_FOLDER } from '../../../electron/engine/servers/index.ts';
import { openRepository } from '../../../electron/engine/repository/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { PG_BIN, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { scratchRows } from '../../fixtures/scratch-targets.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { walTask, privateTmpDir } from '../../fixtures/wal-task.ts';

let pg: PgServer;

beforeAll(async () => {
  pg = await startPostgres();
  pg.psql(`CREATE DATABASE shop; CREATE DATABASE "we ""ird"" db"; CREATE DATABASE skipme;`);
  pg.psql(`CREATE SCHEMA "Sales"; CREATE TABLE "Sales"."line ""items""" (id int, t text); INSERT INTO "Sales"."line ""items""" SELECT g, 'x' FROM generate_series(1, 250) g; CREATE TABLE public.empty (x int);`, 'shop');
  pg.psql(`CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2);`, 'we "ird" db');
  pg.psql('CHECKPOINT');
  pg.psql('SELECT pg_switch_wal()');
});

afterAll(async () => {
  await pg?.stop();
});

const scratchDatabases = () => pg.psql(`SELECT datname FROM pg_database WHERE datname LIKE 'backstop\\_test\\_%' ORDER BY 1`).trim();

/**
 * Every scratch database seen on the server while it runs: the same query as scratchDatabases every 200 ms, in one psql
 * session (each query reads pg_database afresh), not a psql start and a server backend per look (~85 ms of CPU each on a
 * loaded machine, five times a second for the whole test restore). `stop()` returns once every answer has been read.
 */
function watchScratchDatabases(): { seen: Set<string>; stop(): Promise<void> } {
  const seen = new Set<string>();
  const child = spawn(join(PG_BIN, 'psql'), ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-h', pg.socketDir, '-p', String(pg.port), '-U', 'postgres', '-d', 'postgres'], {
    cwd: tmpdir(),
    stdio: ['pipe', 'pipe', 'ignore'],
    env: { ...process.env, LC_ALL: 'C.UTF-8', PGPASSWORD: '' },
    ...(pg.osUser ? { uid: pg.osUser.uid, gid: pg.osUser.gid } : {}),
  });
  // A psql that died is seen by the assertions on `seen`, not here.
  child.stdin.on('error', () => undefined);
  let partial = '';
  child.stdout.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const n of lines) if (n) seen.add(n);
  });
  const closed = new Promise<void>((r) => child.once('close', () => r()));
  const look = () => child.stdin.write(`SELECT datname FROM pg_database WHERE datname LIKE 'backstop\\_test\\_%' ORDER BY 1;\n`);
  look();
  const timer = setInterval(look, 200);
  return {
    seen,
    stop: async () => {
      clearInterval(timer);
      child.stdin.end();
      await closed;
    },
  };
}

/** Every pack file of a repository folder. */
function packs(repo: string): string[] {
  const dir = join(repo, 'packs');
  return readdirSync(dir).flatMap((sub) => readdirSync(join(dir, sub)).map((f) => join(dir, sub, f)));
}

/** Writes a new newest base backup: the newest one's data, with `databases` as its recorded databases (absent: none recorded). */
async function baseBackupRecording(folder: string, databases: unknown): Promise<void> {
  const repo = await openRepository(new LocalBackend(folder), { workers: 0 });
  const full = (await repo.listPoints()).filter((p) => p.kind === 'full').at(-1)!;
  const { databases: _recorded, ...wal } = full.meta.wal as Record<string, unknown>;
  await repo.writePoint(await repo.readPoint(full.id), {
    database: full.database,
    serverIdentity: full.serverIdentity,
    engineVersion: full.engineVersion,
    dumpToolVersion: full.dumpToolVersion,
    kind: 'full',
    backupType: full.backupType,
    chunking: full.chunking.kind === 'fixed' ? { kind: 'fixed', size: full.chunking.size } : { kind: 'cdc' },
    meta: { ...full.meta, wal: databases === undefined ? wal : { ...wal, databases } } as unknown as Record<string, string>,
  });
}

/** A snapshot task of `pg` (excluding "skipme") with a base backup and one WAL point holding 5 more rows of shop; TMPDIR private. */
async function snapshotTask() {
  // The temporary clusters go to a private TMPDIR (set before the engine starts any worker).
  const privateTmp = privateTmpDir();
  const { engine, backups, taskId } = await walTask(pg, tempDir(), { excludeDatabases: ['skipme'] });
  onTestFinished(() => engine.close());
  expect((await runTask(engine, taskId, 'full')).status).toBe('success');
  const repo = join(backups, SERVER_FOLDER, encodeDatabaseFolder('base.tar'));
  const basePacks = packs(repo);
  pg.psql(`INSERT INTO "Sales"."line ""items""" SELECT g, 'y' FROM generate_series(251, 255) g;`, 'shop');
  expect((await runTask(engine, taskId, 'incremental')).databases[0]).toMatchObject({ kind: 'incremental' });
  const walPacks = packs(repo).filter((p) => !basePacks.includes(p));
  expect(walPacks.length).toBeGreaterThan(0);
  const leftovers = () => readdirSync(privateTmp).filter((f) => f.startsWith('backstop-pitr-'));
  return { engine, taskId, walPacks, leftovers, repo };
}

describe('test restores of a PostgreSQL cluster snapshot task', () => {
  it('recovers each recorded database into a scratch database, lists and counts its tables, drops it; history and proof as for logical tasks', { timeout: 300_000 }, async () => {
    const { engine, taskId, leftovers } = await snapshotTask();
    const { seen, stop } = watchScratchDatabases();
    let summary;
    try {
      summary = await engine.testRestores.run(await engine.resolveTask(taskId), 'manual');
    } finally {
      await stop();
    }
    expect(summary.error).toBeNull();
    expect(summary.status).toBe('success');
    // Not the templates, not postgres, not the excluded "skipme".
    expect(summary.databases.map((d) => [d.database, d.status, d.checks.map((c) => `${c.name}:${c.ok}`).join(',')])).toEqual([
      ['shop', 'ok', 'restore:true,tables readable:true,facts:true'],
      ['we "ird" db', 'ok', 'restore:true,tables readable:true,facts:true'],
    ]);
    // 255 rows: the WAL point's 5 rows were replayed (the newest point, not the base backup alone).
    expect(summary.databases[0]!.checks[1]!.detail).toBe('2 tables listed; SELECT count(*) ran on each (255 rows)');
    expect(summary.databases[1]!.checks[1]!.detail).toBe('1 table listed; SELECT count(*) ran on each (2 rows)');
    expect(summary.databases[0]!.checks[2]!.detail).toBe('tables and row counts not compared: a cluster snapshot records no per-database table list or row counts; checked restorable and readable');
    expect(summary.databases.every((d) => d.pointId === summary.databases[0]!.pointId && d.pointId !== null)).toBe(true);
    // A scratch database existed on the server during the run, and none is left.
    expect([...seen].every((n) => /^backstop_test_\d{14}_[0-9a-f]{8}$/.test(n))).toBe(true);
    expect(seen.size).toBeGreaterThan(0);
    expect(scratchDatabases()).toBe('');
    expect(scratchRows(engine.dataDir)).toEqual([]);
    expect(leftovers()).toEqual([]);

    const run = data(await engine.call('history.list', { limit: 10 })).find((r) => r.runKind === 'test-restore')!;
    expect(run).toMatchObject({ status: 'success', trigger: 'manual' });
    expect(run.databases.map((d) => [d.database, d.status, d.checks?.length])).toEqual([
      ['shop', 'success', 3],
      ['we "ird" db', 'success', 3],
    ]);
    const [status] = data(await engine.call('tasks.status', undefined));
    expect(status!.proven!.databases.map((d) => [d.database, d.ok]).sort()).toEqual([
      ['shop', true],
      ['we "ird" db', true],
    ]);
    expect(status!.proven).toMatchObject({ untested: [], allOkAt: expect.any(String) });
  });

  it('a damaged WAL pack fails every database by name with the alert (a leftover of a crashed run removed first); no scratch database, record or temporary cluster is left', { timeout: 300_000 }, async () => {
    const { engine, taskId, walPacks, leftovers } = await snapshotTask();
    for (const p of walPacks) {
      const bytes = readFileSync(p);
      const at = Math.floor(bytes.length / 2);
      for (let i = at; i < Math.min(at + 64, bytes.length); i++) bytes[i] = bytes[i]! ^ 0xff;
      writeFileSync(p, bytes);
    }
    const alerts: Alert[] = [];
    engine.events.on('alert', (a) => alerts.push(a));
    const before = pg.psql('SELECT datname FROM pg_database ORDER BY 1').trim();
    // A crashed run's leftover (recorded before it was created): removed first, as on the logical path.
    pg.psql('CREATE DATABASE backstop_test_20260101000000_deadbeef');
    const db = new Database(join(engine.dataDir, 'backstop.db'));
    db.prepare('INSERT INTO scratch_targets (target, name, created_at) VALUES (?, ?, ?)').run(`postgres://${pg.host}:${pg.port}`, 'backstop_test_20260101000000_deadbeef', new Date().toISOString());
    db.close();

    const summary = await engine.testRestores.run(await engine.resolveTask(taskId), 'manual');
    expect(summary.status).toBe('failed');
    expect(summary.error).toBeNull();
    expect(summary.leftoversRemoved).toEqual(['backstop_test_20260101000000_deadbeef']);
    expect(summary.databases.map((d) => [d.database, d.status])).toEqual([
      ['shop', 'failed'],
      ['we "ird" db', 'failed'],
    ]);
    for (const d of summary.databases) {
      expect(d.checks).toHaveLength(1);
      expect(d.checks[0]).toMatchObject({ name: 'restore', ok: false });
      expect(d.checks[0]!.detail).toMatch(/^INTEGRITY: Restore point \S+ is damaged: /);
    }
    expect(alerts).toEqual([
      { kind: 'test-restore-failed', taskId, message: 'Test restore of task "cluster": 2 databases not restorable as recorded (shop, we "ird" db).', databases: ['shop', 'we "ird" db'] },
    ]);
    const run = data(await engine.call('history.list', { limit: 10 })).find((r) => r.runKind === 'test-restore')!;
    expect(run.status).toBe('failed');
    expect(run.databases.map((d) => [d.database, d.status, d.errorCode])).toEqual([
      ['shop', 'failed', summary.databases[0]!.checks[0]!.detail.split(':')[0]],
      ['we "ird" db', 'failed', summary.databases[1]!.checks[0]!.detail.split(':')[0]],
    ]);
    // Nothing left behind: the server's databases as before, no scratch record, no temporary cluster.
    expect(pg.psql('SELECT datname FROM pg_database ORDER BY 1').trim()).toBe(before);
    expect(scratchRows(engine.dataDir)).toEqual([]);
    expect(leftovers()).toEqual([]);
  });

  it('a newest base backup that recorded no databases is VALIDATION (run a full); one with only system databases is NOT_FOUND; nothing is created', { timeout: 300_000 }, async () => {
    const { engine, taskId, repo, leftovers } = await snapshotTask();
    const before = pg.psql('SELECT datname FROM pg_database ORDER BY 1').trim();
    await baseBackupRecording(repo, undefined);
    const unrecorded = await engine.testRestores.run(await engine.resolveTask(taskId), 'manual');
    expect(unrecorded.status).toBe('failed');
    expect(unrecorded.error).toEqual({
      code: 'VALIDATION',
      message:
        'The newest base backup of task "cluster" did not record the databases of the cluster (it was taken before Backstop recorded them, or its role may not read pg_database), so a test restore cannot tell which databases to restore. Run a full backup, then test again.',
    });
    expect(unrecorded.databases).toEqual([]);

    await baseBackupRecording(repo, [
      { name: 'postgres', oid: 5, template: false, bytes: null },
      { name: 'template1', oid: 1, template: true, bytes: null },
      { name: 'skipme', oid: 99999, template: false, bytes: null },
    ]);
    const none = await engine.testRestores.run(await engine.resolveTask(taskId), 'manual');
    expect(none.error).toEqual({ code: 'NOT_FOUND', message: 'The cluster snapshot of task "cluster" holds no database to test (only templates, postgres and excluded databases).' });
    expect(none.databases).toEqual([]);
    expect(pg.psql('SELECT datname FROM pg_database ORDER BY 1').trim()).toBe(before);
    expect(scratchRows(engine.dataDir)).toEqual([]);
    expect(leftovers()).toEqual([]);
  });
});
