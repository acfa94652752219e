/**
 * The MySQL dump header and restore-side rewrite (database-options.ts) on dump text cut
 * into chunks of every size: the header is read and stripped, named per-routine ALTER
 * DATABASE lines become nameless outside DELIMITER blocks only, sequence defaults lose the
 * source's name and their tables' rows load without LOCK TABLES, everything else passes
 * byte for byte.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, test } from 'vitest';
import { databaseOptionClauses, dumpHeader, DumpRewriter, type MysqlDatabaseOptions } from '../../../electron/engine/servers/mysql/database-options.ts';

const OPTIONS: MysqlDatabaseOptions = { charset: 'utf8mb4', collation: 'utf8mb4_unicode_ci', comment: "it's a \\ shop ✓" };

const BODY = [
  '/*!40101 SET NAMES utf8mb4 */;',
  "INSERT INTO `t` VALUES (1,'ALTER DATABASE `x` CHARACTER SET a COLLATE b ;'),(2,'x');",
  'ALTER DATABASE `shop` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci ;',
  'DELIMITER ;;',
  'ALTER DATABASE `shop` CHARACTER SET latin1 COLLATE latin1_bin ;',
  ';;',
  'DELIMITER ;',
  'ALTER DATABASE `we``ird` CHARACTER SET latin1 COLLATE latin1_swedish_ci ;',
  'ALTER DATABASE `shop` UPGRADE DATA DIRECTORY NAME;',
  'DELIMITER',
  'ALTER',
  '',
].join('\n');

const EXPECTED = BODY.replace(
  'ALTER DATABASE `shop` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci ;',
  'ALTER DATABASE CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci ;',
).replace('ALTER DATABASE `we``ird` CHARACTER SET latin1 COLLATE latin1_swedish_ci ;', 'ALTER DATABASE CHARACTER SET latin1 COLLATE latin1_swedish_ci ;');

async function rewrite(input: Buffer, size: number, source: string | null = null): Promise<{ out: string; header: MysqlDatabaseOptions | null }> {
  const parts: Buffer[] = [];
  for (let i = 0; i < input.length; i += size) parts.push(input.subarray(i, i + size));
  const rewriter = new DumpRewriter(source);
  const out: Buffer[] = [];
  await pipeline(Readable.from(parts), rewriter, new Writable({ write: (c: Buffer, _e, cb) => (out.push(c), cb()) }));
  return { out: Buffer.concat(out).toString('utf8'), header: await rewriter.header };
}

describe('DumpRewriter', () => {
  test('with the header: options read, header stripped, named ALTERs aimed at the current database, at every chunk size', async () => {
    const input = Buffer.concat([dumpHeader(OPTIONS), Buffer.from(BODY)]);
    for (const size of [1, 2, 3, 5, 7, 16, 17, 64, 1000, input.length]) {
      const r = await rewrite(input, size);
      expect(r.header, `chunk size ${size}`).toEqual(OPTIONS);
      expect(r.out, `chunk size ${size}`).toBe(EXPECTED);
    }
  });

  test('without the header (older backups): no options, the same rewrite', async () => {
    for (const size of [1, 4, 19, BODY.length]) {
      const r = await rewrite(Buffer.from(BODY), size);
      expect(r.header).toBeNull();
      expect(r.out).toBe(EXPECTED);
    }
  });

  test('an empty stream and a one-line stream without newline pass unchanged', async () => {
    expect(await rewrite(Buffer.alloc(0), 1)).toEqual({ out: '', header: null });
    expect(await rewrite(Buffer.from('SELECT 1;'), 3)).toEqual({ out: 'SELECT 1;', header: null });
  });

  test('a damaged marker fails the stream and the header', async () => {
    const input = Buffer.from(`-- backstop-database-options {"charset":\n${BODY}`);
    await expect(rewrite(input, 8)).rejects.toThrow(/database-options line is damaged/);
  });

  test('CREATE DATABASE clauses refuse names that are not plain identifiers; comments are quoted', () => {
    expect(databaseOptionClauses(OPTIONS)).toBe("/*!40100 CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci */ /*M!100500 COMMENT 'it''s a \\\\ shop ✓' */");
    expect(() => databaseOptionClauses({ ...OPTIONS, collation: 'x; DROP DATABASE y' })).toThrow(/invalid character set or collation/);
    const header = dumpHeader(OPTIONS);
    expect(header.byteOffset).toBe(0);
    expect(header.buffer.byteLength).toBe(header.length);
  });

  test("a sequence default: the source's name taken out, its table's LOCK/UNLOCK TABLES dropped; other tables, other databases' sequences and routine bodies untouched", async () => {
    const dump = [
      'CREATE SEQUENCE `s` start with 1 minvalue 1 maxvalue 9223372036854775806 increment by 1 cache 1000 nocycle ENGINE=InnoDB;',
      'CREATE TABLE `orders` (',
      '  `id` bigint(20) NOT NULL DEFAULT nextval(`we``ird`.`s`),',
      "  `n` bigint(20) DEFAULT nextval(`other`.`s`) COMMENT 'DEFAULT nextval(`we``ird`.',",
      '  PRIMARY KEY (`id`)',
      ') ENGINE=InnoDB;',
      'LOCK TABLES `orders` WRITE;',
      'INSERT INTO `orders` VALUES',
      '(1,1);',
      'UNLOCK TABLES;',
      'CREATE TABLE `plain` (',
      '  `id` int(11) NOT NULL,',
      '  `note` varchar(40) DEFAULT \'DEFAULT nextval(`we``ird`.`s`)\',',
      ') ENGINE=MyISAM;',
      'LOCK TABLES `plain` WRITE;',
      'UNLOCK TABLES;',
      'DELIMITER ;;',
      '  `x` DEFAULT nextval(`we``ird`.`s`),',
      'LOCK TABLES `t` WRITE;',
      'DELIMITER ;',
      '',
    ].join('\n');
    const expected = dump
      .replace('  `id` bigint(20) NOT NULL DEFAULT nextval(`we``ird`.`s`),', '  `id` bigint(20) NOT NULL DEFAULT nextval(`s`),')
      .replace('LOCK TABLES `orders` WRITE;\n', '')
      .replace('(1,1);\nUNLOCK TABLES;\n', '(1,1);\n');
    for (const size of [1, 2, 5, 13, 64, dump.length]) {
      expect((await rewrite(Buffer.from(dump), size, 'we`ird')).out, `chunk size ${size}`).toBe(expected);
    }
    // Without the source's name: the locks still go, the default stays as written.
    expect((await rewrite(Buffer.from(dump), 7)).out).toBe(dump.replace('LOCK TABLES `orders` WRITE;\n', '').replace('(1,1);\nUNLOCK TABLES;\n', '(1,1);\n'));
  });
});
