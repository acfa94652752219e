/**
 * A shared hosting PostgreSQL server: many tiny databases, a low max_connections, and backup
 * roles with a CONNECTION LIMIT, backed up by server-wide tasks (two jobs at once, the default).
 * Sessions are counted by the server (its CONNECTION LIMIT refuses one more; pg_stat_activity):
 *
 * - CONNECTION LIMIT 2 (= the jobs at once): every database is backed up although a session
 *   asked for just after another one's client left is refused until the server process of
 *   that one has ended (asked again: CONNECT_RETRY_MS); no session is left behind;
 * - CONNECTION LIMIT 1 (< the jobs at once): the run starts no second job while one holds the
 *   role's one session (a dump waiting on a lock), and backs up every database once it is free;
 * - max_connections full for a role that is not a superuser: the run fails naming the server's
 *   max_connections and the fix (not a bare "Failed"), nothing stored.
 * - MariaDB, a backup user WITH MAX_USER_CONNECTIONS 1: the run keeps to one session at once
 *   (the session's @@max_user_connections; no second job while a dump waits on a lock), every
 *   schema is backed up, none left in PROCESSLIST.
 */
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerExecutor, type JobExecutor } from '../../../electron/engine/backup/worker-executor.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { data, runTask, waitForRun } from '../../fixtures/runs.ts';
import { pointIds } from '../../fixtures/points.ts';
import { serverWithTask } from '../../fixtures/server-task.ts';
import type { ClientSession } from '../../fixtures/servers/common.ts';
import { mariadbSession, startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { PG_BIN, pgSession, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { until } from '../../fixtures/until.ts';

// Enough databases that a session refused in the gap between two others shows (without the
// retry, about every other run of 30 failed one); tiny ones (copies of template1 with one
// table of one row), made in one psql session.
const N = 60;
const names = Array.from({ length: N }, (_, i) => `site${String(i + 1).padStart(3, '0')}`);
let pg: PgServer;

beforeAll(async () => {
  pg = await startPostgres({ settings: ['max_connections=12', 'superuser_reserved_connections=3'] });
  pg.psql(`CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'x');`, 'template1');
  pg.psql(names.map((n) => `CREATE DATABASE ${n} STRATEGY FILE_COPY;`).join('\n'));
  pg.psql(`CREATE ROLE bk2 LOGIN PASSWORD 'bk2-pw' CONNECTION LIMIT 2 IN ROLE pg_read_all_data, pg_read_all_settings;
    CREATE ROLE bk1 LOGIN PASSWORD 'bk1-pw' CONNECTION LIMIT 1 IN ROLE pg_read_all_data, pg_read_all_settings;`);
}, 120_000);
afterAll(async () => {
  await pg?.stop();
});

const sessionsOf = (role: string): number => Number(pg.psql(`SELECT count(*) FROM pg_stat_activity WHERE usename = '${role}'`).trim());

async function hostingTask(role: string, executor?: JobExecutor) {
  const engine = await testEngine(executor ? { executor } : {});
  data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
  expect(data(await engine.call('settings.get', undefined)).maxConcurrentBackups).toBe(2);
  const backups = tempDir();
  const server = { kind: 'postgres' as const, name: role, host: pg.host, port: pg.port, user: role, password: `${role}-pw`, tls: 'disable' as const };
  const { taskId } = await serverWithTask(engine, server, 'logical', backups, { excludeDatabases: ['postgres'] });
  return { engine, backups, taskId };
}

describe('a hosting server with many databases and a backup role with a CONNECTION LIMIT', () => {
  it('CONNECTION LIMIT 2 (the jobs at once): every database is backed up, no session left behind', { timeout: 300_000 }, async () => {
    const { engine, backups, taskId } = await hostingTask('bk2');
    const run = await runTask(engine, taskId, 'full');
    expect(run.databases.filter((d) => d.status !== 'success').map((d) => [d.database, d.errorCode, d.errorMessage])).toEqual([]);
    expect(run.status).toBe('success');
    expect(run.databases.filter((d) => !d.serverStream).map((d) => d.database).sort()).toEqual(names);
    for (const db of [names[0]!, names[N - 1]!]) expect(await pointIds(backups, db)).toHaveLength(1);
    // Every session the run opened ends (the server's count, waited on: a backend ends just after its client).
    await until('the backup role to have no session left', () => sessionsOf('bk2') === 0);
  });

  it('CONNECTION LIMIT 1: no second job starts while a dump holds the one session; then every database is backed up', { timeout: 300_000 }, async () => {
    const started: string[] = [];
    const finished: string[] = [];
    const executor: JobExecutor = async (spec, ...rest) => {
      started.push(spec.database);
      const outcomes = await workerExecutor(spec, ...rest);
      finished.push(spec.database);
      return outcomes;
    };
    executor.warm = workerExecutor.warm;
    const { engine, backups, taskId } = await hostingTask('bk1', executor);
    const only = names.slice(0, 3);
    // site001's table locked: its dump waits on the lock, holding the role's one session.
    const locker: ClientSession = pgSession(pg, only[0]!);
    await locker.ask(`BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT 1;`);
    const { runId } = data(await engine.call('tasks.runNow', { id: taskId, kind: 'full', databases: only }));
    await until('the dump of site001 to wait on the lock', () => pg.psql(`SELECT count(*) FROM pg_stat_activity WHERE usename = 'bk1' AND wait_event_type = 'Lock'`).trim() === '1');
    // A job that started would have been handed to its worker at once (the queue has a free slot).
    expect(started).toEqual([only[0]]);
    expect(finished).toEqual([]);
    expect(sessionsOf('bk1')).toBe(1);
    await locker.ask('COMMIT; SELECT 1;');
    await locker.close();
    const run = await waitForRun(engine, runId, 120_000);
    expect(run.databases.map((d) => [d.database, d.status, d.errorCode])).toEqual(only.map((d) => [d, 'success', null]));
    expect(started).toEqual(only);
    for (const db of only) expect(await pointIds(backups, db)).toHaveLength(1);
    await until('the backup role to have no session left', () => sessionsOf('bk1') === 0);
  });
});

describe('a server whose max_connections are all in use', () => {
  it('fails the run naming max_connections and the fix; nothing is stored', { timeout: 120_000 }, async () => {
    const { engine, backups, taskId } = await hostingTask('bk1');
    // 12 - 3 reserved for superusers: 9 sessions of an application take every slot a non-superuser may have.
    const apps: ClientSession[] = [];
    for (let i = 0; i < 9; i++) apps.push(pgSession(pg, 'postgres'));
    await Promise.all(apps.map((s) => s.ask('SELECT 1;')));
    expect(Number(pg.psql(`SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'`).trim())).toBeGreaterThanOrEqual(9);
    try {
      const run = await runTask(engine, taskId, 'full');
      expect(run.status).toBe('failed');
      expect(run.errorCode).toBe('UNREACHABLE');
      expect(run.errorMessage).toContain(
        `The PostgreSQL server 127.0.0.1:${pg.port} has no free connection slot: its max_connections sessions are all in use (the last superuser_reserved_connections of them only for superusers). Fix: run it again when fewer sessions are connected, end idle sessions of other applications, or raise max_connections (a server restart)`,
      );
      expect(run.errorMessage).toContain('remaining connection slots are reserved for non-replication superuser connections');
      expect(readdirSync(backups)).toEqual([]);
    } finally {
      await Promise.all(apps.map((s) => s.close()));
    }
  });
});

describe('MariaDB: a backup user WITH MAX_USER_CONNECTIONS 1', () => {
  let db: MariadbServer;
  const schemas = names.slice(0, 12);
  beforeAll(async () => {
    db = await startMariadb();
    db.sql(schemas.map((n) => `CREATE DATABASE ${n}; CREATE TABLE ${n}.t (id int PRIMARY KEY, v varchar(20)); INSERT INTO ${n}.t VALUES (1, '${n}');`).join('\n'));
    db.sql(`CREATE USER 'bk'@'%' IDENTIFIED BY 'bk-pw' WITH MAX_USER_CONNECTIONS 1; GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, PROCESS, RELOAD, BINLOG MONITOR ON *.* TO 'bk'@'%';`);
  }, 120_000);
  afterAll(async () => {
    await db?.stop();
  });

  it('backs up every schema one session at a time and leaves none behind', { timeout: 120_000 }, async () => {
    const engine = await testEngine();
    const backups = tempDir();
    const { taskId } = await serverWithTask(engine, { kind: 'mysql', name: 'maria', host: '127.0.0.1', port: db.port, user: 'bk', password: 'bk-pw', tls: 'disable' }, 'logical', backups);
    const run = await runTask(engine, taskId, 'full');
    expect(run.databases.filter((d) => d.status !== 'success').map((d) => [d.database, d.errorCode, d.errorMessage])).toEqual([]);
    expect(run.databases.filter((d) => !d.serverStream).map((d) => d.database).sort()).toEqual(schemas);
    expect(await pointIds(backups, schemas[0]!)).toHaveLength(1);
    await until('the backup user to have no session left', () => db.sql(`SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'bk'`).trim() === '0');
  });

  it('no second job starts while a dump holds the one session', { timeout: 120_000 }, async () => {
    const started: string[] = [];
    const executor: JobExecutor = async (spec, ...rest) => {
      started.push(spec.database);
      return workerExecutor(spec, ...rest);
    };
    executor.warm = workerExecutor.warm;
    const engine = await testEngine({ executor });
    const { taskId } = await serverWithTask(engine, { kind: 'mysql', name: 'maria', host: '127.0.0.1', port: db.port, user: 'bk', password: 'bk-pw', tls: 'disable' }, 'logical', tempDir());
    const only = schemas.slice(0, 3);
    const locker = mariadbSession(db, only[0]);
    await locker.ask('LOCK TABLES t WRITE; SELECT 1;');
    const { runId } = data(await engine.call('tasks.runNow', { id: taskId, kind: 'full', databases: only }));
    await until('the dump of site001 to wait on the lock', () => db.sql(`SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'bk' AND STATE LIKE 'Waiting for table metadata lock%'`).trim() === '1');
    expect(started).toEqual([only[0]]);
    await locker.ask('UNLOCK TABLES; SELECT 1;');
    await locker.close();
    const run = await waitForRun(engine, runId, 60_000);
    expect(run.databases.map((d) => [d.database, d.status, d.errorCode])).toEqual(only.map((d) => [d, 'success', null]));
    expect(started).toEqual(only);
  });
});
