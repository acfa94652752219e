import { describe, expect, it } from 'vitest';
import { jsonSyntaxError, type JsonSyntaxError } from '../../../electron/cli/json-syntax-error.ts';

describe('jsonSyntaxError', () => {
  it('finds nothing wrong in text JSON.parse accepts', () => {
    for (const text of ['{}', '[]', ' {"a": [1, -2.5e+3, 0, true, false, null, "x\\"\\u00e9\\n"], "b": {"c": {}}}\n', '"s"', '0', '-0.1E2']) {
      expect(() => JSON.parse(text)).not.toThrow();
      expect(jsonSyntaxError(text)).toBeNull();
    }
  });

  it('names the line and column of the first character that breaks the grammar, and why', () => {
    const cases: [string, Partial<JsonSyntaxError>][] = [
      ['{"a": 1,}', { line: 1, column: 9, reason: 'unexpected "}" (expected a "quoted" key)' }],
      ["{\n  'a': 1\n}", { line: 2, column: 3, reason: `unexpected "'" (expected a "quoted" key)` }],
      ['{"a": 1 "b": 2}', { line: 1, column: 9, reason: 'unexpected "\\"" (expected "," or "}")' }],
      ['{"a": tru}', { line: 1, column: 10, reason: 'unexpected "}" (expected "true")' }],
      ['{"a": 01}', { line: 1, column: 8, reason: 'unexpected "1" (expected "," or "}")' }],
      ['{"a": "x\ny"}', { line: 1, column: 9 }],
      ['{"a": "\\u12G4"}', { line: 1, column: 12, reason: 'unexpected "G" (expected four hex digits after \\u)' }],
      ['[1, 2', { line: 1, column: 6, atEnd: true, reason: 'the file ends (expected "," or "]")' }],
      ['{} {}', { line: 1, column: 4, reason: 'unexpected "{" (expected nothing more)' }],
      ['', { line: 1, column: 1, atEnd: true }],
    ];
    for (const [text, want] of cases) {
      expect(() => JSON.parse(text), text).toThrow();
      expect(jsonSyntaxError(text), text).toMatchObject(want);
    }
  });
});
