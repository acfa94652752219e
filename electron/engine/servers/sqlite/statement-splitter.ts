/**
 * Splits a stream of SQLite SQL text into complete statements, incrementally.
 *
 * Contract: the same notion of "complete" as `sqlite3_complete()` (SQLite's complete.c
 * state machine: quotes, `[…]` identifiers, comments, and `CREATE TRIGGER … END;` bodies
 * whose inner semicolons do not end the statement). `push(text)` returns the statements
 * completed so far (each including its `;`); `end()` throws RESTORE_FAILED when the input
 * stops inside a statement, string or comment — which is how a truncated dump is caught.
 * Memory is bounded by the longest single statement, and each character is scanned and
 * copied a bounded number of times (a 100 MB `X'…'` BLOB literal arriving in 64 KiB pieces
 * costs linear time, never a re-concatenation of all that came before per piece).
 * A BLOB literal of an INSERT (`X'…'`, the form sql-dump.ts writes) is decoded while it is
 * read: one of LARGE_LITERAL bytes or more comes out as a `?` parameter of a `BoundStatement`
 * (its bytes in `blobs`, in order), so a large value is held once as bytes instead of as hex
 * text twice its size (and SQLite never parses it: exec of a 128 MB literal costs ~13× the
 * value in memory, a bound blob ~4×); shorter ones stay literals in the text.
 */
import { BackstopError } from '../../../shared/result.ts';

const SEMI = 0;
const WS = 1;
const OTHER = 2;
const EXPLAIN = 3;
const CREATE = 4;
const TEMP = 5;
const TRIGGER = 6;
const END = 7;

// trans[state][token], from SQLite's complete.c. State 1 (START) after a `;` = statement complete.
const TRANS: readonly (readonly number[])[] = [
  /* 0 INVALID */ [1, 0, 2, 3, 4, 2, 2, 2],
  /* 1 START   */ [1, 1, 2, 3, 4, 2, 2, 2],
  /* 2 NORMAL  */ [1, 2, 2, 2, 2, 2, 2, 2],
  /* 3 EXPLAIN */ [1, 3, 3, 2, 4, 2, 2, 2],
  /* 4 CREATE  */ [1, 4, 2, 2, 2, 4, 5, 2],
  /* 5 TRIGGER */ [6, 5, 5, 5, 5, 5, 5, 5],
  /* 6 SEMI    */ [6, 6, 5, 5, 5, 5, 5, 7],
  /* 7 END     */ [1, 7, 5, 5, 5, 5, 5, 5],
];

function isIdChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x24 || c >= 0x80;
}

function keyword(word: string): number {
  switch (word.toLowerCase()) {
    case 'create':
      return CREATE;
    case 'trigger':
      return TRIGGER;
    case 'temp':
    case 'temporary':
      return TEMP;
    case 'end':
      return END;
    case 'explain':
      return EXPLAIN;
    default:
      return OTHER;
  }
}

type Mode = { kind: 'quote'; close: string } | { kind: 'hex' } | { kind: 'block' } | { kind: 'line' } | null;

/** An INSERT whose large BLOB literals are `?` parameters, bound to `blobs` in order. */
export interface BoundStatement {
  sql: string;
  blobs: Buffer[];
}
export type SqlStatement = string | BoundStatement;

/** BLOB literals of at least this many bytes become parameters. */
export const LARGE_LITERAL = 64 * 1024;
const HEX_DIGITS = /^[0-9A-Fa-f]*$/;

export class StatementSplitter {
  /** Text not yet moved to `parts`: the scanned part of the current statement still in it, and what is not yet scanned. */
  private buf = '';
  /** The current statement's text already scanned in earlier pushes (so a long statement is never re-concatenated or rescanned). */
  private parts: string[] = [];
  private pos = 0;
  private stmtStart = 0;
  private state = 1;
  private mode: Mode = null;
  /** The current statement's first word (lower case), or null before it. */
  private firstWord: string | null = null;
  /** Where the last word token ended in `buf`, and whether it was a lone `x`/`X` (a BLOB literal's prefix). */
  private lastWordEnd = -1;
  private lastWordX = false;
  /** The BLOB literal being decoded: its bytes so far, and a hex digit waiting for its pair. */
  private hex: Buffer[] = [];
  private hexBytes = 0;
  private hexCarry = '';
  /** The current statement's parameters so far. */
  private blobs: Buffer[] = [];

  push(text: string): SqlStatement[] {
    this.buf += text;
    return this.scan(false);
  }

  /** Call once at the end of input; returns nothing pending or throws if a statement is unfinished. */
  end(): void {
    this.scan(true);
    if (this.mode?.kind === 'line') this.mode = null;
    if (this.mode !== null || (this.state !== 1 && this.state !== 0)) {
      throw new BackstopError('RESTORE_FAILED', 'The SQL dump ends in the middle of a statement: the backup stream is truncated.');
    }
  }

  private scan(final: boolean): SqlStatement[] {
    const out: SqlStatement[] = [];
    const buf = this.buf;
    const len = buf.length;
    while (this.pos < len) {
      let token: number;
      if (this.mode) {
        const mode = this.mode;
        if (mode.kind === 'hex') {
          const idx = buf.indexOf("'", this.pos);
          this.takeHex(buf.slice(this.pos, idx < 0 ? len : idx));
          if (idx < 0) {
            this.pos = len;
            this.stmtStart = len;
            break;
          }
          this.endHex();
          this.pos = idx + 1;
          this.stmtStart = this.pos;
          token = OTHER;
        } else if (mode.kind === 'quote') {
          const idx = buf.indexOf(mode.close, this.pos);
          if (idx < 0) {
            this.pos = len;
            break;
          }
          this.pos = idx + 1;
          token = OTHER;
        } else if (mode.kind === 'block') {
          const idx = buf.indexOf('*/', this.pos);
          if (idx < 0) {
            this.pos = Math.max(this.pos, len - 1);
            break;
          }
          this.pos = idx + 2;
          token = WS;
        } else {
          const idx = buf.indexOf('\n', this.pos);
          if (idx < 0) {
            this.pos = len;
            break;
          }
          this.pos = idx + 1;
          token = WS;
        }
        this.mode = null;
      } else {
        const c = buf.charCodeAt(this.pos);
        if (c === 0x3b) {
          token = SEMI;
          this.pos++;
        } else if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0c) {
          token = WS;
          this.pos++;
        } else if (c === 0x2f || c === 0x2d) {
          if (this.pos + 1 >= len && !final) break;
          const next = buf.charCodeAt(this.pos + 1);
          if (c === 0x2f && next === 0x2a) {
            this.mode = { kind: 'block' };
            this.pos += 2;
            continue;
          }
          if (c === 0x2d && next === 0x2d) {
            this.mode = { kind: 'line' };
            this.pos += 2;
            continue;
          }
          token = OTHER;
          this.pos++;
        } else if (c === 0x27 && this.lastWordX && this.lastWordEnd === this.pos && this.firstWord === 'insert') {
          // X'…' of an INSERT: decoded as it is read; the text before the X stays the statement's.
          if (this.pos - 1 > this.stmtStart) this.parts.push(buf.slice(this.stmtStart, this.pos - 1));
          this.mode = { kind: 'hex' };
          this.pos++;
          this.stmtStart = this.pos;
          continue;
        } else if (c === 0x5b || c === 0x60 || c === 0x22 || c === 0x27) {
          this.mode = { kind: 'quote', close: c === 0x5b ? ']' : String.fromCharCode(c) };
          this.pos++;
          continue;
        } else if (isIdChar(c)) {
          let j = this.pos + 1;
          while (j < len && isIdChar(buf.charCodeAt(j))) j++;
          if (j === len && !final) break; // the word may continue in the next chunk
          const word = buf.slice(this.pos, j);
          token = keyword(word);
          this.firstWord ??= word.toLowerCase();
          this.lastWordX = j - this.pos === 1 && (c === 0x58 || c === 0x78);
          this.lastWordEnd = j;
          this.pos = j;
        } else {
          token = OTHER;
          this.pos++;
        }
      }
      const next = TRANS[this.state]?.[token] ?? 2;
      if (token === SEMI && next === 1) {
        const tail = buf.slice(this.stmtStart, this.pos);
        const sql = this.parts.length ? this.parts.join('') + tail : tail;
        out.push(this.blobs.length ? { sql, blobs: this.blobs } : sql);
        this.parts = [];
        this.blobs = [];
        this.firstWord = null;
        this.stmtStart = this.pos;
      }
      this.state = next;
    }
    // Keep only the unscanned rest (a word or `-`/`/` that may continue in the next chunk): the
    // scanned text of an unfinished statement goes to `parts`, so each push costs its own length.
    if (this.pos > this.stmtStart) this.parts.push(buf.slice(this.stmtStart, this.pos));
    this.buf = buf.slice(this.pos);
    this.lastWordEnd -= this.pos;
    this.pos = 0;
    this.stmtStart = 0;
    return out;
  }

  /** Hex digits of the BLOB literal being read (any number, split anywhere). */
  private takeHex(digits: string): void {
    if (!HEX_DIGITS.test(digits)) throw new BackstopError('RESTORE_FAILED', "The SQL dump has a malformed BLOB literal (X'…' with a character that is not a hex digit): the backup stream is damaged.");
    const all = this.hexCarry + digits;
    const even = all.length & ~1;
    this.hexCarry = all.slice(even);
    if (even === 0) return;
    const bytes = Buffer.from(all.slice(0, even), 'hex');
    this.hex.push(bytes);
    this.hexBytes += bytes.length;
  }

  /** The literal's closing quote: a parameter when large, else the literal again in the text. */
  private endHex(): void {
    if (this.hexCarry) throw new BackstopError('RESTORE_FAILED', "The SQL dump has a malformed BLOB literal (X'…' with an odd number of hex digits): the backup stream is damaged.");
    const bytes = this.hex.length === 1 ? this.hex[0]! : Buffer.concat(this.hex, this.hexBytes);
    this.hex = [];
    this.hexBytes = 0;
    if (bytes.length >= LARGE_LITERAL) {
      this.parts.push('?');
      this.blobs.push(bytes);
    } else {
      this.parts.push(`X'${bytes.toString('hex')}'`);
    }
  }
}
