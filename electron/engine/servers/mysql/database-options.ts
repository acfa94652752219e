/**
 * Database-level options of a MySQL/MariaDB logical backup, and the restore-side rewrite
 * that makes a dump taken without --databases restore faithfully under another name.
 *
 * Contract:
 * - At backup time `dumpHeader(options)` is written before mariadb-dump's output: one
 *   marker line carrying the source's default character set, collation and comment as
 *   JSON, then the same as nameless `ALTER DATABASE` statements (so an extracted dump
 *   loaded by hand with `mariadb NEWDB < dump.sql` gets them too). It is plain SQL.
 * - At restore `DumpRewriter` reads and strips that header (`header` resolves to the
 *   options, or null for backups taken before the marker existed), so the new database is
 *   CREATEd with them, and rewrites every `ALTER DATABASE \`<source>\` CHARACTER SET … COLLATE … ;`
 *   line that mariadb-dump writes around routines, triggers and events (to give each the
 *   database collation it was created under) into the nameless form, which applies to the
 *   database being restored instead of the source database. Lines inside
 *   `DELIMITER ;;` blocks (routine bodies) are never touched.
 * - Given the source database's name, it also takes that name out of the dump's view
 *   statements (`/*!50001 VIEW … *\/;` lines, view-bodies.ts), where the server may have
 *   written it (a view whose definer was dropped, a view also reading another database), so
 *   the restored views read the new database. Such a line is held whole (up to 16 MiB;
 *   longer ones pass unchanged); other lines are held at most 64 KiB.
 * - A column whose default draws from a sequence: mariadb-dump writes it qualified with the
 *   source database (`DEFAULT nextval(\`shop\`.\`s\`)`), so the restored table would draw
 *   from the source's sequence; given the source's name, the rewrite takes it out (the
 *   target's own sequence, restored beside it). And the `LOCK TABLES \`t\` WRITE;` /
 *   `UNLOCK TABLES;` pair mariadb-dump puts around such a table's rows is dropped: under
 *   LOCK TABLES the server opens the default's sequence too and refuses every INSERT
 *   ("Table 's' was not locked with LOCK TABLES", MariaDB 10.11), so the dump would not load.
 * - Given the source's name, a trigger's header written with it (`TRIGGER shop.tr … ON
 *   shop.item`, trigger-header.ts) loses it, so the trigger goes on the restored table.
 * - Everything else passes through byte for byte.
 * - A dump without the header (the first release's) restores with the target's defaults, and
 *   the restore says so in its notes (`unrecordedOptionsNote`).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { BackstopError } from '../../../shared/result.ts';
import { TRIGGER_PREFIX, unqualifyTrigger } from './trigger-header.ts';
import { unqualifyView, VIEW_PREFIX } from './view-bodies.ts';

export interface MysqlDatabaseOptions {
  charset: string;
  collation: string;
  /** MariaDB 10.5+ database comment; '' when none. */
  comment: string;
}

const MARKER = '-- backstop-database-options ';
const NAME = /^[A-Za-z0-9_]{1,64}$/;

/** A string literal (the session must not use NO_BACKSLASH_ESCAPES; Backstop's own sessions clear it). */
function literal(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "''").replace(/\0/g, '\\0')}'`;
}

function checkNames(o: MysqlDatabaseOptions): void {
  if (!NAME.test(o.charset) || !NAME.test(o.collation)) {
    throw new BackstopError('RESTORE_FAILED', `The backup names an invalid character set or collation (${o.charset} / ${o.collation}).`);
  }
}

/** The database-level clauses for CREATE DATABASE (versioned comments, so older servers skip what they lack). */
export function databaseOptionClauses(o: MysqlDatabaseOptions): string {
  checkNames(o);
  const comment = o.comment ? ` /*M!100500 COMMENT ${literal(o.comment)} */` : '';
  return `/*!40100 CHARACTER SET ${o.charset} COLLATE ${o.collation} */${comment}`;
}

/**
 * The restore note for a dump without the header (taken by the first Backstop release, before
 * the options were recorded): the new database got the target server's defaults (or what the
 * dump's per-routine ALTER DATABASE lines set), which may not be the source's — said, never
 * silent, with the defaults it has after the load (README, "Upgrading").
 */
export function unrecordedOptionsNote(database: string, defaults: { charset: string; collation: string } | null): string {
  const got = defaults ? `has ${defaults.charset}, ${defaults.collation}` : 'has';
  return `This backup was taken by an earlier Backstop, which did not record the source database's default character set, collation and comment: "${database}" ${got} (this server's defaults, unless the dump's routines set others). Its tables and routines keep their own character sets and collations. If the source database had other defaults or a comment, set them: ALTER DATABASE \`${database.replace(/`/g, '``')}\` CHARACTER SET … COLLATE … COMMENT '…'; (backups taken from now on record them).`;
}

export function dumpHeader(o: MysqlDatabaseOptions): Buffer {
  checkNames(o);
  const lines = [`${MARKER}${JSON.stringify(o)}`, `/*!40100 ALTER DATABASE CHARACTER SET ${o.charset} COLLATE ${o.collation} */;`];
  if (o.comment) lines.push(`/*M!100500 ALTER DATABASE COMMENT ${literal(o.comment)} */;`);
  const text = `${lines.join('\n')}\n`;
  // A buffer of its own (never a slice of Node's shared pool): dump buffers may be handed over to another thread.
  const out = Buffer.allocUnsafeSlow(Buffer.byteLength(text, 'utf8'));
  out.write(text, 'utf8');
  return out;
}

function parseMarker(line: string): MysqlDatabaseOptions | null {
  if (!line.startsWith(MARKER)) return null;
  try {
    const o = JSON.parse(line.slice(MARKER.length)) as Partial<MysqlDatabaseOptions>;
    if (typeof o.charset === 'string' && typeof o.collation === 'string') return { charset: o.charset, collation: o.collation, comment: typeof o.comment === 'string' ? o.comment : '' };
  } catch {
    /* not ours */
  }
  throw new BackstopError('RESTORE_FAILED', 'The backup\'s database-options line is damaged.');
}

const ALTER = Buffer.from('ALTER DATABASE `');
const DELIMITER = Buffer.from('DELIMITER ');
/** A column definition of a CREATE TABLE, the LOCK TABLES before a table's rows and the UNLOCK TABLES after them. */
const COLUMN = Buffer.from('  `');
const LOCK = Buffer.from('LOCK TABLES `');
const UNLOCK = Buffer.from('UNLOCK TABLES;');
const SEQUENCE_DEFAULT = / DEFAULT nextval\(/;
const NAMED_ALTER = /^ALTER DATABASE `(?:[^`]|``)*` (CHARACTER SET [A-Za-z0-9_]+ COLLATE [A-Za-z0-9_]+ ;)\r?\n$/;
/** Longest line held back for inspection; real ones are < 300 bytes. */
const MAX_HELD = 64 * 1024;
/** Longest view statement held back to take the source database's name out of it (view-bodies.ts); longer ones pass unchanged. */
const MAX_VIEW = 16 * 1024 * 1024;
const MAX_HEADER = 64 * 1024;

export class DumpRewriter extends Transform {
  /** The options from the backup's marker line; null when the backup has none. */
  readonly header: Promise<MysqlDatabaseOptions | null>;
  private resolveHeader!: (o: MysqlDatabaseOptions | null) => void;
  private rejectHeader!: (e: Error) => void;
  private headerBytes: Buffer | null = Buffer.alloc(0);
  /** Bytes of the current line held back (its start may be a line we rewrite), and how many. */
  private held: Buffer[] | null = null;
  private heldBytes = 0;
  private atLineStart = true;
  private inBlock = false;
  /** A column of the table just created draws its default from a sequence: its rows load without LOCK TABLES. */
  private sequenceDefault = false;
  /** The LOCK TABLES before the current table's rows was dropped: so is the UNLOCK TABLES after them. */
  private unlockDropped = false;
  /** `DEFAULT nextval(\`<source>\`.`, the source's name taken out of a sequence default; null without the source's name. */
  private readonly qualifiedSequence: RegExp | null;

  /** `source`: the name of the database the dump was taken of, taken out of view statements (view-bodies.ts); none leaves them as they are. */
  constructor(private readonly source: string | null = null) {
    super();
    this.qualifiedSequence = source === null ? null : new RegExp(` DEFAULT nextval\\(${`\`${source.replace(/`/g, '``')}\``.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.`);
    this.header = new Promise((resolve, reject) => {
      this.resolveHeader = resolve;
      this.rejectHeader = reject;
    });
    this.header.catch(() => undefined);
    this.once('error', (e) => this.rejectHeader(e));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      if (this.headerBytes) {
        const all = Buffer.concat([this.headerBytes, chunk]);
        const rest = this.takeHeader(all, false);
        if (rest === null) {
          this.headerBytes = all;
          return cb();
        }
        chunk = rest;
      }
      this.scan(chunk);
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  /**
   * Reads the marker from the start of the stream: null while more bytes are needed, else
   * the bytes to pass on (the stream without Backstop's header, which CREATE DATABASE has
   * already applied; the whole of it when there is no marker).
   */
  private takeHeader(all: Buffer, ended: boolean): Buffer | null {
    const nl = all.indexOf(0x0a);
    if (nl < 0 && all.length < MAX_HEADER && !ended) return null;
    const options = nl < 0 ? null : parseMarker(all.subarray(0, nl).toString('utf8'));
    if (options) {
      const expected = dumpHeader(options);
      if (all.length < expected.length && !ended && expected.subarray(0, all.length).equals(all)) return null;
      this.headerBytes = null;
      this.resolveHeader(options);
      return all.subarray(0, expected.length).equals(expected) ? all.subarray(expected.length) : all.subarray(nl + 1);
    }
    this.headerBytes = null;
    this.resolveHeader(null);
    return all;
  }

  override _flush(cb: TransformCallback): void {
    try {
      if (this.headerBytes) {
        const rest = this.takeHeader(this.headerBytes, true);
        if (rest && rest.length > 0) this.scan(rest);
      }
      if (this.held) this.release(false);
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  private scan(chunk: Buffer): void {
    let p = 0;
    let run = 0; // start of bytes to pass through unchanged
    while (p < chunk.length) {
      if (this.held) {
        const nl = chunk.indexOf(0x0a, p);
        const end = nl < 0 ? chunk.length : nl + 1;
        this.held.push(chunk.subarray(p, end));
        this.heldBytes += end - p;
        p = end;
        run = p;
        if (nl < 0 && this.heldBytes < this.holdLimit()) continue;
        this.release(nl >= 0);
        continue;
      }
      if (this.atLineStart) {
        this.atLineStart = false;
        const first = chunk[p];
        if (first === ALTER[0] || first === DELIMITER[0] || first === COLUMN[0] || first === LOCK[0] || first === UNLOCK[0] || (first === VIEW_PREFIX[0] && this.source)) {
          // A line start that is, or (cut by the chunk's end) may be, one of the prefixes.
          const starts = (prefix: Buffer): boolean => {
            const head = chunk.subarray(p, p + Math.min(prefix.length, chunk.length - p));
            return prefix.subarray(0, head.length).equals(head);
          };
          if (starts(ALTER) || starts(DELIMITER) || (!this.inBlock && (starts(COLUMN) || starts(LOCK) || starts(UNLOCK))) || (this.source && (starts(VIEW_PREFIX) || (this.inBlock && starts(TRIGGER_PREFIX))))) {
            if (run < p) this.push(chunk.subarray(run, p));
            this.held = [];
            this.heldBytes = 0;
            continue;
          }
        }
      }
      const nl = chunk.indexOf(0x0a, p);
      if (nl < 0) break;
      p = nl + 1;
      this.atLineStart = true;
    }
    if (!this.held && run < chunk.length) this.push(chunk.subarray(run));
  }

  /** How long the held line may grow: a view statement (or what may still become one) up to MAX_VIEW, other lines up to MAX_HELD. */
  private holdLimit(): number {
    const parts: Buffer[] = [];
    let n = 0;
    for (const part of this.held!) {
      if (n >= VIEW_PREFIX.length) break;
      parts.push(part);
      n += part.length;
    }
    const head = Buffer.concat(parts).subarray(0, VIEW_PREFIX.length);
    return head.length > 0 && VIEW_PREFIX.subarray(0, head.length).equals(head) ? MAX_VIEW : MAX_HELD;
  }

  /**
   * A held line is complete (or too long to be one of ours): pass it on, rewritten if it is
   * a named ALTER DATABASE, or a view statement naming the source database.
   */
  private release(complete: boolean): void {
    const line = this.held!.length === 1 ? this.held![0]! : Buffer.concat(this.held!);
    this.held = null;
    this.heldBytes = 0;
    this.atLineStart = complete;
    if (complete && this.inBlock && this.source && line.subarray(0, TRIGGER_PREFIX.length).equals(TRIGGER_PREFIX)) {
      // A trigger's first line (it stands inside a DELIMITER ;; block): its own database's name out of its header.
      const rewritten = unqualifyTrigger(line.toString('utf8'), this.source);
      this.push(rewritten === null ? line : Buffer.from(rewritten, 'utf8'));
      return;
    }
    if (complete && line[0] === VIEW_PREFIX[0]) {
      const rewritten = this.inBlock || !this.source ? null : unqualifyView(line, this.source);
      this.push(rewritten ?? line);
      return;
    }
    const text = line.toString('utf8');
    if (complete && text.startsWith('DELIMITER ')) {
      this.inBlock = text.trim() !== 'DELIMITER ;';
    } else if (complete && !this.inBlock) {
      const m = NAMED_ALTER.exec(text);
      if (m) {
        this.push(Buffer.from(`ALTER DATABASE ${m[1]}\n`, 'utf8'));
        return;
      }
      if (text.startsWith('  `') && SEQUENCE_DEFAULT.test(text)) {
        this.sequenceDefault = true;
        if (this.qualifiedSequence?.test(text)) {
          this.push(Buffer.from(text.replace(this.qualifiedSequence, ' DEFAULT nextval('), 'utf8'));
          return;
        }
      } else if (text.startsWith('LOCK TABLES `') && this.sequenceDefault) {
        this.sequenceDefault = false;
        this.unlockDropped = true;
        return;
      } else if (/^UNLOCK TABLES;\r?\n$/.test(text) && this.unlockDropped) {
        this.unlockDropped = false;
        return;
      }
    }
    this.push(line);
  }
}
