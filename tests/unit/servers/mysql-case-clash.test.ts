/**
 * CaseClashGuard (a restore onto lower_case_table_names ≠ 0): passes a dump through byte for
 * byte, and fails it at the first table whose name differs from an earlier one only in
 * case, before passing on the chunk that holds it, wherever the chunks are cut.
 */
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { CaseClashGuard } from '../../../electron/engine/servers/mysql/case-clash.ts';
import { BackstopError } from '../../../electron/shared/result.ts';

const table = (name: string) => `DROP TABLE IF EXISTS \`${name}\`;\n/*!40101 SET character_set_client = utf8 */;\nCREATE TABLE \`${name}\` (\n  \`id\` int(11) NOT NULL\n);\nINSERT INTO \`${name}\` VALUES (1);\n`;

async function through(dump: string, cut: number): Promise<{ out: string; error: unknown }> {
  const bytes = Buffer.from(dump, 'utf8');
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += cut) chunks.push(bytes.subarray(i, i + cut));
  const guard = new CaseClashGuard((a, b) => new BackstopError('RESTORE_FAILED', `${a}|${b}`));
  const passed: Buffer[] = [];
  guard.on('data', (b: Buffer) => passed.push(b));
  const error = await buffer(Readable.from(chunks).pipe(guard)).then(
    () => null,
    (e: unknown) => e,
  );
  return { out: Buffer.concat(passed).toString('utf8'), error };
}

describe('CaseClashGuard', () => {
  it('passes distinct names (also `` inside one) through unchanged, in any chunking', async () => {
    const dump = `-- MariaDB dump\n${table('CamelCase')}${table('other')}${table('we``ird')}${table('CamelCase')}`;
    for (const cut of [1, 2, 7, 64, 100_000]) expect(await through(dump, cut)).toEqual({ out: dump, error: null });
  });

  it('fails at the second name of a pair that differs only in case, before its DROP is passed on', async () => {
    const head = `-- MariaDB dump\n${table('Orders')}`;
    for (const cut of [1, 3, 16, 100_000]) {
      const { out, error } = await through(`${head}${table('orders')}`, cut);
      expect(error).toMatchObject({ code: 'RESTORE_FAILED', message: 'Orders|orders' });
      expect(out).not.toContain('DROP TABLE IF EXISTS `orders`');
      expect(head.startsWith(out)).toBe(true);
    }
  });
});
