/**
 * Scale measurement for docs/PERFORMANCE.md "Databases with many objects" (never asserted on):
 * on a fixture MariaDB, a database of N tables (one in ten MyISAM; one in twenty with a view, a
 * trigger and a procedure) plus a table of N/5 hash partitions, then 4N; dumped through the
 * connector with the facts counter and restored into a new name (post-restore checks
 * included); prints times and the restored object counts, one JSON line per size.
 * Run: npx tsx scripts/bench/many-objects-mariadb.mts [N]   (default 500)
 */
import { createReadStream, createWriteStream, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { connectorFor } from '../../electron/engine/servers/index.ts';
import { startMariadb, type MariadbServer } from '../../tests/fixtures/servers/mariadb.ts';
const scratch = mkdtempSync(join(tmpdir(), 'qa27dm-'));
const t = () => performance.now();
const db = await startMariadb();
const conn = (s: MariadbServer) => connectorFor({ id: 'my1', name: 'm', kind: 'mysql', host: s.host, port: s.port, user: s.user, tls: 'disable', passwordRef: 'x', createdAt: '', updatedAt: '' } as never, { password: s.password, toolPaths: { mysql: null } });
for (const n of [Number(process.argv[2] ?? 500), Number(process.argv[2] ?? 500) * 4]) {
  const name = `m${n}`;
  let sql = `CREATE DATABASE ${name}; USE ${name};\n`;
  for (let i = 0; i < n; i++) {
    sql += `CREATE TABLE t${i} (id int PRIMARY KEY, v varchar(40), KEY (v)) ENGINE=${i % 10 === 0 ? 'MyISAM' : 'InnoDB'}; INSERT INTO t${i} VALUES (1,'a'),(2,'b');\n`;
    if (i % 20 === 0) sql += `CREATE VIEW v${i} AS SELECT * FROM t${i}; CREATE TRIGGER tr${i} BEFORE INSERT ON t${i} FOR EACH ROW SET NEW.v = upper(NEW.v); CREATE PROCEDURE p${i}() SELECT count(*) FROM t${i};\n`;
  }
  sql += `CREATE TABLE pt (id int, v varchar(10)) PARTITION BY HASH (id) PARTITIONS ${n / 5}; INSERT INTO pt SELECT seq, 'x' FROM seq_1_to_${n};\n`;
  const f = join(scratch, `${name}.sql`); writeFileSync(f, sql);
  let s = t(); db.loadFile(f); const build = t() - s;
  const file = join(scratch, `${name}.dump`);
  s = t();
  const d = await conn(db).openDump(name, 'logical');
  await pipeline(d.stream, async function* (src: AsyncIterable<Buffer>) { for await (const c of src) { d.facts?.observe(c); yield c; } }, createWriteStream(file));
  await d.done;
  const dump = t() - s;
  const facts = d.facts?.result();
  s = t();
  const rep = await conn(db).restore(`${name}_copy`, createReadStream(file), 'logical', { sourceName: name });
  const restore = t() - s;
  const same = db.sql(`SELECT count(*) FROM information_schema.tables WHERE table_schema='${name}_copy'`).trim() + '/' + db.sql(`SELECT count(*) FROM information_schema.tables WHERE table_schema='${name}'`).trim() + ' routines ' + db.sql(`SELECT count(*) FROM information_schema.routines WHERE routine_schema='${name}_copy'`).trim() + ' triggers ' + db.sql(`SELECT count(*) FROM information_schema.triggers WHERE trigger_schema='${name}_copy'`).trim() + ' parts ' + db.sql(`SELECT count(*) FROM information_schema.partitions WHERE table_schema='${name}_copy' AND table_name='pt'`).trim() + ' ptrows ' + db.sql(`SELECT count(*) FROM ${name}_copy.pt`).trim();
  console.log(JSON.stringify({ n, partitions: n / 5, buildMs: Math.round(build), dumpMs: Math.round(dump), restoreMs: Math.round(restore), facts: facts && 'facts' in facts ? Object.keys(facts.facts.tables).length + ' tables' : facts, same, notes: rep.notes?.length }));
}
await db.stop();
