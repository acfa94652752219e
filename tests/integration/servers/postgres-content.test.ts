/**
 * Real-world PostgreSQL content survives a logical restore into a new name (full →
 * restore, source and copy compared): contrib extensions (one in a schema of its own, a
 * GIN trigram index, a btree_gist exclusion constraint), large objects with an owner,
 * privileges and a comment, materialized views populated and not, FORCE row-level
 * security with a policy, an event trigger, publications, a partitioned table with a
 * DEFAULT partition and a partitioned index, identity columns, unlogged tables, domains,
 * enums, range types, an ICU collation, column comments and column privileges, an
 * extension's setting on the database, per-role settings, default privileges, a
 * connection limit, tablespaces, a postgres_fdw server with user mappings. Compared
 * through pg_dump --schema-only of both (the database name normalised), per-table
 * checksums (pgContentFingerprint), pgDatabaseFidelity and targeted catalog queries; also
 * onto a second server without the roles (create roles / map roles).
 * Refusals: roles of large objects or user mappings missing on the target (ROLE_MISSING
 * before anything is created, never quoting a mapping's password), a function that names
 * a table without its schema (the search_path failure), tablespaces the target lacks —
 * each with its code, a message naming the fix, and nothing left on the target. Settings
 * that only name a tablespace the target lacks (default_tablespace, temp_tablespaces) are
 * restored as they are, with a note.
 * (ICU databases and the other database-level properties: postgres-database-level.test.ts.)
 */
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Server } from '../../../electron/shared/domain.ts';
import { connectorFor, type Connector, type RestoreOptions } from '../../../electron/engine/servers/index.ts';
import { chownTree, rejection } from '../../fixtures/servers/common.ts';
import { pgDatabaseFidelity } from '../../fixtures/servers/pg-fidelity.ts';
import { PG_BIN, pgContentFingerprint, pgSchemaDump, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';

let pg: PgServer;
let target: PgServer;
let scratch: string | undefined;
let contentDump: string;
let blobsDump: string;

function connectorOf(server: PgServer): Connector {
  const s: Server = { id: 'pg', name: 'pg', kind: 'postgres', host: server.host, port: server.port, user: server.user, tls: 'disable', passwordRef: null, createdAt: '', updatedAt: '' };
  return connectorFor(s, { password: server.password, toolPaths: { postgres: PG_BIN } });
}

async function dumpToFile(server: PgServer, db: string): Promise<string> {
  const file = join(scratch!, `${db}.dump`);
  const d = await connectorOf(server).openDump(db, 'logical');
  await pipeline(d.stream, createWriteStream(file));
  await d.done;
  return file;
}

const restore = (server: PgServer, name: string, file: string, opts: RestoreOptions = {}) => connectorOf(server).restore(name, createReadStream(file), 'logical', opts);
const exists = (server: PgServer, db: string) => server.psql(`SELECT count(*) FROM pg_database WHERE datname = '${db}'`).trim() === '1';
const drop = (server: PgServer, db: string) => server.psql(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
const roleNames = (server: PgServer) => server.psql(`SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles`).trim();
const databases = (server: PgServer) => server.psql(`SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database`).trim();

/** Large objects: oid, owner, privileges, comment and a checksum of the bytes. */
const largeObjects = (server: PgServer, db: string) =>
  server.psql(`SELECT m.oid || ' ' || pg_get_userbyid(m.lomowner) || ' ' || coalesce(array_to_string(m.lomacl, ','), '-') || ' ' || coalesce(obj_description(m.oid, 'pg_largeobject'), '-') || ' ' || md5(lo_get(m.oid)) FROM pg_largeobject_metadata m ORDER BY m.oid`, db).trim();

/** What the schema dump shows of `db`, which, restored as `copy`, must read the same. */
const schemaOf = (server: PgServer, db: string, copy?: string) => (copy ? pgSchemaDump(server, copy).split(copy).join(db) : pgSchemaDump(server, db));

const CONTENT = `
CREATE EXTENSION hstore; CREATE EXTENSION citext; CREATE EXTENSION pg_trgm; CREATE EXTENSION "uuid-ossp";
CREATE SCHEMA ext; CREATE EXTENSION btree_gist SCHEMA ext;
CREATE TABLE kv (id int PRIMARY KEY, h hstore, email citext UNIQUE, u uuid DEFAULT uuid_generate_v4(), name text);
INSERT INTO kv VALUES (1, 'a=>1', 'A@x.org', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'alpha'), (2, 'b=>2, c=>NULL', 'b@x.org', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', 'beta');
CREATE INDEX kv_trgm ON kv USING gin (name gin_trgm_ops);
CREATE TABLE booking (room int, during tsrange, EXCLUDE USING gist (room ext.gist_int4_ops WITH =, during WITH &&));
INSERT INTO booking VALUES (1, '[2026-01-01,2026-01-02)'), (1, '[2026-01-02,2026-01-03)');
SELECT lo_from_bytea(424242, 'large object bytes'); ALTER LARGE OBJECT 424242 OWNER TO lo_owner;
GRANT SELECT ON LARGE OBJECT 424242 TO lo_reader; COMMENT ON LARGE OBJECT 424242 IS 'a blob';
SELECT lo_from_bytea(424243, '');
CREATE TABLE limits (k text PRIMARY KEY, v int); INSERT INTO limits VALUES ('max', 10);
CREATE FUNCTION lim() RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT v FROM public.limits WHERE k = ''max''';
CREATE TABLE checked (x int CHECK (x <= lim())); INSERT INTO checked VALUES (3);
CREATE INDEX checked_expr ON checked ((x + lim()));
CREATE MATERIALIZED VIEW mv_full AS SELECT id, name FROM kv; CREATE MATERIALIZED VIEW mv_empty AS SELECT id FROM kv WITH NO DATA;
CREATE TABLE secret (id int, who text); INSERT INTO secret VALUES (1, 'me'), (2, 'lo_reader');
ALTER TABLE secret ENABLE ROW LEVEL SECURITY; ALTER TABLE secret FORCE ROW LEVEL SECURITY;
CREATE POLICY mine ON secret FOR SELECT TO lo_reader USING (who = current_user);
CREATE FUNCTION ddl_log() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'ddl'; END $$;
CREATE EVENT TRIGGER ddl_watch ON ddl_command_end EXECUTE FUNCTION ddl_log();
CREATE TABLE measure (at date NOT NULL, v int) PARTITION BY RANGE (at);
CREATE TABLE measure_2026 PARTITION OF measure FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE measure_other PARTITION OF measure DEFAULT;
CREATE INDEX measure_v ON measure (v);
INSERT INTO measure VALUES ('2026-05-01', 1), ('1999-01-01', 2);
CREATE TABLE ident (id int GENERATED ALWAYS AS IDENTITY, t text); INSERT INTO ident (t) SELECT 'x' FROM generate_series(1, 5); DELETE FROM ident WHERE id > 3;
CREATE UNLOGGED TABLE scratch (id int); INSERT INTO scratch VALUES (7);
CREATE DOMAIN posint AS int CHECK (VALUE > 0); CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); CREATE TYPE floatrange AS RANGE (subtype = float8);
CREATE TABLE typed (p posint, m mood, r floatrange); INSERT INTO typed VALUES (1, 'happy', '[1.5,2.5)');
COMMENT ON COLUMN typed.m IS 'how it feels';
CREATE COLLATION german (provider = icu, locale = 'de-DE'); CREATE TABLE words (w text COLLATE german); INSERT INTO words VALUES ('b'), ('a'), ('Ä');
GRANT SELECT (p, m) ON typed TO lo_reader;
CREATE SCHEMA app; ALTER DEFAULT PRIVILEGES FOR ROLE lo_owner IN SCHEMA app GRANT SELECT ON TABLES TO lo_reader;
CREATE PUBLICATION pub_all FOR ALL TABLES; CREATE PUBLICATION pub_one FOR TABLE kv;
`;

beforeAll(async () => {
  [pg, target] = await Promise.all([startPostgres(), startPostgres()]);
  scratch = mkdtempSync(join(tmpdir(), 'backstop-pgcontent-'));
  if (pg.osUser) chownTree(scratch, pg.osUser);
  pg.psql(`CREATE ROLE lo_owner; CREATE ROLE lo_reader; CREATE DATABASE content CONNECTION LIMIT 5`);
  pg.psql(`ALTER ROLE lo_reader IN DATABASE content SET work_mem = '3MB'; ALTER DATABASE content SET pg_trgm.similarity_threshold = 0.2`);
  pg.psql(CONTENT, 'content');
  pg.psql(`CREATE DATABASE blobs`);
  pg.psql(`SELECT lo_from_bytea(5151, 'blob'); ALTER LARGE OBJECT 5151 OWNER TO lo_owner; GRANT SELECT, UPDATE ON LARGE OBJECT 5151 TO lo_reader; CREATE TABLE t (id int); INSERT INTO t VALUES (1)`, 'blobs');
  [contentDump, blobsDump] = await Promise.all([dumpToFile(pg, 'content'), dumpToFile(pg, 'blobs')]);
});

afterAll(async () => {
  await Promise.all([pg?.stop(), target?.stop()]);
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('a database full of real-world objects comes back whole under a new name', () => {
  test('schema, data, large objects and database properties match the source', async () => {
    const report = await restore(pg, 'content_copy', contentDump);
    try {
      expect(report).toEqual({ database: 'content_copy', notes: [] });
      expect(schemaOf(pg, 'content', 'content_copy')).toBe(schemaOf(pg, 'content'));
      expect(pgContentFingerprint(pg, 'content_copy')).toEqual(pgContentFingerprint(pg, 'content'));
      const copy = pgDatabaseFidelity(pg, 'content_copy', ['lim()']);
      expect(copy).toEqual(pgDatabaseFidelity(pg, 'content', ['lim()']));
      expect(largeObjects(pg, 'content_copy')).toBe(largeObjects(pg, 'content'));
      expect(largeObjects(pg, 'content_copy')).toBe(
        `424242 lo_owner lo_owner=rw/lo_owner,lo_reader=r/lo_owner a blob ${pg.psql(`SELECT md5('large object bytes'::bytea)`).trim()}\n424243 postgres - - d41d8cd98f00b204e9800998ecf8427e`,
      );
      // The same facts asked directly (one session), so a schema dump that lost them on both sides could not pass.
      const facts = {
        extensions: `SELECT string_agg(extname || '@' || extnamespace::regnamespace, ',' ORDER BY extname) FROM pg_extension`,
        'contrib types and operators': `SELECT count(*) FROM kv WHERE name % 'alpah' AND email = 'a@X.ORG' AND h -> 'a' = '1'`,
        'trigram index': `SELECT pg_get_indexdef('kv_trgm'::regclass)`,
        'exclusion constraint': `SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'x'`,
        matviews: `SELECT string_agg(matviewname || '=' || ispopulated, ',' ORDER BY 1) FROM pg_matviews`,
        rls: `SELECT relrowsecurity || '/' || relforcerowsecurity FROM pg_class WHERE relname = 'secret'`,
        policy: `SELECT polname || ' ' || array_to_string(polroles::regrole[], ',') FROM pg_policy`,
        'event trigger': `SELECT evtname || ' ' || evtevent || ' ' || evtenabled::text FROM pg_event_trigger`,
        publications: `SELECT string_agg(pubname || '=' || puballtables, ',' ORDER BY 1) FROM pg_publication`,
        'published tables': `SELECT string_agg(pubname || ':' || tablename, ',') FROM pg_publication_tables WHERE pubname = 'pub_one'`,
        partitions: `SELECT string_agg(tableoid::regclass || '=' || v, ',' ORDER BY v) FROM measure`,
        'partitioned index': `SELECT string_agg(indexrelid::regclass::text, ',' ORDER BY 1) FROM pg_index WHERE indrelid IN ('measure'::regclass, 'measure_2026'::regclass, 'measure_other'::regclass)`,
        unlogged: `SELECT relpersistence::text || ' ' || (SELECT count(*) FROM scratch) FROM pg_class WHERE relname = 'scratch'`,
        column: `SELECT col_description('typed'::regclass, 2) || ' / ' || array_to_string(attacl, ',') FROM pg_attribute WHERE attrelid = 'typed'::regclass AND attname = 'm'`,
        'domain, enum, range': `SELECT p || ' ' || m || ' ' || r FROM typed`,
        'ICU collation': `SELECT string_agg(w, ',' ORDER BY w) FROM words`,
        'extension setting': `SHOW pg_trgm.similarity_threshold`,
      };
      const answers = pg.psql(Object.values(facts).map((sql) => `${sql};`).join('\n'), 'content_copy').trim().split('\n');
      expect(Object.fromEntries(Object.keys(facts).map((k, i) => [k, answers[i]]))).toEqual({
        extensions: 'btree_gist@ext,citext@public,hstore@public,pg_trgm@public,plpgsql@pg_catalog,uuid-ossp@public',
        'contrib types and operators': '1',
        'trigram index': 'CREATE INDEX kv_trgm ON public.kv USING gin (name gin_trgm_ops)',
        'exclusion constraint': 'EXCLUDE USING gist (room WITH =, during WITH &&)',
        matviews: 'mv_empty=false,mv_full=true',
        rls: 'true/true',
        policy: 'mine lo_reader',
        'event trigger': 'ddl_watch ddl_command_end O',
        publications: 'pub_all=true,pub_one=false',
        'published tables': 'pub_one:kv',
        partitions: 'measure_2026=1,measure_other=2',
        'partitioned index': 'measure_2026_v_idx,measure_other_v_idx,measure_v',
        unlogged: 'u 1',
        column: 'how it feels / lo_reader=r/postgres',
        'domain, enum, range': '1 happy [1.5,2.5)',
        'ICU collation': 'a,Ä,b',
        'extension setting': '0.2',
      });
      expect(() => pg.psql(`INSERT INTO booking VALUES (1, '[2026-01-01 12:00,2026-01-01 13:00)')`, 'content_copy')).toThrow(/conflicting key value violates exclusion constraint/);
      expect(copy).toMatchObject({ datconnlimit: '5', settings: ['<every role>: pg_trgm.similarity_threshold=0.2', 'lo_reader: work_mem=3MB'], defaultPrivileges: ['lo_owner app r lo_reader=r/lo_owner'] });
      // The identity sequence carries on where the source's was (ids 4 and 5 were deleted there).
      expect(pg.psql(`INSERT INTO ident (t) VALUES ('y') RETURNING id`, 'content_copy').trim()).toBe('6');
    } finally {
      drop(pg, 'content_copy');
    }
  });
});

describe('the same database on a server without its roles', () => {
  test('create roles: the schema, data and large objects match the source', async () => {
    const report = await restore(target, 'content', contentDump, { createRoles: true });
    try {
      expect(report.notes).toEqual([
        'Created role "lo_owner" (NOLOGIN, no privileges): give it LOGIN and a password before using it.',
        'Created role "lo_reader" (NOLOGIN, no privileges): give it LOGIN and a password before using it.',
      ]);
      expect(pgSchemaDump(target, 'content')).toBe(schemaOf(pg, 'content'));
      expect(pgContentFingerprint(target, 'content')).toEqual(pgContentFingerprint(pg, 'content'));
      expect(largeObjects(target, 'content')).toBe(largeObjects(pg, 'content'));
    } finally {
      drop(target, 'content');
      target.psql('DROP ROLE lo_owner; DROP ROLE lo_reader;');
    }
  });

  test('map roles: everything the roles owned or were granted names the mapped roles (policies need the role itself; a note says which still name it and the fix)', async () => {
    target.psql('CREATE ROLE lo_reader; CREATE ROLE keeper; CREATE ROLE viewer;');
    try {
      const report = await restore(target, 'content', contentDump, { roleMap: { lo_owner: 'keeper', lo_reader: 'viewer' } });
      expect((report.notes ?? []).filter((n) => n.includes('lo_reader'))).toEqual([
        'Role "lo_reader" of the backup was mapped to "viewer".',
        'Role "lo_reader" still appears, not mapped to "viewer", where a role mapping does not reach (pg_restore creates row-level security policies and user mappings as they are): named in POLICY mine ON public.secret FOR SELECT. If "viewer" should be named there instead, in the restored database: ALTER POLICY name ON table TO … (its roles, with "viewer" in place of "lo_reader").',
      ]);
      const rename = (t: string) => t.replace(/\blo_owner\b/g, 'keeper').replace(/\blo_reader\b/g, 'viewer');
      // The policy keeps naming lo_reader: pg_restore creates policies as they are.
      const expected = rename(schemaOf(pg, 'content')).replace('TO viewer USING', 'TO lo_reader USING');
      expect(pgSchemaDump(target, 'content')).toBe(expected);
      expect(largeObjects(target, 'content')).toBe(rename(largeObjects(pg, 'content')));
    } finally {
      drop(target, 'content');
      target.psql('DROP ROLE lo_reader; DROP ROLE keeper; DROP ROLE viewer;');
    }
  });
});

describe("large objects' owners and grantees are roles the restore checks like any other", () => {
  test('a target lacking them: ROLE_MISSING naming each and what names it, before anything is created', async () => {
    const [dbsBefore, rolesBefore] = [databases(target), roleNames(target)];
    const e = await rejection(restore(target, 'blobs', blobsDump));
    expect(e.code).toBe('ROLE_MISSING');
    expect(e.message).toBe(
      `The backup names roles that the PostgreSQL server 127.0.0.1:${target.port} lacks: role "lo_owner" (owner of LARGE OBJECT 5151), role "lo_reader" (granted ALL on LARGE OBJECT 5151). Nothing was restored. Choose one: create the missing roles (without login or privileges), map each to a role that exists, or skip ownership (everything then belongs to "postgres") and/or privileges.`,
    );
    expect(databases(target)).toBe(dbsBefore);
    expect(roleNames(target)).toBe(rolesBefore);
  });

  test('create roles: the large object keeps its owner and privileges', async () => {
    const report = await restore(target, 'blobs', blobsDump, { createRoles: true });
    try {
      expect(report.notes).toEqual([
        'Created role "lo_owner" (NOLOGIN, no privileges): give it LOGIN and a password before using it.',
        'Created role "lo_reader" (NOLOGIN, no privileges): give it LOGIN and a password before using it.',
      ]);
      expect(largeObjects(target, 'blobs')).toBe(largeObjects(pg, 'blobs'));
      expect(largeObjects(target, 'blobs')).toMatch(/^5151 lo_owner lo_owner=rw\/lo_owner,lo_reader=rw\/lo_owner - /);
    } finally {
      drop(target, 'blobs');
      target.psql('DROP ROLE lo_owner; DROP ROLE lo_reader;');
    }
  });

  test('map roles: the large object belongs to the mapped owner and its privileges name the mapped grantee', async () => {
    target.psql('CREATE ROLE blob_admin; CREATE ROLE "Blob Reader";');
    try {
      await restore(target, 'blobs', blobsDump, { roleMap: { lo_owner: 'blob_admin', lo_reader: 'Blob Reader' } });
      expect(largeObjects(target, 'blobs')).toBe(largeObjects(pg, 'blobs').replace(/lo_owner/g, 'blob_admin').replace(/lo_reader/g, '"Blob Reader"'));
    } finally {
      drop(target, 'blobs');
      target.psql('DROP ROLE blob_admin; DROP ROLE "Blob Reader";');
    }
  });
});

describe('a function that names a table without its schema (pg_dump restores with an empty search_path)', () => {
  // The classic: fine on the source (its search_path finds "limits"), fails on any restore.
  const unqualified = `CREATE TABLE limits (v int); INSERT INTO limits VALUES (10);
    CREATE FUNCTION lim() RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT v FROM limits';
    CREATE FUNCTION plim() RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RETURN (SELECT v FROM limits); END $$;
    CREATE TABLE t (x int); INSERT INTO t VALUES (3);`;
  const cases = [
    { what: 'a CHECK constraint (fails loading the data)', sql: 'ALTER TABLE t ADD CHECK (x <= lim())', fn: 'lim' },
    { what: 'an expression index (fails creating the index)', sql: 'CREATE INDEX t_expr ON t ((x + plim()))', fn: 'public.plim' },
  ];
  for (const c of cases) {
    test(`called by ${c.what}: RESTORE_FAILED naming the function, the table and the fix; nothing left on the target`, async () => {
      pg.psql('CREATE DATABASE sp');
      try {
        pg.psql(`${unqualified} ${c.sql}`, 'sp');
        const file = await dumpToFile(pg, 'sp');
        const before = databases(pg);
        const e = await rejection(restore(pg, 'sp_copy', file));
        expect(e.code).toBe('RESTORE_FAILED');
        expect(e.message).toContain(
          `Database "sp_copy" could not be restored: function "${c.fn}" names relation "limits" without its schema, and a restore runs with an empty search_path (pg_dump archives always do), so relation "limits" is not found when the function runs during the restore`,
        );
        expect(e.message).toContain(`Fix it on the source and take a new backup: write the schema in the function's body (e.g. public.limits) or pin it with ALTER FUNCTION ${c.fn} SET search_path = public.`);
        expect(e.message).toContain('see "A function that names a table without its schema" in docs/RESTORE.md');
        // The server's own error is quoted.
        expect(e.message).toContain('ERROR:  relation "limits" does not exist');
        expect(exists(pg, 'sp_copy')).toBe(false);
        expect(databases(pg)).toBe(before);
      } finally {
        drop(pg, 'sp_copy');
        drop(pg, 'sp');
      }
    });
  }

  test('the fix the message names works: with the function pinned, the same database restores', async () => {
    pg.psql('CREATE DATABASE sp');
    try {
      pg.psql(`${unqualified} ${cases.map((c) => c.sql).join('; ')}; ALTER FUNCTION lim SET search_path = public; ALTER FUNCTION plim SET search_path = public;`, 'sp');
      await restore(pg, 'sp_copy', await dumpToFile(pg, 'sp'));
      expect(pgContentFingerprint(pg, 'sp_copy')).toEqual(pgContentFingerprint(pg, 'sp'));
      expect(schemaOf(pg, 'sp', 'sp_copy')).toBe(schemaOf(pg, 'sp'));
    } finally {
      drop(pg, 'sp_copy');
      drop(pg, 'sp');
    }
  });
});

describe('tablespaces', () => {
  let spacedDump: string;
  beforeAll(async () => {
    for (const ts of ['ts_db', 'ts_table']) {
      mkdirSync(join(scratch!, ts));
      if (pg.osUser) chownTree(join(scratch!, ts), pg.osUser);
      pg.psql(`CREATE TABLESPACE ${ts} LOCATION '${join(scratch!, ts)}'`);
    }
    pg.psql('CREATE DATABASE spaced TABLESPACE ts_db');
    pg.psql('CREATE TABLE here (id int); CREATE TABLE there (id int) TABLESPACE ts_table; INSERT INTO here VALUES (1); INSERT INTO there VALUES (2);', 'spaced');
    spacedDump = await dumpToFile(pg, 'spaced');
  });

  test("a database whose default tablespace is not pg_default, with a table in another: both come back on a server that has them", async () => {
    try {
      await restore(pg, 'spaced copy', spacedDump);
      const where = (db: string) =>
        pg.psql(`SELECT (SELECT spcname FROM pg_tablespace t JOIN pg_database d ON d.dattablespace = t.oid WHERE d.datname = current_database()) || ' ' || string_agg(relname || '@' || coalesce(spc.spcname, '-'), ',' ORDER BY relname) FROM pg_class c LEFT JOIN pg_tablespace spc ON spc.oid = c.reltablespace WHERE relname IN ('here', 'there')`, db).trim();
      expect(where('spaced copy')).toBe('ts_db here@-,there@ts_table');
      expect(where('spaced copy')).toBe(where('spaced'));
      expect(pgContentFingerprint(pg, 'spaced copy')).toEqual(pgContentFingerprint(pg, 'spaced'));
    } finally {
      drop(pg, 'spaced copy');
    }
  });

  test('a target lacking the tablespaces: RESTORE_FAILED naming each and the fix, before anything is created', async () => {
    const file = spacedDump;
    const [dbsBefore, rolesBefore] = [databases(target), roleNames(target)];
    const e = await rejection(restore(target, 'spaced', file, { createRoles: true }));
    expect(e.code).toBe('RESTORE_FAILED');
    expect(e.message).toBe(
      `The backup puts things in tablespaces that the PostgreSQL server 127.0.0.1:${target.port} lacks: "ts_db" (the database), "ts_table" (tables or indexes). Nothing was restored. Create them on the server first (CREATE TABLESPACE … LOCATION '…'; a logical task's ~server/globals.sql holds the source's: backstop apply-globals), then restore again.`,
    );
    expect(databases(target)).toBe(dbsBefore);
    expect(roleNames(target)).toBe(rolesBefore);
    // With only the database's own tablespace there, the table's is still named.
    mkdirSync(join(scratch!, 'target_ts'));
    if (target.osUser) chownTree(join(scratch!, 'target_ts'), target.osUser);
    target.psql(`CREATE TABLESPACE ts_db LOCATION '${join(scratch!, 'target_ts')}'`);
    try {
      const e2 = await rejection(restore(target, 'spaced', file));
      expect(e2.message).toContain(`lacks: "ts_table" (tables or indexes). Nothing was restored. Create it on the server first`);
      expect(databases(target)).toBe(dbsBefore);
    } finally {
      target.psql('DROP TABLESPACE ts_db');
    }
  });

  test('settings naming a tablespace (default_tablespace, temp_tablespaces) on a target that lacks it: the copy is whole and keeps the settings as they are; a note names the tablespaces the target lacks, where new tables go meanwhile and the fix; none where it has them', async () => {
    pg.psql(`CREATE DATABASE placed; ALTER DATABASE placed SET default_tablespace = 'ts_table'; ALTER DATABASE placed SET temp_tablespaces = 'ts_db, pg_default'; ALTER ROLE postgres IN DATABASE placed SET default_tablespace = 'ts_db'`);
    pg.psql('CREATE TABLE kept (id int) TABLESPACE pg_default; INSERT INTO kept VALUES (1), (2);', 'placed');
    const file = await dumpToFile(pg, 'placed');
    const settings = (server: PgServer, db: string) =>
      server.psql(`SELECT coalesce(r.rolname, '-') || ' ' || array_to_string(s.setconfig, ';') FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase LEFT JOIN pg_roles r ON r.oid = s.setrole WHERE d.datname = '${db}' ORDER BY 1`).trim();
    try {
      expect((await restore(pg, 'placed copy', file)).notes).toEqual([]);
      const report = await restore(target, 'placed', file, { createRoles: true });
      expect(report.notes).toEqual([
        `Settings of the database name tablespaces the PostgreSQL server 127.0.0.1:${target.port} lacks: "ts_table" (default_tablespace), "ts_db" (temp_tablespaces; default_tablespace of role "postgres"). They were restored as they are; until those tablespaces exist, PostgreSQL ignores them there: new tables and indexes go to the database's default tablespace, temporary files to the server's. Create them (CREATE TABLESPACE … LOCATION '…'; a logical task's ~server/globals.sql holds the source's: backstop apply-globals), or remove the settings (ALTER DATABASE "placed" RESET default_tablespace; ALTER DATABASE "placed" RESET temp_tablespaces; ALTER ROLE "postgres" IN DATABASE "placed" RESET default_tablespace;).`,
      ]);
      expect(settings(target, 'placed')).toBe(settings(pg, 'placed'));
      expect(target.psql('SELECT string_agg(id::text, \',\' ORDER BY id) FROM kept', 'placed').trim()).toBe('1,2');
    } finally {
      drop(pg, 'placed copy');
      drop(target, 'placed');
      drop(pg, 'placed');
    }
  });
});

describe('a foreign server with a user mapping (postgres_fdw) for a role the target lacks', () => {
  let fdwDump: string;
  beforeAll(async () => {
    pg.psql('CREATE ROLE fdw_user; CREATE DATABASE fdw');
    pg.psql(
      `CREATE EXTENSION postgres_fdw; CREATE SERVER remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'db.example', dbname 'x');
       CREATE USER MAPPING FOR fdw_user SERVER remote OPTIONS (user 'u', password 'Sup3r-Secret');
       CREATE USER MAPPING FOR postgres SERVER remote OPTIONS (user 'u2', password 'Other-Secret');
       CREATE FOREIGN TABLE far (id int) SERVER remote;`,
      'fdw',
    );
    fdwDump = await dumpToFile(pg, 'fdw');
  });

  test('any choice but creating it: ROLE_MISSING naming the mapping, never its password; nothing created', async () => {
    const [dbsBefore, rolesBefore] = [databases(target), roleNames(target)];
    for (const opts of [{}, { noOwner: true, noPrivileges: true }] as RestoreOptions[]) {
      const e = await rejection(restore(target, 'fdw', fdwDump, opts));
      expect(e.code).toBe('ROLE_MISSING');
      expect(e.message).toContain('lacks: role "fdw_user" (has a USER MAPPING for server remote). Nothing was restored.');
      expect(e.message).toContain('Roles named in row-level security policies or user mappings ("fdw_user") can only be created, not mapped or skipped.');
      expect(e.message).not.toContain('Secret');
    }
    expect(databases(target)).toBe(dbsBefore);
    expect(roleNames(target)).toBe(rolesBefore);
  });

  test('create roles: the server, the mappings with their options and the foreign table come back', async () => {
    const report = await restore(target, 'fdw', fdwDump, { createRoles: true });
    try {
      expect(report.notes).toEqual(['Created role "fdw_user" (NOLOGIN, no privileges): give it LOGIN and a password before using it.']);
      const mappings = (server: PgServer) => server.psql(`SELECT string_agg(usename || ' ' || srvname || ' ' || array_to_string(ARRAY(SELECT o FROM unnest(umoptions) o ORDER BY o), ','), E'\\n' ORDER BY usename) FROM pg_user_mappings`, 'fdw').trim();
      expect(mappings(target)).toBe(mappings(pg));
      expect(mappings(target)).toBe('fdw_user remote password=Sup3r-Secret,user=u\npostgres remote password=Other-Secret,user=u2');
      expect(pgSchemaDump(target, 'fdw')).toBe(schemaOf(pg, 'fdw'));
    } finally {
      drop(target, 'fdw');
      target.psql('DROP ROLE fdw_user');
    }
  });
});

describe('backing up as a role with pg_read_all_data (not a superuser)', () => {
  test('a table with row-level security, large objects: PERMISSION_DENIED naming each and its fix; once fixed the dump restores whole', async () => {
    pg.psql(`CREATE ROLE backup_r LOGIN PASSWORD 'b-pw' IN ROLE pg_read_all_data`);
    try {
      const s: Server = { id: 'pg', name: 'pg', kind: 'postgres', host: pg.host, port: pg.port, user: 'backup_r', tls: 'disable', passwordRef: null, createdAt: '', updatedAt: '' };
      const c = connectorFor(s, { password: 'b-pw', toolPaths: { postgres: PG_BIN } });
      await c.testConnection();
      const dumpError = async () => {
        const d = await c.openDump('content', 'logical');
        d.stream.resume();
        return rejection(d.done);
      };
      // pg_dump reads the tables' rows first, then the large objects.
      const rls = await dumpError();
      expect(rls.code).toBe('PERMISSION_DENIED');
      expect(rls.message).toBe(
        'User "backup_r" may not read every row of table "secret" in database "content": the table has row-level security, and a backup must read all rows. Fix: ALTER ROLE "backup_r" BYPASSRLS; (or back up as a superuser).',
      );
      pg.psql('ALTER ROLE backup_r BYPASSRLS');
      const lo = await dumpError();
      expect(lo.code).toBe('PERMISSION_DENIED');
      expect(lo.message).toBe(
        'User "backup_r" may not read large object 424242 in database "content" (pg_read_all_data does not cover large objects). Fix: back up as a superuser, or GRANT SELECT ON LARGE OBJECT … TO "backup_r" for every large object of the database.',
      );
      pg.psql('GRANT SELECT ON LARGE OBJECT 424242 TO backup_r; GRANT SELECT ON LARGE OBJECT 424243 TO backup_r;', 'content');
      expect(`${lo.message} ${rls.message}`).not.toContain('b-pw');
      const ok = await c.openDump('content', 'logical');
      const file = join(scratch!, 'content-by-backup_r.dump');
      await pipeline(ok.stream, createWriteStream(file));
      await ok.done;
      await restore(pg, 'content_rls', file);
      expect(pgContentFingerprint(pg, 'content_rls')).toEqual(pgContentFingerprint(pg, 'content'));
      expect(largeObjects(pg, 'content_rls')).toBe(largeObjects(pg, 'content'));
    } finally {
      drop(pg, 'content_rls');
      pg.psql('REVOKE SELECT ON LARGE OBJECT 424242 FROM backup_r; REVOKE SELECT ON LARGE OBJECT 424243 FROM backup_r;', 'content');
      pg.psql('DROP ROLE backup_r');
    }
  });
});
