/**
 * Where a JSON text that `JSON.parse` refused goes wrong, for a message a person can act on:
 * "line 3, column 13: unexpected "}" (expected a value)". Node's own message names no position
 * for most mistakes and quotes the file's text (which may hold something private).
 *
 * Contract: `jsonSyntaxError(text)` scans `text` by the JSON grammar and returns the 1-based
 * line and column of the first character that breaks it (`atEnd` when the text stops early)
 * and a short reason that quotes at most that one character; null if the text is valid JSON.
 */
export interface JsonSyntaxError {
  line: number;
  column: number;
  atEnd: boolean;
  reason: string;
}

class Stop {
  constructor(
    readonly at: number,
    readonly expected: string,
  ) {}
}

export function jsonSyntaxError(text: string): JsonSyntaxError | null {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const stop = (expected: string): never => {
    throw new Stop(i, expected);
  };
  const literal = (word: string): void => {
    for (const ch of word) {
      if (text[i] !== ch) stop(`"${word}"`);
      i++;
    }
  };
  const digits = (): void => {
    if (!/[0-9]/.test(text[i] ?? '')) stop('a digit');
    while (/[0-9]/.test(text[i] ?? '')) i++;
  };
  const string = (): void => {
    i++; // the opening quote
    for (;;) {
      const ch = text[i];
      if (ch === undefined) stop('the closing "');
      if (ch === '"') return void i++;
      if (ch! < ' ') stop('the closing " (a string cannot span lines)');
      if (ch === '\\') {
        i++;
        if (text[i] === 'u') {
          for (let k = 0; k < 4; k++) {
            i++;
            if (!/[0-9a-fA-F]/.test(text[i] ?? '')) stop('four hex digits after \\u');
          }
          i++;
        } else if (text[i] !== undefined && '"\\/bfnrt'.includes(text[i]!)) i++;
        else stop('an escape (\\", \\\\, \\n, …)');
      } else i++;
    }
  };
  const value = (): void => {
    ws();
    const ch = text[i];
    if (ch === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') stop('a "quoted" key');
        string();
        ws();
        if (text[i] !== ':') stop('":"');
        i++;
        value();
        ws();
        if (text[i] === '}') return void i++;
        if (text[i] !== ',') stop('"," or "}"');
        i++;
      }
    }
    if (ch === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ']') return void i++;
        if (text[i] !== ',') stop('"," or "]"');
        i++;
      }
    }
    if (ch === '"') return string();
    if (ch === 't') return literal('true');
    if (ch === 'f') return literal('false');
    if (ch === 'n') return literal('null');
    if (ch === '-' || /[0-9]/.test(ch ?? '')) {
      if (text[i] === '-') i++;
      if (text[i] === '0') i++;
      else digits();
      if (text[i] === '.') {
        i++;
        digits();
      }
      if (text[i] === 'e' || text[i] === 'E') {
        i++;
        if (text[i] === '+' || text[i] === '-') i++;
        digits();
      }
      return;
    }
    stop('a value');
  };
  try {
    value();
    ws();
    if (i < text.length) stop('nothing more');
    return null;
  } catch (e) {
    if (!(e instanceof Stop)) return null; // (a nesting too deep to scan: no position)
    const before = text.slice(0, e.at);
    const line = before.split('\n').length;
    const column = e.at - (before.lastIndexOf('\n') + 1) + 1;
    const atEnd = e.at >= text.length;
    const found = atEnd ? 'the file ends' : `unexpected ${JSON.stringify(text[e.at])}`;
    return { line, column, atEnd, reason: `${found} (expected ${e.expected})` };
  }
}
