/**
 * pgRestrictKeyVolatile: the `\restrict` key of a pg_dumpall script is the only byte range it
 * names, and anything it cannot vouch for is null (counts as changed). Real pg_dumpall output
 * is checked in tests/integration/tasks/unchanged-incremental.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { pgRestrictKeyVolatile } from '../../../electron/engine/servers/postgres/restrict-key.ts';

const KEY = 'aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bD1fH3kM5nP7rS9uV1xY3zA5cE7gI9kL1oQ3w';
const script = (key: string, body = 'CREATE ROLE app;\nALTER ROLE app WITH NOLOGIN;\n', closing = `\\unrestrict ${key}\n`) =>
  Buffer.from(`--\n-- PostgreSQL database cluster dump\n--\n\n\\restrict ${key}\n\nSET default_transaction_read_only = off;\n\n${body}\n${closing}\n--\n-- PostgreSQL database cluster dump complete\n--\n\n`, 'latin1');

const masked = (b: Buffer) => {
  const ranges = pgRestrictKeyVolatile(b);
  if (!ranges) return null;
  const c = Buffer.from(b);
  for (const [s, e] of ranges) c.fill(0, s, e);
  return c;
};

describe('pgRestrictKeyVolatile', () => {
  it('names exactly the key of the \\restrict and \\unrestrict lines', () => {
    const b = script(KEY);
    const ranges = pgRestrictKeyVolatile(b)!;
    expect(ranges).toHaveLength(2);
    for (const [s, e] of ranges) expect(b.toString('latin1', s, e)).toBe(KEY);
    expect(b.toString('latin1', ranges[0]![0] - '\\restrict '.length, ranges[0]![0])).toBe('\\restrict ');
    expect(b.toString('latin1', ranges[1]![0] - '\\unrestrict '.length, ranges[1]![0])).toBe('\\unrestrict ');
  });

  it('two scripts with other keys but the same content mask to the same bytes; a content change does not', () => {
    const other = 'Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp9Oo8Nn7Mm6Ll5Kk4Jj3Ii2Hh1Gg0Ff9E';
    expect(masked(script(KEY))!.equals(masked(script(other))!)).toBe(true);
    expect(masked(script(KEY))!.equals(masked(script(other, 'CREATE ROLE apq;\nALTER ROLE apq WITH NOLOGIN;\n'))!)).toBe(false);
  });

  it('a script without \\restrict (an older pg_dumpall) has no volatile bytes', () => {
    expect(pgRestrictKeyVolatile(Buffer.from('--\n-- PostgreSQL database cluster dump\n--\n\nSET default_transaction_read_only = off;\n'))).toEqual([]);
  });

  it('is null when it cannot vouch for the key: no closing line in the chunk, another key there, a key of odd characters, no line end', () => {
    expect(pgRestrictKeyVolatile(script(KEY, 'CREATE ROLE app;\n', ''))).toBeNull();
    expect(pgRestrictKeyVolatile(script(KEY, 'CREATE ROLE app;\n', '\\unrestrict somethingElse\n'))).toBeNull();
    expect(pgRestrictKeyVolatile(script('bad key;'))).toBeNull();
    expect(pgRestrictKeyVolatile(Buffer.from('--\n-- PostgreSQL database cluster dump'))).toBeNull();
  });

  it('trusts only the first statement line: a \\restrict inside the content is not the key', () => {
    const body = Buffer.from(`--\n-- dump\n--\n\nSET x = 1;\n\\restrict ${KEY}\n\\unrestrict ${KEY}\n`);
    expect(pgRestrictKeyVolatile(body)).toEqual([]);
  });
});
