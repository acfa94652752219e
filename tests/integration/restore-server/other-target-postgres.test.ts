/**
 * A PostgreSQL 15 backup restored onto ANOTHER server than its source, one that differs:
 * - the target's template1 has an extra table and the cluster is SQL_ASCII with locale C:
 *   the copy is made from template0 with the source's encoding and locale, so it has
 *   neither the extra table nor SQL_ASCII, and its text reads the same;
 * - the source has a libc locale the target's OS lacks (compiled with localedef into a
 *   folder only the source server's LOCPATH names): as the database's locale, and as a
 *   column's collation (CREATE COLLATION) in a database of the default locale —
 *   RESTORE_FAILED naming the locale and the fix, nothing left on the target; and a column
 *   using a pg_catalog collation initdb imported on the source's host only (a restored
 *   database is made from template0): RESTORE_FAILED naming the collation and the fix;
 * - the target has max_locks_per_transaction=10 and the backup 250 partitions: restored, with
 *   their owner mapped to another role (one ALTER … OWNER per partition, which in one
 *   transaction ran out of lock slots); with a materialized view over all of them
 *   (its REFRESH locks every partition at once): RESTORE_FAILED naming the setting and the
 *   fix, nothing left.
 * (Tablespaces the target lacks: servers/postgres-content.test.ts; roles it lacks: there and
 * servers/postgres-database-level.test.ts.)
 */
import { chmodSync, cpSync, createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Server } from '../../../electron/shared/domain.ts';
import { connectorFor, type Connector, type RestoreOptions } from '../../../electron/engine/servers/index.ts';
import { rejection } from '../../fixtures/servers/common.ts';
import { PG_BIN, pgContentFingerprint, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';

let source: PgServer;
let target: PgServer;
let scratch: string;

function connectorOf(server: PgServer): Connector {
  const s: Server = { id: 'pg', name: 'pg', kind: 'postgres', host: server.host, port: server.port, user: server.user, tls: 'disable', passwordRef: null, createdAt: '', updatedAt: '' };
  return connectorFor(s, { password: server.password, toolPaths: { postgres: PG_BIN } });
}

async function dumpToFile(db: string): Promise<string> {
  const file = join(scratch, `${db}.dump`);
  const d = await connectorOf(source).openDump(db, 'logical');
  await pipeline(d.stream, createWriteStream(file));
  await d.done;
  return file;
}

const restore = (name: string, file: string, opts: RestoreOptions = {}) => connectorOf(target).restore(name, createReadStream(file), 'logical', opts);
const databases = () => target.psql(`SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database`).trim();
const roles = () => target.psql(`SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles`).trim();
const drop = (db: string) => target.psql(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'backstop-other-target-'));
  // A locale only the source server can load: compiled into a folder its LOCPATH names.
  const locales = join(scratch, 'locales');
  mkdirSync(locales);
  execFileSync('localedef', ['-i', 'de_DE', '-f', 'UTF-8', join(locales, 'de_DE.UTF-8')], { stdio: 'ignore' });
  cpSync('/usr/lib/locale/C.utf8', join(locales, 'C.utf8'), { recursive: true });
  chmodSync(scratch, 0o755); // the server's OS user reads the locale
  const before = process.env.LOCPATH;
  process.env.LOCPATH = locales;
  try {
    source = await startPostgres();
  } finally {
    if (before === undefined) delete process.env.LOCPATH;
    else process.env.LOCPATH = before;
  }
  target = await startPostgres({ initdbArgs: ['-E', 'SQL_ASCII', '--locale=C'], settings: ['max_locks_per_transaction=10', 'max_connections=5'] });
  target.psql('CREATE TABLE template1_extra (id int)', 'template1');
}, 120_000);

afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("the target's template1 and encoding differ", () => {
  test('a UTF8 database restored onto a SQL_ASCII cluster whose template1 has an extra table: UTF8 and the source locale, no extra table, the same rows', async () => {
    source.psql(`CREATE DATABASE utf TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'`);
    source.psql(`CREATE TABLE words (w text); INSERT INTO words VALUES ('Grüße'), ('日本'), ('b');`, 'utf');
    const file = await dumpToFile('utf');
    try {
      await restore('utf_copy', file);
      const facts = `SELECT pg_encoding_to_char(encoding) || ' ' || datcollate || ' ' || datctype FROM pg_database WHERE datname = current_database()`;
      expect(target.psql(facts, 'utf_copy').trim()).toBe('UTF8 C.UTF-8 C.UTF-8');
      expect(target.psql(`SELECT count(*) FROM pg_class WHERE relname = 'template1_extra'`, 'utf_copy').trim()).toBe('0');
      expect(target.psql(`SELECT string_agg(w, ',' ORDER BY w) FROM words`, 'utf_copy').trim()).toBe('Grüße,b,日本');
      expect(pgContentFingerprint(target, 'utf_copy')).toEqual(pgContentFingerprint(source, 'utf'));
    } finally {
      drop('utf_copy');
    }
  });
});

describe('a locale the target lacks', () => {
  test("the database's own locale: RESTORE_FAILED naming the locale and the fix, nothing created", async () => {
    source.psql(`CREATE DATABASE german TEMPLATE template0 ENCODING 'UTF8' LOCALE 'de_DE.UTF-8'`);
    source.psql(`CREATE TABLE t (s text); INSERT INTO t VALUES ('b'), ('a'), ('Ä');`, 'german');
    expect(source.psql(`SELECT string_agg(s, ',' ORDER BY s) FROM t`, 'german').trim()).toBe('a,Ä,b');
    const file = await dumpToFile('german');
    const [dbs, rs] = [databases(), roles()];
    const e = await rejection(restore('german_copy', file, { createRoles: true }));
    expect(e.code).toBe('RESTORE_FAILED');
    expect(e.message).toContain(
      `Database "german_copy" cannot be restored on the PostgreSQL server 127.0.0.1:${target.port}: the backup uses the locale "de_DE.UTF-8" as the database's own locale, and that server's operating system does not have it. Nothing was created. Restoring with another locale would silently change how text sorts and compares, so Backstop does not. Fix: install the locale on that server's host (Debian/Ubuntu: enable it in /etc/locale.gen and run locale-gen), restart PostgreSQL, then restore again; or restore onto a server that has it (locale -a lists them).`,
    );
    expect(databases()).toBe(dbs);
    expect(roles()).toBe(rs);
  });

  test("a column's collation (CREATE COLLATION from that locale): RESTORE_FAILED naming the collation, the locale and the fix, nothing left", async () => {
    source.psql(`CREATE DATABASE collated TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'`);
    source.psql(`CREATE COLLATION german (provider = libc, locale = 'de_DE.UTF-8'); CREATE TABLE t (s text COLLATE german); INSERT INTO t VALUES ('b'), ('a'), ('Ä');`, 'collated');
    const file = await dumpToFile('collated');
    const dbs = databases();
    const e = await rejection(restore('collated_copy', file));
    expect(e.code).toBe('RESTORE_FAILED');
    expect(e.message).toContain(
      `Database "collated_copy" cannot be restored on the PostgreSQL server 127.0.0.1:${target.port}: the backup uses the locale "de_DE.UTF-8" in collation public.german, which a column, index or type uses, and that server's operating system does not have it. The new database was removed. Restoring with another locale`,
    );
    expect(databases()).toBe(dbs);
  });
});

describe('a collation the target lacks', () => {
  test('a column using a collation initdb imported from the OS (pg_catalog."de_DE"), which the target never imported: RESTORE_FAILED naming the collation and the fix, nothing left', async () => {
    // What initdb on a host with that locale imports (pg_import_system_collations); pg_dump dumps no pg_catalog object.
    source.psql(`CREATE DATABASE imported TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'`);
    source.psql(`CREATE COLLATION pg_catalog."de_DE" (locale = 'de_DE.UTF-8'); CREATE TABLE t (s text COLLATE pg_catalog."de_DE"); INSERT INTO t VALUES ('b'), ('a'), ('Ä');`, 'imported');
    const file = await dumpToFile('imported');
    const dbs = databases();
    const e = await rejection(restore('imported_copy', file));
    expect(e.code).toBe('RESTORE_FAILED');
    expect(e.message).toContain(
      `Database "imported_copy" cannot be restored on the PostgreSQL server 127.0.0.1:${target.port}: the backup uses collation "pg_catalog.de_DE", which that server lacks. initdb creates such collations from the locales its host has at that moment, and a restored database is made from template0, which holds only those. The new database was removed. Fix: restore onto a server whose host has that locale; or install the locale`,
    );
    expect(e.message).toContain("SELECT pg_import_system_collations('pg_catalog');");
    expect(databases()).toBe(dbs);
    // The fix, on the server whose host has the locale (the source: its template0 lacks the collation too).
    const before = await rejection(connectorOf(source).restore('imported_copy', createReadStream(file), 'logical'));
    expect(before.message).toContain('the backup uses collation "pg_catalog.de_DE", which that server lacks.');
    source.psql('ALTER DATABASE template0 ALLOW_CONNECTIONS true');
    // What pg_import_system_collations adds for an installed locale (here `locale -a` cannot see the LOCPATH folder).
    source.psql(`CREATE COLLATION pg_catalog."de_DE" (locale = 'de_DE.UTF-8')`, 'template0');
    source.psql('ALTER DATABASE template0 ALLOW_CONNECTIONS false');
    try {
      await connectorOf(source).restore('imported_copy', createReadStream(file), 'logical');
      expect(source.psql(`SELECT string_agg(s, ',' ORDER BY s) FROM t`, 'imported_copy').trim()).toBe('a,Ä,b');
    } finally {
      source.psql('DROP DATABASE IF EXISTS imported_copy');
    }
  });
});

describe('max_locks_per_transaction low on the target (10, max_connections 5)', () => {
  test('250 partitions restore, their owner mapped to another role (its per-object statements in small transactions); a materialized view over all of them cannot be refreshed there: RESTORE_FAILED naming the setting and the fix, nothing left', async () => {
    source.psql(`CREATE DATABASE parts; CREATE ROLE part_owner;`);
    source.psql(
      `CREATE TABLE p (id int, v text) PARTITION BY RANGE (id); ALTER TABLE p OWNER TO part_owner;
       SELECT format('CREATE TABLE p_%s PARTITION OF p FOR VALUES FROM (%s) TO (%s); ALTER TABLE p_%s OWNER TO part_owner;', i, i * 10, i * 10 + 10, i) FROM generate_series(0, 249) i \\gexec
       INSERT INTO p SELECT i, 'v' || i FROM generate_series(0, 2499) i;`,
      'parts',
    );
    const file = await dumpToFile('parts');
    // (A query of every partition at once needs more lock slots than this server has: one partition's rows.)
    const partitions = `SELECT count(*) FROM pg_inherits WHERE inhparent = 'p'::regclass`;
    const lastRows = 'SELECT count(*), min(v) FROM p WHERE id BETWEEN 2490 AND 2499';
    target.psql('CREATE ROLE other_owner');
    try {
      await restore('parts_mapped', file, { roleMap: { part_owner: 'other_owner' } });
      expect(target.psql(`SELECT count(*) FROM pg_class WHERE relkind IN ('r', 'p') AND pg_get_userbyid(relowner) = 'other_owner'`, 'parts_mapped').trim()).toBe('251');
      expect(target.psql(partitions, 'parts_mapped').trim()).toBe('250');
      expect(target.psql(lastRows, 'parts_mapped').trim()).toBe('10|v2490');
    } finally {
      drop('parts_mapped');
      target.psql('DROP ROLE other_owner');
    }
    // One statement that reads every partition (the view's REFRESH) needs a lock slot for each.
    source.psql('CREATE MATERIALIZED VIEW total AS SELECT count(*) FROM p', 'parts');
    const withView = await dumpToFile('parts');
    const [dbs, rs] = [databases(), roles()];
    const e = await rejection(restore('parts_view', withView, { createRoles: true }));
    expect(e.code).toBe('RESTORE_FAILED');
    expect(e.message).toMatch(
      new RegExp(`^Database "parts_view" cannot be restored on the PostgreSQL server 127\\.0\\.0\\.1:${target.port}: it ran out of lock slots \\(out of shared memory\\)\\. .* The new database was removed\\. Fix: on that server raise it \\(ALTER SYSTEM SET max_locks_per_transaction = 1024; then restart PostgreSQL\\), then restore again\\.`),
    );
    expect(databases()).toBe(dbs);
    expect(roles()).toBe(rs);
  }, 60_000);
});
