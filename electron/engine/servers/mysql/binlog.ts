/**
 * The MariaDB/MySQL binary log as Backstop uses it: positions of fulls, the server-level
 * `binlog` stream (incrementals), and the framing a stored log read has.
 *
 * Contracts:
 * - A full dump taken with `--master-data=2` prints its snapshot's coordinates as a comment
 *   near its top; `PositionTap` finds them without keeping any buffer it is shown.
 * - Every read of the log closes the current file first (FLUSH BINARY LOGS), so a stored
 *   read is always whole, closed files. Files are append-only and closed files never
 *   change, so the same file stored twice (two destinations at different places in their
 *   chains, a read repeated after a kill) is the same bytes: a restore takes each name
 *   once and replays every event exactly once.
 * - `planLogRead` continues a chain at the file after the last one it stored; when that
 *   file is gone from the server (purged) it starts a new chain (never a silent gap).
 * - The stored stream (`mysql-binlog-files`) is, for each file, the line
 *   `BACKSTOP-BINLOG-FILE <name> <size>\n` followed by exactly <size> bytes of the file.
 * - A replay into another name runs the reader's output through `OwnGtids` (new
 *   transactions of the target) and `AccountStatements` (no account changes on the
 *   target); `StatementScan` refuses beforehand a log that cannot replay faithfully, and
 *   `rewriteRefusal` names the tool cannot rewrite. The replay's session first runs `REPLAY_SESSION`.
 */
import { createReadStream } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { constants as zlibConstants, inflateSync } from 'node:zlib';
import { BackstopError } from '../../../shared/result.ts';
import type { ServerStream } from '../connector.ts';

/**
 * What a replay's client session runs before the log's events. An ALTER TABLE of a
 * system-versioned table ran on the source only because its session had
 * system_versioning_alter_history=KEEP (the default, ERROR, refuses it) — a setting the log
 * does not carry: without it the replay failed with error 4119 ("Not allowed for
 * system-versioned …"). MariaDB 10.3.4+ only (a versioned comment: MySQL skips it).
 */
export const REPLAY_SESSION = Buffer.from('/*M!100304 SET SESSION system_versioning_alter_history = KEEP */;\n');

export const BINLOG_STREAM: ServerStream = { name: 'binlog', format: 'mysql-binlog-files' };

/** Global privileges log incrementals need: read the log (REPLICATION SLAVE), list it (BINLOG MONITOR), close the current file and take the dump's position (RELOAD). */
export const LOG_PRIVILEGES = ['REPLICATION SLAVE', 'BINLOG MONITOR', 'RELOAD'];

/** Why an incremental re-dumps instead of reading the log (the history's reason, and what to enable). */
export type LogUnavailable = 'LOG_OFF' | 'LOG_NOT_ROW' | 'NO_LOG_PRIVILEGE' | 'REPLICA_LOG_INCOMPLETE';

/**
 * Select-list columns (MariaDB only: MySQL skips the versioned comment, and the columns are
 * absent) telling whether the server is a replica whose own binary log lacks what it
 * replicates: @@log_slave_updates, @@gtid_slave_pos and the running replica threads. None
 * needs a privilege (SHOW ALL SLAVES STATUS needs SLAVE MONITOR, which a backup user rarely has).
 */
export const REPLICA_FACTS = `/*M!100000 , @@GLOBAL.log_slave_updates, @@GLOBAL.gtid_slave_pos, (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'SLAVES_RUNNING') */`;

/**
 * Whether the REPLICA_FACTS columns show a replica that does not log what it replicates
 * (log_slave_updates OFF, MariaDB's default): its binary log lacks every replicated change,
 * so an incremental read from it would silently miss the primary's writes. A replica is a
 * server with replica threads running now, or one that has applied replicated transactions
 * (a GTID replica position; a replica stopped for maintenance has one too). Absent columns
 * (MySQL) say nothing.
 */
export function replicaLogIncomplete(logSlaveUpdates: string | undefined, gtidSlavePos: string | undefined, slavesRunning: string | undefined): boolean {
  if (logSlaveUpdates !== '0') return false;
  return Number(slavesRunning) > 0 || (gtidSlavePos ?? '').trim() !== '';
}

/**
 * The server's database filter of its binary log: the binlog_do_db / binlog_ignore_db startup
 * options, as SHOW MASTER STATUS lists them (Binlog_Do_DB, Binlog_Ignore_DB: names joined by
 * commas; MariaDB 10.11 has no variables for them). Changes of a database the filter leaves
 * out are never logged (ROW format filters a row change by its table's database), so the log
 * never covers it.
 */
export type LogDatabaseFilter = {
  doDb: string[];
  ignoreDb: string[];
};

/** The filter from SHOW MASTER STATUS's two columns; null when neither is set. */
export function logFilterOf(doDb: string | undefined, ignoreDb: string | undefined): LogDatabaseFilter | null {
  const names = (v: string | undefined) => (v ?? '').split(',').filter((n) => n !== '');
  const filter = { doDb: names(doDb), ignoreDb: names(ignoreDb) };
  return filter.doDb.length > 0 || filter.ignoreDb.length > 0 ? filter : null;
}

/** A stored read's `binlogFilter` (manifest meta, checked); null when absent or not a filter. */
export function storedLogFilter(value: unknown): LogDatabaseFilter | null {
  if (!value || typeof value !== 'object') return null;
  const names = (v: unknown) => (Array.isArray(v) ? v.filter((n): n is string => typeof n === 'string') : []);
  const f = value as Record<string, unknown>;
  return { doDb: names(f.doDb), ignoreDb: names(f.ignoreDb) };
}

/**
 * Why `database`'s changes are not in the binary log under `filter` (the history's reason of
 * its incrementals, which re-dump), or null when they are. Conservative where the server's
 * name comparison depends on lower_case_table_names: a binlog_do_db name must match exactly,
 * a binlog_ignore_db name in any case — a database that may be left out re-dumps.
 */
export function unloggedReason(filter: LogDatabaseFilter | null | undefined, database: string): string | null {
  if (!filter) return null;
  const after = 'so its incrementals re-dump it and it cannot be restored to a moment.';
  if (filter.ignoreDb.some((n) => n.toLowerCase() === database.toLowerCase())) {
    return `the server's binlog_ignore_db leaves "${database}" out of the binary log (its changes are never logged), ${after} To store only its changes and restore it to any moment, remove it from binlog_ignore_db in the server's configuration and restart the server (docs/PITR.md).`;
  }
  if (filter.doDb.length > 0 && !filter.doDb.includes(database)) {
    return `the server's binlog_do_db (${filter.doDb.join(', ')}) does not name "${database}", so its changes are never in the binary log; ${after} To store only its changes and restore it to any moment, add binlog_do_db=${database} to the server's configuration (one line per database, the name exactly as the database's) or remove binlog_do_db, and restart the server (docs/PITR.md).`;
  }
  return null;
}

/**
 * Whether stored reads (a log chain's, any order) lack `database`'s changes since a dump taken at
 * `snapshotAt`: one was taken while the server's filter left the database out. A read records the
 * filter when it was taken; the filter changes only at a restart, which may come later, so a read's
 * filter may also hold for files of the next read: the reads judged start with the newest one taken
 * before the dump. Returns the first such read's reason and when the reads before it end (how far
 * they hold the database's changes; null when no read comes before it); null when none left it out.
 */
export function leftOutOfReads(database: string, snapshotAt: string, reads: readonly { binlogEndAt: string; binlogFilter?: unknown }[]): { why: string; heldUntil: string | null } | null {
  const sorted = [...reads].sort((a, b) => (a.binlogEndAt < b.binlogEndAt ? -1 : a.binlogEndAt > b.binlogEndAt ? 1 : 0));
  const before = sorted.filter((r) => r.binlogEndAt <= snapshotAt).length - 1;
  for (let i = Math.max(before, 0); i < sorted.length; i++) {
    const why = unloggedReason(storedLogFilter(sorted[i]!.binlogFilter), database);
    if (why) return { why, heldUntil: sorted[i - 1]?.binlogEndAt ?? null };
  }
  return null;
}

/** `binlog_do_db=a,b, binlog_ignore_db=c`: the filter as the server's options name it. */
function filterSettings(filter: LogDatabaseFilter): string {
  return [...(filter.doDb.length > 0 ? [`binlog_do_db=${filter.doDb.join(',')}`] : []), ...(filter.ignoreDb.length > 0 ? [`binlog_ignore_db=${filter.ignoreDb.join(',')}`] : [])].join(', ');
}

/**
 * A restore-to-moment note for a replay of `database` from log reads taken under `filter`: the
 * server judges a schema change (DDL) by the session's default database, so one run with a
 * left-out database selected is missing from the log, and the replay cannot see that it is.
 */
export function logFilterNote(filter: LogDatabaseFilter | null | undefined, database: string, from: string, to: string): string | null {
  if (!filter) return null;
  return `The server wrote this binary log with ${filterSettings(filter)} set, which judges a schema change (ALTER, CREATE, DROP or TRUNCATE TABLE) by the session's default database: one run while a database the filter leaves out was the default one (USE it; ALTER TABLE \`${database}\`.…) is not in the log, so this replay could not apply it. If such a change ran between ${from} and ${to}, compare the restored tables with the source's, or restore a backup point without --as-of instead (docs/PITR.md).`;
}

/** The server check's warning about a filter (null when none is set): which databases it leaves out, and the fix. */
export function logFilterWarning(filter: LogDatabaseFilter | null | undefined, label: string): string | null {
  if (!filter) return null;
  const settings = filterSettings(filter);
  const quoted = (names: string[]) => names.map((n) => `"${n}"`).join(', ');
  const left = [...(filter.doDb.length > 0 ? [`every database but ${quoted(filter.doDb)}`] : []), ...(filter.ignoreDb.length > 0 ? [quoted(filter.ignoreDb)] : [])].join(' and ');
  return `The ${label} leaves databases out of its binary log (${settings}): ${left} re-dump at every incremental and cannot be restored to a moment. To store only their changes and restore them to any moment, remove ${filter.doDb.length > 0 ? 'binlog_do_db' : 'binlog_ignore_db'}${filter.doDb.length > 0 && filter.ignoreDb.length > 0 ? ' and binlog_ignore_db' : ''} from the server's configuration and restart it; while a filter is set, run schema changes with the database itself as the default one (USE it), as the filter judges a statement by its default database (docs/PITR.md).`;
}

/** Metadata of a dump (full or incremental) that recorded its binary-log position (manifest `meta`). */
export interface DumpPosition {
  binlogFile: string;
  binlogPos: number;
  /** GTID position of the snapshot (MariaDB), when the server could tell. */
  binlogGtid?: string;
  /** When the dump's snapshot was taken (ISO UTC): the server's clock just after the position was printed (the log's times are the server's); the Backstop machine's clock only when the server could not be asked. */
  snapshotAt: string;
}

/** Metadata of a stored read of the log (the `binlog` stream's points). */
export interface LogReadMeta {
  binlogFiles: string[];
  /** The newest file this read stored (the chain continues after it). */
  binlogLast: string;
  /** The server's clock (UTC, ISO) just before the read closed the current file: everything logged before is stored. */
  binlogEndAt: string;
  /** Databases a statement of this read dropped or created (DROP/CREATE DATABASE; `DatabaseStatementScan`), when any. */
  binlogDatabaseStatements?: string[];
  /** When the server began each file (its first event's time, whole seconds, ISO UTC; `DatabaseStatementScan`). */
  binlogFilesBegunAt?: Record<string, string>;
  /** The server's database filter when the read was taken, when one was set (`LogDatabaseFilter`): a database it leaves out is not in these files. */
  binlogFilter?: LogDatabaseFilter;
}

/**
 * Whether the stored log's file of the dump's position is another file of that name than the one
 * the dump was taken in: a read recorded that it was begun after the dump's snapshot (the log was
 * numbered anew — RESET MASTER, or another server at the address — and the new numbering reached
 * the dump's file). Reads without that record tell nothing (false).
 */
export function dumpFileReplaced(position: { binlogFile: string; snapshotAt: string }, reads: readonly Record<string, unknown>[]): boolean {
  const snapshot = Date.parse(position.snapshotAt);
  return reads.some((m) => {
    const begun = (m.binlogFilesBegunAt as Record<string, unknown> | undefined)?.[position.binlogFile];
    return typeof begun === 'string' && Date.parse(begun) > snapshot;
  });
}

const POSITION_LINE = /^-- CHANGE MASTER TO MASTER_LOG_FILE='([^']+)', MASTER_LOG_POS=(\d+);$/m;
/** How far into a dump its position comment may be (it follows the dump's short header). */
const POSITION_HEAD_BYTES = 64 * 1024;

/** Finds the `--master-data=2` position comment in the head of a dump. */
export class PositionTap {
  private head = '';
  private done = false;
  position: { binlogFile: string; binlogPos: number; seenAt: Date } | null = null;

  /** Looks at one buffer of the dump (copies at most the head's text, keeps no buffer). */
  feed(buf: Uint8Array): void {
    if (this.done) return;
    this.head += Buffer.from(buf.buffer, buf.byteOffset, Math.min(buf.byteLength, POSITION_HEAD_BYTES - this.head.length)).toString('latin1');
    const m = POSITION_LINE.exec(this.head);
    if (m) this.position = { binlogFile: m[1]!, binlogPos: Number(m[2]), seenAt: new Date() };
    if (m || this.head.length >= POSITION_HEAD_BYTES) {
      this.done = true;
      this.head = '';
    }
  }
}

/** `binlog.000042` → { base: 'binlog', n: 42 }; null for names that are not a log file's. */
export function logFileNumber(name: string): { base: string; n: number } | null {
  const m = /^(.+)\.(\d{6,})$/.exec(name);
  return m ? { base: m[1]!, n: Number(m[2]) } : null;
}

function compareLogFiles(a: string, b: string): number {
  return (logFileNumber(a)?.n ?? 0) - (logFileNumber(b)?.n ?? 0);
}

export interface LogReadPlan {
  files: string[];
  /** Set when the chain cannot be continued: the point starts a new chain, for this reason. */
  restart: 'LOG_PURGED' | null;
}

/**
 * Which closed files (oldest first, as SHOW BINARY LOGS lists them, the current file left
 * out) a read stores, given the newest stored read at each destination (null where the
 * point starts a chain). Every destination must get every file after its own last one, so
 * the read starts after the oldest of them.
 */
export function planLogRead(closed: string[], since: (LogReadMeta | null)[]): LogReadPlan {
  if (since.length === 0 || since.some((s) => s === null)) return { files: closed, restart: null };
  const last = since.map((s) => s!.binlogLast).sort(compareLogFiles)[0]!;
  const lastNo = logFileNumber(last);
  const i = closed.indexOf(last);
  if (i >= 0) return { files: closed.slice(i + 1), restart: null };
  const first = closed[0] ? logFileNumber(closed[0]) : null;
  // The last stored file itself may be purged since; its successor must still be there.
  if (first && lastNo && first.base === lastNo.base && first.n === lastNo.n + 1) return { files: closed, restart: null };
  return { files: closed, restart: 'LOG_PURGED' };
}

export function fileHeader(name: string, size: number): Buffer {
  return Buffer.from(`BACKSTOP-BINLOG-FILE ${name} ${size}\n`, 'utf8');
}

/** The stored stream of a read: each file's header line, then the file (read from `dir`), each shown to `scan` as it goes. */
export async function* framedLogFiles(dir: string, files: { name: string; size: number }[], scan?: DatabaseStatementScan): AsyncGenerator<Buffer> {
  for (const f of files) {
    yield fileHeader(f.name, f.size);
    scan?.startFile(f.name);
    let seen = 0;
    for await (const chunk of createReadStream(join(dir, f.name), { highWaterMark: 1024 * 1024 })) {
      seen += (chunk as Buffer).length;
      scan?.feed(chunk as Buffer);
      yield chunk as Buffer;
    }
    if (seen !== f.size) throw new BackstopError('DUMP_FAILED', `The binary log file ${f.name} read from the server has ${seen} bytes, not the ${f.size} the server listed; the read was discarded.`);
  }
}

const QUERY_EVENT = 2;
/** MariaDB's Query event with its statement zlib-compressed (log_bin_compress=ON, a statement of log_bin_compress_min_len bytes or more). */
const QUERY_COMPRESSED_EVENT = 165;
const EVENT_HEADER = 19;
/** A Query event's fixed part after the common header: thread id, exec time, db length, error code, status vars length. */
const QUERY_POST_HEADER = 13;
/** How much of a Query event is looked at: a DROP/CREATE DATABASE is short; a long statement's head is enough. */
const QUERY_HEAD = 64 * 1024;
const DATABASE_STATEMENT = /^(?:\s|\/\*[\s\S]*?\*\/)*(?:DROP|CREATE(?:\s+OR\s+REPLACE)?)\s+(?:DATABASE|SCHEMA)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(`(?:[^`]|``)+`|[A-Za-z0-9_$]+)/i;

/**
 * Finds, in the raw events of binary-log files as they stream by (a file's magic number,
 * then events: a 19-byte header with the type and size), the databases a statement dropped
 * or created (`DROP`/`CREATE DATABASE` or `SCHEMA`, in a Query event): a database created
 * again under its name since its last dump is not covered by the log (log-coverage.ts), as
 * a replay would have to drop the source itself (StatementScan). Only a Query event's head
 * is kept; every other event's bytes are skipped as they pass. A compressed Query event
 * (log_bin_compress) is read as well: its statement's head is inflated. It also notes when each file was begun (its first event's
 * time): a file of a dump's name begun after the dump is another file (`dumpFileReplaced`).
 */
export class DatabaseStatementScan {
  readonly databases = new Set<string>();
  /** Each file's first event's time (the server began the file then): a file of the same name begun after a dump is not the dump's (`dumpFileReplaced`). */
  readonly begunAt: Record<string, string> = {};
  private file = '';
  private firstEvent = false;
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** Bytes still to pass over (the rest of an event, or a file's magic number). */
  private skip = 0;
  /** Bytes wanted in `held` before looking: a header, then a Query event's head. */
  private want = EVENT_HEADER;
  private eventSize = 0;
  /** The Query event under way has its statement compressed. */
  private compressed = false;

  startFile(name = ''): void {
    this.file = name;
    this.firstEvent = true;
    this.held = [];
    this.heldBytes = 0;
    this.skip = 4;
    this.want = EVENT_HEADER;
  }

  feed(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - at);
        this.skip -= n;
        at += n;
        continue;
      }
      const n = Math.min(this.want - this.heldBytes, chunk.length - at);
      this.held.push(chunk.subarray(at, at + n));
      this.heldBytes += n;
      at += n;
      if (this.heldBytes < this.want) return;
      const bytes = Buffer.concat(this.held, this.heldBytes);
      this.held = [];
      this.heldBytes = 0;
      if (this.want === EVENT_HEADER) {
        if (this.firstEvent && this.file) this.begunAt[this.file] = new Date(bytes.readUInt32LE(0) * 1000).toISOString();
        this.firstEvent = false;
        this.eventSize = bytes.readUInt32LE(9);
        if (this.eventSize < EVENT_HEADER) return this.stop();
        this.compressed = bytes[4] === QUERY_COMPRESSED_EVENT;
        if ((bytes[4] === QUERY_EVENT || this.compressed) && this.eventSize > EVENT_HEADER + QUERY_POST_HEADER) {
          this.want = Math.min(this.eventSize, QUERY_HEAD) - EVENT_HEADER;
        } else {
          this.skip = this.eventSize - EVENT_HEADER;
        }
        continue;
      }
      this.query(bytes);
      this.skip = this.eventSize - EVENT_HEADER - bytes.length;
      this.want = EVENT_HEADER;
    }
  }

  /** A Query event's body (after the common header), perhaps cut: its statement's text starts after the status vars and the default database. */
  private query(body: Buffer): void {
    const dbLength = body[8]!;
    const statusLength = body.readUInt16LE(11);
    const start = QUERY_POST_HEADER + statusLength + dbLength + 1;
    if (start >= body.length) return;
    const statement = this.compressed ? uncompressedHead(body.subarray(start)) : body.subarray(start, start + 1024);
    const m = DATABASE_STATEMENT.exec(statement.toString('utf8'));
    if (m) this.databases.add(m[1]!.startsWith('`') ? m[1]!.slice(1, -1).replace(/``/g, '`') : m[1]!);
  }

  /** Not a log this scan can read (a damaged size): nothing more is looked at in this file. */
  private stop(): void {
    this.skip = Number.POSITIVE_INFINITY;
  }
}

/**
 * The first KiB of a compressed Query event's statement: one byte whose low 3 bits give the
 * size of the uncompressed-length field that follows (big-endian), then a zlib stream (read
 * from MariaDB 10.11's own events; the event's trailing checksum, or a cut head, is tolerated).
 * Empty when it does not inflate.
 */
function uncompressedHead(compressed: Buffer): Buffer {
  const stream = compressed.subarray(1 + ((compressed[0] ?? 0) & 0x07));
  let head = Buffer.alloc(0);
  // A growing prefix of the stream, until it gives the KiB looked at: never a large statement inflated whole.
  for (let n = 16; ; n *= 2) {
    try {
      head = inflateSync(stream.subarray(0, n), { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: 1 << 20 });
    } catch {
      return head.subarray(0, 1024);
    }
    if (head.length >= 1024 || n >= stream.length) return head.subarray(0, 1024);
  }
}

/**
 * Writes the files of a stored read into `dir` (names checked: a log file's name only); returns
 * their names in order. Each file's bytes go to disk as they arrive: a log file holding a large
 * transaction (a 256 MB row updated: its before and after images) is never whole in memory (it
 * was gathered, then joined: twice its size).
 */
export async function unpackLogFiles(source: Readable, dir: string, keep: (name: string) => boolean): Promise<string[]> {
  const names: string[] = [];
  let pending: Buffer = Buffer.alloc(0);
  let current: { name: string; size: number; got: number; out: FileHandle | null } | null = null;
  const damaged = (why: string) => new BackstopError('INTEGRITY', `The stored binary log is not in the expected form (${why}).`);
  try {
    for await (const chunk of source) {
      pending = pending.length ? Buffer.concat([pending, chunk as Buffer]) : (chunk as Buffer);
      for (;;) {
        if (!current) {
          const nl = pending.indexOf(0x0a);
          if (nl < 0) {
            if (pending.length > 1024) throw damaged('a header line is too long');
            break;
          }
          const m = /^BACKSTOP-BINLOG-FILE (\S+) (\d+)$/.exec(pending.subarray(0, nl).toString('utf8'));
          if (!m || !logFileNumber(m[1]!) || m[1]!.includes('/') || m[1]!.includes('\\')) throw damaged('bad file header');
          current = { name: m[1]!, size: Number(m[2]), got: 0, out: keep(m[1]!) ? await open(join(dir, m[1]!), 'w', 0o600) : null };
          pending = pending.subarray(nl + 1);
        }
        const take = Math.min(current.size - current.got, pending.length);
        if (take > 0) {
          if (current.out) await current.out.write(pending.subarray(0, take));
          current.got += take;
          pending = pending.subarray(take);
        }
        if (current.got < current.size) break;
        if (current.out) {
          const out = current.out;
          current.out = null;
          await out.close();
          names.push(current.name);
        }
        current = null;
      }
    }
  } finally {
    // A file cut off (a failed read, a truncated stream) is not left behind as if it were whole.
    if (current?.out) {
      await current.out.close();
      await rm(join(dir, current.name), { force: true });
    }
  }
  if (current || pending.length) throw damaged('it ends inside a file');
  return names;
}

/**
 * Why mariadb-binlog's `--rewrite-db=<source>-><target>` cannot carry these two names, or null.
 * The tool splits its argument at the FIRST `->` and trims spaces around both names, so a
 * source name holding `->` or starting with a space (MariaDB allows both) is not the name it
 * rewrites: the source's events pass the `--database` filter unrewritten and replay INTO THE
 * SOURCE database itself on that server (found by a duplicate key only when the row is still
 * there). Of the new name it keeps only the first word (up to an ASCII space, tab or line
 * break; MariaDB 10.11): "shop copy" replays into "shop" — the source itself — and "old crm"
 * into another database "old", so a target holding such a character anywhere is refused.
 */
export function rewriteRefusal(source: string, target: string): { why: string; name: 'source' | 'target' } | null {
  const intoSource = 'so the replay would apply the log\'s changes to the source database itself (on its own server), not to the new one';
  if (source.includes('->')) return { name: 'source', why: `the source database's name holds "->", which mariadb-binlog's --rewrite-db reads as the end of a name, ${intoSource}` };
  if (/^\s/.test(source)) return { name: 'source', why: `the source database's name starts with a space, which mariadb-binlog's --rewrite-db drops, ${intoSource}` };
  if (/^\s/.test(target)) return { name: 'target', why: `the new name starts with a space, which mariadb-binlog's --rewrite-db drops, so the replay would apply the log's changes to a database of another name` };
  const cut = /[ \t\n\v\f\r]/.exec(target);
  if (cut) {
    const kept = target.slice(0, cut.index);
    const into = kept === source ? `the source database "${source}" itself (on its own server), not to the new one` : `the database "${kept}", not to the new one`;
    return { name: 'target', why: `the new name holds a ${cut[0] === ' ' ? 'space' : 'tab or line break'}, and mariadb-binlog's --rewrite-db keeps only the part before it ("${kept}"), so the replay would apply the log's changes to ${into}` };
  }
  return null;
}

/**
 * `--stop-datetime` for a moment (UTC; run the reader with TZ=UTC): the first whole second at
 * or after it. The log's timestamps are whole seconds (the second a statement started), and
 * the reader replays events logged before the stop. So a whole-second moment (14:02:05)
 * replays what was logged before it and nothing logged during 14:02:05 (at or after the
 * moment, as PostgreSQL would cut); a moment inside a second (14:02:05.250) replays every
 * event logged during that second, also any after the moment (the log cannot tell).
 */
export function stopDatetime(moment: Date): string {
  const next = new Date(Math.ceil(moment.getTime() / 1000) * 1000);
  return next.toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * Drops the lines of mariadb-binlog output that would replay an event under its original
 * GTID and server id: replayed into a new database the changes are new transactions of the
 * target server, never copies of the source's (which would confuse its replicas).
 * Linear in the output: only a line start that may be one of those short lines is held
 * back; any other line (a 50 MB BINLOG statement of one large row) passes through as it
 * comes, never re-copied.
 */
export class OwnGtids extends Transform {
  private static readonly DROP = /^\/\*M!100001 SET @@session\.(gtid_seq_no|gtid_domain_id|server_id)=\d+\*\/\/\*!\*\/;$/;
  private static readonly PREFIX = Buffer.from('/*M!100001 SET @@session.', 'latin1');
  /** Longer than any line DROP matches (the prefix, `gtid_domain_id=`, 20 digits, the end). */
  private static readonly MAX_DROPPED = 96;
  /** The start of the current line, held while it may still be a line to drop. */
  private held: Buffer | null = null;
  /** The current line is kept: it passes through up to its newline. */
  private passing = false;

  private static mayDrop(partial: Buffer): boolean {
    const n = Math.min(partial.length, OwnGtids.PREFIX.length);
    return partial.length <= OwnGtids.MAX_DROPPED && partial.subarray(0, n).equals(OwnGtids.PREFIX.subarray(0, n));
  }

  private static drops(line: Buffer): boolean {
    const body = line[line.length - 1] === 0x0a ? line.subarray(0, -1) : line;
    return OwnGtids.mayDrop(body) && OwnGtids.DROP.test(body.toString('latin1'));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let p = 0;
    while (p < chunk.length) {
      const nl = chunk.indexOf(0x0a, p);
      const end = nl < 0 ? chunk.length : nl + 1;
      const piece = chunk.subarray(p, end);
      p = end;
      if (this.passing) {
        this.push(piece);
        if (nl >= 0) this.passing = false;
        continue;
      }
      const line = this.held ? Buffer.concat([this.held, piece]) : piece;
      this.held = null;
      if (nl >= 0) {
        if (!OwnGtids.drops(line)) this.push(line);
      } else if (OwnGtids.mayDrop(line)) {
        this.held = line;
      } else {
        this.push(line);
        this.passing = true;
      }
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.held && !OwnGtids.drops(this.held)) this.push(this.held);
    this.held = null;
    done();
  }
}

/** Statements that change accounts, not tables: a replay into another name never needs them, and they name databases only as grant scopes. */
const ACCOUNT_STATEMENT = /^(GRANT|REVOKE|(CREATE(\s+OR\s+REPLACE)?|ALTER|DROP|RENAME)\s+(USER|ROLE)|SET\s+(PASSWORD|DEFAULT\s+ROLE))\b/i;

/**
 * Takes the account statements (GRANT, REVOKE, CREATE/ALTER/DROP/RENAME USER or ROLE, SET
 * PASSWORD, SET DEFAULT ROLE) out of mariadb-binlog output before a replay of one database
 * into another name. The log holds them among the database's events when they ran with
 * that database the default one (`use shop; CREATE USER …`), but accounts belong to the
 * server: replayed, they would create, change or drop accounts on the target server — and
 * fail the whole restore on an account that exists there. `skipped` counts them.
 * Linear and bounded: only the start of a statement's first line is held (to decide);
 * everything else passes as it comes (a 50 MB BINLOG statement is never re-copied) or is
 * dropped up to the statement's end (a line ending `/*!*\/;`). Lines between statements
 * (the reader's `#` comments, DELIMITER) always pass. `longest` is the longest statement
 * passed on, in bytes (a row event's `BINLOG '…'` is one statement the client sends as one
 * packet: what the target's max_allowed_packet must hold).
 */
export class AccountStatements extends Transform {
  private static readonly END = Buffer.from('/*!*/;', 'latin1');
  /** Enough of a first line to tell an account statement (the longest keyword run, `SET DEFAULT ROLE`, plus spacing). */
  private static readonly DECIDE = 64;
  skipped = 0;
  /** The longest statement passed on so far in bytes, the one under way included. */
  get longest(): number {
    return Math.max(this.longestEnded, this.statementBytes);
  }
  private longestEnded = 0;
  private statementBytes = 0;
  /** The start of a line between statements, held until it can be judged. */
  private held: Buffer | null = null;
  /** Inside a statement: kept (its lines pass) or dropped. */
  private statement: 'kept' | 'dropped' | null = null;
  /** The last bytes of the current line (to see the statement's end), and whether a line is under way. */
  private tail = Buffer.alloc(0);
  private midLine = false;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let p = 0;
    while (p < chunk.length) {
      const nl = chunk.indexOf(0x0a, p);
      const end = nl < 0 ? chunk.length : nl + 1;
      let piece = chunk.subarray(p, end);
      p = end;
      if (this.statement === null && !this.midLine) {
        // A line between statements: hold its start until it can be judged.
        const head = this.held ? Buffer.concat([this.held, piece]) : piece;
        this.held = null;
        if (nl < 0 && head.length < AccountStatements.DECIDE) {
          this.held = head;
          continue;
        }
        piece = head;
        const text = head.subarray(0, AccountStatements.DECIDE).toString('latin1');
        if (!text.startsWith('#') && !text.startsWith('DELIMITER ') && text.trim() !== '') {
          this.statement = ACCOUNT_STATEMENT.test(text.trimStart()) ? 'dropped' : 'kept';
          if (this.statement === 'dropped') this.skipped += 1;
        }
      }
      if (this.statement !== 'dropped') this.push(piece);
      if (this.statement === 'kept') this.statementBytes += piece.length;
      this.lineBytes(piece, nl >= 0);
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.held) {
      const text = this.held.toString('latin1');
      if (ACCOUNT_STATEMENT.test(text.trimStart())) this.skipped += 1;
      else this.push(this.held);
    }
    this.held = null;
    done();
  }

  /** Follows the current line's end: a statement ends with the line that ends `/*!*\/;`. */
  private lineBytes(piece: Buffer, lineEnds: boolean): void {
    const body = lineEnds ? piece.subarray(0, piece[piece.length - 2] === 0x0d ? -2 : -1) : piece;
    const keep = AccountStatements.END.length;
    this.tail = body.length >= keep ? Buffer.from(body.subarray(body.length - keep)) : Buffer.concat([this.tail, body]).subarray(-keep);
    this.midLine = !lineEnds;
    if (!lineEnds) return;
    if (this.statement !== null && this.tail.equals(AccountStatements.END)) {
      this.statement = null;
      this.longestEnded = Math.max(this.longestEnded, this.statementBytes);
      this.statementBytes = 0;
    }
    this.tail = Buffer.alloc(0);
  }
}
/** Statements that change rows (logged as a statement only under binlog_format STATEMENT or MIXED). */
const DML_STATEMENT = /^(INSERT|UPDATE|DELETE|REPLACE|LOAD)\b/i;
/** What mariadb-binlog writes around events: session settings, transaction bounds, the default database. */
const FRAMING_STATEMENT = /^(SET\s|use\s|START\s+TRANSACTION|BEGIN|COMMIT|ROLLBACK|XA\s|BINLOG\s|\/\*)/i;

/** A statement of a stored log that a replay of one database into another name cannot apply faithfully. */
export interface UnsafeStatement {
  statement: string;
  why: string;
  /** What to do instead, when it differs from the usual (ROW format, tables named without their database). */
  fix?: string;
}

/**
 * Reads `mariadb-binlog --base64-output=decode-rows` output (statements, each ending with the
 * `/*!*\/;` delimiter; row events only as `#` comments) and finds the first statement that a replay of database `source`
 * under another name (`--database=source --rewrite-db`, which changes only the default
 * database of a statement) would apply wrongly: a row change logged as a statement under
 * `use source` (binlog_format STATEMENT or MIXED when it was written: it may name
 * `source`.table itself, which the rewrite leaves alone, so the replay would write into the
 * source database), or any statement (DDL included) that names `source`.something while its
 * default database is another one or `source` (missed by the filter, or applied to the
 * source), or a DROP, CREATE or ALTER DATABASE naming `source` (the database dropped and
 * created again: the replay would drop or change the source database itself, whatever the
 * new name). Account statements are left out. Conservative: it may refuse a log that would
 * have replayed right, never pass one that would not.
 */
export class StatementScan {
  /** The current line's text so far (never kept for a `#` comment line), and whether a line has started / is a comment. */
  private parts: string[] = [];
  private inLine = false;
  private comment = false;
  private statement: string[] = [];
  private current: string | null = null;
  private readonly qualified: RegExp;
  private readonly databaseItself: RegExp;
  found: UnsafeStatement | null = null;

  constructor(private readonly source: string) {
    const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const forms = [`\`${escape(source.replace(/`/g, '``'))}\``];
    if (/^[A-Za-z0-9_$]+$/.test(source)) forms.push(escape(source));
    this.qualified = new RegExp(`(^|[^A-Za-z0-9_$\`])(${forms.join('|')})\\s*\\.`, 'i');
    this.databaseItself = new RegExp(`^(DROP|CREATE(\\s+OR\\s+REPLACE)?|ALTER)\\s+(DATABASE|SCHEMA)\\s+(IF\\s+(NOT\\s+)?EXISTS\\s+)?(${forms.join('|')})(?![A-Za-z0-9_$])`, 'i');
  }

  /**
   * Text of the reader's output, cut anywhere. Each piece is looked at once: comment lines
   * (an Annotate_rows `#Q>` line holds the client's whole statement, a large value's literal
   * included) are skipped as they stream by, never gathered; other lines are gathered as
   * pieces and joined once (re-joining the unfinished line with each piece made a 16 MB
   * line cost 3 s and a 256 MB one minutes).
   */
  feed(text: string): void {
    for (let p = 0; p < text.length && !this.found; ) {
      const nl = text.indexOf('\n', p);
      const end = nl < 0 ? text.length : nl;
      if (!this.inLine) {
        this.inLine = true;
        this.comment = text.charCodeAt(p) === 0x23; // '#' (an empty line is no comment)
      }
      if (!this.comment && end > p) this.parts.push(text.slice(p, end));
      if (nl < 0) return;
      this.endLine();
      p = nl + 1;
    }
  }

  end(): UnsafeStatement | null {
    if (this.inLine) this.endLine();
    return this.found;
  }

  private endLine(): void {
    const line = this.parts.length === 1 ? this.parts[0]! : this.parts.join('');
    const comment = this.comment;
    this.parts = [];
    this.inLine = false;
    this.comment = false;
    if (!comment) this.line(line);
  }

  private line(line: string): void {
    if (this.found) return;
    if (line.startsWith('#')) return; // comments: event headers, Annotate_rows (#Q>), the end of a file
    if (line.startsWith('DELIMITER ')) {
      this.statement = []; // what came since the last delimiter was the reader's own framing (it ends each file's output so)
      return;
    }
    const end = line.endsWith('/*!*/;');
    this.statement.push(end ? line.slice(0, -'/*!*/;'.length) : line);
    if (end) {
      this.judge(this.statement.join('\n').trim());
      this.statement = [];
    }
  }

  private judge(text: string): void {
    const use = /^use\s+`((?:[^`]|``)*)`$/i.exec(text);
    if (use) {
      this.current = use[1]!.replace(/``/g, '`');
      return;
    }
    if (!text || FRAMING_STATEMENT.test(text) || ACCOUNT_STATEMENT.test(text)) return;
    const short = text.length > 200 ? `${text.slice(0, 200)}…` : text;
    const here = this.current !== null && this.current.toLowerCase() === this.source.toLowerCase();
    if (this.databaseItself.test(text)) {
      this.found = {
        statement: short,
        why: `a statement on the database "${this.source}" itself (dropped, created again or altered), which a replay under another name would apply to "${this.source}" itself`,
        fix: `restore a backup point without --as-of (backstop points <location> lists them), or a moment before that statement. Moments after a database was dropped and created again are reachable from the first backup run after it (its next incremental dumps it again, as a full does); if none has run since, run one now (in the window: Databases → Back up now).`,
      };
    } else if (here && DML_STATEMENT.test(text)) {
      this.found = { statement: short, why: 'a change of rows logged as an SQL statement (binlog_format was STATEMENT or MIXED when it was written)' };
    } else if (this.qualified.test(text)) {
      this.found = { statement: short, why: `a statement naming "${this.source}".<table> itself, which a replay under another name would apply to "${this.source}" or leave out` };
    }
  }
}
