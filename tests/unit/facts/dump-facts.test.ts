/**
 * The fact counters (issue #22) on their own: the MariaDB SQL counter counts tuples, not
 * parentheses or semicolons inside strings, whatever the buffer boundaries; anything it
 * does not understand makes the facts unavailable with a reason, never a wrong count; the
 * PostgreSQL archive counter refuses what is not an uncompressed custom archive; the facts
 * of thousands of tables are kept compressed, and only beyond ~200,000 left out with the reason.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Compressor } from 'zstd-napi';
import { factsMeta, factsOf, MysqlSqlFacts, PgCustomArchiveFacts } from '../../../electron/engine/facts/index.ts';
import { MAX_META_BYTES } from '../../../electron/engine/repository/types.ts';

function feed(counter: { observe(c: Uint8Array): void }, text: string | Buffer, size: number): void {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  for (let i = 0; i < bytes.length; i += size) counter.observe(bytes.subarray(i, i + size));
}

const DUMP = [
  '-- MariaDB dump',
  '/*!40101 SET NAMES utf8mb4 */;',
  'CREATE TABLE `it``em` (',
  '  `id` int(11) NOT NULL,',
  "  `name` varchar(50) DEFAULT 'x (y);'",
  ') ENGINE=InnoDB;',
  'INSERT INTO `it``em` VALUES',
  "(1,'a (b), ''c'';'),",
  "(2,'back\\\\'),",
  "(3,'it\\'s ( );'),",
  '(4,NULL);',
  'INSERT INTO `it``em` VALUES (5,0x28293B);',
  'CREATE TABLE `empty` (`x` int);',
  'CREATE TABLE `ünï` (`x` int);',
  "INSERT INTO `ünï` VALUES (1),(2);",
  '/*!50001 CREATE VIEW `v` AS SELECT 1 AS `a` */;',
  '',
].join('\n');

describe('MariaDB dump facts', () => {
  it('counts one row per top-level tuple, at every buffer size', () => {
    for (const size of [1, 2, 7, 64, 100_000]) {
      const c = new MysqlSqlFacts();
      feed(c, DUMP, size);
      // The longest statement: the four-row INSERT over five lines, sent as one packet.
      const longest = Buffer.byteLength(DUMP.slice(DUMP.indexOf('INSERT INTO `it``em` VALUES\n'), DUMP.indexOf('(4,NULL);') + '(4,NULL);'.length));
      expect(c.result()).toEqual({ facts: { method: 'mysql-sql-stream', tables: { 'it`em': 5, empty: 0, 'ünï': 2 }, longestLine: longest } });
    }
  });

  it('notes the longest line in bytes — a large row, a long line that is no INSERT, a last line without its newline — at every buffer size', () => {
    const row = `INSERT INTO \`t\` VALUES (1,'${'ü'.repeat(3000)}\\n;'),(2,0x${'ab'.repeat(2500)});`;
    const comment = `-- ${'x'.repeat(20_000)}`;
    for (const size of [1, 3, 4096, 1_000_000]) {
      const big = new MysqlSqlFacts();
      feed(big, `CREATE TABLE \`t\` (a int);\n${row}\nINSERT INTO \`t\` VALUES (3,'x');\n`, size);
      expect(big.result(), `buffers of ${size}`).toMatchObject({ facts: { tables: { t: 3 }, longestLine: Buffer.byteLength(row) } });
      const other = new MysqlSqlFacts();
      feed(other, `${row}\n${comment}\n\n`, size);
      expect(other.result()).toMatchObject({ facts: { longestLine: comment.length } });
      const unended = new MysqlSqlFacts();
      feed(unended, `/*!40101 SET NAMES utf8mb4 */;\n${comment}x`, size);
      expect(unended.result()).toMatchObject({ facts: { longestLine: comment.length + 1 } });
    }
  });

  it('an INSERT with a column list or a dump cut inside an INSERT gives no facts, with the reason', () => {
    const cols = new MysqlSqlFacts();
    feed(cols, 'INSERT INTO `t` (`a`) VALUES (1);\n', 5);
    expect(cols.result()).toEqual({ unavailable: 'an INSERT into table `t` is not of the form INSERT INTO … VALUES (…)' });
    const cut = new MysqlSqlFacts();
    feed(cut, "INSERT INTO `t` VALUES (1,'x", 3);
    expect(cut.result()).toEqual({ unavailable: 'the dump ended inside an INSERT statement' });
  });
});

describe('PostgreSQL archive facts', () => {
  it('refuses a stream that is not a custom archive, a compressed one and a truncated one', () => {
    const text = new PgCustomArchiveFacts();
    feed(text, '-- PostgreSQL database dump\n', 4);
    expect(text.result()).toEqual({ unavailable: 'the dump is not a PostgreSQL custom-format archive' });

    const header = (compression: number) => Buffer.concat([Buffer.from('PGDMP', 'latin1'), Buffer.from([1, 14, 0, 4, 8, 1]), Buffer.from([0, compression, 0, 0, 0])]);
    const compressed = new PgCustomArchiveFacts();
    feed(compressed, header(6), 3);
    expect(compressed.result()).toEqual({ unavailable: 'the archive is compressed, so its rows are not counted (Backstop dumps with -Z0)' });

    const truncated = new PgCustomArchiveFacts();
    feed(truncated, header(0), 3);
    expect(truncated.result()).toEqual({ unavailable: 'the archive ended in the middle of an entry' });

    const newer = new PgCustomArchiveFacts();
    feed(newer, Buffer.concat([Buffer.from('PGDMP', 'latin1'), Buffer.from([1, 17, 0, 4, 8, 1])]), 100);
    expect(newer.result()).toEqual({ unavailable: 'archive version 1.17 is not one Backstop counts rows in (1.12 to 1.16)' });
  });
});

/** A minimal uncompressed custom archive (version 1.14, 4-byte ints): TOC entries, then data blocks of one chunk per row, as pg_dump -Z0 writes. */
function archive(tables: { id: number; schema: string; name: string; rows: string[] }[], opts: { blob?: boolean; badEnd?: boolean } = {}): Buffer {
  const int = (v: number) => {
    const b = Buffer.alloc(5);
    b[0] = v < 0 ? 1 : 0;
    b.writeUInt32LE(Math.abs(v), 1);
    return b;
  };
  const str = (s: string | null) => (s === null ? int(-1) : Buffer.concat([int(Buffer.byteLength(s)), Buffer.from(s, 'utf8')]));
  const parts: Buffer[] = [Buffer.from('PGDMP', 'latin1'), Buffer.from([1, 14, 0, 4, 8, 1]), int(0)];
  for (let k = 0; k < 7; k++) parts.push(int(k));
  parts.push(str('db'), str('16.1'), str('16.1'), int(tables.length + 1));
  const entry = (dumpId: number, tag: string, desc: string, ns: string | null, hadDumper: number) =>
    parts.push(int(dumpId), int(hadDumper), str('0'), str('0'), str(tag), str(desc), int(3), str(''), str(''), str(''), str(ns), str(''), str('heap'), str('postgres'), str('false'), str('1'), str(null), Buffer.from([1]), Buffer.alloc(8));
  entry(999, 'public', 'SCHEMA', null, 0);
  for (const t of tables) entry(t.id, t.name, 'TABLE DATA', t.schema, 1);
  for (const t of tables) {
    parts.push(Buffer.from([1]), int(t.id));
    for (const r of t.rows) parts.push(int(Buffer.byteLength(r) + 1), Buffer.from(`${r}\n`, 'utf8'));
    const end = opts.badEnd ? 'oops\n' : '\\.\n\n\n';
    parts.push(int(end.length), Buffer.from(end, 'latin1'), int(0));
  }
  if (opts.blob) parts.push(Buffer.from([3]), int(500), int(16385), int(3), Buffer.from('a\nb'), int(0), int(0));
  return Buffer.concat(parts);
}

describe('PostgreSQL archive facts: row counts', () => {
  const tables = [
    { id: 10, schema: 'public', name: 'accounts', rows: Array.from({ length: 40 }, (_, i) => `${i}\tname ${'x'.repeat(i % 7)}\t\\N`) },
    { id: 11, schema: 'we"ird', name: 'ünï', rows: ['1', '2', 'a\\nb'] },
    { id: 12, schema: 'public', name: 'empty', rows: [] },
  ];
  it('counts every row whatever the buffer boundaries, row chunks shorter than the terminator and large objects included', () => {
    const bytes = archive(tables, { blob: true });
    for (const size of [1, 2, 3, 4, 5, 6, 7, 11, 64, 1000, bytes.length]) {
      const c = new PgCustomArchiveFacts();
      feed(c, bytes, size);
      expect(c.result(), `buffers of ${size}`).toEqual({
        facts: { method: 'pg-custom-stream', tables: { '"public"."accounts"': 40, '"we""ird"."ünï"': 3, '"public"."empty"': 0 }, largeObjects: 1 },
      });
    }
    const none = new PgCustomArchiveFacts();
    feed(none, archive(tables), 7);
    expect(none.result()).toMatchObject({ facts: { largeObjects: 0 } });
  });

  it('table data that does not end in the COPY terminator gives no facts, with the table named', () => {
    for (const size of [1, 5, 100_000]) {
      const c = new PgCustomArchiveFacts();
      feed(c, archive(tables.slice(0, 1), { badEnd: true }), size);
      expect(c.result()).toEqual({ unavailable: 'the data of table "public"."accounts" is not COPY text ending in "\\."' });
    }
  });
});

describe('facts in a manifest', () => {
  it('round-trip through meta; a point without facts or with malformed ones says why', () => {
    const facts = { method: 'x', tables: { a: 1, b: 0 } };
    expect(factsMeta({ facts })).toEqual({ facts }); // small: a plain object every Backstop reads
    expect(factsOf(factsMeta({ facts }))).toEqual({ facts });
    expect(factsOf({})).toEqual({ unavailable: 'the restore point was made before Backstop recorded facts at backup time' });
    expect(factsOf({ facts: { method: 'x', tables: { a: -1 } } })).toEqual({ unavailable: 'the recorded facts are malformed' });
    expect(factsOf({ facts: { method: 'x', tablesZstd: 'bm90IHpzdGQ=' } })).toEqual({ unavailable: 'the recorded facts are malformed' });
    const withLo = { method: 'pg-custom-stream', tables: { a: 1 }, largeObjects: 7 };
    expect(factsOf(factsMeta({ facts: withLo }))).toEqual({ facts: withLo });
    expect(factsOf({ facts: { ...withLo, largeObjects: 1.5 } })).toEqual({ unavailable: 'the recorded facts are malformed' });
    const withLongest = { method: 'mysql-sql-stream', tables: { a: 1 }, longestLine: 40 * 1024 * 1024 };
    expect(factsOf(factsMeta({ facts: withLongest }))).toEqual({ facts: withLongest });
    expect(factsOf({ facts: { ...withLongest, longestLine: '40M' } })).toEqual({ unavailable: 'the recorded facts are malformed' });
    expect(factsOf({ facts: { method: 'x', tablesZstd: factsMetaTables({ a: 1, b: -2 }) } })).toEqual({ unavailable: 'the recorded facts are malformed' });
  });

  it("a database of thousands of tables keeps its row counts, compressed, within the manifest's meta bound", () => {
    const many = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`"tenant_${i % 400}"."table_${i}"`, (i * 7919) % 1_000_003]));
    const meta = factsMeta({ facts: { method: 'pg-custom-stream', tables: many } });
    const entry = meta.facts as Record<string, unknown>;
    expect(entry.tables).toBeUndefined();
    expect(typeof entry.tablesZstd).toBe('string');
    expect(Buffer.byteLength(JSON.stringify(meta))).toBeLessThan(Buffer.byteLength(JSON.stringify(many)) / 4);
    expect(Buffer.byteLength(JSON.stringify(meta))).toBeLessThanOrEqual(MAX_META_BYTES);
    expect(factsOf(JSON.parse(JSON.stringify(meta)) as Record<string, unknown>)).toEqual({ facts: { method: 'pg-custom-stream', tables: many } });
  });

  it('row counts beyond the bound even compressed are left out with the reason', () => {
    // Random names do not compress: ~2.5 MB of base64 for 60,000 tables, over MAX_FACTS_BYTES.
    const huge = Object.fromEntries(Array.from({ length: 60_000 }, () => [randomBytes(24).toString('hex'), 1]));
    expect(factsOf(factsMeta({ facts: { method: 'x', tables: huge } }))).toMatchObject({
      unavailable: expect.stringMatching(/^the row counts of 60000 tables \(\d+ bytes compressed\) are too large to record$/),
    });
  });
});

/** `tables` encoded as factsMeta encodes large facts (base64 of zstd of the JSON). */
function factsMetaTables(tables: Record<string, number>): string {
  return new Compressor().compress(Buffer.from(JSON.stringify(tables))).toString('base64');
}
