/**
 * Row counts per table from a `mariadb-dump`/`mysqldump` SQL text stream as it streams by:
 * every line starting `CREATE TABLE \`name\`` names a table (0 rows until counted), every
 * `INSERT INTO \`name\` VALUES (…),(…);` adds one row per top-level parenthesised tuple
 * (strings are '…' with backslash escapes; the dump escapes newlines inside strings, so a
 * statement starts at a line start). Anything unexpected (an INSERT with a column list, a
 * name longer than a line prefix Backstop reads) makes the facts unavailable.
 * It also notes the longest line in bytes (`longestLine`): each statement of such a dump is one
 * line the client sends as one packet, so a restore can compare it with the target's
 * max_allowed_packet before it creates anything (connector.ts).
 */
import type { FactCounter, FactsOutcome } from './dump-facts.ts';

const INSERT = Buffer.from('INSERT INTO `', 'latin1');
const CREATE = Buffer.from('CREATE TABLE `', 'latin1');
const VALUES = ' VALUES ';
const VALUES_NL = ' VALUES\n';
const MAX_PREFIX = 4096;
const NL = 10;
const BACKTICK = 96;

type Mode = 'lineStart' | 'skipLine' | 'values' | 'failed';

function startsWith(bytes: number[], prefix: Buffer): boolean | null {
  const n = Math.min(bytes.length, prefix.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== prefix[i]) return false;
  return bytes.length >= prefix.length ? true : null;
}

export class MysqlSqlFacts implements FactCounter {
  private mode: Mode = 'lineStart';
  private prefix: number[] = [];
  private reason = '';
  private readonly tables: Record<string, number> = {};
  private table = '';
  private depth = 0;
  private inQuote = false;
  private escape = false;
  /** Bytes observed before the current chunk. */
  private seen = 0;
  /** Where the current line starts (absolute offset). */
  private lineFrom = 0;
  private longestLine = 0;

  observe(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length && this.mode !== 'failed') {
      if (this.mode === 'values') i = this.values(chunk, i);
      else if (this.mode === 'skipLine') {
        const nl = chunk.indexOf(NL, i);
        if (nl === -1) break;
        this.lineEnds(this.seen + nl);
        i = nl + 1;
        this.mode = 'lineStart';
      } else {
        if (this.prefix.length === 0) this.lineFrom = this.seen + i;
        const b = chunk[i++]!;
        this.lineStart(b);
        if (b === NL && this.mode === 'lineStart') this.lineEnds(this.seen + i - 1);
      }
    }
    this.seen += chunk.length;
  }

  result(): FactsOutcome {
    if (this.mode === 'failed') return { unavailable: this.reason };
    if (this.mode === 'values') return { unavailable: 'the dump ended inside an INSERT statement' };
    if (this.mode === 'skipLine') this.lineEnds(this.seen); // a last line without its newline
    return { facts: { method: 'mysql-sql-stream', tables: { ...this.tables }, longestLine: this.longestLine } };
  }

  /** The current line ended at absolute offset `at` (its newline, not counted). */
  private lineEnds(at: number): void {
    if (at - this.lineFrom > this.longestLine) this.longestLine = at - this.lineFrom;
  }

  private fail(reason: string): void {
    this.mode = 'failed';
    this.reason = reason;
  }

  private lineStart(b: number): void {
    if (b === NL && this.prefix.length === 0) return;
    this.prefix.push(b);
    const p = this.prefix;
    const insert = startsWith(p, INSERT);
    const create = startsWith(p, CREATE);
    if (insert === false && create === false) {
      this.prefix = [];
      this.mode = b === NL ? 'lineStart' : 'skipLine';
      return;
    }
    if (p.length > MAX_PREFIX) return this.fail('a table name in the dump is longer than Backstop reads');
    if (insert === null || create === null) return; // still ambiguous or too short
    const head = insert ? INSERT : CREATE;
    // The name ends at a backtick not followed by another (a doubled one is part of it).
    let end = -1;
    for (let i = head.length; i < p.length - 1; i++) {
      if (p[i] === BACKTICK) {
        if (p[i + 1] === BACKTICK) i++;
        else {
          end = i;
          break;
        }
      }
    }
    if (end === -1) return;
    const name = Buffer.from(p.slice(head.length, end)).toString('utf8').replace(/``/g, '`');
    if (!insert) {
      this.tables[name] ??= 0;
      this.prefix = [];
      this.mode = b === NL ? 'lineStart' : 'skipLine';
      return;
    }
    // MariaDB 10.11+ ends the line after VALUES; older dumps continue with a space.
    const rest = Buffer.from(p.slice(end + 1)).toString('latin1');
    if (rest.length < VALUES.length) {
      if (VALUES.startsWith(rest) || VALUES_NL.startsWith(rest)) return;
      return this.fail(`an INSERT into table \`${name}\` is not of the form INSERT INTO … VALUES (…)`);
    }
    if (rest !== VALUES && rest !== VALUES_NL) return this.fail(`an INSERT into table \`${name}\` is not of the form INSERT INTO … VALUES (…)`);
    this.table = name;
    this.tables[name] ??= 0;
    this.prefix = [];
    this.depth = 0;
    this.inQuote = false;
    this.escape = false;
    this.mode = 'values';
  }

  /** Scans INSERT values from `i` (state in locals: this loop sees nearly every byte of a dump); returns where it stopped. */
  private values(chunk: Uint8Array, from: number): number {
    let depth = this.depth;
    let inQuote = this.inQuote;
    let escape = this.escape;
    let rows = 0;
    let i = from;
    const n = chunk.length;
    for (; i < n; i++) {
      if (inQuote) {
        // Jump to the next quote; it ends the string unless an odd run of backslashes escapes it.
        if (escape) {
          escape = false;
          continue;
        }
        const q = chunk.indexOf(0x27, i);
        const stop = q === -1 ? n : q;
        let run = 0;
        while (stop - run - 1 >= i && chunk[stop - run - 1] === 0x5c) run++;
        if (q === -1) {
          escape = run % 2 === 1;
          i = n;
          break;
        }
        i = q;
        if (run % 2 === 0) inQuote = false;
        continue;
      }
      const b = chunk[i]!;
      if (b === 0x27) inQuote = true;
      else if (b === 0x28) {
        if (depth === 0) rows++;
        depth++;
      } else if (b === 0x29) depth--;
      else if (b === 0x3b && depth === 0) {
        this.mode = 'skipLine';
        i++;
        break;
      }
    }
    this.depth = depth;
    this.inQuote = inQuote;
    this.escape = escape;
    this.tables[this.table]! += rows;
    return i;
  }
}
