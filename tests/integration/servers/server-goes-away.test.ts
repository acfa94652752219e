/**
 * The database server goes away in the middle of an operation, as DBAs make it do: a session
 * killed (pg_terminate_backend, pg_cancel_backend, MariaDB KILL), the server restarted or stopped
 * (the fixtures' halt/start/restart keep the data). One PostgreSQL and one MariaDB (binary log on)
 * server for the file; dumps are held open on a table lock, restores by a source that sends its
 * last part only after the server went away.
 * - A full's dump killed or its server restarted: that database fails saying what ends a session
 *   (not a bare exit code, not a timeout to raise), no point for it, the others stored, the next
 *   run works. (MariaDB's dump KILL in a run: mariadb-settings.test.ts.)
 * - Stopped at a run's start: UNREACHABLE naming host:port and the fix; nothing written. A WAL
 *   incremental / binary-log incremental then, and after a restart: the chain goes on (same slot,
 *   no other left; the log covers the change). (A walsender killed mid-receipt: postgres-wal.test.ts.)
 * - A restore whose session is killed or whose server restarts: the half-restored database is
 *   dropped (a restart is waited for: the drop is retried for DROP_GRACE_MS); whose server stays
 *   stopped: the error names the database left and the exact DROP DATABASE, and the same restore
 *   run again (one database from the app, or restore-server) drops and redoes it; a name that is
 *   not its own is never dropped. (These wait out the grace: time, not CPU.)
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Engine } from '../../../electron/engine/index.ts';
import { connectorFor, encodeDatabaseFolder, type Connector } from '../../../electron/engine/servers/index.ts';
import { openRepository } from '../../../electron/engine/repository/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { COVERED_BY_LOG } from '../../../electron/engine/backup/log-coverage.ts';
import type { RestoreResult, Run } from '../../../electron/shared/domain.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { cliInProcess, runBackstop } from '../../fixtures/cli.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { data, runTask, waitForRun } from '../../fixtures/runs.ts';
import { rejection, waitFor } from '../../fixtures/servers/common.ts';
import { mariadbSession, startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { PG_BIN, pgSession, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { serverWithTask } from '../../fixtures/server-task.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { pgServerFile, walTask } from '../../fixtures/wal-task.ts';
import { SERVER_FOLDER, slotNameFor } from '../../../electron/engine/servers/index.ts';

function rowOf(run: Run, database: string) {
  return run.databases.find((d) => d.database === database);
}

async function points(backups: string, database: string): Promise<string[]> {
  const repo = await openRepository(new LocalBackend(join(backups, encodeDatabaseFolder(database))), { key: null, workers: 0 });
  return (await repo.listPoints()).map((p) => p.id);
}

describe('PostgreSQL', () => {
  let pg: PgServer;
  let engine: Engine;

  beforeAll(async () => {
    pg = await startPostgres();
    for (const d of ['held', 'other']) {
      pg.psql(`CREATE DATABASE ${d}`);
      pg.psql('CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 50)', d);
    }
  }, 60_000);

  afterAll(async () => {
    await pg?.stop();
  });

  beforeEach(async () => {
    engine = await testEngine({ encoderWorkers: 0 });
    data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
  });

  function connector(): Connector {
    return connectorFor(
      { id: 'pg1', name: 'away', kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, tls: 'disable', passwordRef: 'server.pg1.password', createdAt: '', updatedAt: '' },
      { password: pg.password, toolPaths: { postgres: PG_BIN } },
    );
  }

  function exists(name: string): boolean {
    return pg.psql(`SELECT count(*) FROM pg_database WHERE datname = '${name}'`).trim() === '1';
  }

  let archive: Buffer | null = null;
  /**
   * A restore of "other" into `name` whose archive arrives in two parts: the second only after
   * `goAway` ran, once the restore's session is on the new database (pg_restore waits for it).
   */
  async function heldRestore(name: string, goAway: () => Promise<void>) {
    if (!archive) {
      const dump = await connector().openDump('other', 'logical');
      const chunks: Buffer[] = [];
      for await (const c of dump.stream) chunks.push(c as Buffer);
      await dump.done;
      archive = Buffer.concat(chunks);
    }
    const source = new PassThrough();
    const cut = archive.length - 64; // inside the table's data, after the table was created
    source.write(archive.subarray(0, cut));
    const restoring = rejection(connector().restore(name, source, 'logical'));
    await waitFor('the restore to work in the new database', () => pg.psql(`SELECT count(*) FROM pg_stat_activity WHERE datname = '${name}' AND application_name = 'backstop'`).trim() !== '0');
    await goAway();
    source.end(archive.subarray(cut));
    return restoring;
  }

  /** Runs a full whose dump of "held" waits on a lock; `goAway` then ends it. */
  async function heldFull(taskId: string, goAway: (pid: number) => Promise<void>): Promise<Run> {
    const holder = pgSession(pg, 'held');
    await holder.ask('BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
    try {
      const { runId } = data(await engine.call('tasks.runNow', { id: taskId, kind: 'full' }));
      const waiting = "FROM pg_stat_activity WHERE datname = 'held' AND application_name = 'backstop' AND wait_event_type = 'Lock' AND query LIKE 'LOCK TABLE%'";
      await waitFor('the dump to wait on the lock', () => pg.psql(`SELECT count(*) ${waiting}`).trim() === '1');
      await goAway(Number(pg.psql(`SELECT pid ${waiting}`).trim()));
      return await waitForRun(engine, runId);
    } finally {
      await holder.close().catch(() => undefined);
    }
  }

  it('the dump session killed (pg_terminate_backend): that database fails naming what happened, no point committed for it, the others stored, the next run works', async () => {
    const backups = tempDir();
    const { taskId } = await serverWithTask(engine, { kind: 'postgres', name: 'killed', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' }, 'logical', backups);
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    const before = { held: await points(backups, 'held'), other: await points(backups, 'other') };
    const run = await heldFull(taskId, async (pid) => {
      pg.psql(`SELECT pg_terminate_backend(${pid})`);
    });
    expect(run.status).toBe('partial');
    expect(rowOf(run, 'held')).toMatchObject({
      status: 'failed',
      pointId: null,
      errorCode: 'DUMP_FAILED',
      errorMessage: expect.stringMatching(/^The PostgreSQL server 127\.0\.0\.1:\d+ ended this session: an administrator ended it \(pg_terminate_backend\), the server was stopped or restarted.* Fix: run it again once the server accepts connections \(while dumping database "held"/),
    });
    expect(rowOf(run, 'other')?.status).toBe('success');
    expect(await points(backups, 'held')).toEqual(before.held);
    expect(await points(backups, 'other')).toEqual([...before.other, rowOf(run, 'other')!.pointId]);
    const next = await runTask(engine, taskId, 'full');
    expect(next.status).toBe('success');
    expect(await points(backups, 'held')).toEqual([...before.held, rowOf(next, 'held')!.pointId]);
  }, 60_000);

  it("the dump's statement canceled (pg_cancel_backend): that database fails saying so", async () => {
    const backups = tempDir();
    const { taskId } = await serverWithTask(engine, { kind: 'postgres', name: 'canceled', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' }, 'logical', backups);
    const run = await heldFull(taskId, async (pid) => {
      pg.psql(`SELECT pg_cancel_backend(${pid})`);
    });
    expect(run.status).toBe('partial');
    expect(rowOf(run, 'held')).toMatchObject({
      status: 'failed',
      errorCode: 'DUMP_FAILED',
      errorMessage: expect.stringMatching(/^The PostgreSQL server 127\.0\.0\.1:\d+ canceled a statement of this session at an administrator's request \(pg_cancel_backend\)\. Fix: run it again \(while dumping database "held"/),
    });
    expect(rowOf(run, 'other')?.status).toBe('success');
    expect(await points(backups, 'held')).toEqual([]);
  }, 60_000);

  it('the server restarted during the dump: that database fails naming it, a database tried while it was down is UNREACHABLE, the next run works', async () => {
    const backups = tempDir();
    const { taskId } = await serverWithTask(engine, { kind: 'postgres', name: 'restarted', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' }, 'logical', backups);
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    const before = await points(backups, 'held');
    const run = await heldFull(taskId, () => pg.restart());
    // 'failed' when the restart also caught every other stream (the server's globals among them) in flight.
    expect(run.status).toBe(run.databases.some((d) => d.status === 'success') ? 'partial' : 'failed');
    expect(rowOf(run, 'held')).toMatchObject({ status: 'failed', pointId: null, errorCode: 'DUMP_FAILED', errorMessage: expect.stringMatching(/ended this session: .*the server was stopped or restarted/) });
    // Each other database made it, was being dumped when the restart ended its session (said so), or was tried while the
    // server was down (UNREACHABLE): the order of the run's parallel dumps and the restart race; none commits a point.
    for (const d of run.databases.filter((x) => x.database !== 'held' && x.status !== 'success')) {
      expect(d, d.database).toMatchObject({ status: 'failed', pointId: null });
      expect(`${d.errorCode} ${d.errorMessage}`, d.database).toMatch(
        /^(UNREACHABLE Cannot reach the PostgreSQL server 127\.0\.0\.1:\d+\. Check that it is running|DUMP_FAILED The PostgreSQL server 127\.0\.0\.1:\d+ ended this session: .*the server was stopped or restarted)/,
      );
    }
    expect(await points(backups, 'held')).toEqual(before);
    const next = await runTask(engine, taskId, 'full');
    expect(next.status).toBe('success');
    expect(await points(backups, 'held')).toEqual([...before, rowOf(next, 'held')!.pointId]);
  }, 60_000);

  it('restore-server whose target stops mid-restore: the database left is named with its DROP, and the next run of the same restore drops and redoes it', async () => {
    const backups = tempDir();
    const { taskId } = await serverWithTask(engine, { kind: 'postgres', name: 'whole', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' }, 'logical', backups);
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    const dataDir = tempDir();
    const serverFile = join(tempDir(), 'target.json');
    process.env.BACKSTOP_TEST_AWAY_PASSWORD = pg.password;
    writeFileSync(serverFile, JSON.stringify({ kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, passwordEnv: 'BACKSTOP_TEST_AWAY_PASSWORD', tls: 'disable' }));
    const restore = async () => {
      const r = await cliInProcess('restore-server', backups, '--server', serverFile, '--prefix', 'rs_', '--only', 'other', '--json', '--data-dir', dataDir);
      return JSON.parse(r.out) as { databases: { database: string; restoredAs: string; status: string; error?: { code: string; message: string } }[]; notes: string[] };
    };
    // The restore's step after CREATE DATABASE (the restoring role's setting in the new database) waits on a lock of its
    // catalog; the server is stopped there: the database is made, the restore not done, and nothing can drop it then.
    const holder = pgSession(pg);
    await holder.ask('BEGIN; LOCK TABLE pg_catalog.pg_db_role_setting IN SHARE MODE');
    const first = restore();
    try {
      await waitFor('the restore to wait on the lock', () => pg.psql(`SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'ALTER ROLE CURRENT_USER IN DATABASE "rs_other"%'`).trim() === '1');
      await pg.halt();
    } finally {
      await holder.close().catch(() => undefined);
    }
    const failed = await first;
    await pg.start();
    expect(failed.databases).toMatchObject([{ database: 'other', restoredAs: 'rs_other', status: 'failed' }]);
    expect(failed.databases[0]!.error!.message).toMatch(/The half-restored database "rs_other" was left on the server: .*: DROP DATABASE "rs_other";$/);
    expect(exists('rs_other')).toBe(true);
    const again = await restore();
    expect(again.databases).toMatchObject([{ database: 'other', restoredAs: 'rs_other', status: 'ok' }]);
    expect(again.notes).toContain('"rs_other" was left half-restored by an interrupted run; it was dropped and restored again.');
    expect(pg.psql('SELECT count(*) FROM t', 'rs_other').trim()).toBe(pg.psql('SELECT count(*) FROM t', 'other').trim());
  }, 60_000);

  it('stopped at the start of a run, then back: UNREACHABLE naming host:port and the fix, nothing committed; the next run works', async () => {
    const backups = tempDir();
    const { taskId } = await serverWithTask(engine, { kind: 'postgres', name: 'down', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' }, 'logical', backups);
    await pg.halt();
    let run: Run;
    try {
      run = await runTask(engine, taskId, 'full');
    } finally {
      await pg.start();
    }
    expect(run).toMatchObject({ status: 'failed', errorCode: 'UNREACHABLE', databases: [] });
    expect(run.errorMessage).toMatch(/^Cannot reach the PostgreSQL server 127\.0\.0\.1:\d+\. Check that it is running and that host and port are right \(while connecting; .*Connection refused/);
    expect(run.errorMessage).toContain(`127.0.0.1:${pg.port}`);
    expect(readdirSync(backups)).toEqual([]);
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
  }, 60_000);

  it('a WAL incremental while the server is stopped, and after a restart: UNREACHABLE, then the chain goes on from the same slot (none lost or leaked)', async () => {
    const wal = await walTask(pg);
    const slot = slotNameFor(wal.taskId);
    const base = join(wal.backups, SERVER_FOLDER, encodeDatabaseFolder('base.tar'));
    const chain = async () => (await (await openRepository(new LocalBackend(base), { key: null, workers: 0 })).listPoints()).map((p) => p.id);
    expect((await runTask(wal.engine, wal.taskId, 'full')).status).toBe('success');
    pg.psql('INSERT INTO t VALUES (1001)', 'held');
    const before = await chain();
    await pg.halt();
    let down: Run;
    try {
      down = await runTask(wal.engine, wal.taskId, 'incremental');
    } finally {
      await pg.start();
    }
    expect(down).toMatchObject({ status: 'failed', errorCode: 'UNREACHABLE', errorMessage: expect.stringMatching(/^Cannot reach the PostgreSQL server 127\.0\.0\.1:\d+\. Check that it is running/) });
    expect(await chain()).toEqual(before);
    await pg.restart();
    pg.psql('INSERT INTO t VALUES (1002)', 'held');
    const next = await runTask(wal.engine, wal.taskId, 'incremental');
    expect(next.databases[0]).toMatchObject({ kind: 'incremental', status: 'success' });
    expect(await chain()).toHaveLength(before.length + 1);
    expect(pg.psql("SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE 'backstop%'").trim().split('\n')).toEqual([slot]);
    await wal.engine.close();
  }, 90_000);

  it('a restore whose session is killed: RESTORE_FAILED naming what happened, the half-restored database dropped', async () => {
    const e = await heldRestore('r_killed', async () => {
      pg.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'r_killed'");
    });
    expect(e.code, e.message).toBe('RESTORE_FAILED');
    expect(e.message).toMatch(/ended this session: an administrator ended it \(pg_terminate_backend\).* \(while restoring into database "r_killed"/);
    expect(e.message).not.toMatch(/left on the server/);
    expect(exists('r_killed')).toBe(false);
  }, 60_000);

  it('a restore whose server restarts: the half-restored database dropped once it is back', async () => {
    const e = await heldRestore('r_restarted', () => pg.restart());
    expect(e.code).toBe('RESTORE_FAILED');
    expect(e.message).toMatch(/the server was stopped or restarted.* \(while restoring into database "r_restarted"/);
    expect(exists('r_restarted')).toBe(false);
  }, 60_000);

  it('a restore whose server stops: the error names the database left behind and the statement that drops it', async () => {
    const e = await heldRestore('r_stopped', () => pg.halt());
    await pg.start();
    expect(e.code).toBe('RESTORE_FAILED');
    expect(e.message).toMatch(/the server was stopped or restarted.* \(while restoring into database "r_stopped"/);
    const drop = /The half-restored database "r_stopped" was left on the server: it could not be removed then\. Once the server accepts connections, run the same restore again \(it drops the copy it left first\), or remove it yourself: (DROP DATABASE "r_stopped";)$/.exec(e.message);
    expect(drop, e.message).not.toBeNull();
    expect(exists('r_stopped')).toBe(true);
    pg.psql(drop![1]!);
    expect(exists('r_stopped')).toBe(false);
  }, 60_000);
  it('a restore from the app whose server stops: the copy it left stays recorded; the same restore run again drops it and restores the database whole; a name that is not its own is never dropped', async () => {
    pg.psql('CREATE DATABASE bulky');
    pg.psql('CREATE TABLE t AS SELECT g AS id, repeat(md5(g::text), 2) AS v FROM generate_series(1, 120000) g; ALTER TABLE t ADD PRIMARY KEY (id); CREATE INDEX ON t (v)', 'bulky');
    const backups = tempDir();
    const { taskId } = await serverWithTask(engine, { kind: 'postgres', name: 'rerun', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' }, 'logical', backups, {
      excludeDatabases: ['postgres', 'held', 'other'],
    });
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    const serverId = data(await engine.call('servers.list', undefined)).find((s) => s.name === 'rerun')!.id;
    const request = { location: { kind: 'local' as const, path: join(backups, encodeDatabaseFolder('bulky')) }, pointId: 'latest', serverId, database: 'bulky_copy' };
    const finished = new Map<string, RestoreResult>();
    const off = engine.events.on('restore.finished', (r) => finished.set(r.restoreId, r));
    const { restoreId } = data(await engine.call('restore.start', request));
    await waitFor('the restore to work in the new database', () => pg.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'bulky_copy' AND application_name = 'backstop'").trim() !== '0');
    await pg.halt();
    await waitFor('the restore to end', () => finished.has(restoreId), 60_000);
    off();
    await pg.start();
    const first = finished.get(restoreId)!;
    expect(first.status).toBe('failed');
    expect(first.error!.message).toMatch(/The half-restored database "bulky_copy" was left on the server: .* run the same restore again \(it drops the copy it left first\), or remove it yourself: DROP DATABASE "bulky_copy";$/);
    expect(exists('bulky_copy')).toBe(true);
    // Someone else's database under a name: never dropped, DATABASE_EXISTS.
    pg.psql('CREATE DATABASE theirs');
    pg.psql('CREATE TABLE mine (x int); INSERT INTO mine VALUES (7)', 'theirs');
    const taken = await restoreAndWait(engine, { ...request, database: 'theirs' });
    expect(taken).toMatchObject({ status: 'failed', error: { code: 'DATABASE_EXISTS' } });
    expect(pg.psql('SELECT x FROM mine', 'theirs').trim()).toBe('7');
    // The same restore again: the copy it left is dropped first, the new one is whole.
    const again = await restoreAndWait(engine, request);
    expect(again).toMatchObject({ status: 'success', error: null });
    expect(again.notes[0]).toBe('Database "bulky_copy" had been left half-restored by an earlier, interrupted restore of this backup; it was dropped and restored again.');
    const sum = (db: string) => pg.psql("SELECT count(*), md5(string_agg(v, ',' ORDER BY id)) FROM t", db).trim();
    expect(sum('bulky_copy')).toBe(sum('bulky'));
    // Nothing is recorded any more: restoring under the name now is DATABASE_EXISTS, the copy untouched.
    const over = await restoreAndWait(engine, request);
    expect(over).toMatchObject({ status: 'failed', error: { code: 'DATABASE_EXISTS' } });
    expect(sum('bulky_copy')).toBe(sum('bulky'));
    await engine.close();

    // `backstop restore` killed (-9) mid-restore: History closes the run naming what may be left, and the same command
    // again drops the copy and restores it whole.
    const dataDir = tempDir();
    const command = ['restore', request.location.path, '--point', 'latest', '--server', pgServerFile(pg), '--database', 'bulky_cli', '--data-dir', dataDir, '--json'];
    let pid = 0;
    const killed = runBackstop(command, { onSpawn: (p) => (pid = p) });
    await waitFor('the command to restore into the new database', () => pg.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'bulky_cli' AND application_name = 'backstop'").trim() !== '0', 60_000);
    process.kill(pid, 'SIGKILL');
    expect((await killed).code).toBeNull();
    await waitFor('the restore tool to end', () => pg.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'bulky_cli'").trim() === '0');
    expect(exists('bulky_cli')).toBe(true);
    const history = JSON.parse((await runBackstop(['history', '--data-dir', dataDir, '--json'])).stdout) as { status: string; errorCode: string | null; errorMessage: string | null }[];
    expect(history[0]).toMatchObject({ status: 'failed', errorCode: 'WORKER_CRASHED', errorMessage: expect.stringMatching(/run the same restore again \(same backup, same new name\), which drops the copy it left first/) });
    const rerun = await runBackstop(command);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect((JSON.parse(rerun.stdout) as { notes: string[] }).notes[0]).toBe('Database "bulky_cli" had been left half-restored by an earlier, interrupted restore of this backup; it was dropped and restored again.');
    expect(sum('bulky_cli')).toBe(sum('bulky'));
    pg.psql('DROP DATABASE bulky_copy; DROP DATABASE theirs; DROP DATABASE bulky; DROP DATABASE bulky_cli');
  }, 180_000);
});

describe('MariaDB', () => {
  let db: MariadbServer;
  let engine: Engine;

  beforeAll(async () => {
    db = await startMariadb({ binlog: true });
    for (const d of ['held', 'other']) db.sql(`CREATE DATABASE ${d}; CREATE TABLE ${d}.t (id INT PRIMARY KEY); INSERT INTO ${d}.t VALUES (1), (2), (3);`);
  }, 60_000);

  afterAll(async () => {
    await db?.stop();
  });

  beforeEach(async () => {
    engine = await testEngine({ encoderWorkers: 0 });
  });

  function connector(): Connector {
    return connectorFor(
      { id: 'my1', name: 'away', kind: 'mysql', host: db.host, port: db.port, user: db.user, tls: 'disable', passwordRef: 'server.my1.password', createdAt: '', updatedAt: '' },
      { password: db.password, toolPaths: { mysql: null } },
    );
  }

  function exists(name: string): boolean {
    return db.sql(`SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${name}'`).trim() === '1';
  }

  let dumped: Buffer | null = null;
  /** A restore of "other" into `name` whose dump arrives in two parts: the second only after `goAway` ran, once the restore works in the new database. */
  async function heldRestore(name: string, goAway: () => Promise<void>) {
    if (!dumped) {
      const dump = await connector().openDump('other', 'logical');
      const chunks: Buffer[] = [];
      for await (const c of dump.stream) chunks.push(c as Buffer);
      await dump.done;
      dumped = Buffer.concat(chunks);
    }
    const cut = dumped.indexOf('INSERT INTO');
    expect(cut).toBeGreaterThan(0);
    const source = new PassThrough();
    source.write(dumped.subarray(0, cut));
    const restoring = rejection(connector().restore(name, source, 'logical'));
    await waitFor('the restore to work in the new database', () => db.sql(`SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${name}'`).trim() === '1');
    await goAway();
    source.end(dumped.subarray(cut));
    return restoring;
  }

  it('the server restarted during the dump: that database fails naming it, no point committed for it, the next run works', async () => {
    const backups = tempDir();
    const { taskId } = await serverWithTask(engine, { kind: 'mysql', name: 'restarted', host: db.host, port: db.port, user: db.user, password: db.password, tls: 'disable' }, 'logical', backups);
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    const before = await points(backups, 'held');
    const holder = mariadbSession(db);
    await holder.ask('LOCK TABLES held.t WRITE');
    const { runId } = data(await engine.call('tasks.runNow', { id: taskId, kind: 'full' }));
    await waitFor('the dump to wait on the lock', () => db.sql("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'backstop' AND STATE LIKE 'Waiting for %'").trim() === '1');
    await db.restart();
    await holder.close().catch(() => undefined);
    const run = await waitForRun(engine, runId);
    expect(run.status).toBe('partial');
    // Asked while the server is still down: UNREACHABLE; once it is back: ended on purpose, not a timeout.
    const held = rowOf(run, 'held')!;
    expect(held).toMatchObject({ status: 'failed', pointId: null });
    expect(`${held.errorCode} ${held.errorMessage}`).toMatch(
      /^(UNREACHABLE Cannot reach the MySQL\/MariaDB server 127\.0\.0\.1:\d+\. Check that it is running|DUMP_FAILED The MySQL\/MariaDB server 127\.0\.0\.1:\d+ ended the connection of the dump of database "held" before any of its timeouts could have: an administrator ended it \(KILL\), or the server was restarted\.).*\(while dumping database "held".*Lost connection/,
    );
    expect(held.errorMessage).not.toMatch(/net_write_timeout/);
    expect(await points(backups, 'held')).toEqual(before);
    const next = await runTask(engine, taskId, 'full');
    expect(next.status).toBe('success');
  }, 60_000);

  it('a binary-log incremental while the server is stopped, and after a restart: UNREACHABLE naming host:port, then the log covers the change (no full)', async () => {
    const backups = tempDir();
    const { taskId } = await serverWithTask(engine, { kind: 'mysql', name: 'binlog', host: db.host, port: db.port, user: db.user, password: db.password, tls: 'disable' }, 'logical', backups);
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    db.sql('INSERT INTO held.t VALUES (1001)');
    const before = await points(backups, 'held');
    await db.halt();
    let down: Run;
    try {
      down = await runTask(engine, taskId, 'incremental');
    } finally {
      await db.start();
    }
    expect(down).toMatchObject({ status: 'failed', errorCode: 'UNREACHABLE', databases: [] });
    expect(down.errorMessage).toMatch(/^Cannot reach the MySQL\/MariaDB server 127\.0\.0\.1:\d+\. Check that it is running and that host and port are right/);
    expect(down.errorMessage).toContain(`127.0.0.1:${db.port}`);
    expect(await points(backups, 'held')).toEqual(before);
    await db.restart();
    db.sql('INSERT INTO held.t VALUES (1002)');
    const next = await runTask(engine, taskId, 'incremental');
    // The restart began a new log file: the log from the full's position on (across both files) covers the database.
    expect(rowOf(next, 'binlog')).toMatchObject({ kind: 'incremental', status: 'success' });
    expect(rowOf(next, 'held')).toMatchObject({ kind: 'incremental', status: 'success', kindReason: COVERED_BY_LOG });
  }, 60_000);

  it('a restore whose session is killed (KILL): RESTORE_FAILED saying it was ended on purpose (not a timeout to raise), the half-restored database dropped', async () => {
    const e = await heldRestore('r_killed', async () => {
      db.sql("SELECT GROUP_CONCAT(CONCAT('KILL ', ID) SEPARATOR '; ') FROM information_schema.PROCESSLIST WHERE DB = 'r_killed' INTO @k; EXECUTE IMMEDIATE @k");
    });
    expect(e.code).toBe('RESTORE_FAILED');
    expect(e.message).toMatch(
      /^The MySQL\/MariaDB server 127\.0\.0\.1:\d+ ended the connection of the restore into database "r_killed" before any of its timeouts could have: an administrator ended it \(KILL\), or the server was restarted\. The new database was removed\. Fix: restore again once the server accepts connections\. \(while restoring into database "r_killed"/,
    );
    expect(e.message).not.toMatch(/SET GLOBAL/);
    expect(exists('r_killed')).toBe(false);
  }, 60_000);

  it('a restore whose server restarts: the half-restored database dropped once it is back', async () => {
    const e = await heldRestore('r_restarted', () => db.restart());
    if (e.code === 'UNREACHABLE') {
      // A race the restart allows (seen under CI load): the client noticed the lost connection and
      // tried to reconnect while the server was still starting. Said as such, never as success.
      expect(e.message).toMatch(/^Cannot reach the MySQL\/MariaDB server 127\.0\.0\.1:\d+\. .*\(while restoring into database "r_restarted"/s);
    } else {
      expect(e.code).toBe('RESTORE_FAILED');
      expect(e.message).toMatch(/ended the connection of the restore into database "r_restarted" before any of its timeouts could have: .*or the server was restarted/);
    }
    // Either way the half-restored copy is gone once the server is back, or the error names its DROP.
    const drop = /remove it yourself: (DROP DATABASE `r_restarted`;)$/.exec(e.message);
    if (drop) db.sql(drop[1]!);
    expect(exists('r_restarted')).toBe(false);
  }, 60_000);

  it('a restore whose server stops: the error names the database left behind and the statement that drops it', async () => {
    const e = await heldRestore('r_stopped', () => db.halt());
    await db.start();
    expect(e.code).toBe('UNREACHABLE');
    expect(e.message).toMatch(/^Cannot reach the MySQL\/MariaDB server 127\.0\.0\.1:\d+\. Check that it is running .*\(while restoring into database "r_stopped"/);
    const drop = /The half-restored database "r_stopped" was left on the server: it could not be removed then\. Once the server accepts connections, run the same restore again \(it drops the copy it left first\), or remove it yourself: (DROP DATABASE `r_stopped`;)$/.exec(e.message);
    expect(drop, e.message).not.toBeNull();
    expect(exists('r_stopped')).toBe(true);
    db.sql(drop![1]!);
    expect(exists('r_stopped')).toBe(false);
  }, 60_000);
});
