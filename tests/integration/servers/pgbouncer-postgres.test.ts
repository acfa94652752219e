/**
 * PostgreSQL behind PgBouncer 1.18 (as DBAs expose it to workstations: port 6432), one pooler per pool mode in front
 * of one test server (every database through its `*` entry):
 * - pool_mode = session: the connection test, listing databases, a logical task's full and incremental, a restore
 *   into a new database (CREATE DATABASE through the pooler) and its content work end to end;
 * - pool_mode = transaction: refused at the connection test (UNSUPPORTED naming the transaction pool and the fix)
 *   before any session setting is sent — none reaches the pooled sessions the applications get next — and a
 *   restore through it is refused before anything is created; a logical run stores nothing;
 * - snapshot (base backup + WAL): PgBouncer refuses replication connections. The server check says snapshots are
 *   not available and why (the fix: the server's own port); a run is refused before a slot or a point exists.
 * Skipped only when the pgbouncer binary is absent (.ci/run installs it).
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Server } from '../../../electron/shared/domain.ts';
import { openRepository } from '../../../electron/engine/repository/index.ts';
import { connectorFor, encodeDatabaseFolder, SERVER_FOLDER, slotNameFor, type Connector } from '../../../electron/engine/servers/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { rejection } from '../../fixtures/servers/common.ts';
import { PGBOUNCER_BIN, startPgBouncer, type PgBouncer } from '../../fixtures/servers/pgbouncer.ts';
import { PG_BIN, pgContentFingerprint, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { walTask } from '../../fixtures/wal-task.ts';

let pg: PgServer;
let session: PgBouncer;
let transaction: PgBouncer;

function connector(via: { port: number }): Connector {
  const server: Server = { id: 'pg1', name: 'pooled pg', kind: 'postgres', host: '127.0.0.1', port: via.port, user: pg.user, tls: 'disable', passwordRef: null, createdAt: '', updatedAt: '' };
  return connectorFor(server, { password: pg.password, toolPaths: { postgres: PG_BIN } });
}

/** What a client of the pooler (an application) sees: one psql session through it. */
function throughPooler(via: PgBouncer, sql: string, database = 'postgres'): string {
  return execFileSync(join(PG_BIN, 'psql'), ['-X', '-A', '-t', '-q', '-h', via.host, '-p', String(via.port), '-U', pg.user, '-d', database, '-c', sql], {
    encoding: 'utf8',
    cwd: tmpdir(),
    env: { ...process.env, PGPASSWORD: pg.password },
  }).trim();
}

const databaseExists = (name: string) => pg.psql(`SELECT count(*) FROM pg_database WHERE datname = '${name}'`).trim() === '1';

describe.skipIf(!PGBOUNCER_BIN)('PostgreSQL behind PgBouncer', () => {
  beforeAll(async () => {
    pg = await startPostgres();
    // The applications' own session defaults: Backstop's sessions (statement_timeout = 0) must not leak into theirs.
    pg.psql("ALTER DATABASE postgres SET statement_timeout = '7s'");
    pg.psql('CREATE DATABASE shop');
    pg.psql("CREATE TABLE item (id serial PRIMARY KEY, name text); INSERT INTO item (name) VALUES ('lamp'), ('desk'); CREATE FUNCTION two() RETURNS int LANGUAGE sql AS 'SELECT 2'; CREATE VIEW names AS SELECT name FROM item;", 'shop');
    [session, transaction] = await Promise.all([startPgBouncer(pg, { poolMode: 'session' }), startPgBouncer(pg, { poolMode: 'transaction' })]);
  });

  afterAll(async () => {
    await Promise.all([session?.stop(), transaction?.stop()]);
    await pg?.stop();
  });

  test("the pool probe is asked once per address and minute: a run's next database jobs (each its own connector) open no probe session", async () => {
    // pg_stat_database.sessions counts the sessions opened to a database; the probe and the facts query use "postgres".
    const sessions = () => Number(pg.psql("SELECT pg_stat_force_next_flush(); SELECT sessions FROM pg_stat_database WHERE datname = 'postgres'").trim().split('\n').at(-1));
    const direct = { port: pg.port };
    const opened: number[] = [];
    for (let i = 0; i < 3; i++) {
      const before = sessions();
      await connector(direct).testConnection();
      await new Promise((r) => setTimeout(r, 50)); // the ended sessions' counts reach the statistics
      opened.push(sessions() - before - 1); // less this count's own session
    }
    // The first connector's probe is one session more than the next connectors', which reuse its answer.
    expect(opened[0]).toBe(opened[1]! + 1);
    expect(opened[2]).toBe(opened[1]);
  });

  test('session pool: the connection test, database list, a backup and its restore into a new database work', async () => {
    const c = connector(session);
    const report = await c.testConnection({ contentWarnings: true });
    expect(report.serverVersion).toMatch(/^PostgreSQL 15\./);
    expect(await c.listDatabases()).toEqual(expect.arrayContaining(['postgres', 'shop']));
    const file = join(tempDir(), 'shop.dump');
    const d = await c.openDump('shop', 'logical');
    await pipeline(d.stream, createWriteStream(file));
    await d.done;
    await c.restore('shop copy', createReadStream(file), 'logical');
    expect(pgContentFingerprint(pg, 'shop copy')).toEqual(pgContentFingerprint(pg, 'shop'));
    expect(pg.psql('SELECT two()', 'shop copy').trim()).toBe('2');
  }, 60_000);

  test('session pool: a logical task runs its full and its incremental through the pooler, and a test restore of it passes', async () => {
    const engine = await testEngine({ encoderWorkers: 0 });
    try {
      data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
      const s = data(await engine.call('servers.create', { kind: 'postgres', name: 'pooled', host: session.host, port: session.port, user: pg.user, password: pg.password, tls: 'disable' }));
      const backups = tempDir();
      const task = data(
        await engine.call('tasks.create', { name: 'shop', serverId: s.id, type: 'logical', schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' }, destinations: [{ kind: 'local', path: backups }] }),
      );
      expect(await runTask(engine, task.id, 'full')).toMatchObject({ status: 'success', errorCode: null });
      pg.psql("INSERT INTO item (name) VALUES ('shelf')", 'shop');
      expect(await runTask(engine, task.id, 'incremental')).toMatchObject({ status: 'success', errorCode: null });
      expect(existsSync(join(backups, encodeDatabaseFolder('shop')))).toBe(true);
      // A test restore: its scratch database is created, checked and dropped through the pooler too.
      const tested = await engine.testRestores.run(await engine.resolveTask(task.id), 'manual');
      expect(tested.error).toBeFalsy();
      expect(tested.databases.find((d) => d.database === 'shop')).toMatchObject({ status: 'ok' });
      expect(pg.psql("SELECT count(*) FROM pg_database WHERE datname NOT IN ('postgres', 'shop', 'shop copy', 'template0', 'template1')").trim()).toBe('0');
    } finally {
      await engine.close();
    }
  }, 90_000);

  test('transaction pool: the connection test is refused naming the pool mode and the fix, and no session setting reaches the applications', async () => {
    const e = await rejection(connector(transaction).testConnection({ contentWarnings: true }));
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message).toBe(
      `The PostgreSQL server 127.0.0.1:${transaction.port} hands one PostgreSQL session to several clients (a connection pooler such as PgBouncer with pool_mode = transaction or statement): pg_dump, pg_restore and Backstop rely on session state (SET, search_path, timeouts) that such a pool neither keeps between their statements nor clears for the applications' next client. Fix: connect to the PostgreSQL server's own port (usually 5432), or to a pool with pool_mode = session (in PgBouncer: a [databases] entry with pool_mode=session).`,
    );
    // The next application client gets the pooled server session Backstop used: with its own defaults, not Backstop's.
    expect(throughPooler(transaction, 'SHOW statement_timeout')).toBe('7s');
  });

  test('transaction pool: a restore is refused before anything is created; a logical run stores nothing', async () => {
    const file = join(tempDir(), 'shop.dump');
    const d = await connector(session).openDump('shop', 'logical');
    await pipeline(d.stream, createWriteStream(file));
    await d.done;
    const e = await rejection(connector(transaction).restore('shop pooled', createReadStream(file), 'logical'));
    expect(e).toMatchObject({ code: 'UNSUPPORTED', message: expect.stringMatching(/pool_mode = transaction or statement.*Fix: connect to the PostgreSQL server's own port/) });
    expect(databaseExists('shop pooled')).toBe(false);

    const engine = await testEngine({ encoderWorkers: 0 });
    try {
      data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
      const s = data(await engine.call('servers.create', { kind: 'postgres', name: 'pooled', host: transaction.host, port: transaction.port, user: pg.user, password: pg.password, tls: 'disable' }));
      const backups = tempDir();
      const task = data(
        await engine.call('tasks.create', { name: 'shop', serverId: s.id, type: 'logical', schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' }, destinations: [{ kind: 'local', path: backups }] }),
      );
      const run = await runTask(engine, task.id, 'full');
      expect(run).toMatchObject({ status: 'failed', errorCode: 'UNSUPPORTED', errorMessage: expect.stringMatching(/pool_mode = transaction or statement/) });
      expect(existsSync(join(backups, encodeDatabaseFolder('shop')))).toBe(false);
    } finally {
      await engine.close();
    }
  }, 60_000);

  test('snapshot through the pooler: the server check says it is not available and why; a run is refused before a slot or a point exists', async () => {
    const reason = `The PostgreSQL server 127.0.0.1:${session.port} is a connection pooler (PgBouncer): it does not pass replication connections, which snapshot backups (base backup + WAL: pg_basebackup, pg_receivewal) need. Fix: for snapshot tasks, connect to the PostgreSQL server's own port (usually 5432) instead of the pooler's; logical backups work through a session-mode pool.`;
    const { engine, backups, taskId, serverId } = await walTask({ ...pg, host: session.host, port: session.port });
    try {
      const check = data(await engine.call('servers.test', { id: serverId }));
      expect(check.support).toEqual({ logical: { available: true, scope: 'database' }, snapshot: { available: false, reason } });
      const run = await runTask(engine, taskId, 'full');
      expect(run.status).toBe('failed');
      expect(run.databases[0]).toMatchObject({ database: 'base.tar', status: 'failed', errorCode: 'UNSUPPORTED', errorMessage: `${reason} Nothing was created on the server.` });
      expect(pg.psql(`SELECT count(*) FROM pg_replication_slots WHERE slot_name = '${slotNameFor(taskId)}'`).trim()).toBe('0');
      const base = join(backups, SERVER_FOLDER, encodeDatabaseFolder('base.tar'));
      expect(existsSync(base) ? await (await openRepository(new LocalBackend(base))).listPoints() : []).toEqual([]);
    } finally {
      await engine.close();
    }
  }, 90_000);
});
