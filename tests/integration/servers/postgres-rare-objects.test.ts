/**
 * A PostgreSQL database using the object kinds real schemas use but few tests do — ICU
 * collations, casts, aggregates, operators, text-search configurations and dictionaries,
 * conversions, extended statistics, rules, inheritance, unlogged tables, sub-partitions with
 * defaults, EXCLUDE and deferrable constraints, NOT VALID checks, storage parameters, column
 * storage/statistics/compression, replica identity, CLUSTER ON, column privileges, RLS,
 * default privileges, a publication, SQL-standard function bodies, materialized views with
 * and without data — all owned by a non-superuser role, restored into a new name as it is,
 * with that owner mapped to another role, and without owners. Each copy must have the
 * source's schema (pg_dump -s, with the name and the mapped role put back), the same rows,
 * the materialized view's data, the sequence and identity positions, and the database's
 * own properties (pg-fidelity.ts).
 */
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Server } from '../../../electron/shared/domain.ts';
import { connectorFor, type Connector, type RestoreOptions } from '../../../electron/engine/servers/index.ts';
import { chownTree } from '../../fixtures/servers/common.ts';
import { pgDatabaseFidelity } from '../../fixtures/servers/pg-fidelity.ts';
import { PG_BIN, pgSchemaDump, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';

let pg: PgServer;
let scratch: string;
let file: string;

const connector = (user = pg.user, password = pg.password): Connector =>
  connectorFor({ id: 'pg', name: 'pg', kind: 'postgres', host: pg.host, port: pg.port, user, tls: 'disable', passwordRef: null, createdAt: '', updatedAt: '' } satisfies Server, {
    password,
    toolPaths: { postgres: PG_BIN },
  });

async function restore(db: string, opts: RestoreOptions = {}, as = connector()): Promise<string[]> {
  const report = await as.restore(db, createReadStream(file), 'logical', opts);
  return report.notes ?? [];
}

/** Rows of every table (inherited rows counted in their own table only), the matview's data, sequence and identity positions. */
const content = (db: string) =>
  pg
    .psql(
      `SELECT format('%I.%I', n.nspname, c.relname) || ' ' || (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) || '':'' || md5(coalesce(string_agg(md5(t::text), '''' ORDER BY md5(t::text)), '''')) AS c FROM ONLY %I.%I t', n.nspname, c.relname), false, true, '')))[1]::text
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'm') AND c.relispopulated AND n.nspname = 'app'
       UNION ALL SELECT 'seq ' || sequencename || ' ' || coalesce(last_value::text, 'null') FROM pg_sequences WHERE schemaname = 'app'
       UNION ALL SELECT 'later populated=' || relispopulated FROM pg_class WHERE relname = 'later'
       ORDER BY 1`,
      db,
    )
    .trim();

const schemaOf = (db: string, as: string, mapped?: [string, string]) => {
  let s = pgSchemaDump(pg, db).split(db).join(as);
  if (mapped) s = s.split(mapped[1]).join(mapped[0]);
  return s;
};

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'backstop-rare-'));
  pg = await startPostgres();
  if (pg.osUser) chownTree(scratch, pg.osUser);
  pg.psql(`CREATE ROLE app_owner; CREATE ROLE app_reader; CREATE ROLE app_mapped; CREATE DATABASE rare OWNER app_owner; ALTER DATABASE rare SET work_mem = '8MB'; ALTER ROLE app_reader IN DATABASE rare SET statement_timeout = '5s';`);
  pg.psql(readFileSync(join(import.meta.dirname, 'postgres-rare-objects.sql'), 'utf8'), 'rare');
  file = join(scratch, 'rare.dump');
  const d = await connector().openDump('rare', 'logical');
  await pipeline(d.stream, createWriteStream(file));
  await d.done;
}, 120_000);

afterAll(async () => {
  await pg?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('PostgreSQL object kinds real schemas use', () => {
  test('restored as it is: the same schema, rows, matview data, positions and database properties', async () => {
    await restore('rare_copy');
    expect(schemaOf('rare_copy', 'X')).toBe(schemaOf('rare', 'X'));
    expect(content('rare_copy')).toBe(content('rare'));
    expect(content('rare')).toMatch(/app\.mood_counts 3:/);
    expect(pgDatabaseFidelity(pg, 'rare_copy', ['app.add(2, 3)', "app.csv(x) FROM (VALUES ('a'), ('b')) v(x)", "'Ab' OPERATOR(app.===) 'aB'", "(1, 'x')::app.pair::text"])).toEqual(
      pgDatabaseFidelity(pg, 'rare', ['app.add(2, 3)', "app.csv(x) FROM (VALUES ('a'), ('b')) v(x)", "'Ab' OPERATOR(app.===) 'aB'", "(1, 'x')::app.pair::text"]),
    );
    // The objects behave as they did: the cast, the rule, the exclusion constraint, the ICU order.
    expect(pg.psql(`INSERT INTO app.happy (name) VALUES ('Zoë'); SELECT count(*) FROM app.people WHERE mood = 'happy'`, 'rare_copy').trim()).toBe('14');
    expect(() => pg.psql(`INSERT INTO app.bookings VALUES (1, '[2026-01-01 12:00,2026-01-01 13:00)')`, 'rare_copy')).toThrow(/conflicting key value violates exclusion constraint/);
    expect(pg.psql(`SELECT to_tsvector('app.plain', 'The running dogs')::text`, 'rare_copy').trim()).toBe(pg.psql(`SELECT to_tsvector('app.plain', 'The running dogs')::text`, 'rare').trim());
  }, 120_000);

  test('with the owner mapped to another role: every object of app_owner belongs to app_mapped, nothing else differs', async () => {
    await restore('rare_map', { roleMap: { app_owner: 'app_mapped' } });
    expect(schemaOf('rare_map', 'X', ['app_owner', 'app_mapped'])).toBe(schemaOf('rare', 'X'));
    expect(content('rare_map')).toBe(content('rare'));
    expect(pg.psql(`SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app' AND pg_get_userbyid(c.relowner) = 'app_owner'`, 'rare_map').trim()).toBe('0');
    expect(pg.psql(`SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'rare_map'`).trim()).toBe('app_mapped');
  }, 120_000);

  test('without owners: the rows and objects come back owned by the restoring role', async () => {
    await restore('rare_noown', { noOwner: true });
    expect(content('rare_noown')).toBe(content('rare'));
    const owners = pg.psql(`SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app'`, 'rare_noown').trim();
    expect(owners).toBe(pg.user);
    // Object kinds without owners' statements come through too (cast, conversion, text search, statistics, rule).
    const kinds = (db: string) => pg.psql(`SELECT (SELECT count(*) FROM pg_cast WHERE castsource = 'app.pair'::regtype) || ' ' || (SELECT count(*) FROM pg_conversion WHERE conname = 'latin1_to_utf8') || ' ' || (SELECT count(*) FROM pg_ts_config WHERE cfgname = 'plain') || ' ' || (SELECT count(*) FROM pg_statistic_ext WHERE stxname = 'people_stats') || ' ' || (SELECT count(*) FROM pg_rules WHERE rulename = 'happy_insert')`, db).trim();
    expect(kinds('rare_noown')).toBe('1 1 1 1 1');
  }, 120_000);

  test('by a role that is not a superuser but may create databases and is a member of the owners: the same schema and rows; another role\'s settings in the database only with CREATEROLE, else named with the statement', async () => {
    pg.psql(`CREATE ROLE deployer LOGIN CREATEDB PASSWORD 'deploy-Secret-1' IN ROLE app_owner, app_reader`);
    const deployer = connector('deployer', 'deploy-Secret-1');
    const notes = await restore('rare_deployed', {}, deployer);
    expect(schemaOf('rare_deployed', 'X')).toBe(schemaOf('rare', 'X'));
    expect(content('rare_deployed')).toBe(content('rare'));
    expect(pg.psql(`SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'rare_deployed'`).trim()).toBe('app_owner');
    // ALTER ROLE app_reader IN DATABASE … SET needs CREATEROLE (or a superuser): left out, the statement given.
    expect(notes).toContain(
      'Settings of role "app_reader" in the database (ALTER ROLE … IN DATABASE) were not restored: "deployer" may set only its own, or with CREATEROLE those of roles that are not superusers (on PostgreSQL 16 and later, only roles it administers). To have them, run as a superuser or a role with CREATEROLE: ALTER ROLE app_reader IN DATABASE "rare_deployed" SET statement_timeout TO \'5s\';',
    );
    const { settings, ...rest } = pgDatabaseFidelity(pg, 'rare_deployed');
    const { settings: sourceSettings, ...sourceRest } = pgDatabaseFidelity(pg, 'rare');
    expect(rest).toEqual(sourceRest);
    expect(settings).toEqual((sourceSettings as string[]).filter((l) => !l.startsWith('app_reader:')));

    pg.psql('ALTER ROLE deployer CREATEROLE');
    const withCreateRole = await restore('rare_deployed2', {}, deployer);
    expect(withCreateRole.join('\n')).not.toMatch(/were not restored/);
    expect(pgDatabaseFidelity(pg, 'rare_deployed2')).toEqual(pgDatabaseFidelity(pg, 'rare'));
  }, 120_000);
});
