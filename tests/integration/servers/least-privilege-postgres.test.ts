/**
 * PostgreSQL with the accounts a careful DBA gives a backup tool, not a superuser:
 * - backup_ro: LOGIN, pg_read_all_data + pg_read_all_settings. The server check warns that
 *   the subscriptions of a database are left out of logical backups (pg_dump dumps them only
 *   for a superuser, with nothing but a stderr warning); a full and an incremental run
 *   succeed, the point names the subscription, and a restore of it says so in its notes.
 *   A database with CONNECT revoked from PUBLIC (pg_read_all_data does not grant it): the
 *   check and the dump name the GRANT; granted, its archive equals a superuser's.
 * - backup_repl: LOGIN REPLICATION + pg_read_all_data, a snapshot task: the check passes, a
 *   full and an incremental succeed, one database restores out of it through restorer.
 * - restorer: LOGIN CREATEDB CREATEROLE. What only a superuser may restore is dealt with
 *   before anything is created: objects owned by roles it is not a member of, event
 *   triggers, functions in an untrusted language (C) are refused with PERMISSION_DENIED
 *   naming them and the fix (no database, no role left behind); a database setting only a
 *   superuser may set is left out with a note giving the statement, everything else restored.
 *   Applying roles (globals.sql) as it: a role only a superuser may make fails naming the fix.
 * - CONNECTION LIMITs (a superuser is not held to them): a database whose one connection is
 *   taken fails its backup naming the limit, who holds it and the fix, its earlier point kept;
 *   a restoring role whose limit a parallel restore passes fails naming it, nothing left.
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Server } from '../../../electron/shared/domain.ts';
import { BackstopError } from '../../../electron/shared/result.ts';
import { applyGlobals } from '../../../electron/engine/servers/postgres/apply-globals.ts';
import { PgConnection } from '../../../electron/engine/servers/postgres/connection.ts';
import { connectorFor, encodeDatabaseFolder, SERVER_FOLDER } from '../../../electron/engine/servers/index.ts';
import { privateTmpDir } from '../../fixtures/wal-task.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { pointIds } from '../../fixtures/points.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { serverWithTask } from '../../fixtures/server-task.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { PG_BIN, pgContentFingerprint, pgSession, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';

let pg: PgServer;
let dumps: string;

const target = (user: string): Server => ({ id: 'pg', name: 'pg', kind: 'postgres', host: pg.host, port: pg.port, user, tls: 'disable', passwordRef: null, createdAt: '', updatedAt: '' });
const as = (user: string) => connectorFor(target(user), { password: user === 'postgres' ? pg.password : `${user}-pw`, toolPaths: { postgres: PG_BIN } });
/** The databases and roles on the server whose names contain `part` (what a failed restore must not leave). */
const leftovers = (part: string) => pg.psql(`SELECT string_agg(datname, ',') FROM pg_database WHERE datname LIKE '%${part}%' UNION ALL SELECT string_agg(rolname, ',') FROM pg_roles WHERE rolname LIKE '%${part}%'`).trim();

async function dumpOf(db: string): Promise<string> {
  const file = join(dumps, `${db}.dump`);
  const d = await as('postgres').openDump(db, 'logical');
  await pipeline(d.stream, createWriteStream(file));
  await d.done;
  return file;
}

async function refusal(p: Promise<unknown>): Promise<BackstopError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(BackstopError);
  return e as BackstopError;
}

beforeAll(async () => {
  pg = await startPostgres({ settings: ['wal_level=logical'] });
  dumps = mkdtempSync(join(tmpdir(), 'backstop-leastpriv-'));
  pg.psql(`CREATE ROLE backup_ro LOGIN PASSWORD 'backup_ro-pw' IN ROLE pg_read_all_data, pg_read_all_settings;
    CREATE ROLE restorer LOGIN CREATEDB CREATEROLE PASSWORD 'restorer-pw'; CREATE ROLE app_owner; GRANT app_owner TO restorer;
    CREATE ROLE no_createdb LOGIN PASSWORD 'no_createdb-pw';
    CREATE DATABASE app; CREATE DATABASE pubdb`);
  pg.psql(`CREATE TABLE t (id int PRIMARY KEY); CREATE PUBLICATION pub FOR TABLE t`, 'pubdb');
  pg.psql(
    `CREATE TABLE orders (id int PRIMARY KEY, v text); INSERT INTO orders VALUES (1, 'one'), (2, 'two');
     CREATE SUBSCRIPTION sub CONNECTION 'host=${pg.socketDir} port=${pg.port} dbname=pubdb' PUBLICATION pub WITH (connect = false, slot_name = 'app_slot')`,
    'app',
  );
}, 120_000);

afterAll(async () => {
  await pg?.stop();
  if (dumps) rmSync(dumps, { recursive: true, force: true });
});

describe('backing up with pg_read_all_data (no superuser): subscriptions are named, never silently missing', () => {
  test('the server check warns; a full and an incremental succeed; a restore of the point says the subscription is not in it', { timeout: 90_000 }, async () => {
    const check = await as('backup_ro').testConnection({ contentWarnings: true });
    expect(check.warnings).toContain(
      'Not a superuser: the logical replication subscriptions of database "app" (1) are left out of logical backups (pg_dump dumps them only for a superuser; each backup names them). A restore never recreates a subscription; to keep their definitions in the backup, back up as a superuser.',
    );
    const engine = await testEngine({ encoderWorkers: 0 });
    data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
    const backups = tempDir('backstop-leastpriv-b-');
    const { taskId } = await serverWithTask(engine, { kind: 'postgres', name: 'pg ro', host: pg.host, port: pg.port, user: 'backup_ro', password: 'backup_ro-pw', tls: 'disable' }, 'logical', backups, {
      excludeDatabases: ['postgres', 'pubdb'],
    });
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    pg.psql(`INSERT INTO orders VALUES (3, 'three')`, 'app');
    expect((await runTask(engine, taskId, 'incremental')).status).toBe('success');
    const admin = data(await engine.call('servers.create', { kind: 'postgres', name: 'pg admin', host: pg.host, port: pg.port, user: 'postgres', password: pg.password, tls: 'disable' }));
    const result = await restoreAndWait(engine, { location: { kind: 'local', path: join(backups, encodeDatabaseFolder('app')) }, pointId: 'latest', serverId: admin.id, database: 'app_copy' });
    expect(result.error).toBeNull();
    expect(result.notes).toEqual([
      'Subscription "sub" (publication "pub", replication slot "app_slot" on its publisher) of database "app" is not in this backup: "backup_ro" is not a superuser, and pg_dump dumps subscriptions only for a superuser. A restore never recreates a subscription (a copy must not use the source\'s slot), but to keep its definition in the backup, back up as a superuser.',
    ]);
    expect(pgContentFingerprint(pg, 'app_copy')).toEqual(pgContentFingerprint(pg, 'app'));
    pg.psql('DROP DATABASE app_copy');
  });
});

describe('restoring as a role without CREATEDB', () => {
  test('refused before the archive is read, naming the ALTER ROLE that fixes it; nothing created', async () => {
    const file = await dumpOf('app');
    const e = await refusal(as('no_createdb').restore('app_nc', createReadStream(file), 'logical'));
    expect(e.code).toBe('PERMISSION_DENIED');
    expect(e.message).toBe(
      `Role "no_createdb" may not create databases on the PostgreSQL server ${pg.host}:${pg.port}, and a restore creates database "app_nc". Fix: as a superuser run ALTER ROLE "no_createdb" CREATEDB; or restore with an account that may create databases. Nothing was created.`,
    );
    expect(leftovers('app_nc')).toBe('');
  });
});

describe('connection limits (a superuser is not held to them; these roles are)', () => {
  test('a database at its CONNECTION LIMIT: that database fails naming the limit, who holds it and the fix, nothing stored, its earlier point kept; the others succeed', { timeout: 90_000 }, async () => {
    pg.psql(`CREATE DATABASE busy CONNECTION LIMIT 1`);
    pg.psql(`CREATE TABLE t (id int); INSERT INTO t VALUES (1)`, 'busy');
    const engine = await testEngine({ encoderWorkers: 0 });
    let holder: ReturnType<typeof pgSession> | null = null;
    try {
      data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
      const backups = tempDir('backstop-leastpriv-l-');
      const { taskId } = await serverWithTask(engine, { kind: 'postgres', name: 'pg ro', host: pg.host, port: pg.port, user: 'backup_ro', password: 'backup_ro-pw', tls: 'disable' }, 'logical', backups, {
        excludeDatabases: ['postgres', 'pubdb'],
      });
      expect((await runTask(engine, taskId, 'full')).status).toBe('success');
      const before = await pointIds(backups, 'busy');
      expect(before).toHaveLength(1);
      // Another session takes the database's one connection (it connects as it starts).
      holder = pgSession(pg, 'busy');
      await holder.ask('SELECT 1');
      const run = await runTask(engine, taskId, 'full');
      const busy = run.databases.find((d) => d.database === 'busy')!;
      expect(busy).toMatchObject({ status: 'failed', errorCode: 'DUMP_FAILED' });
      expect(busy.errorMessage).toContain(
        'Database "busy" allows 1 connection (CONNECTION LIMIT 1) and 1 is in use (by "postgres"), so pg_dump could not connect to it and nothing was stored for it; its earlier points are kept. Fix: run the backup when fewer sessions are connected, raise the limit (ALTER DATABASE "busy" CONNECTION LIMIT 2;), or back up as a superuser (not held to the limit).',
      );
      expect(run.databases.find((d) => d.database === 'app')?.status).toBe('success');
      expect(await pointIds(backups, 'busy')).toEqual(before);
    } finally {
      await holder?.close();
      await engine.close();
      pg.psql('DROP DATABASE busy');
    }
  });

  test('a restoring role with CONNECTION LIMIT 1, restoring with 2 jobs: RESTORE_FAILED naming the role\'s limit and the fix, nothing left; with 1 job it restores', async () => {
    pg.psql(`CREATE DATABASE few; CREATE ROLE few_restorer LOGIN CREATEDB PASSWORD 'few_restorer-pw' CONNECTION LIMIT 1`);
    pg.psql(`CREATE TABLE a (id int); CREATE TABLE b (id int); INSERT INTO a VALUES (1); INSERT INTO b VALUES (2)`, 'few');
    try {
      const file = await dumpOf('few');
      const e = await refusal(as('few_restorer').restore('few_copy', createReadStream(file), 'logical', { noOwner: true, jobs: 2 }));
      expect(e.code).toBe('RESTORE_FAILED');
      expect(e.message).toContain(
        'Role "few_restorer" has reached its CONNECTION LIMIT: every connection it may have is in use (its other sessions count, and a parallel restore opens one per job, and one more). Fix: end other sessions of "few_restorer", restore with fewer jobs, or raise the limit (ALTER ROLE "few_restorer" CONNECTION LIMIT -1; for none) (while restoring into database "few_copy"',
      );
      expect(leftovers('few_copy')).toBe('');
      await as('few_restorer').restore('few_copy', createReadStream(file), 'logical', { noOwner: true });
      expect(pg.psql('SELECT (SELECT id FROM a) || \',\' || (SELECT id FROM b)', 'few_copy').trim()).toBe('1,2');
    } finally {
      pg.psql('DROP DATABASE IF EXISTS few_copy; DROP DATABASE few; DROP ROLE few_restorer');
    }
  });
});

describe('restoring as a role with CREATEDB and CREATEROLE (no superuser)', () => {
  test('objects owned by a role it is not a member of: PERMISSION_DENIED before anything is created; mapped to a role it is a member of, it restores', async () => {
    pg.psql(`CREATE DATABASE owned; CREATE ROLE other_owner`);
    pg.psql(`CREATE TABLE a (id int); CREATE TABLE b (id int); ALTER TABLE b OWNER TO other_owner; INSERT INTO a VALUES (1)`, 'owned');
    const file = await dumpOf('owned');
    const e = await refusal(as('restorer').restore('owned_copy', createReadStream(file), 'logical'));
    expect(e.code).toBe('PERMISSION_DENIED');
    expect(e.message).toBe(
      '"restorer" is not a superuser, and only a member of a role may give it objects: the backup\'s objects are owned by role "other_owner" (owner of TABLE public.b), role "postgres" (owner of the database; owner of TABLE public.a), and "restorer" is not a member of them. Nothing was restored. Choose one: skip ownership (everything then belongs to "restorer"), map each to a role "restorer" is a member of, restore with a superuser account, or (as a superuser, for a role that is not one) GRANT "other_owner", "postgres" TO "restorer";',
    );
    expect(leftovers('owned_copy')).toBe('');
    const report = await as('restorer').restore('owned_copy', createReadStream(file), 'logical', { roleMap: { postgres: 'app_owner', other_owner: 'app_owner' } });
    expect(report.notes).toEqual(['Role "postgres" of the backup was mapped to "app_owner".', 'Role "other_owner" of the backup was mapped to "app_owner".']);
    expect(pg.psql(`SELECT string_agg(relname || '=' || pg_get_userbyid(relowner), ',' ORDER BY relname) FROM pg_class WHERE relname IN ('a', 'b') UNION ALL SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'owned_copy'`, 'owned_copy').trim()).toBe('a=app_owner,b=app_owner\napp_owner');
    pg.psql('DROP DATABASE owned_copy');
  });

  test('an event trigger and a C function: PERMISSION_DENIED naming both before anything is created (no database, no created role left)', async () => {
    pg.psql(`CREATE DATABASE admin_things`);
    pg.psql(
      `CREATE TABLE t (id int); CREATE FUNCTION audit_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'ddl'; END $$;
       CREATE EVENT TRIGGER audit_ddl ON ddl_command_start EXECUTE FUNCTION audit_ddl();
       CREATE FUNCTION lev(text, text) RETURNS int LANGUAGE c IMMUTABLE STRICT AS '$libdir/fuzzystrmatch', 'levenshtein';
       CREATE ROLE admin_things_reader; GRANT SELECT ON t TO admin_things_reader`,
      'admin_things',
    );
    const file = await dumpOf('admin_things');
    pg.psql('DROP OWNED BY admin_things_reader; DROP ROLE admin_things_reader', 'admin_things');
    // createRoles: the role it would create first is not left behind either.
    const e = await refusal(as('restorer').restore('admin_things_copy', createReadStream(file), 'logical', { noOwner: true, createRoles: true }));
    expect(e.code).toBe('PERMISSION_DENIED');
    expect(e.message).toBe(
      'The backup holds objects only a superuser may create, and "restorer" is not a superuser: function public.lev(text, text) (LANGUAGE c), event trigger "audit_ddl". Nothing was restored. Restore it with a superuser account of the PostgreSQL server 127.0.0.1:' +
        `${pg.port} (or, there, ALTER ROLE "restorer" SUPERUSER;).`,
    );
    expect(leftovers('admin_things_')).toBe('');
    // As a superuser it restores whole.
    const report = await as('postgres').restore('admin_things_copy', createReadStream(file), 'logical', { createRoles: true });
    expect(report.notes).toEqual(['Created role "admin_things_reader" (NOLOGIN, no privileges): give it LOGIN and a password before using it.']);
    expect(pg.psql(`SELECT evtname FROM pg_event_trigger UNION ALL SELECT lev('kitten', 'sitting')::text`, 'admin_things_copy').trim()).toBe('audit_ddl\n3');
    pg.psql('DROP DATABASE admin_things_copy');
    pg.psql('DROP OWNED BY admin_things_reader; DROP ROLE admin_things_reader', 'admin_things');
  });

  test('a database setting only a superuser may set is left out with a note giving the statement; the rest of the database and its settings restore', async () => {
    pg.psql(`CREATE DATABASE tuned; ALTER DATABASE tuned SET log_min_duration_statement = 250; ALTER DATABASE tuned SET work_mem = '8MB'`);
    pg.psql(`CREATE TABLE t (id int); INSERT INTO t VALUES (7)`, 'tuned');
    const file = await dumpOf('tuned');
    const report = await as('restorer').restore('tuned_copy', createReadStream(file), 'logical', { noOwner: true });
    expect(report.notes).toEqual([
      'Ownership not restored: the database and every object in it belong to "restorer".',
      'A setting of the database was not restored: only a superuser may set it, and "restorer" is not one. To have it, run as a superuser: ALTER DATABASE "tuned_copy" SET log_min_duration_statement TO \'250\'; (or, as a superuser, GRANT SET ON PARAMETER log_min_duration_statement TO "restorer"; and restore again).',
    ]);
    const settings = `SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())`;
    expect(pg.psql(settings, 'tuned_copy').trim()).toBe('work_mem=8MB');
    expect(pg.psql('SELECT id FROM t', 'tuned_copy').trim()).toBe('7');
    // Run as the note says, the copy has the source's settings.
    pg.psql(/run as a superuser: (.*?) \(or, as a superuser, GRANT/.exec(report.notes![1]!)![1]!);
    const sorted = (db: string) => pg.psql(settings, db).trim().split(',').sort();
    expect(sorted('tuned_copy')).toEqual(sorted('tuned'));
    pg.psql('DROP DATABASE tuned_copy');
  });
});

describe('a snapshot task with REPLICATION + pg_read_all_data (no superuser)', () => {
  test('the check names only what is left out; a full and an incremental succeed; one database restores out of it through the restore account (ownership skipped), with the rows of the incremental', { timeout: 120_000 }, async () => {
    privateTmpDir();
    pg.psql(`CREATE ROLE backup_repl LOGIN REPLICATION PASSWORD 'backup_repl-pw' IN ROLE pg_read_all_data`);
    const check = await as('backup_repl').testConnection({ contentWarnings: true });
    expect(check.warnings).toEqual([
      'Not a superuser: role passwords are left out of the globals dump (pg_dumpall --no-role-passwords).',
      'Not a superuser: the logical replication subscriptions of database "app" (1) are left out of logical backups (pg_dump dumps them only for a superuser; each backup names them). A restore never recreates a subscription; to keep their definitions in the backup, back up as a superuser.',
    ]);
    expect(as('backup_repl').support('snapshot')).toEqual({ available: true, scope: 'server' });
    const engine = await testEngine({ encoderWorkers: 0 });
    data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
    const backups = tempDir('backstop-leastpriv-s-');
    const { taskId } = await serverWithTask(engine, { kind: 'postgres', name: 'pg repl', host: pg.host, port: pg.port, user: 'backup_repl', password: 'backup_repl-pw', tls: 'disable' }, 'snapshot', backups);
    expect((await runTask(engine, taskId, 'full')).databases.map((d) => `${d.database} ${d.status}`)).toEqual(['base.tar success']);
    pg.psql(`INSERT INTO orders VALUES (10, 'ten')`, 'app');
    expect((await runTask(engine, taskId, 'incremental')).databases.map((d) => `${d.database} ${d.status} ${d.kind}`)).toEqual(['base.tar success incremental']);
    const location = { kind: 'local' as const, path: join(backups, SERVER_FOLDER, encodeDatabaseFolder('base.tar')) };
    // A role that may not create databases is refused before the cluster is recovered (which may take hours).
    const nocreate = data(await engine.call('servers.create', { kind: 'postgres', name: 'pg nocreate', host: pg.host, port: pg.port, user: 'no_createdb', password: 'no_createdb-pw', tls: 'disable' }));
    const phases: string[] = [];
    const off = engine.events.on('restore.progress', (p) => phases.push(p.phase));
    const refused = await restoreAndWait(engine, { location, pointId: 'latest', sourceDatabase: 'app', serverId: nocreate.id, database: 'app_nocreate', options: { noOwner: true } });
    off();
    expect(refused).toMatchObject({
      status: 'failed',
      error: {
        code: 'PERMISSION_DENIED',
        message: `Role "no_createdb" may not create databases on the PostgreSQL server ${pg.host}:${pg.port}, and a restore creates database "app_nocreate". Fix: as a superuser run ALTER ROLE "no_createdb" CREATEDB; or restore with an account that may create databases. Nothing was created.`,
      },
    });
    expect(phases.filter((p) => p !== 'preparing' && p !== 'done')).toEqual([]); // no wal-fetch, base-backup, wal-replay
    expect(leftovers('app_nocreate')).toBe('');
    const restorer = data(await engine.call('servers.create', { kind: 'postgres', name: 'pg restorer', host: pg.host, port: pg.port, user: 'restorer', password: 'restorer-pw', tls: 'disable' }));
    const r = await restoreAndWait(engine, { location, pointId: 'latest', sourceDatabase: 'app', serverId: restorer.id, database: 'app_snap', options: { noOwner: true } });
    expect(r).toMatchObject({ status: 'success', error: null });
    expect(r.notes).toContain('Ownership not restored: the database and every object in it belong to "restorer".');
    expect(pg.psql(`SELECT string_agg(id::text, ',' ORDER BY id) FROM orders UNION ALL SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app_snap'`, 'app_snap').trim()).toBe('1,2,3,10\nrestorer');
    await engine.close();
    pg.psql(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_type = 'physical' AND NOT active; DROP DATABASE app_snap`);
  });
});

describe('applying roles (globals.sql) as the CREATEROLE restore account', () => {
  test('roles only a superuser may make (SUPERUSER, REPLICATION, BYPASSRLS, a superuser-only setting) fail each naming the fix, none half-made; the others and their memberships are applied', async () => {
    const conn = new PgConnection({ kind: 'postgres', host: pg.host, port: pg.port, user: 'restorer', tls: 'disable' }, 'restorer-pw', { binDir: PG_BIN });
    const sql = [
      'SET standard_conforming_strings = on;',
      'CREATE ROLE g_su;',
      'ALTER ROLE g_su WITH SUPERUSER NOLOGIN;',
      'CREATE ROLE g_rep;',
      'ALTER ROLE g_rep WITH REPLICATION LOGIN;',
      'CREATE ROLE g_byp;',
      'ALTER ROLE g_byp WITH BYPASSRLS;',
      'CREATE ROLE g_slow;',
      'ALTER ROLE g_slow WITH NOLOGIN;',
      "ALTER ROLE g_slow SET log_min_duration_statement TO '100';",
      'CREATE ROLE g_ok;',
      'ALTER ROLE g_ok WITH LOGIN;',
      'GRANT pg_read_all_data TO g_ok;',
      'GRANT g_su TO g_ok;',
    ].join('\n');
    const fix = (role: string) => ` — only a superuser may apply this role as it was: apply the roles with a superuser account, or create role ${role} by hand without it and apply again (an existing role is skipped).`;
    try {
      expect((await applyGlobals(conn, sql)).objects).toEqual([
        { kind: 'role', name: 'role g_su', action: 'failed', message: `must be superuser to alter superuser roles or change superuser attribute${fix('g_su')}` },
        { kind: 'role', name: 'role g_rep', action: 'failed', message: `must be superuser to alter replication roles or change replication attribute${fix('g_rep')}` },
        { kind: 'role', name: 'role g_byp', action: 'failed', message: `must be superuser to change bypassrls attribute${fix('g_byp')}` },
        { kind: 'role', name: 'role g_slow', action: 'failed', message: `permission denied to set parameter "log_min_duration_statement"${fix('g_slow')}` },
        { kind: 'role', name: 'role g_ok', action: 'created', message: null },
        { kind: 'membership', name: 'membership pg_read_all_data to g_ok', action: 'created', message: null },
        { kind: 'membership', name: 'membership g_su to g_ok', action: 'failed', message: 'role g_su could not be created' },
      ]);
      expect(pg.psql(`SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE rolname IN ('g_su', 'g_rep', 'g_byp', 'g_slow', 'g_ok')`).trim()).toBe('g_ok');
    } finally {
      pg.psql('DROP ROLE IF EXISTS g_ok');
    }
  });
});

describe('a hardened database (CONNECT revoked from PUBLIC, a schema without USAGE for PUBLIC)', () => {
  test('the check and the dump name the missing CONNECT and its GRANT; granted, the archive is the one a superuser makes (settings, per-role settings, owners, grants, default privileges, comment)', async () => {
    pg.psql(`CREATE DATABASE rich OWNER app_owner; ALTER DATABASE rich SET work_mem = '9MB'; CREATE ROLE reader; GRANT CONNECT ON DATABASE rich TO reader; REVOKE CONNECT ON DATABASE rich FROM PUBLIC;
      COMMENT ON DATABASE rich IS 'the rich one'; ALTER ROLE reader IN DATABASE rich SET search_path = hidden`);
    pg.psql(
      `CREATE SCHEMA hidden AUTHORIZATION app_owner; REVOKE ALL ON SCHEMA hidden FROM PUBLIC; CREATE TABLE hidden.t (id int, secret text); INSERT INTO hidden.t VALUES (1, 's');
       ALTER TABLE hidden.t OWNER TO app_owner; GRANT SELECT ON hidden.t TO reader; ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA hidden GRANT SELECT ON TABLES TO reader;
       CREATE SEQUENCE hidden.s; SELECT nextval('hidden.s'); CREATE MATERIALIZED VIEW hidden.mv AS SELECT count(*) FROM hidden.t; ALTER MATERIALIZED VIEW hidden.mv OWNER TO app_owner`,
      'rich',
    );
    try {
      expect((await as('backup_ro').testConnection({ contentWarnings: true })).warnings).toContain(
        'User "backup_ro" may not connect to database "rich" (CONNECT revoked from PUBLIC; pg_read_all_data does not grant it): its backups will fail. Fix: GRANT CONNECT ON DATABASE "rich" TO "backup_ro";',
      );
      const denied = await refusal(as('backup_ro').openDump('rich', 'logical').then(async (d) => {
        d.stream.resume();
        await d.done;
      }));
      expect(denied.code).toBe('PERMISSION_DENIED');
      expect(denied.message).toBe(
        'User "backup_ro" may not connect to database "rich": it has no CONNECT privilege there (revoked from PUBLIC; pg_read_all_data does not grant it), so the database was not backed up. Fix: GRANT CONNECT ON DATABASE "rich" TO "backup_ro";',
      );
      pg.psql('GRANT CONNECT ON DATABASE rich TO backup_ro');
      expect((await as('backup_ro').testConnection({ contentWarnings: true })).warnings.join(' ')).not.toContain('may not connect');
      const script = async (user: string): Promise<string> => {
        const file = join(dumps, `rich-${user}.dump`);
        const d = await as(user).openDump('rich', 'logical');
        await pipeline(d.stream, createWriteStream(file));
        await d.done;
        return execFileSync(join(PG_BIN, 'pg_restore'), ['--create', '-f', '-', file], { encoding: 'utf8' })
          .split('\n')
          .filter((l) => !l.startsWith('-- Dumped') && !/^\\(un)?restrict /.test(l))
          .join('\n');
      };
      const [own, ro] = [await script('postgres'), await script('backup_ro')];
      expect(ro).toBe(own);
      for (const part of ["ALTER DATABASE rich SET work_mem TO '9MB';", 'ALTER ROLE reader IN DATABASE rich SET search_path TO \'hidden\';', 'GRANT SELECT ON TABLE hidden.t TO reader;', "COMMENT ON DATABASE rich IS 'the rich one';", 'REVOKE CONNECT,TEMPORARY ON DATABASE rich FROM PUBLIC;']) {
        expect(ro).toContain(part);
      }
      expect(ro).toMatch(/ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA hidden GRANT SELECT ON TABLES +TO reader;/);
    } finally {
      pg.psql('DROP DATABASE rich');
      pg.psql('DROP ROLE reader');
    }
  });
});

describe('restoring as the CREATEDB role: ownership PostgreSQL will not let it give', () => {
  test('an object owned by a role that is not its schema’s owner (the archive grants it CREATE only after the owners are set): PERMISSION_DENIED naming the object, role, schema and fix; nothing left', async () => {
    pg.psql(`CREATE DATABASE multi OWNER app_owner; CREATE ROLE other2; GRANT other2 TO restorer`);
    pg.psql(`GRANT CREATE ON SCHEMA public TO other2; CREATE TABLE a (id int); ALTER TABLE a OWNER TO app_owner; CREATE TABLE b (id int); ALTER TABLE b OWNER TO other2`, 'multi');
    const file = await dumpOf('multi');
    try {
      const e = await refusal(as('restorer').restore('multi_copy', createReadStream(file), 'logical'));
      expect(e.code).toBe('PERMISSION_DENIED');
      expect(e.message).toMatch(
        /^Database "multi_copy" could not be restored by a role that is not a superuser: PostgreSQL lets it give table public\.b to other2 only when other2 may create in schema public, and a backup grants that \(GRANT CREATE ON SCHEMA\) only after every owner is set\. The new database was removed\. Fix: restore with a superuser account, skip ownership, or map other2 to the owner of schema public \(in "public", the database's owner\)\. \(.*permission denied for schema public/,
      );
      expect(leftovers('multi_copy')).toBe('');
      // Mapped to the database's owner, it restores.
      await as('restorer').restore('multi_copy', createReadStream(file), 'logical', { roleMap: { other2: 'app_owner' } });
      expect(pg.psql(`SELECT string_agg(relname || '=' || pg_get_userbyid(relowner), ',' ORDER BY relname) FROM pg_class WHERE relname IN ('a', 'b')`, 'multi_copy').trim()).toBe('a=app_owner,b=app_owner');
    } finally {
      pg.psql('DROP DATABASE IF EXISTS multi_copy; DROP DATABASE multi');
      pg.psql('DROP ROLE other2');
    }
  });
});
