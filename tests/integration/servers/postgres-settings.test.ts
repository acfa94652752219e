/**
 * PostgreSQL with the settings real DBAs set: a logical backup and its restore into a new
 * name stay faithful (rows, pg_db_role_setting, owner, ACLs) when
 * - the source database carries settings that would bite during a restore
 *   (default_transaction_read_only, a short statement_timeout, an empty search_path,
 *   session_replication_role = replica, lock_timeout): the copy gets them after its data;
 * - the role Backstop connects as carries settings (timeouts, read-only by default,
 *   serializable, debug5 messages, DateStyle/IntervalStyle): Backstop's own sessions and the
 *   tools override what would break them;
 * - the server itself is read-only by default, has standard_conforming_strings = off and
 *   md5 passwords (globals applied both ways keep the hashes); a standby still serves
 *   backups, and a restore onto it is READ_ONLY with nothing created; a dump of a standby
 *   canceled by a recovery conflict names hot_standby_feedback / max_standby_streaming_delay;
 * - a writer moves money between two tables in many small transactions while a logical
 *   full and then an incremental run, and while a snapshot task's WAL is taken: every
 *   restored copy (a point, or a moment of the snapshot task) keeps the books balanced.
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import { restoreCommand } from '../../../electron/cli/commands/location.ts';
import { openRepository } from '../../../electron/engine/repository/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { walTask, privateTmpDir, pgServerFile } from '../../fixtures/wal-task.ts';
import type { Server } from '../../../electron/shared/domain.ts';
import { connectorFor, encodeDatabaseFolder, SERVER_FOLDER, WalSource, type Connector } from '../../../electron/engine/servers/index.ts';
import type { PostgresConnector } from '../../../electron/engine/servers/postgres/connector.ts';
import { applyGlobals } from '../../../electron/engine/servers/postgres/apply-globals.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { rejection } from '../../fixtures/servers/common.ts';
import { until } from '../../fixtures/until.ts';
import { pgDatabaseFidelity } from '../../fixtures/servers/pg-fidelity.ts';
import { PG_BIN, pgContentFingerprint, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';

let pg: PgServer;
/** A server read-only by default, with standard_conforming_strings off and md5 passwords. */
let odd: PgServer;

/** The harness's own sessions are not bound by the settings under test. */
const FREE = 'SET statement_timeout = 0; SET default_transaction_read_only = off; SET search_path = public; SET session_replication_role = origin; SET lock_timeout = 0;\n';
const free = (server: PgServer): PgServer => ({ ...server, psql: (sql, db) => server.psql(FREE + sql, db) });

function connectorOf(server: PgServer, user = server.user, password: string | null = server.password): Connector {
  const s: Server = { id: 'pg', name: 'pg', kind: 'postgres', host: server.host, port: server.port, user, tls: 'disable', passwordRef: null, createdAt: '', updatedAt: '' };
  return connectorFor(s, { password, toolPaths: { postgres: PG_BIN } });
}

async function dumpToFile(c: Connector, db: string): Promise<string> {
  const file = join(tempDir(), `${db}.dump`);
  const d = await c.openDump(db, 'logical');
  await pipeline(d.stream, createWriteStream(file));
  await d.done;
  return file;
}

const exists = (server: PgServer, db: string) => server.psql(`SELECT count(*) FROM pg_database WHERE datname = '${db}'`).trim() === '1';
const drop = (server: PgServer, db: string) => server.psql(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);

/** Rows enough that loading and indexing them takes far longer than 50 ms; dates, intervals and a trigger-kept column. */
const content = (rows: number) => `
CREATE TABLE big (id int PRIMARY KEY, d date, ts timestamptz, iv interval, t text);
INSERT INTO big SELECT g, DATE '2001-02-03' + g % 3000, TIMESTAMPTZ '2020-01-13 10:00+02' + g * INTERVAL '1 minute', make_interval(days => g % 40, secs => -g % 7), md5(g::text) FROM generate_series(1, ${rows}) g;
INSERT INTO big VALUES (0, DATE '0099-01-02 BC', TIMESTAMPTZ '1999-12-31 23:59:59.5+00', INTERVAL '-1 year 2 mons -3 days 04:05:06', 'E''\\x''');
CREATE INDEX big_t ON big (t);
CREATE TABLE account (id int PRIMARY KEY, owner_id int REFERENCES big (id), touched int NOT NULL DEFAULT 0);
CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.touched := NEW.touched + 1; RETURN NEW; END $$;
CREATE TRIGGER account_touch BEFORE INSERT ON account FOR EACH ROW EXECUTE FUNCTION public.touch();
INSERT INTO account SELECT g, g, 0 FROM generate_series(1, 50) g;
`;

beforeAll(async () => {
  [pg, odd] = await Promise.all([
    startPostgres(),
    startPostgres({ settings: ['default_transaction_read_only=on', 'standard_conforming_strings=off', 'escape_string_warning=on', 'password_encryption=md5'] }),
  ]);
  pg.psql(`CREATE ROLE app LOGIN PASSWORD 'app-pw'; CREATE ROLE viewer;`);
}, 120_000);

afterAll(async () => {
  await Promise.all([pg?.stop(), odd?.stop()]);
});

describe('database-level settings that would bite during the restore', () => {
  test('read-only, 50 ms statement timeout, empty search_path, replica replication role, 1 ms lock timeout: the copy has every row and the same settings, owner and ACL', async () => {
    pg.psql(`CREATE DATABASE strict OWNER app`);
    try {
      pg.psql(content(50_000) + 'ALTER TABLE big OWNER TO app; GRANT SELECT ON big TO viewer;', 'strict');
      pg.psql(`REVOKE CONNECT ON DATABASE strict FROM PUBLIC; GRANT CONNECT ON DATABASE strict TO viewer;
        ALTER DATABASE strict SET default_transaction_read_only = on; ALTER DATABASE strict SET statement_timeout = '50ms';
        ALTER DATABASE strict SET search_path = ''; ALTER DATABASE strict SET session_replication_role = replica; ALTER DATABASE strict SET lock_timeout = '1ms';`);
      const c = connectorOf(pg);
      const report = await c.restore('strict copy', createReadStream(await dumpToFile(c, 'strict')), 'logical', {});
      expect(report).toEqual({ database: 'strict copy', notes: [] });
      const copy = pgDatabaseFidelity(free(pg), 'strict copy');
      expect(copy).toEqual(pgDatabaseFidelity(free(pg), 'strict'));
      expect(copy.settings).toEqual(["<every role>: default_transaction_read_only=on, lock_timeout=1ms, search_path=\"\", session_replication_role=replica, statement_timeout=50ms"]);
      expect(pgContentFingerprint(free(pg), 'strict copy')).toEqual(pgContentFingerprint(free(pg), 'strict'));
      expect(free(pg).psql('SELECT count(*) FROM big', 'strict copy').trim()).toBe('50001');
      // A test restore's check of the copy counts under the copy's own settings.
      const inspection = await c.inspectRestored('strict copy', ['"public"."big"', '"public"."account"']);
      expect(inspection.counts).toEqual({ '"public"."big"': 50001, '"public"."account"': 50 });
    } finally {
      drop(pg, 'strict copy');
      drop(pg, 'strict');
    }
  });
});

describe('settings on the role Backstop connects as', () => {
  const ROLE_SETTINGS = [
    "statement_timeout = '200ms'",
    "idle_in_transaction_session_timeout = '500ms'",
    'default_transaction_read_only = on',
    "default_transaction_isolation = 'serializable'",
    'client_min_messages = debug5',
    `"DateStyle" = 'SQL, DMY'`,
    `"IntervalStyle" = 'iso_8601'`,
  ];

  test('timeouts, read-only by default, serializable, debug5, DateStyle SQL/DMY, IntervalStyle iso_8601: listing, globals, WAL slot, backup, restore and its check all work, and the copy is faithful', async () => {
    pg.psql(`CREATE ROLE bk LOGIN SUPERUSER REPLICATION PASSWORD 'bk-pw'; ${ROLE_SETTINGS.map((x) => `ALTER ROLE bk SET ${x};`).join(' ')}`);
    pg.psql(`CREATE DATABASE roleset OWNER app`);
    try {
      pg.psql(content(10_000) + 'ALTER TABLE account OWNER TO app; GRANT SELECT ON account TO viewer;', 'roleset');
      pg.psql(`ALTER DATABASE roleset SET work_mem = '5MB'; ALTER ROLE viewer IN DATABASE roleset SET work_mem = '6MB'; GRANT TEMPORARY ON DATABASE roleset TO viewer`);
      const c = connectorOf(pg, 'bk', 'bk-pw');
      const report = await c.testConnection();
      expect(report.serverVersion).toMatch(/^PostgreSQL 15/);
      expect(await c.listDatabases()).toEqual(['postgres', 'roleset']);
      const globals = await c.openServerDump('globals.sql');
      const chunks: Buffer[] = [];
      for await (const chunk of globals.stream) chunks.push(chunk as Buffer);
      await globals.done;
      expect(Buffer.concat(chunks).toString()).toContain('CREATE ROLE viewer;');
      const wal = new WalSource((c as PostgresConnector).connection, 'backstop_settings_test', join(tempDir(), 'wal'));
      const start = await wal.resetSlot();
      expect(start.startLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      expect((await wal.positionAndSlot()).slot).not.toBeNull();
      expect(await wal.dropSlot()).toBe(true);

      // A failing statement is quoted without the role's DEBUG chatter around it.
      const e = await rejection((c as PostgresConnector).connection.query('SELECT 1/0'));
      expect(e.message).toMatch(/: psql:<stdin>:\d+: ERROR: {2}division by zero$/);
      expect(e.message).not.toContain('DEBUG');
      const report2 = await c.restore('roleset copy', createReadStream(await dumpToFile(c, 'roleset')), 'logical', {});
      expect(report2).toEqual({ database: 'roleset copy', notes: [] });
      expect(pgDatabaseFidelity(pg, 'roleset copy')).toEqual(pgDatabaseFidelity(pg, 'roleset'));
      expect(pgContentFingerprint(pg, 'roleset copy')).toEqual(pgContentFingerprint(pg, 'roleset'));
      expect(pg.psql(`SELECT d::text, iv::text FROM big WHERE id = 0`, 'roleset copy').trim()).toBe('0099-01-02 BC|-10 mons -3 days +04:05:06');
      const inspection = await c.inspectRestored('roleset copy', ['"public"."big"', '"public"."account"']);
      expect(inspection.counts).toEqual({ '"public"."big"': 10001, '"public"."account"': 50 });
      await c.dropDatabase('roleset copy');
      expect(exists(pg, 'roleset copy')).toBe(false);
    } finally {
      drop(pg, 'roleset copy');
      drop(pg, 'roleset');
      pg.psql(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'backstop_settings_test'`);
      pg.psql('DROP ROLE bk');
    }
  });
});

describe('a standby', () => {
  test('Backstop\'s sessions (which turn a read-only default off) still back up from a standby; the server check says a snapshot task cannot run there; a restore onto it is READ_ONLY naming the standby and the primary, nothing created', async () => {
    pg.psql('CREATE DATABASE replicated');
    pg.psql('CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2);', 'replicated');
    pg.psql('CHECKPOINT');
    const standby = await startPostgres({ standbyOf: pg });
    try {
      const c = connectorOf(standby);
      expect(await c.listDatabases()).toContain('replicated');
      // The server check (a connection test, then support) says a snapshot task cannot run here, and what to do; logical can.
      expect(c.support('snapshot')).toMatchObject({ available: true });
      await c.testConnection({ contentWarnings: true });
      expect(c.support('snapshot')).toEqual({
        available: false,
        reason: `The PostgreSQL server 127.0.0.1:${standby.port} is a standby (in recovery): a snapshot task takes its WAL through a replication slot of its own and switches WAL files, which only a primary does. Fix: point the task's server at the primary (after a failover: the promoted server), or use a task of type logical.`,
      });
      expect(c.support('logical')).toMatchObject({ available: true });
      // A snapshot task whose server became a standby (a failover the other way): its incremental's first steps (the slot
      // and position, the end mark that would switch WAL) fail at once naming the standby and the fix, never hang.
      const wal = new WalSource((c as PostgresConnector).connection, 'backstop_standby_test', join(tempDir(), 'wal'));
      const standbyError = { code: 'DUMP_FAILED', message: expect.stringMatching(/is a standby \(in recovery\).*Nothing was created on the server\. Fix: point the task's server at the primary/) };
      await expect(wal.positionAndSlot()).rejects.toMatchObject(standbyError);
      await expect(wal.markEnd()).rejects.toMatchObject(standbyError);
      expect(standby.psql('SELECT count(*) FROM pg_replication_slots').trim()).toBe('0');
      const onPrimary = connectorOf(pg);
      await onPrimary.testConnection({ contentWarnings: true });
      expect(onPrimary.support('snapshot')).toMatchObject({ available: true });
      const file = await dumpToFile(c, 'replicated');
      const e = await rejection(c.restore('replicated copy', createReadStream(file), 'logical', {}));
      expect(e.code).toBe('READ_ONLY');
      expect(e.message).toMatch(
        new RegExp(`^The PostgreSQL server 127\\.0\\.0\\.1:${standby.port} only allows reading in this session: it is a standby \\(in recovery\\), where every transaction is read-only, or a setting forces read-only transactions\\. Restore onto the primary \\(or promote this server first\\) \\(while creating database "replicated copy"; exit code \\d\\): .*cannot execute CREATE DATABASE in a read-only transaction$`),
      );
      expect(exists(standby, 'replicated copy')).toBe(false);
      // The same backup restores onto the primary.
      await connectorOf(pg).restore('replicated copy', createReadStream(file), 'logical', {});
      expect(pg.psql('SELECT string_agg(id::text, \',\' ORDER BY id) FROM t', 'replicated copy').trim()).toBe('1,2');
    } finally {
      await standby.stop();
      drop(pg, 'replicated copy');
      drop(pg, 'replicated');
    }
  });
});

describe('a standby as the source of a long dump', () => {
  test('a dump canceled by a recovery conflict (the primary vacuumed rows its snapshot still needed) fails saying so and naming hot_standby_feedback and max_standby_streaming_delay; a dump before it is intact', async () => {
    pg.psql('CREATE DATABASE conflicted');
    pg.psql("CREATE TABLE a_big (id int, t text); INSERT INTO a_big SELECT g, repeat('x', 200) FROM generate_series(1, 60000) g; CREATE TABLE z_victim (id int); INSERT INTO z_victim SELECT generate_series(1, 1000);", 'conflicted');
    pg.psql('CHECKPOINT');
    // hot_standby_feedback off (the default) and no grace: a replayed cleanup the dump's snapshot conflicts with cancels it at once.
    const standby = await startPostgres({ standbyOf: pg, settings: ['max_standby_streaming_delay=0'] });
    try {
      const c = connectorOf(standby);
      const before = await dumpToFile(c, 'conflicted');
      // A dump that holds its snapshot: its output is not read, so pg_dump waits inside the COPY of a_big.
      const d = await c.openDump('conflicted', 'logical');
      d.done.catch(() => undefined);
      await until('the dump to be writing a_big', () => standby.psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY public.a_big%'").trim() === '1');
      // The primary removes rows the dump's snapshot still sees; replayed on the standby, that conflicts with it.
      pg.psql('DELETE FROM z_victim; VACUUM z_victim;', 'conflicted');
      const cleaned = pg.psql('SELECT pg_current_wal_lsn()').trim();
      // The dump is read a chunk at a time until the standby has replayed the cleanup (resolved the conflict by
      // canceling the dump's query), then drained. Not read at all, its backend soon waits to write to a full socket,
      // where PostgreSQL does not act on a cancel, and replay waits with it; read at once, the dump could end first.
      const replayed = () => standby.psql(`SELECT pg_last_wal_replay_lsn() >= '${cleaned}'`).trim() === 't';
      const chunks = d.stream[Symbol.asyncIterator]();
      const e = await rejection((async () => {
        const deadline = Date.now() + 60_000;
        while (!replayed()) {
          if (Date.now() > deadline) throw new Error('timed out waiting for the standby to replay the cleanup');
          if ((await chunks.next()).done) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        while (!(await chunks.next()).done);
        await d.done;
      })());
      expect(e.code).toBe('DUMP_FAILED');
      expect(e.message).toMatch(
        new RegExp(
          `^The PostgreSQL server 127\\.0\\.0\\.1:${standby.port} is a standby, and it canceled the query \\(conflict with recovery\\): the primary removed old row versions \\(VACUUM\\) that the query's snapshot still needed.*Fix: on the standby, set hot_standby_feedback = on .*or raise max_standby_streaming_delay .*; or back up the primary\\. Then run again \\(while dumping database "conflicted"; exit code 1\\): .*canceling statement due to conflict with recovery`,
        ),
      );
      // The earlier dump restores whole onto the primary.
      await connectorOf(pg).restore('conflicted copy', createReadStream(before), 'logical', {});
      expect(pg.psql('SELECT (SELECT count(*) FROM a_big), (SELECT count(*) FROM z_victim)', 'conflicted copy').trim()).toBe('60000|1000');
    } finally {
      await standby.stop();
      drop(pg, 'conflicted copy');
      drop(pg, 'conflicted');
    }
  }, 120_000);
});

describe('server-wide settings', () => {
  test('read-only by default, standard_conforming_strings off, md5 passwords: a superuser with an md5 password backs up and restores into a new name faithfully; its globals keep the md5 hash', async () => {
    const sql = (text: string, db?: string) => odd.psql(`SET default_transaction_read_only = off; ${text}`, db);
    // The DBA's md5 user, allowed in with md5 over TCP (before the fixture's scram-sha-256 line).
    sql(`CREATE ROLE md5dba LOGIN SUPERUSER REPLICATION PASSWORD 'md5-Secret-7'; CREATE ROLE clerk; CREATE ROLE auditor;`);
    expect(sql(`SELECT left(rolpassword, 3) FROM pg_authid WHERE rolname = 'md5dba'`).trim()).toBe('md5');
    const hba = join(odd.dataDir, 'pg_hba.conf');
    writeFileSync(hba, `host all md5dba 127.0.0.1/32 md5\n${readFileSync(hba, 'utf8')}`);
    sql('SELECT pg_reload_conf()');
    const c = connectorOf(odd, 'md5dba', 'md5-Secret-7') as PostgresConnector;
    let connected = false;
    for (let i = 0; i < 100 && !connected; i++) connected = await c.listDatabases().then(() => true, () => new Promise((r) => setTimeout(() => r(false), 100)));
    expect(connected).toBe(true);
    sql(`CREATE DATABASE esc OWNER clerk`);
    try {
      sql(
        `CREATE TABLE paths (id int PRIMARY KEY, p text CHECK (p NOT LIKE '%\\\\_x%'), q text DEFAULT 'back\\\\slash');
         INSERT INTO paths VALUES (1, 'C:\\\\temp', DEFAULT), (2, E'tab\\there', 'it''s');
         CREATE VIEW v AS SELECT p || '\\\\' AS p FROM paths;
         CREATE FUNCTION f() RETURNS text LANGUAGE sql AS 'SELECT ''a\\\\b''::text';
         ALTER TABLE paths OWNER TO clerk; GRANT SELECT ON v TO clerk;`,
        'esc',
      );
      sql(`COMMENT ON DATABASE esc IS 'C:\\\\dir'; ALTER DATABASE esc SET search_path = public; GRANT TEMPORARY ON DATABASE esc TO auditor;`);
      expect(sql(`SELECT p FROM paths WHERE id = 1`, 'esc').trim()).toBe('C:\\temp');
      expect((await c.testConnection()).serverVersion).toMatch(/^PostgreSQL 15/);
      const report = await c.restore('esc copy', createReadStream(await dumpToFile(c, 'esc')), 'logical', {});
      expect(report).toEqual({ database: 'esc copy', notes: [] });
      const f = free(odd);
      expect(pgDatabaseFidelity(f, 'esc copy', ['f()'])).toEqual(pgDatabaseFidelity(f, 'esc', ['f()']));
      expect(pgContentFingerprint(f, 'esc copy')).toEqual(pgContentFingerprint(f, 'esc'));
      expect(f.psql(`SELECT string_agg(p, ',' ORDER BY p) FROM v`, 'esc copy').trim()).toBe('C:\\temp\\,tab\there\\');
      const inspection = await c.inspectRestored('esc copy', ['"public"."paths"']);
      expect(inspection.counts).toEqual({ '"public"."paths"': 2 });

      // The globals, applied to another server, keep the md5 hash (never re-hashed).
      const globals = await c.openServerDump('globals.sql');
      const chunks: Buffer[] = [];
      for await (const chunk of globals.stream) chunks.push(chunk as Buffer);
      await globals.done;
      const applied = await applyGlobals((connectorOf(pg) as PostgresConnector).connection, Buffer.concat(chunks).toString());
      expect(applied.objects.find((o) => o.name === 'role md5dba')).toMatchObject({ action: 'created' });
      const hash = (server: PgServer, role = 'md5dba') => server.psql(`SET default_transaction_read_only = off; SELECT rolpassword FROM pg_authid WHERE rolname = '${role}'`).trim();
      expect(hash(pg)).toBe(hash(odd));
      // …and the other way: globals applied to this read-only-by-default server create their roles (pg_dumpall's prelude turns it off).
      const fromPg = await (connectorOf(pg) as PostgresConnector).openServerDump('globals.sql');
      const pgChunks: Buffer[] = [];
      for await (const chunk of fromPg.stream) pgChunks.push(chunk as Buffer);
      await fromPg.done;
      const back = await applyGlobals(c.connection, Buffer.concat(pgChunks).toString());
      expect(back.objects.find((o) => o.name === 'role app')).toEqual({ kind: 'role', name: 'role app', action: 'created', message: null });
      expect(hash(odd, 'app')).toBe(hash(pg, 'app'));
    } finally {
      sql(`DROP DATABASE IF EXISTS "esc copy" WITH (FORCE)`);
      sql(`DROP DATABASE IF EXISTS esc WITH (FORCE)`);
      pg.psql(`DROP ROLE IF EXISTS md5dba; DROP ROLE IF EXISTS clerk; DROP ROLE IF EXISTS auditor`);
      sql(`DROP ROLE IF EXISTS app; DROP ROLE IF EXISTS viewer`);
    }
  });
});

/**
 * The bank: 20 checking and 20 savings accounts of 1000 each and a journal. Each move takes
 * an amount from a checking account, adds it to a savings account and journals it, in one
 * transaction, so in any consistent state sum(checking) = 20000 - sum(journal) and
 * sum(savings) = 20000 + sum(journal).
 */
function openBank(server: PgServer): void {
  server.psql('CREATE DATABASE bank');
  server.psql(
    `CREATE TABLE checking (id int PRIMARY KEY, balance int NOT NULL); CREATE TABLE savings (id int PRIMARY KEY, balance int NOT NULL);
     CREATE TABLE journal (id bigserial PRIMARY KEY, amount int NOT NULL); CREATE TABLE stop_writer (at timestamptz);
     INSERT INTO checking SELECT g, 1000 FROM generate_series(1, 20) g; INSERT INTO savings SELECT g, 1000 FROM generate_series(1, 20) g;`,
    'bank',
  );
}

/** Moves money until a row lands in stop_writer; resolves when the writer has ended. */
function startWriter(server: PgServer): { stop: () => Promise<void> } {
  // (random() in a WHERE clause would be drawn per row: the accounts are drawn first.)
  const body = `DO $$ DECLARE amt int; src int; dst int; BEGIN
    WHILE NOT EXISTS (SELECT 1 FROM stop_writer) LOOP
      amt := 1 + floor(random() * 50)::int; src := 1 + floor(random() * 20)::int; dst := 1 + floor(random() * 20)::int;
      UPDATE checking SET balance = balance - amt WHERE id = src;
      UPDATE savings SET balance = balance + amt WHERE id = dst;
      INSERT INTO journal (amount) VALUES (amt);
      COMMIT;
      PERFORM pg_sleep(0.01);
    END LOOP; END $$;`;
  const child = spawn(join(server.binDir, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', server.socketDir, '-p', String(server.port), '-U', 'postgres', '-d', 'bank', '-c', body], {
    stdio: 'ignore',
    cwd: '/',
    ...(server.osUser ? { uid: server.osUser.uid, gid: server.osUser.gid } : {}),
  });
  const ended = new Promise<number | null>((r) => child.once('exit', r));
  return {
    stop: async () => {
      server.psql('INSERT INTO stop_writer VALUES (now())', 'bank');
      expect(await ended).toBe(0);
    },
  };
}

/** Waits until the writer has journaled `n` more moves than now (each wait is on the writer's own progress). */
async function movesLater(server: PgServer, n: number): Promise<number> {
  const count = () => Number(server.psql('SELECT count(*) FROM journal', 'bank').trim());
  const from = count();
  while (count() < from + n) await new Promise((r) => setTimeout(r, 20));
  return count();
}

/** The books of a copy: balanced or not, and how many moves it holds. */
function books(server: PgServer, db: string): { balanced: boolean; moves: number } {
  const [balanced, moves] = server
    .psql(
      `SELECT (SELECT sum(balance) FROM checking) = 20000 - coalesce((SELECT sum(amount) FROM journal), 0)
          AND (SELECT sum(balance) FROM savings) = 20000 + coalesce((SELECT sum(amount) FROM journal), 0), (SELECT count(*) FROM journal)`,
      db,
    )
    .trim()
    .split('|');
  return { balanced: balanced === 't', moves: Number(moves) };
}

describe('a writer moving money while backups run', () => {
  test('logical full, then incremental: each restored point has balanced books and the moves made before it', async () => {
    openBank(pg);
    const writer = startWriter(pg);
    try {
      await movesLater(pg, 20);
      const backups = tempDir();
      const engine = await testEngine({ encoderWorkers: 0 });
      onTestFinished(() => engine.close());
      data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
      const srv = data(await engine.call('servers.create', { kind: 'postgres', name: 'pg', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' }));
      const task = data(
        await engine.call('tasks.create', {
          name: 'bank',
          serverId: srv.id,
          type: 'logical',
          excludeDatabases: ['postgres'],
          schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' },
          destinations: [{ kind: 'local', path: backups }],
        }),
      );
      expect((await runTask(engine, task.id, 'full')).status).toBe('success');
      await movesLater(pg, 20);
      expect((await runTask(engine, task.id, 'incremental')).status).toBe('success');
      const folder = join(backups, encodeDatabaseFolder('bank'));
      const points = await (await openRepository(new LocalBackend(folder))).listPoints();
      expect(points.map((p) => p.kind)).toEqual(['full', 'incremental']);
      const serverFile = pgServerFile(pg);
      await restoreCommand(engine, folder, { point: points[0]!.id, serverFile, database: 'bank_full' });
      await restoreCommand(engine, folder, { point: points[1]!.id, serverFile, database: 'bank_inc' });
      await writer.stop();
      const [full, inc, now] = [books(pg, 'bank_full'), books(pg, 'bank_inc'), books(pg, 'bank')];
      expect(full.balanced && inc.balanced && now.balanced).toBe(true);
      // Each copy is a moment in the middle of the writing: after 20 moves, before the next 20 and the end.
      expect(full.moves).toBeGreaterThanOrEqual(20);
      expect(inc.moves).toBeGreaterThanOrEqual(full.moves + 20);
      expect(now.moves).toBeGreaterThan(inc.moves);
    } finally {
      await writer.stop().catch(() => undefined);
      for (const db of ['bank_full', 'bank_inc', 'bank']) drop(pg, db);
    }
  });

  test('snapshot task (base backup + WAL): a database restored to a moment between the runs has balanced books', async () => {
    openBank(pg);
    const writer = startWriter(pg);
    try {
      await movesLater(pg, 20);
      const { engine, backups, taskId } = await walTask(pg);
      onTestFinished(() => engine.close());
      expect((await runTask(engine, taskId, 'full')).status).toBe('success');
      // A moment after the base backup's consistent point (rounded up to a whole second), with moves before and after it.
      await new Promise((r) => setTimeout(r, 1100));
      await movesLater(pg, 20);
      const moment = pg.psql(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`).trim();
      await movesLater(pg, 20);
      expect((await runTask(engine, taskId, 'incremental')).status).toBe('success');
      await writer.stop();
      const serverFile = pgServerFile(pg);
      privateTmpDir();
      await restoreCommand(engine, join(backups, SERVER_FOLDER), { asOf: new Date(moment), serverFile, database: 'bank_moment', sourceDatabase: 'bank' });
      const [then, now] = [books(pg, 'bank_moment'), books(pg, 'bank')];
      expect(then.balanced && now.balanced).toBe(true);
      expect(then.moves).toBeGreaterThanOrEqual(40);
      expect(now.moves).toBeGreaterThanOrEqual(then.moves + 20);
    } finally {
      await writer.stop().catch(() => undefined);
      pg.psql(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active`);
      for (const db of ['bank_moment', 'bank']) drop(pg, db);
    }
  });
});
