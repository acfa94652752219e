/**
 * PostgreSQL restores bring back the whole database, not only its tables (issue 16):
 * owner, settings, per-role settings, comment, privileges, encoding/locale, connection
 * limit, LC_CTYPE apart from LC_COLLATE, grants a grantee made WITH GRANT OPTION (their
 * grantor kept, also mapped) — under the new name — compared with pgDatabaseFidelity between
 * source and copy. An extension's owner is not in pg_dump's archive: the copy's is the
 * restoring role (a documented limit, pinned so the docs stay true).
 * A second server without the source's roles checks the missing-role choices: ROLE_MISSING
 * before anything is created, skip ownership/privileges, create the roles, map them.
 */
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Server } from '../../../electron/shared/domain.ts';
import { connectorFor, type Connector, type RestoreOptions } from '../../../electron/engine/servers/index.ts';
import type { PostgresConnector } from '../../../electron/engine/servers/postgres/connector.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { rejection } from '../../fixtures/servers/common.ts';
import { pgDatabaseFidelity } from '../../fixtures/servers/pg-fidelity.ts';
import { PG_BIN, pgContentFingerprint, psqlEach, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';

let source: PgServer;
let target: PgServer;
let shopDump: string;
let dumpDir: string | undefined;

function connectorOf(pg: PgServer, user = pg.user, password: string | null = pg.password): Connector {
  const server: Server = { id: 'pg', name: 'pg', kind: 'postgres', host: pg.host, port: pg.port, user, tls: 'disable', passwordRef: null, createdAt: '', updatedAt: '' };
  return connectorFor(server, { password, toolPaths: { postgres: PG_BIN } });
}

async function dumpToFile(pg: PgServer, db: string, dir = tempDir()): Promise<string> {
  const file = join(dir, `${db}.dump`);
  const dump = await connectorOf(pg).openDump(db, 'logical');
  await pipeline(dump.stream, createWriteStream(file));
  await dump.done;
  return file;
}

const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
const exists = (pg: PgServer, db: string) => pg.psql(`SELECT count(*) FROM pg_database WHERE datname = ${lit(db)}`).trim() === '1';
const roles = (pg: PgServer) => pg.psql('SELECT string_agg(rolname, \',\' ORDER BY rolname) FROM pg_roles').trim();
const drop = (pg: PgServer, db: string) => pg.psql(`DROP DATABASE IF EXISTS ${ident(db)} WITH (FORCE)`);

const ODD = 'odd "r" ole';
const ROUTINES = ['app.f(41)', "app.greet('Zoë')"];

/** The repro, plus everything else a database carries: LATIN1/C, a limit, settings for everyone and per role, a comment with non-ASCII text, grants with grant option to an odd role name, default privileges. */
function createShop(pg: PgServer): void {
  pg.psql(`CREATE ROLE web LOGIN PASSWORD 'web-pw'; CREATE ROLE reader LOGIN PASSWORD 'reader-pw'; CREATE ROLE ${ident(ODD)}; CREATE ROLE outsider LOGIN PASSWORD 'outsider-pw';`);
  pg.psql(`CREATE DATABASE shop OWNER web ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0 CONNECTION LIMIT 17`);
  pg.psql(`ALTER DATABASE shop SET search_path = app, public; ALTER DATABASE shop SET "TimeZone" = 'Europe/Paris';
    ALTER ROLE reader IN DATABASE shop SET work_mem = '8MB'; ALTER ROLE ${ident(ODD)} IN DATABASE shop SET statement_timeout = '5s';
    REVOKE CONNECT ON DATABASE shop FROM PUBLIC; GRANT CONNECT ON DATABASE shop TO reader;
    GRANT CREATE, TEMPORARY ON DATABASE shop TO ${ident(ODD)} WITH GRANT OPTION;
    COMMENT ON DATABASE shop IS 'Café''s shop; -- not a comment';`);
  pg.psql(
    `CREATE SCHEMA app AUTHORIZATION web;
     CREATE TABLE app.orders (id int PRIMARY KEY, item text);
     INSERT INTO app.orders VALUES (1, 'crème'), (2, 'tea');
     ALTER TABLE app.orders OWNER TO web;
     GRANT SELECT ON app.orders TO reader;
     GRANT USAGE ON SCHEMA app TO reader;
     CREATE FUNCTION app.f(x int) RETURNS int LANGUAGE sql AS $$ SELECT x + 1 $$;
     CREATE FUNCTION app.greet(n text) RETURNS text LANGUAGE sql AS $$ SELECT 'Grüß ' || n || ' ' || current_setting('TimeZone') $$;
     ALTER FUNCTION app.f(int) OWNER TO web;
     REVOKE EXECUTE ON FUNCTION app.f(int) FROM PUBLIC; GRANT EXECUTE ON FUNCTION app.f(int) TO reader;
     ALTER DEFAULT PRIVILEGES FOR ROLE web IN SCHEMA app GRANT SELECT ON TABLES TO reader;`,
    'shop',
  );
}

beforeAll(async () => {
  [source, target] = await Promise.all([startPostgres(), startPostgres()]);
  createShop(source);
  dumpDir = mkdtempSync(join(tmpdir(), 'backstop-pgfid-'));
  shopDump = await dumpToFile(source, 'shop', dumpDir);
});

afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
  if (dumpDir) rmSync(dumpDir, { recursive: true, force: true });
});

async function restore(pg: PgServer, name: string, opts: RestoreOptions = {}, file = shopDump) {
  return connectorOf(pg).restore(name, createReadStream(file), 'logical', opts);
}

describe('database-level properties come back under the new name', () => {
  test('the repro: the owner can read its table through the database search_path; PUBLIC may not connect; everything else matches', async () => {
    const report = await restore(source, 'shop2');
    try {
      expect(report).toEqual({ database: 'shop2', notes: [] });
      // psql -U web -d shop2 -c 'select * from orders'
      const web = (connectorOf(source, 'web', 'web-pw') as PostgresConnector).connection;
      expect(await web.query('SELECT id, item FROM orders ORDER BY id', { database: 'shop2' })).toEqual([['1', 'crème'], ['2', 'tea']]);
      const outsider = (connectorOf(source, 'outsider', 'outsider-pw') as PostgresConnector).connection;
      await expect(outsider.query('SELECT 1', { database: 'shop2' })).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
      await expect(outsider.query('SELECT 1', { database: 'shop' })).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
      const copy = pgDatabaseFidelity(source, 'shop2', ROUTINES);
      expect(copy).toEqual(pgDatabaseFidelity(source, 'shop', ROUTINES));
      expect(copy).toMatchObject({ owner: 'web', encoding: 'LATIN1', datcollate: 'C', datconnlimit: '17', comment: "Café's shop; -- not a comment" });
      expect(copy.settings).toEqual(['<every role>: TimeZone=Europe/Paris, search_path=app, public', `${ODD}: statement_timeout=5s`, 'reader: work_mem=8MB']);
      expect(pgContentFingerprint(source, 'shop2')).toEqual(pgContentFingerprint(source, 'shop'));
    } finally {
      drop(source, 'shop2');
    }
  });

  test('a database the DBA made a template is listed and backed up (template0/1 never); its copy is an ordinary database, with a note', async () => {
    source.psql(`CREATE DATABASE tpl_gis TEMPLATE template0; ALTER DATABASE tpl_gis IS_TEMPLATE true;`);
    source.psql(`CREATE TABLE spatial_ref (srid int PRIMARY KEY, name text); INSERT INTO spatial_ref VALUES (4326, 'WGS 84');`, 'tpl_gis');
    try {
      const listed = await connectorOf(source).listDatabases();
      expect(listed).toContain('tpl_gis');
      expect(listed.filter((d) => d.startsWith('template'))).toEqual([]);
      const report = await restore(source, 'tpl_copy', {}, await dumpToFile(source, 'tpl_gis'));
      expect(report).toEqual({
        database: 'tpl_copy',
        notes: ['The backed-up database was a template (IS_TEMPLATE); "tpl_copy" was restored as an ordinary database. To make it a template: ALTER DATABASE "tpl_copy" IS_TEMPLATE true;'],
      });
      expect(source.psql(`SELECT datistemplate FROM pg_database WHERE datname = 'tpl_copy'`).trim()).toBe('f');
      expect(source.psql('SELECT srid, name FROM spatial_ref', 'tpl_copy').trim()).toBe('4326|WGS 84');
    } finally {
      drop(source, 'tpl_copy');
      source.psql(`ALTER DATABASE tpl_gis IS_TEMPLATE false; DROP DATABASE tpl_gis;`);
    }
    // An ordinary database, so it can be dropped (test restores and failed restores drop what they made).
    expect(exists(source, 'tpl_copy')).toBe(false);
  });

  test('a hostile new name, and the parallel (spooled) path, carry the same properties', async () => {
    const name = `shop "2"; DROP DATABASE shop; --`;
    await restore(source, name, { jobs: 2, tempDir: tempDir() });
    try {
      expect(pgDatabaseFidelity(source, name, ROUTINES)).toEqual(pgDatabaseFidelity(source, 'shop', ROUTINES));
      expect(exists(source, 'shop')).toBe(true);
    } finally {
      drop(source, name);
    }
  });

  test('a big table of contents spooled past the in-memory head limit restores the same', async () => {
    const { openArchive } = await import('../../../electron/engine/servers/postgres/archive-source.ts');
    // The limit itself is exercised directly: a 1 KiB head cap forces the spool path.
    const c = connectorOf(source) as PostgresConnector;
    const dir = tempDir();
    const archive = await openArchive(createReadStream(shopDump), {
      lister: c.connection.command('pg_restore', ['--create', '-l']),
      classify: c.connection.classify('listing', 'RESTORE_FAILED'),
      dir,
      spool: false,
      maxHeadBytes: 1024,
    });
    expect(archive.file).toBe(join(dir, 'archive.dump'));
    expect(readFileSync(archive.file!)).toEqual(readFileSync(shopDump));
    expect(archive.list).toMatch(/DATABASE - shop web/);
  });

  test('an ICU database keeps its locale provider and ICU locale (restored under a non-ASCII name)', async (ctx) => {
    try {
      source.psql(`CREATE DATABASE icu_src LOCALE_PROVIDER icu ICU_LOCALE 'de-DE' LOCALE 'C.UTF-8' TEMPLATE template0`);
    } catch {
      ctx.skip(); // this PostgreSQL was built without ICU
    }
    try {
      source.psql(`CREATE TABLE t (s text); INSERT INTO t VALUES ('b'), ('a'), ('Ä');`, 'icu_src');
      source.psql(`COMMENT ON DATABASE icu_src IS 'Ünïcødé'; ALTER DATABASE icu_src SET search_path = public; REVOKE TEMPORARY ON DATABASE icu_src FROM PUBLIC;`);
      await restore(source, 'icu cöpy "ü"', {}, await dumpToFile(source, 'icu_src'));
      const copy = pgDatabaseFidelity(source, 'icu cöpy "ü"');
      expect(copy).toEqual(pgDatabaseFidelity(source, 'icu_src'));
      expect(copy).toMatchObject({ datlocprovider: 'i', daticulocale: 'de-DE' });
      expect(source.psql(`SELECT string_agg(s, ',' ORDER BY s) FROM t`, 'icu cöpy "ü"').trim()).toBe('a,Ä,b');
    } finally {
      drop(source, 'icu cöpy "ü"');
      drop(source, 'icu_src');
    }
  });

  test('settings the copy carries (a short statement_timeout, standard_conforming_strings off, an odd search_path) do not break checking it: every table found, every row counted', async () => {
    source.psql('CREATE DATABASE strict');
    try {
      // A schema whose name a LIKE 'pg_%' (backslash lost to standard_conforming_strings = off) would hide.
      source.psql(`CREATE SCHEMA pgapp; CREATE TABLE pgapp.big (id int); INSERT INTO pgapp.big SELECT g FROM generate_series(1, 1000000) g; CREATE TABLE public.small (id int); INSERT INTO small VALUES (1);`, 'strict');
      source.psql(`ALTER DATABASE strict SET standard_conforming_strings = off; ALTER DATABASE strict SET search_path = nowhere; ALTER DATABASE strict SET lock_timeout = '1ms'`);
      await restore(source, 'strict copy', {}, await dumpToFile(source, 'strict'));
      // The copy carries the source's settings (fidelity). A timeout too short for pg_dump's own
      // first query is set on the copy only: what a test restore meets when counting rows takes
      // longer than the source's statement_timeout.
      expect(pgDatabaseFidelity(source, 'strict copy').settings).toEqual(pgDatabaseFidelity(source, 'strict').settings);
      // 10 ms: far below counting a million rows, yet not so short that Backstop's own first
      // statement (SET statement_timeout = 0) could trip it on a loaded machine.
      source.psql(`ALTER DATABASE "strict copy" SET statement_timeout = '10ms'`);
      const inspection = await connectorOf(source).inspectRestored('strict copy', ['"pgapp"."big"', '"public"."small"']);
      expect(inspection.tables).toEqual(['"pgapp"."big"', '"public"."small"']);
      expect(inspection.counts).toEqual({ '"pgapp"."big"': 1000000, '"public"."small"': 1 });
    } finally {
      drop(source, 'strict copy');
      drop(source, 'strict');
    }
  });

  test("grants a grantee made (WITH GRANT OPTION: on the database, on columns) keep that grantor: as it is, mapped, and with the roles created on another server; LC_CTYPE apart from LC_COLLATE; public given to another role; a trusted extension the owner created belongs to the restoring role (pg_dump keeps no extension owner)", async () => {
    source.psql(`CREATE ROLE g_owner LOGIN; CREATE ROLE g_lead; CREATE ROLE g_lead2; CREATE ROLE g_dev;
      CREATE DATABASE grants OWNER g_owner LC_COLLATE 'C' LC_CTYPE 'C.UTF-8' TEMPLATE template0;`);
    // The grants a grantee makes are dumped between SET SESSION AUTHORIZATION g_lead and RESET: the grantor is not the owner.
    source.psql(`REVOKE ALL ON DATABASE grants FROM PUBLIC; REVOKE TEMPORARY ON DATABASE grants FROM g_owner;
      GRANT CONNECT, TEMPORARY ON DATABASE grants TO g_lead WITH GRANT OPTION; SET ROLE g_lead; GRANT CONNECT ON DATABASE grants TO g_dev; RESET ROLE;`);
    source.psql(
      `ALTER SCHEMA public OWNER TO g_lead; COMMENT ON SCHEMA public IS 'lead''s'; GRANT CREATE ON SCHEMA public TO PUBLIC;
       SET ROLE g_owner; CREATE EXTENSION pgcrypto; CREATE TABLE t (id int, a text, b text); INSERT INTO t VALUES (1, 'x', 'y');
       GRANT SELECT (id, a), UPDATE (b) ON t TO g_lead WITH GRANT OPTION; RESET ROLE;
       SET ROLE g_lead; GRANT SELECT (a) ON t TO g_dev; RESET ROLE;`,
      'grants',
    );
    const aclOf = (expr: string) => `array_to_string(ARRAY(SELECT x::text FROM unnest(${expr}) x ORDER BY 1), ',')`;
    const facts = (pg: PgServer, db: string) =>
      psqlEach(
        pg,
        [
          `SELECT string_agg(attname || ' ' || ${aclOf('attacl')}, '; ' ORDER BY attname) FROM pg_attribute WHERE attrelid = 'public.t'::regclass AND attacl IS NOT NULL`,
          `SELECT obj_description('public'::regnamespace, 'pg_namespace')`,
          `SELECT pg_get_userbyid(extowner) FROM pg_extension WHERE extname = 'pgcrypto'`,
          `SELECT encode(digest(a, 'sha1'), 'hex') FROM t`,
        ],
        db,
      ).map((s) => s.trim());
    const file = await dumpToFile(source, 'grants');
    try {
      await restore(source, 'grants copy', {}, file);
      await restore(source, 'grants mapped', { roleMap: { g_lead: 'g_lead2' } }, file);
      const original = pgDatabaseFidelity(source, 'grants');
      expect(original).toMatchObject({ datcollate: 'C', datctype: 'C.UTF-8', datacl: 'g_dev=c/g_lead,g_lead=T*c*/g_owner,g_owner=Cc/g_owner' });
      expect(original.schemas).toContain('public owner=g_lead acl==UC/g_lead,g_lead=UC/g_lead');
      const [columns, comment, extOwner, digest] = facts(source, 'grants');
      expect(columns).toBe('a g_dev=r/g_lead,g_lead=r*/g_owner; b g_lead=w*/g_owner; id g_lead=r*/g_owner');
      expect(extOwner).toBe('g_owner');

      expect(pgDatabaseFidelity(source, 'grants copy')).toEqual(original);
      expect(facts(source, 'grants copy')).toEqual([columns, comment, source.user, digest]);

      const mapped = (s: string) => s.replace(/\bg_lead\b/g, 'g_lead2');
      expect(pgDatabaseFidelity(source, 'grants mapped')).toEqual(JSON.parse(mapped(JSON.stringify(original))));
      expect(facts(source, 'grants mapped')).toEqual([mapped(columns!), comment, source.user, digest]);

      // On a server without the roles, created by the restore (NOLOGIN): the grantor acts there too.
      await restore(target, 'grants', { createRoles: true }, file);
      expect(pgDatabaseFidelity(target, 'grants')).toEqual(original);
      expect(facts(target, 'grants')).toEqual([columns, comment, target.user, digest]);
    } finally {
      drop(target, 'grants');
      target.psql('DROP ROLE IF EXISTS g_owner, g_lead, g_dev');
      drop(source, 'grants copy');
      drop(source, 'grants mapped');
      drop(source, 'grants');
      source.psql('DROP ROLE g_owner, g_lead, g_lead2, g_dev');
    }
  });
});

describe('a restoring role that only reads by default', () => {
  test('default_transaction_read_only = on on a non-superuser role (CREATEDB, CREATEROLE): the restore writes anyway (only a default) and is faithful; the copy keeps no setting of its own for the role', async () => {
    source.psql(`CREATE ROLE ro_restorer LOGIN CREATEDB CREATEROLE PASSWORD 'ro-pw'; GRANT web, reader, ${ident(ODD)}, postgres TO ro_restorer; ALTER ROLE ro_restorer SET default_transaction_read_only = on`);
    try {
      const report = await connectorOf(source, 'ro_restorer', 'ro-pw').restore('shop_ro', createReadStream(shopDump), 'logical', {});
      expect(report).toEqual({ database: 'shop_ro', notes: [] });
      expect(pgDatabaseFidelity(source, 'shop_ro', ROUTINES)).toEqual(pgDatabaseFidelity(source, 'shop', ROUTINES));
      expect(pgContentFingerprint(source, 'shop_ro')).toEqual(pgContentFingerprint(source, 'shop'));
    } finally {
      drop(source, 'shop_ro');
      source.psql('DROP ROLE ro_restorer');
    }
  });
});

describe('new names at the length limit', () => {
  test('63 bytes of two-byte characters restore; one byte more is VALIDATION naming the name and its length, nothing created', async () => {
    const fits = `${'ü'.repeat(31)}x`;
    const over = `${fits}z`;
    expect(Buffer.byteLength(fits)).toBe(63);
    try {
      await restore(source, fits);
      expect(exists(source, fits)).toBe(true);
      const before = source.psql('SELECT count(*) FROM pg_database').trim();
      const e = await rejection(restore(source, over));
      expect(e.code).toBe('VALIDATION');
      expect(e.message).toBe(`The database name "${over}" is 64 bytes long in UTF-8; a PostgreSQL database name must be 1 to 63 bytes long. Choose a shorter name (or a shorter prefix or suffix).`);
      expect(source.psql('SELECT count(*) FROM pg_database').trim()).toBe(before);
    } finally {
      drop(source, fits);
    }
  });
});

describe('roles the target lacks', () => {
  test('no choice: ROLE_MISSING naming each role and what names it, before anything is created', async () => {
    const before = roles(target);
    const e = await rejection(restore(target, 'shop'));
    expect(e.code).toBe('ROLE_MISSING');
    expect(e.message).toContain(`"web" (owner of the database; `);
    expect(e.message).toContain('owner of SCHEMA app');
    expect(e.message).toContain('"reader" (has settings in the database (ALTER ROLE … IN DATABASE … SET); granted CONNECT on the database; ');
    expect(e.message).toContain(`"odd ""r"" ole"`.replace(/""/g, '"'));
    expect(e.message).toContain('Nothing was restored. Choose one: create the missing roles');
    expect(e.message).toContain('map each to a role that exists');
    expect(e.message).toContain('skip ownership (everything then belongs to "postgres") and/or privileges');
    expect(exists(target, 'shop')).toBe(false);
    expect(roles(target)).toBe(before);
  });

  test('skipping ownership alone is not enough while grants name missing roles (the issue\'s --no-owner case)', async () => {
    const e = await rejection(restore(target, 'shop', { noOwner: true }));
    expect(e.code).toBe('ROLE_MISSING');
    expect(e.message).not.toContain('owner of');
    expect(e.message).toContain('"reader" (has settings in the database (ALTER ROLE … IN DATABASE … SET); granted CONNECT on the database; ');
    expect(e.message).toContain('"web" (has default privileges (ALTER DEFAULT PRIVILEGES FOR ROLE))');
    expect(exists(target, 'shop')).toBe(false);
  });

  test('no owner, no privileges: the data and the database settings come back, with notes saying what was left out', async () => {
    const report = await restore(target, 'shop', { noOwner: true, noPrivileges: true });
    try {
      expect(report.notes).toEqual([
        'Ownership not restored: the database and every object in it belong to "postgres".',
        'Privileges not restored: no GRANT or REVOKE of the backup was applied to the database or its objects (PUBLIC has the default privileges, e.g. CONNECT).',
        `Settings of role "${ODD}" in the database (ALTER ROLE … IN DATABASE) were not restored: the role does not exist here.`,
        'Settings of role "reader" in the database (ALTER ROLE … IN DATABASE) were not restored: the role does not exist here.',
      ]);
      const copy = pgDatabaseFidelity(target, 'shop', ROUTINES);
      const original = pgDatabaseFidelity(source, 'shop', ROUTINES);
      expect(copy).toMatchObject({ owner: 'postgres', datacl: '', settings: ['<every role>: TimeZone=Europe/Paris, search_path=app, public'] });
      expect({ ...copy, owner: '', datacl: '', settings: [], schemas: [], relations: [], routines: [], defaultPrivileges: [] }).toEqual({
        ...original,
        owner: '',
        datacl: '',
        settings: [],
        schemas: [],
        relations: [],
        routines: [],
        defaultPrivileges: [],
      });
      expect(copy.relations).toEqual(['app.orders r owner=postgres acl=']);
      expect(pgContentFingerprint(target, 'shop')).toEqual(pgContentFingerprint(source, 'shop'));
    } finally {
      drop(target, 'shop');
    }
  });

  test('create roles: missing roles are created NOLOGIN and everything matches the source', async () => {
    const report = await restore(target, 'shop', { createRoles: true });
    try {
      expect(report.notes).toEqual([
        `Created role "${ODD}" (NOLOGIN, no privileges): give it LOGIN and a password before using it.`,
        'Created role "reader" (NOLOGIN, no privileges): give it LOGIN and a password before using it.',
        'Created role "web" (NOLOGIN, no privileges): give it LOGIN and a password before using it.',
      ]);
      expect(target.psql(`SELECT string_agg(rolname || ':' || rolcanlogin || '/' || rolsuper || '/' || rolcreatedb, ',' ORDER BY rolname) FROM pg_roles WHERE rolname IN ('web', 'reader', ${lit(ODD)})`).trim()).toBe(
        `${ODD}:false/false/false,reader:false/false/false,web:false/false/false`,
      );
      expect(pgDatabaseFidelity(target, 'shop', ROUTINES)).toEqual(pgDatabaseFidelity(source, 'shop', ROUTINES));
    } finally {
      drop(target, 'shop');
      target.psql(`DROP ROLE web; DROP ROLE reader; DROP ROLE ${ident(ODD)};`);
    }
  });

  test('map roles: owner, privileges, per-role settings and default privileges name the mapped roles', async () => {
    target.psql(`CREATE ROLE app_owner; CREATE ROLE "App Reader"; CREATE ROLE ${ident('odd "target"')};`);
    try {
      const roleMap = { web: 'app_owner', reader: 'App Reader', [ODD]: 'odd "target"' };
      const report = await restore(target, 'shop', { roleMap });
      expect(report.notes).toEqual(['Role "web" of the backup was mapped to "app_owner".', 'Role "reader" of the backup was mapped to "App Reader".', `Role "${ODD}" of the backup was mapped to "odd "target"".`]);
      // The source's description with the roles renamed the way aclitem text writes them.
      const renameText = (t: string) =>
        t
          .replace(/"odd ""r"" ole"/g, '"odd ""target"""')
          .replace(/\bweb\b/g, 'app_owner')
          .replace(/\breader\b/g, '"App Reader"');
      const rename = (v: unknown): unknown => (typeof v === 'string' ? renameText(v) : Array.isArray(v) ? v.map(rename) : v);
      const copy = pgDatabaseFidelity(target, 'shop', ROUTINES);
      const expected = Object.fromEntries(Object.entries(pgDatabaseFidelity(source, 'shop', ROUTINES)).map(([k, v]) => [k, rename(v)]));
      // aclitems quote odd names; settings list role names bare
      expect(copy.owner).toBe('app_owner');
      expect(copy.settings).toEqual(['<every role>: TimeZone=Europe/Paris, search_path=app, public', 'App Reader: work_mem=8MB', 'odd "target": statement_timeout=5s']);
      expect((copy.datacl as string).split(',').sort()).toEqual((expected.datacl as string).split(',').sort());
      expect(copy.schemas).toEqual(expected.schemas);
      expect(copy.relations).toEqual(expected.relations);
      expect(copy.routines).toEqual(expected.routines);
      expect(copy.defaultPrivileges).toEqual(expected.defaultPrivileges);
      expect(copy.calls).toEqual(expected.calls);
      expect(pgContentFingerprint(target, 'shop')).toEqual(pgContentFingerprint(source, 'shop'));
    } finally {
      drop(target, 'shop');
      target.psql(`DROP ROLE app_owner; DROP ROLE "App Reader"; DROP ROLE ${ident('odd "target"')};`);
    }
  });

  test('mapping to a role the target lacks: ROLE_MISSING naming it, nothing created', async () => {
    const before = roles(target);
    const e = await rejection(restore(target, 'shop', { roleMap: { web: 'nobody_here' }, createRoles: true }));
    expect(e.code).toBe('ROLE_MISSING');
    expect(e.message).toBe(
      'Role "web" is to be mapped to "nobody_here", but the PostgreSQL server 127.0.0.1:' + target.port + ' has no role "nobody_here". Nothing was restored. Map it to a role that exists, or create that role first.',
    );
    expect(exists(target, 'shop')).toBe(false);
    expect(roles(target)).toBe(before);
  });

  test('a restore that fails after creating roles drops the database and the roles it created', async () => {
    const before = roles(target);
    const bytes = readFileSync(shopDump);
    const e = await rejection(connectorOf(target).restore('shop', Readable.from([bytes.subarray(0, bytes.length - 200)]), 'logical', { createRoles: true }));
    expect(e.code).toBe('RESTORE_FAILED');
    expect(exists(target, 'shop')).toBe(false);
    expect(roles(target)).toBe(before);
  });
});
