/**
 * The fact counters (issue #22) on their own: the MariaDB SQL counter counts tuples, not
 * parentheses or semicolons inside strings, whatever the buffer boundaries; anything it
 * does not understand makes the facts unavailable with a reason, never a wrong count; the
 * PostgreSQL archive counter refuses what is not an uncompressed custom archive; facts
 * too large for a manifest are left out with the reason.
 */
import { describe, expect, it } from 'vitest';
import { factsMeta, factsOf, MysqlSqlFacts, PgCustomArchiveFacts } from '../../../electron/engine/facts/index.ts';

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
      expect(c.result()).toEqual({ facts: { method: 'mysql-sql-stream', tables: { 'it`em': 5, empty: 0, 'ünï': 2 } } });
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

describe('facts in a manifest', () => {
  it('round-trip through meta; too many tables are left out with the reason; a point without facts says why', () => {
    const facts = { method: 'x', tables: { a: 1, b: 0 } };
    expect(factsOf(factsMeta({ facts }))).toEqual({ facts });
    const many = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`"public"."table_${i}"`, i]));
    const big = factsOf(factsMeta({ facts: { method: 'x', tables: many } }));
    expect(big).toMatchObject({ unavailable: expect.stringMatching(/^the row counts of 5000 tables \(\d+ bytes\) are too large to record$/) });
    expect(factsOf({})).toEqual({ unavailable: 'the restore point was made before Backstop recorded facts at backup time' });
    expect(factsOf({ facts: { method: 'x', tables: { a: -1 } } })).toEqual({ unavailable: 'the recorded facts are malformed' });
  });
});
