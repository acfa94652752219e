/**
 * Scale measurement for docs/PERFORMANCE.md "Databases with many objects" (not part of the
 * suite, never asserted on): on a fixture PostgreSQL server, builds a database of N and 4N
 * objects — large objects (lo), tables in schemas of 25 (tables), partitions of one table
 * (parts) — dumps it through the connector with the facts counter, then times a plain
 * `pg_restore -d` of the archive, a Backstop restore into a new name, and one with the owner
 * role mapped; prints one JSON line per size.
 * Run: npx tsx scripts/bench/many-objects-pg.mts [lo,tables,parts] [scale]
 * (base N: 5,000 large objects, 1,250 tables, 500 partitions, times scale).
 */
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, chmodSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { connectorFor } from '../../electron/engine/servers/index.ts';
import { PgCustomArchiveFacts } from '../../electron/engine/facts/pg-custom-facts.ts';
import { PG_BIN, startPostgres, type PgServer } from '../../tests/fixtures/servers/postgres.ts';

const scratch = mkdtempSync(join(tmpdir(), 'qa27d-')); chmodSync(scratch, 0o777);
const conn = (s: PgServer) => connectorFor({ id: 'pg', name: 'pg', kind: 'postgres', host: s.host, port: s.port, user: s.user, tls: 'disable', passwordRef: null, createdAt: '', updatedAt: '' } as never, { password: s.password, toolPaths: { postgres: PG_BIN } });
const t = () => performance.now();
const which = (process.argv[2] ?? 'lo,tables,parts').split(',');
const scale = Number(process.argv[3] ?? 1);
const pg = await startPostgres({ settings: ["max_locks_per_transaction=256"] });
pg.psql(`CREATE ROLE owner_a; CREATE ROLE reader; CREATE ROLE mapped_a;`);
const builds: Record<string, (n: number) => string> = {
  lo: (n) => `SELECT lo_from_bytea(100000 + g, convert_to('blob ' || g, 'UTF8')) FROM generate_series(1, ${n}) g;
    DO $$ DECLARE i int; BEGIN FOR i IN 1..${n / 10} LOOP EXECUTE format('ALTER LARGE OBJECT %s OWNER TO owner_a', 100000 + i*10); EXECUTE format('GRANT SELECT ON LARGE OBJECT %s TO reader', 100000+i*10); EXECUTE format('COMMENT ON LARGE OBJECT %s IS %L', 100000+i*10, 'c' || i); END LOOP; END $$;`,
  tables: (n) => `DO $$ DECLARE s int; k int; BEGIN FOR s IN 1..${n / 25} LOOP EXECUTE format('CREATE SCHEMA t%s AUTHORIZATION owner_a', s);
    FOR k IN 1..25 LOOP EXECUTE format('CREATE TABLE t%s.x%s (id int PRIMARY KEY, v text%s); ALTER TABLE t%s.x%s OWNER TO owner_a; CREATE INDEX ON t%s.x%s (v); INSERT INTO t%s.x%s SELECT g, md5(g::text)%s FROM generate_series(1, %s) g', s, k, CASE WHEN k > 1 THEN format(', p int REFERENCES t%s.x1', s) ELSE '' END, s, k, s, k, s, k, CASE WHEN k > 1 THEN ', 1' ELSE '' END, k % 7); END LOOP; END LOOP; END $$;`,
  parts: (n) => `CREATE TABLE pt (id int, v text) PARTITION BY RANGE (id); ALTER TABLE pt OWNER TO owner_a;
    DO $$ DECLARE i int; BEGIN FOR i IN 0..${n - 1} LOOP EXECUTE format('CREATE TABLE pt_%s PARTITION OF pt FOR VALUES FROM (%s) TO (%s)', i, i*10, i*10+10); EXECUTE format('ALTER TABLE pt_%s OWNER TO owner_a', i); END LOOP; END $$;
    CREATE INDEX ON pt (v); INSERT INTO pt SELECT g, md5(g::text) FROM generate_series(0, ${n * 10 - 1}, 3) g;`,
};
const base: Record<string, number> = { lo: 5000, tables: 1250, parts: 500 };
for (const w of which) for (const mult of [1, 4]) {
  const n = base[w]! * mult * scale;
  const db = `${w}${n}`;
  pg.psql(`CREATE DATABASE ${db}`);
  let s = t();
  pg.psql(builds[w]!(n), db);
  const build = t() - s;
  const file = join(scratch, `${db}.dump`);
  s = t();
  const d = await conn(pg).openDump(db, 'logical');
  await pipeline(d.stream, async function* (src) { for await (const c of src) { d.facts!.observe(c); yield c; } }, createWriteStream(file));
  await d.done;
  const dump = t() - s;
  const f = d.facts!.result();
  // facts alone
  const buf = readFileSync(file);
  s = t();
  const fc = new PgCustomArchiveFacts();
  for (let o = 0; o < buf.length; o += 65536) fc.observe(buf.subarray(o, o + 65536));
  fc.result();
  const factsMs = t() - s;
  chmodSync(file, 0o644);
  s = t();
  pg.psql(`CREATE DATABASE ${db}_raw`);
  execFileSync(join(PG_BIN, 'pg_restore'), ['--exit-on-error', '--verbose', '-h', pg.socketDir, '-p', String(pg.port), '-U', 'postgres', '-d', `${db}_raw`, file], { stdio: ['ignore', 'ignore', 'ignore'] });
  const raw = t() - s;
  let last: unknown = null; let nprog = 0;
  s = t();
  await conn(pg).restore(`${db}_copy`, createReadStream(file), 'logical', { onProgress: (p) => { last = p; nprog++; } });
  const restore = t() - s;
  s = t();
  await conn(pg).restore(`${db}_map`, createReadStream(file), 'logical', { roleMap: { owner_a: 'mapped_a' } });
  const restoreMap = t() - s;
  const factsSummary = 'facts' in f ? `${Object.keys(f.facts.tables).length} tables, ${Object.values(f.facts.tables).reduce((a, b) => a + b, 0)} rows` : f.unavailable;
  console.log(JSON.stringify({ db, n, bytes: buf.length, buildMs: Math.round(build), dumpMs: Math.round(dump), factsMs: Math.round(factsMs), rawPgRestoreMs: Math.round(raw), restoreMs: Math.round(restore), restoreMapMs: Math.round(restoreMap), facts: factsSummary, progress: last, nprog }));
  for (const x of [db, `${db}_raw`, `${db}_copy`, `${db}_map`]) pg.psql(`DROP DATABASE ${x}`);
}
await pg.stop();
