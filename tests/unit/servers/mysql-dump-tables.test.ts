/** DumpTables reads each table's engine and primary key and the longest line from a dump cut anywhere, passing it through unchanged; engineNote and forcePrimaryKeyError word what a differing target did. */
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, test } from 'vitest';
import { BackstopError } from '../../../electron/shared/result.ts';
import { DumpTables, engineNote, forcePrimaryKeyError } from '../../../electron/engine/servers/mysql/dump-tables.ts';

const DUMP = [
  '/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE=\'NO_AUTO_VALUE_ON_ZERO\' */;',
  'DROP TABLE IF EXISTS `keyed`;',
  'CREATE TABLE `keyed` (',
  '  `id` int(11) NOT NULL,',
  '  PRIMARY KEY (`id`)',
  ') ENGINE=InnoDB DEFAULT CHARSET=latin1;',
  `INSERT INTO \`keyed\` VALUES (1),${'(2),'.repeat(5000)}(3);`,
  'CREATE TABLE `odd ``name`` ✓` (',
  '  `v` text DEFAULT \'  PRIMARY KEY (\'',
  ') ENGINE=ARCHIVE DEFAULT CHARSET=utf8mb4;',
  '/*!50001 CREATE TABLE `v` (',
  '  `x` tinyint NOT NULL',
  ') ENGINE=MyISAM */;',
  '',
].join('\n');

async function read(chunkSize: number) {
  const bytes = Buffer.from(DUMP, 'utf8');
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) chunks.push(bytes.subarray(i, i + chunkSize));
  const t = new DumpTables();
  const out = await buffer(Readable.from(chunks).pipe(t));
  return { out, tables: t.tables, longest: t.longest };
}

describe('DumpTables', () => {
  test.each([1, 7, 64, 100_000])('chunks of %i bytes: the same tables, the dump unchanged', async (size) => {
    const { out, tables, longest } = await read(size);
    expect(out.toString('utf8')).toBe(DUMP);
    expect(longest).toBe(Buffer.byteLength(DUMP.split('\n')[6]!));
    expect(tables).toEqual([
      { name: 'keyed', engine: 'InnoDB', primaryKey: true },
      { name: 'odd `name` ✓', engine: 'ARCHIVE', primaryKey: false },
    ]);
  });

  test('the longest line counts bytes (not characters), a last line without \\n, and the line still being read', async () => {
    const text = `short\n${'x'.repeat(5000)}\nmid ${'✓'.repeat(100)}\n${'z'.repeat(7000)}`;
    const cut = Array.from({ length: Math.ceil(text.length / 333) }, (_, i) => Buffer.from(text.slice(i * 333, i * 333 + 333)));
    const t = new DumpTables();
    expect((await buffer(Readable.from(cut).pipe(t))).toString()).toBe(text);
    expect(t.longest).toBe(7000);
    const multibyte = new DumpTables();
    await buffer(Readable.from([Buffer.from(`a\n${'✓'.repeat(2000)}\nb`)]).pipe(multibyte));
    expect(multibyte.longest).toBe(6000);
    const reading = new DumpTables();
    reading.write(Buffer.from(`a\n${'y'.repeat(9000)}`));
    expect(reading.longest).toBe(9000);
  });
});

describe('engineNote / forcePrimaryKeyError', () => {
  const tables = [
    { name: 'keyed', engine: 'InnoDB', primaryKey: true },
    { name: 'a', engine: 'ARCHIVE', primaryKey: false },
    { name: 'b', engine: 'SPHINX', primaryKey: false },
  ];
  test('no note when every engine was kept; otherwise each changed table, the INSTALL SONAME and ALTER TABLE', () => {
    expect(engineNote('d', tables, new Map([['keyed', 'InnoDB'], ['a', 'ARCHIVE'], ['b', 'SPHINX']]))).toBeNull();
    expect(engineNote('d', tables, new Map([['keyed', 'InnoDB'], ['a', 'InnoDB'], ['b', 'InnoDB']]))).toBe(
      "Tables of \"d\" use storage engines this server does not have, so it made them InnoDB tables (their rows are all there): `a` (ARCHIVE), `b` (SPHINX). To keep the original engine, load it on this server (INSTALL SONAME 'ha_archive'; INSTALL SONAME 'ha_sphinx';) and convert the tables back (ALTER TABLE `a` ENGINE=ARCHIVE; and likewise for the others).",
    );
  });
  test('only error 1173 becomes the innodb_force_primary_key error', () => {
    const other = new BackstopError('RESTORE_FAILED', 'ERROR 1062 (23000) at line 3: Duplicate entry');
    expect(forcePrimaryKeyError('S', 'd', tables, other)).toBeNull();
    const e = forcePrimaryKeyError('S', 'd', tables, new BackstopError('RESTORE_FAILED', 'ERROR 1173 (42000) at line 26: This table type requires a primary key'));
    expect(e?.code).toBe('RESTORE_FAILED');
    expect(e?.message).toContain('it has innodb_force_primary_key=ON, and the backup has tables without a primary key (`a`, `b`)');
    expect(e?.message).toContain('SET GLOBAL innodb_force_primary_key = OFF;');
  });
});
