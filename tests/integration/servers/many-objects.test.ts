/**
 * Databases with very many objects back up and restore faithfully (issue: many objects,
 * docs/PERFORMANCE.md "Databases with many objects"): on a real PostgreSQL server, a database
 * of 2,000 large objects (a tenth with an owner, a grant and a comment), one of 500 tables in
 * 20 schemas (indexes, foreign keys), and a table of 300 partitions are dumped (facts counted
 * as the stream goes by) and restored into new names — as they are, and with the owner role
 * mapped to another. Checked: every large object's owner, privileges, comment and bytes, every
 * table's row count and content checksum, the schema (pg_dump -s, the database name and the
 * mapped role normalised), the facts (rows per table) against the source's counts, and that
 * progress reaches its total. Sizes are moderate (each test a few seconds); timing is never
 * asserted here (the scale measurements are in docs/PERFORMANCE.md).
 */
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Server } from '../../../electron/shared/domain.ts';
import { connectorFor, type Connector, type RestoreOptions } from '../../../electron/engine/servers/index.ts';
import type { RestoreProgress } from '../../../electron/engine/servers/connector.ts';
import { factsMeta, type FactsOutcome } from '../../../electron/engine/facts/dump-facts.ts';
import { chownTree } from '../../fixtures/servers/common.ts';
import { PG_BIN, pgSchemaDump, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';

let pg: PgServer;
let scratch: string;

function connector(): Connector {
  const s: Server = { id: 'pg', name: 'pg', kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, tls: 'disable', passwordRef: null, createdAt: '', updatedAt: '' };
  return connectorFor(s, { password: pg.password, toolPaths: { postgres: PG_BIN } });
}

/** Dumps `db` to a file, counting facts as the stream goes by (as a backup does). */
async function dump(db: string): Promise<{ file: string; facts: FactsOutcome }> {
  const file = join(scratch, `${db}.dump`);
  const d = await connector().openDump(db, 'logical');
  const facts = d.facts!;
  await pipeline(
    d.stream,
    async function* (src: AsyncIterable<Buffer>) {
      for await (const c of src) {
        facts.observe(c);
        yield c;
      }
    },
    createWriteStream(file),
  );
  await d.done;
  return { file, facts: facts.result() };
}

async function restore(db: string, file: string, opts: RestoreOptions = {}): Promise<RestoreProgress[]> {
  const progress: RestoreProgress[] = [];
  await connector().restore(db, createReadStream(file), 'logical', { ...opts, totalBytes: statSync(file).size, onProgress: (p) => progress.push(p) });
  return progress;
}

/** Large objects: oid, owner, privileges, comment and a checksum of the bytes, one line each. */
const largeObjects = (db: string) =>
  pg.psql(`SELECT m.oid || ' ' || pg_get_userbyid(m.lomowner) || ' ' || coalesce(array_to_string(m.lomacl, ','), '-') || ' ' || coalesce(obj_description(m.oid, 'pg_largeobject'), '-') || ' ' || md5(lo_get(m.oid)) FROM pg_largeobject_metadata m ORDER BY m.oid`, db).trim();

/** Every user table's row count and order-independent checksum, in one query (one psql per table would take longer than the restore). */
const tableContent = (db: string) =>
  pg
    .psql(
      `SELECT format('%I.%I', schemaname, tablename) || ' ' || (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) || '':'' || md5(coalesce(string_agg(md5(t::text), '''' ORDER BY md5(t::text)), '''')) AS c FROM %I.%I t', schemaname, tablename), false, true, '')))[1]::text
       FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
      db,
    )
    .trim();

/** Row counts per table as the facts name them ("schema"."table"). */
const rowCounts = (db: string): Record<string, number> =>
  Object.fromEntries(
    pg
      .psql(
        `SELECT format('"%s"."%s"', replace(schemaname, '"', '""'), replace(tablename, '"', '""')) || ' ' || (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', schemaname, tablename), false, true, '')))[1]::text
         FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
        db,
      )
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]),
  );

const schemaOf = (db: string, as: string, mapped?: [string, string]) => {
  let s = pgSchemaDump(pg, db).split(db).join(as);
  if (mapped) s = s.split(mapped[1]).join(mapped[0]);
  return s;
};

function expectProgressComplete(progress: RestoreProgress[]): void {
  const last = progress.at(-1)!;
  expect(last.unit).toBe('bytes');
  expect(last.total).toBeGreaterThan(0);
  expect(last.done).toBe(last.total);
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'backstop-many-'));
  if (pg?.osUser) chownTree(scratch, pg.osUser);
  pg = await startPostgres({ settings: ['max_locks_per_transaction=256'] });
  pg.psql(`CREATE ROLE owner_a; CREATE ROLE reader; CREATE ROLE mapped_a;`);
}, 60_000);

afterAll(async () => {
  await pg?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe('PostgreSQL with many objects', () => {
  test('2,000 large objects (owners, grants, comments) restore with their bytes and metadata, as they are and with the owner mapped', async () => {
    pg.psql('CREATE DATABASE many_lo');
    pg.psql(
      `SELECT lo_from_bytea(100000 + g, convert_to(repeat('blob ' || g, g % 5), 'UTF8')) FROM generate_series(1, 2000) g;
       DO $$ DECLARE i int; BEGIN FOR i IN 1..200 LOOP
         EXECUTE format('ALTER LARGE OBJECT %s OWNER TO owner_a', 100000 + i * 10);
         EXECUTE format('GRANT SELECT ON LARGE OBJECT %s TO reader', 100000 + i * 10);
         EXECUTE format('COMMENT ON LARGE OBJECT %s IS %L', 100000 + i * 10, 'comment ' || i);
       END LOOP; END $$;`,
      'many_lo',
    );
    const source = largeObjects('many_lo');
    expect(source.split('\n')).toHaveLength(2000);
    const { file, facts } = await dump('many_lo');
    expect(facts).toEqual({ facts: { method: 'pg-custom-stream', tables: {}, largeObjects: 2000 } });

    expectProgressComplete(await restore('many_lo_copy', file));
    expect(largeObjects('many_lo_copy')).toBe(source);

    expectProgressComplete(await restore('many_lo_map', file, { roleMap: { owner_a: 'mapped_a' } }));
    const mapped = largeObjects('many_lo_map');
    expect(mapped.split('mapped_a').join('owner_a')).toBe(source);
    expect(mapped.match(/ mapped_a /g)).toHaveLength(200);
  }, 60_000);

  test('500 tables in 20 schemas (indexes, foreign keys) restore with every row; the facts count every table', async () => {
    pg.psql('CREATE DATABASE many_tables');
    pg.psql(
      `DO $$ DECLARE s int; k int; BEGIN FOR s IN 1..20 LOOP
         EXECUTE format('CREATE SCHEMA t%s AUTHORIZATION owner_a', s);
         FOR k IN 1..25 LOOP
           EXECUTE format('CREATE TABLE t%s.x%s (id int PRIMARY KEY, v text%s)', s, k, CASE WHEN k > 1 THEN format(', p int REFERENCES t%s.x1', s) ELSE '' END);
           EXECUTE format('ALTER TABLE t%s.x%s OWNER TO owner_a', s, k);
           EXECUTE format('GRANT SELECT ON t%s.x%s TO reader', s, k);
           EXECUTE format('CREATE INDEX ON t%s.x%s (v)', s, k);
           EXECUTE format('INSERT INTO t%s.x%s SELECT g, md5(g::text)%s FROM generate_series(1, %s) g', s, k, CASE WHEN k > 1 THEN ', 1' ELSE '' END, (s * k) % 7);
         END LOOP;
       END LOOP; END $$;`,
      'many_tables',
    );
    const counts = rowCounts('many_tables');
    expect(Object.keys(counts)).toHaveLength(500);
    const { file, facts } = await dump('many_tables');
    expect(facts).toEqual({ facts: { method: 'pg-custom-stream', tables: counts, largeObjects: 0 } });
    // 500 tables' counts are stored as a plain object (PLAIN_FACTS_BYTES); thousands, compressed (dump-facts.ts).
    expect(factsMeta(facts)).toEqual({ facts: { method: 'pg-custom-stream', tables: counts, largeObjects: 0 } });

    const content = tableContent('many_tables');
    const schema = schemaOf('many_tables', 'X');
    expectProgressComplete(await restore('many_tables_copy', file));
    expect(tableContent('many_tables_copy')).toBe(content);
    expect(schemaOf('many_tables_copy', 'X')).toBe(schema);

    expectProgressComplete(await restore('many_tables_map', file, { roleMap: { owner_a: 'mapped_a' } }));
    expect(tableContent('many_tables_map')).toBe(content);
    expect(schemaOf('many_tables_map', 'X', ['owner_a', 'mapped_a'])).toBe(schema);
    expect(pg.psql(`SELECT count(*) FROM pg_tables WHERE tableowner = 'mapped_a'`, 'many_tables_map').trim()).toBe('500');
  }, 90_000);

  test('a table of 300 partitions restores with every row in its partition; the facts count each partition', async () => {
    pg.psql('CREATE DATABASE many_parts');
    pg.psql(
      `CREATE TABLE pt (id int, v text) PARTITION BY RANGE (id); ALTER TABLE pt OWNER TO owner_a;
       DO $$ DECLARE i int; BEGIN FOR i IN 0..299 LOOP
         EXECUTE format('CREATE TABLE pt_%s PARTITION OF pt FOR VALUES FROM (%s) TO (%s)', i, i * 10, i * 10 + 10);
         EXECUTE format('ALTER TABLE pt_%s OWNER TO owner_a', i);
       END LOOP; END $$;
       CREATE INDEX ON pt (v); INSERT INTO pt SELECT g, md5(g::text) FROM generate_series(0, 2999, 3) g;`,
      'many_parts',
    );
    const counts = rowCounts('many_parts');
    expect(Object.keys(counts)).toHaveLength(301);
    const { file, facts } = await dump('many_parts');
    // The partitioned parent holds no rows of its own: pg_dump writes its data under each partition.
    const { '"public"."pt"': parent, ...partitions } = counts;
    expect(parent).toBe(1000);
    expect(facts).toEqual({ facts: { method: 'pg-custom-stream', tables: partitions, largeObjects: 0 } });

    const content = tableContent('many_parts');
    const schema = schemaOf('many_parts', 'X');
    expectProgressComplete(await restore('many_parts_copy', file));
    expect(tableContent('many_parts_copy')).toBe(content);
    expect(schemaOf('many_parts_copy', 'X')).toBe(schema);
    expect(pg.psql(`SELECT p || ' ' || c FROM (SELECT tableoid::regclass::text AS p, count(*) AS c, min(id) AS m FROM pt GROUP BY 1) x ORDER BY m LIMIT 3`, 'many_parts_copy').trim()).toBe('pt_0 4\npt_1 3\npt_2 3');
  }, 60_000);
});
