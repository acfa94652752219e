/**
 * A small lexer for the SQL scripts `pg_restore -f -` writes: splits a script into
 * top-level statements whose tokens can be inspected and re-rendered with some tokens
 * replaced (a database or role name).
 *
 * Contract: quoted identifiers ("a""b"), string literals ('it''s', E'\''), dollar-quoted
 * bodies ($x$ … $x$) and comments (--, nested /* *\/) are single tokens, so a `;` or a
 * keyword inside them never splits or matches anything. A psql meta-command line
 * (`\connect`, `\restrict`) is a statement of its own with one `meta` token. Rendering a
 * statement with no replacements gives back its exact text. PostgreSQL's dialect only: SQLite
 * scripts have their own splitter (sqlite/statement-splitter.ts, sqlite3_complete rules).
 */

export type TokenKind = 'word' | 'qident' | 'string' | 'punct' | 'space' | 'comment' | 'meta';

export interface Token {
  kind: TokenKind;
  raw: string;
}

export interface Statement {
  tokens: Token[];
  /** Indices (into `tokens`) of the significant tokens: no spaces or comments. */
  sig: number[];
}

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_REST = /[A-Za-z0-9_$\u0080-\uffff]/;

function lex(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let atStatementStart = true;
  const n = text.length;
  const push = (kind: TokenKind, end: number): void => {
    out.push({ kind, raw: text.slice(i, end) });
    if (kind !== 'space' && kind !== 'comment') atStatementStart = kind === 'meta' || (kind === 'punct' && text[i] === ';');
    i = end;
  };
  while (i < n) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      let j = i + 1;
      while (j < n && /\s/.test(text[j]!)) j++;
      push('space', j);
    } else if (c === '-' && text[i + 1] === '-') {
      const j = text.indexOf('\n', i);
      push('comment', j < 0 ? n : j);
    } else if (c === '/' && text[i + 1] === '*') {
      let depth = 0;
      let j = i;
      while (j < n) {
        if (text[j] === '/' && text[j + 1] === '*') {
          depth++;
          j += 2;
        } else if (text[j] === '*' && text[j + 1] === '/') {
          depth--;
          j += 2;
          if (depth === 0) break;
        } else j++;
      }
      push('comment', j);
    } else if (c === '\\' && atStatementStart) {
      const j = text.indexOf('\n', i);
      push('meta', j < 0 ? n : j);
    } else if (c === '"') {
      let j = i + 1;
      while (j < n && !(text[j] === '"' && text[j + 1] !== '"')) j += text[j] === '"' ? 2 : 1;
      push('qident', Math.min(j + 1, n));
    } else if (c === "'" || ((c === 'E' || c === 'e') && text[i + 1] === "'")) {
      const escapes = c !== "'";
      let j = i + (escapes ? 2 : 1);
      while (j < n) {
        if (escapes && text[j] === '\\') j += 2;
        else if (text[j] === "'" && text[j + 1] === "'") j += 2;
        else if (text[j] === "'") break;
        else j++;
      }
      push('string', Math.min(j + 1, n));
    } else if (c === '$' && /^\$[A-Za-z_]*\$/.test(text.slice(i, i + 64))) {
      const tag = /^\$[A-Za-z_]*\$/.exec(text.slice(i, i + 64))![0];
      const close = text.indexOf(tag, i + tag.length);
      push('string', close < 0 ? n : close + tag.length);
    } else if (WORD_START.test(c) || /[0-9]/.test(c)) {
      let j = i + 1;
      while (j < n && WORD_REST.test(text[j]!)) j++;
      push('word', j);
    } else {
      push('punct', i + 1);
    }
  }
  return out;
}

/** Splits a script into statements (each ends with its `;`, or is one meta-command line). */
export function splitStatements(text: string): Statement[] {
  const out: Statement[] = [];
  let cur: Token[] = [];
  const flush = (): void => {
    const sig = cur.flatMap((t, k) => (t.kind === 'space' || t.kind === 'comment' ? [] : [k]));
    if (sig.length > 0) out.push({ tokens: cur, sig });
    cur = [];
  };
  for (const t of lex(text)) {
    if (t.kind === 'meta') {
      flush();
      cur.push(t);
      flush();
      continue;
    }
    cur.push(t);
    if (t.kind === 'punct' && t.raw === ';') flush();
  }
  flush();
  return out;
}

/** The name an identifier token stands for (quoted: unescaped; bare: folded to lower case), or null. */
export function identName(t: Token | undefined): string | null {
  if (!t) return null;
  if (t.kind === 'qident') return t.raw.slice(1, -1).replace(/""/g, '"');
  if (t.kind === 'word') return t.raw.toLowerCase();
  return null;
}

/** Is `t` the bare keyword `kw` (case-insensitive)? */
export function isKeyword(t: Token | undefined, kw: string): boolean {
  return t?.kind === 'word' && t.raw.toUpperCase() === kw;
}

/** Sig position of the bare keyword `kw` at or after sig position `from`, outside any parentheses; -1 if none. */
export function findTopKeyword(s: Statement, kw: string, from: number): number {
  let depth = 0;
  for (let k = from; k < s.sig.length; k++) {
    const t = s.tokens[s.sig[k]!]!;
    if (t.kind === 'punct' && t.raw === '(') depth++;
    else if (t.kind === 'punct' && t.raw === ')') depth--;
    else if (depth === 0 && isKeyword(t, kw)) return k;
  }
  return -1;
}

/** The statement's text with tokens at the given indices replaced; `bare`: without the comments and spaces before it. */
export function renderStatement(s: Statement, replace: ReadonlyMap<number, string> = new Map(), bare = false): string {
  const from = bare ? s.sig[0]! : 0;
  return s.tokens
    .slice(from)
    .map((t, k) => replace.get(k + from) ?? t.raw)
    .join('');
}

/** The text of the significant tokens from sig position `from` to `to` (exclusive), spaces kept. */
export function sliceText(s: Statement, from: number, to: number): string {
  if (from >= to) return '';
  return s.tokens
    .slice(s.sig[from], s.sig[to - 1]! + 1)
    .map((t) => t.raw)
    .join('')
    .replace(/\s+/g, ' ');
}
