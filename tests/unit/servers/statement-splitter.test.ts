/**
 * The incremental SQL statement splitter (sqlite3_complete semantics), fed in every
 * possible chunking, and its truncation detection.
 */
import { describe, expect, test } from 'vitest';
import { LARGE_LITERAL, StatementSplitter, type SqlStatement } from '../../../electron/engine/servers/sqlite/statement-splitter.ts';

const SCRIPT = [
  "CREATE TABLE t (a TEXT, \"b;c\" TEXT, [d;e] INT, `f;g` INT);",
  "\nINSERT INTO t VALUES ('it''s; fine', 'x', 1, 2);",
  '\n-- a comment; with a semicolon\nINSERT INTO t VALUES (/* inline; comment */ \'y\', NULL, 3, 4);',
  "\nCREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  INSERT INTO t VALUES ('a', 'b', 1, 1);\n  UPDATE t SET a = 'END;' WHERE 0;\nEND;",
  '\nCREATE TEMP TRIGGER tr2 BEFORE DELETE ON t BEGIN SELECT 1; SELECT 2; END;',
  "\nCREATE TABLE \"end\" (x);",
  "\nEXPLAIN SELECT 1;",
  "\nSELECT 'multi\nline\nstring;';",
];

function splitAll(text: string, chunk: number): SqlStatement[] {
  const s = new StatementSplitter();
  const out: SqlStatement[] = [];
  for (let i = 0; i < text.length; i += chunk) out.push(...s.push(text.slice(i, i + chunk)));
  s.end();
  return out;
}

describe('StatementSplitter', () => {
  test('splits exactly at statement ends, whatever the chunk size', () => {
    const text = SCRIPT.join('') + '\n-- trailing comment';
    for (const chunk of [1, 2, 3, 5, 7, 16, 64, text.length]) {
      expect(splitAll(text, chunk), `chunk ${chunk}`).toEqual(SCRIPT);
    }
  });

  test('a dump cut inside a statement, string or comment is detected', () => {
    for (const cut of ["INSERT INTO t VALUES ('unfinished", 'INSERT INTO t VALUES (1)', '/* open comment', 'CREATE TRIGGER x AFTER INSERT ON t BEGIN SELECT 1;']) {
      const s = new StatementSplitter();
      s.push(cut);
      expect(() => s.end(), cut).toThrow(expect.objectContaining({ code: 'RESTORE_FAILED', message: expect.stringMatching(/truncated/) }));
    }
  });

  test('a 32 MB BLOB literal (a large attachment in a logical dump) arriving in 64 KiB pieces splits in linear time, decoded once into a bound parameter', () => {
    // Each push used to re-concatenate and re-flatten the whole unfinished statement: quadratic, ~40 s here.
    const hex = 'ab'.repeat(16 * 1024 * 1024) + '0f';
    const text = `INSERT INTO a VALUES(1,X'${hex}');\nINSERT INTO a VALUES(2,'tail;');\n`;
    const s = new StatementSplitter();
    const out: SqlStatement[] = [];
    const started = Date.now();
    for (let i = 0; i < text.length; i += 65535) out.push(...s.push(text.slice(i, i + 65535)));
    s.end();
    const ms = Date.now() - started;
    expect(out).toHaveLength(2);
    const bound = out[0] as { sql: string; blobs: Buffer[] };
    expect(bound.sql).toBe('INSERT INTO a VALUES(1,?);');
    expect(bound.blobs).toHaveLength(1);
    expect(bound.blobs[0]!.length).toBe(16 * 1024 * 1024 + 1);
    expect(bound.blobs[0]!.equals(Buffer.from(hex, 'hex'))).toBe(true);
    expect(out[1]).toBe("\nINSERT INTO a VALUES(2,'tail;');");
    expect(ms).toBeLessThan(8000); // linear: well under a second; quadratic: tens of seconds
  }, 60_000);

  test('BLOB literals: large ones of an INSERT become parameters in order, whatever the chunking; short ones, and any outside an INSERT, stay text', () => {
    const big1 = Buffer.alloc(LARGE_LITERAL, 1);
    const big2 = Buffer.alloc(LARGE_LITERAL + 3, 0xfe);
    const text = [
      `INSERT INTO "t"("a","b","c") VALUES(x'${big1.toString('hex')}',X'00ff',CAST(X'${big2.toString('hex').toUpperCase()}' AS TEXT));`,
      "\nINSERT INTO t VALUES(X'', x 'ab', 'X''y''');",
      `\nSELECT X'${big1.toString('hex')}';`,
      "\nUPDATE t SET x=X'00';",
    ].join('');
    for (const chunk of [3, 64, 4097, text.length]) {
      // (blobs compared as base64: a deep compare of Buffers costs seconds)
      const out = splitAll(text, chunk).map((x) => (typeof x === 'string' ? x : { sql: x.sql, blobs: x.blobs.map((b) => b.toString('base64')) }));
      expect(out, `chunk ${chunk}`).toEqual([
        { sql: `INSERT INTO "t"("a","b","c") VALUES(?,X'00ff',CAST(? AS TEXT));`, blobs: [big1.toString('base64'), big2.toString('base64')] },
        "\nINSERT INTO t VALUES(X'', x 'ab', 'X''y''');",
        `\nSELECT X'${big1.toString('hex')}';`,
        "\nUPDATE t SET x=X'00';",
      ]);
    }
  });

  test('a damaged BLOB literal (not hex, odd digits) or one cut off: RESTORE_FAILED saying the stream is damaged or truncated', () => {
    for (const [text, why] of [["INSERT INTO t VALUES(X'0g');", /not a hex digit/], ["INSERT INTO t VALUES(X'abc');", /odd number of hex digits/]] as const) {
      expect(() => new StatementSplitter().push(text), text).toThrow(expect.objectContaining({ code: 'RESTORE_FAILED', message: expect.stringMatching(why) }));
    }
    const s = new StatementSplitter();
    s.push(`INSERT INTO t VALUES(X'${'ab'.repeat(LARGE_LITERAL)}`);
    expect(() => s.end()).toThrow(expect.objectContaining({ code: 'RESTORE_FAILED', message: expect.stringMatching(/truncated/) }));
  });

  test('whitespace and comments only is complete', () => {
    const s = new StatementSplitter();
    expect(s.push('  \n-- nothing\n/* still nothing */ ')).toEqual([]);
    expect(() => s.end()).not.toThrow();
  });
});
