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

type Mode = { kind: 'quote'; close: string } | { kind: 'block' } | { kind: 'line' } | null;

export class StatementSplitter {
  /** Text not yet moved to `parts`: the scanned part of the current statement still in it, and what is not yet scanned. */
  private buf = '';
  /** The current statement's text already scanned in earlier pushes (so a long statement is never re-concatenated or rescanned). */
  private parts: string[] = [];
  private pos = 0;
  private stmtStart = 0;
  private state = 1;
  private mode: Mode = null;

  push(text: string): string[] {
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

  private scan(final: boolean): string[] {
    const out: string[] = [];
    const buf = this.buf;
    const len = buf.length;
    while (this.pos < len) {
      let token: number;
      if (this.mode) {
        const mode = this.mode;
        if (mode.kind === 'quote') {
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
        } else if (c === 0x5b || c === 0x60 || c === 0x22 || c === 0x27) {
          this.mode = { kind: 'quote', close: c === 0x5b ? ']' : String.fromCharCode(c) };
          this.pos++;
          continue;
        } else if (isIdChar(c)) {
          let j = this.pos + 1;
          while (j < len && isIdChar(buf.charCodeAt(j))) j++;
          if (j === len && !final) break; // the word may continue in the next chunk
          token = keyword(buf.slice(this.pos, j));
          this.pos = j;
        } else {
          token = OTHER;
          this.pos++;
        }
      }
      const next = TRANS[this.state]?.[token] ?? 2;
      if (token === SEMI && next === 1) {
        const tail = buf.slice(this.stmtStart, this.pos);
        out.push(this.parts.length ? this.parts.join('') + tail : tail);
        this.parts = [];
        this.stmtStart = this.pos;
      }
      this.state = next;
    }
    // Keep only the unscanned rest (a word or `-`/`/` that may continue in the next chunk): the
    // scanned text of an unfinished statement goes to `parts`, so each push costs its own length.
    if (this.pos > this.stmtStart) this.parts.push(buf.slice(this.stmtStart, this.pos));
    this.buf = buf.slice(this.pos);
    this.pos = 0;
    this.stmtStart = 0;
    return out;
  }
}
