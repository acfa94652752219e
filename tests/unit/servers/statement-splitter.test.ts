/**
 * The incremental SQL statement splitter (sqlite3_complete semantics), fed in every
 * possible chunking, and its truncation detection.
 */
import { describe, expect, test } from 'vitest';
import { StatementSplitter } from '../../../electron/engine/servers/sqlite/statement-splitter.ts';

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

function splitAll(text: string, chunk: number): string[] {
  const s = new StatementSplitter();
  const out: string[] = [];
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

  test('a 32 MB BLOB literal (a large attachment in a logical dump) arriving in 64 KiB pieces splits in linear time, exactly', () => {
    // Each push used to re-concatenate and re-flatten the whole unfinished statement: quadratic, ~40 s here.
    const hex = 'ab'.repeat(16 * 1024 * 1024);
    const text = `INSERT INTO a VALUES(1,X'${hex}');\nINSERT INTO a VALUES(2,'tail;');\n`;
    const s = new StatementSplitter();
    const out: string[] = [];
    const started = Date.now();
    for (let i = 0; i < text.length; i += 65536) out.push(...s.push(text.slice(i, i + 65536)));
    s.end();
    const ms = Date.now() - started;
    expect(out.map((x) => x.length)).toEqual([text.indexOf(';') + 1, text.length - text.indexOf(';') - 2]);
    expect(out[0]!.endsWith(`${'ab'.repeat(8)}');`)).toBe(true);
    expect(out[1]).toBe("\nINSERT INTO a VALUES(2,'tail;');");
    expect(ms).toBeLessThan(8000); // linear: well under a second; quadratic: tens of seconds
  }, 60_000);

  test('whitespace and comments only is complete', () => {
    const s = new StatementSplitter();
    expect(s.push('  \n-- nothing\n/* still nothing */ ')).toEqual([]);
    expect(() => s.end()).not.toThrow();
  });
});
