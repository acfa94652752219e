/**
 * The source database's name taken out of a dump's view statements (view-bodies.ts), and the
 * DumpRewriter doing it on a dump cut into chunks of every size: only names the source
 * database qualifies, never string literals, column aliases, other databases, routine bodies
 * or data rows; a table or alias named like the database keeps two-part names as they were.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, test } from 'vitest';
import { DumpRewriter } from '../../../electron/engine/servers/mysql/database-options.ts';
import { unqualifyView } from '../../../electron/engine/servers/mysql/view-bodies.ts';

const u = (line: string, source = 'shop'): string | null => unqualifyView(Buffer.from(line, 'utf8'), source)?.toString('utf8') ?? null;

describe('unqualifyView', () => {
  test('a view whose definer was dropped: three-part names lose the source database; literals and aliases stay', () => {
    expect(u("/*!50001 VIEW `v` AS select `shop`.`items`.`id` AS `id`,'shop.items.name' AS `lit`,`shop`.`items`.`name` AS `shop`,_binary'`shop`.`x`' AS `b` from `items` */;\n")).toBe(
      "/*!50001 VIEW `v` AS select `items`.`id` AS `id`,'shop.items.name' AS `lit`,`items`.`name` AS `shop`,_binary'`shop`.`x`' AS `b` from `items` */;\n",
    );
  });

  test('a view reading another database: the source database goes, the other stays', () => {
    expect(u('/*!50001 VIEW `v` AS select `i`.`id` AS `id`,`o`.`x` AS `x`,`shop`.`f`(1) AS `f` from (`shop`.`items` `i` join `other`.`t` `o`) */;\n')).toBe(
      '/*!50001 VIEW `v` AS select `i`.`id` AS `id`,`o`.`x` AS `x`,`f`(1) AS `f` from (`items` `i` join `other`.`t` `o`) */;\n',
    );
  });

  test('a table or table alias named like the database: two-part names are left alone, three-part ones still go', () => {
    expect(u('/*!50001 VIEW `v` AS select `shop`.`id` AS `id` from `items` `shop` */;\n')).toBeNull();
    expect(u('/*!50001 VIEW `shop` AS select `i`.`id` AS `id` from (`shop`.`items` `i` join `other`.`t`) */;\n')).toBe('/*!50001 VIEW `shop` AS select `i`.`id` AS `id` from (`items` `i` join `other`.`t`) */;\n');
    expect(u('/*!50001 VIEW `v` AS select `shop`.`id` AS `id` from `shop` */;\n')).toBeNull();
    expect(u('/*!50001 VIEW `v` AS select `shop`.`shop`.`id` AS `id` from `shop`.`shop` join `other`.`shop` */;\n')).toBe('/*!50001 VIEW `v` AS select `shop`.`id` AS `id` from `shop`.`shop` join `other`.`shop` */;\n');
  });

  test('names with backquotes, dots and non-ASCII letters; escapes inside strings; other databases that merely look alike', () => {
    const src = 'we`ird.db ✓';
    expect(u("/*!50001 VIEW `v` AS select `we``ird.db ✓`.`t``1`.`c` AS `c`,'it\\'s `we``ird.db ✓`.`t`' AS `s`,\"x\"\"`we``ird.db ✓`.\" AS `d` from (`we``ird.db ✓`.`t``1` join `we``ird.db ✓x`.`t`) */;\n", src)).toBe(
      "/*!50001 VIEW `v` AS select `t``1`.`c` AS `c`,'it\\'s `we``ird.db ✓`.`t`' AS `s`,\"x\"\"`we``ird.db ✓`.\" AS `d` from (`t``1` join `we``ird.db ✓x`.`t`) */;\n",
    );
    expect(u('/*!50001 VIEW `v` AS select `SHOP`.`t`.`c` AS `c` from `t` */;\n')).toBeNull();
  });

  test('only view statements', () => {
    expect(u('INSERT INTO `t` VALUES (`shop`.`t`.`c`);\n')).toBeNull();
    expect(u('/*!50001 CREATE VIEW `v` AS SELECT\n')).toBeNull();
  });
});

async function rewrite(input: Buffer, size: number, source: string | null): Promise<string> {
  const parts: Buffer[] = [];
  for (let i = 0; i < input.length; i += size) parts.push(input.subarray(i, i + size));
  const out: Buffer[] = [];
  await pipeline(Readable.from(parts), new DumpRewriter(source), new Writable({ write: (c: Buffer, _e, cb) => (out.push(c), cb()) }));
  return Buffer.concat(out).toString('utf8');
}

describe('DumpRewriter with the source name', () => {
  const view = '/*!50001 VIEW `v` AS select `shop`.`items`.`id` AS `id`,`shop`.`items`.`name` AS `shop` from `items` */;';
  const rewritten = '/*!50001 VIEW `v` AS select `items`.`id` AS `id`,`items`.`name` AS `shop` from `items` */;';
  const big = (qualifier: string) => `/*!50001 VIEW \`big\` AS select ${"'x',".repeat(30_000)}${qualifier}\`items\`.\`id\` AS \`id\` from \`items\` */;`;
  const lines = (v: string, b: string) =>
    [
      '/*!40101 SET NAMES utf8mb4 */;',
      "INSERT INTO `t` VALUES (1,'/*!50001 VIEW `v` AS select `shop`.`items`.`id`'),(2,'x');",
      '/*!50001 CREATE ALGORITHM=UNDEFINED */',
      '/*!50013 DEFINER=`gone`@`localhost` SQL SECURITY DEFINER */',
      v,
      '/*!50001 VIEW',
      'DELIMITER ;;',
      view,
      'DELIMITER ;',
      b,
      '/',
      '',
    ].join('\n');
  const BODY = lines(view, big('`shop`.'));
  const EXPECTED = lines(rewritten, big(''));

  test('view statements rewritten outside DELIMITER blocks only, everything else byte for byte, at every chunk size', async () => {
    const input = Buffer.from(BODY);
    for (const size of [1, 2, 3, 7, 16, 64, 4096, 65_536, input.length]) expect(await rewrite(input, size, 'shop'), `chunk size ${size}`).toBe(EXPECTED);
  });

  test('without a source name, views pass unchanged', async () => {
    expect(await rewrite(Buffer.from(BODY), 5, null)).toBe(BODY);
  });

  test('a view statement longer than 16 MiB passes unchanged', async () => {
    const long = `/*!50001 VIEW \`v\` AS select \`shop\`.\`t\`.\`c\` AS \`c\`,'${'y'.repeat(17 * 1024 * 1024)}' AS \`z\` from \`t\` */;\n`;
    const input = Buffer.from(long);
    expect(await rewrite(input, 1024 * 1024, 'shop')).toBe(long);
  });
});
