/**
 * The SQLite-folder connector: every file directly in the folder that starts with the
 * 16-byte header "SQLite format 3\0" is a database, named by its file name (WAL, SHM and
 * journal files have other headers and are never listed). An SQLite file it cannot back up —
 * a symbolic link, a name that is not UTF-8, a file it may not read (which might be one) — is
 * reported by skippedDatabases (the run lists
 * it as skipped with the fix), never silently left out; so are a file with a database name
 * ending (.db, .sqlite…) that is empty or not SQLite (e.g. SQLCipher-encrypted; not an OLE
 * file such as Windows' Thumbs.db), a
 * subfolder (or a symbolic link to a folder) that holds SQLite files (named "<folder>/"), and a
 * restore's temporary file a killed restore left (".backstop-restore-…"). Other files
 * and folders are ignored. A database deleted or renamed after the run listed the folder, before its
 * turn, is DATABASE_NOT_FOUND saying exactly that.
 *
 * - snapshot: SQLite's online backup API (online-backup.ts, the `sqlite3` binding; libsql
 *   0.5's own `db.backup()` throws "not implemented") into a temporary file — consistent
 *   while other processes write, in WAL and rollback-journal mode alike (one copy step
 *   under one read lock; a writer holding the lock is waited for, at most the lock
 *   timeout of real time, and the error names the time really waited and the locking_mode=EXCLUSIVE
 *   cause) — streamed and then deleted; a hot rollback journal (a writer that crashed
 *   mid-transaction) is first rolled back by SQLite's own recovery on a read-write connection, as
 *   the application's next open would, so the copy is the last committed state (PERMISSION_DENIED
 *   naming the fix where this OS user may not write the file);
 *   meta.pageSize is the page size of that file. Where the binding cannot load, `VACUUM
 *   INTO` (one read transaction, equally consistent) is the fallback. The copy must pass
 *   `PRAGMA quick_check` (O(pages), ~0.1 s per 100 MB): a damaged source (a torn or cut-short
 *   file) fails DUMP_FAILED naming the damage and the `.recover` repair instead of storing a
 *   point no restore accepts — as a logical dump of it fails where it reads a damaged page.
 *   A sound file whose indexes use a collation only its application defines (Android's LOCALIZED)
 *   fails either type DUMP_FAILED naming the collation and a page copy outside Backstop: this
 *   SQLite can neither check those indexes nor build them in a restore.
 * - logical: the same consistent temporary copy as a snapshot (the source's read lock held only
 *   while its pages are copied, so a dump as slow as its destination never keeps the
 *   application's COMMITs or checkpoints waiting), then a SQL text dump (sql-dump.ts) of that copy,
 *   streamed, and the copy deleted; a locked database is waited for up to the same lock timeout.
 * - A folder this OS user may only read is never written: rollback-journal files and WAL files
 *   whose -wal and -shm exist are read as they are; a WAL file without them (SQLite must create
 *   them) and a hot journal (SQLite must roll it back) fail with PERMISSION_DENIED naming the fix.
 * - restore: into `<folder>/<name>` (or opts.folder), never overwriting: the data goes to an
 *   exclusive temp file in the same folder, `PRAGMA integrity_check` must say ok (an index whose
 *   entries disagree with its table — the source's damage, which quick_check does not see — is
 *   rebuilt by REINDEX, and the restore's notes say so; a logical dump of a database without tables
 *   still gets its header with the dump's page size/encoding/auto_vacuum), then the
 *   temp file is hard-linked to the final name (fails if the name appeared meanwhile; a
 *   copy with COPYFILE_EXCL where links are unsupported) and removed. On failure nothing
 *   is left behind. A name whose -wal/-journal/-shm file exists counts as taken.
 * The libsql calls are synchronous; heavy use belongs in a worker thread (as all backups).
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants, copyFileSync, createReadStream, createWriteStream, existsSync, fsyncSync, linkSync, lstatSync, openSync, closeSync, readdirSync, readlinkSync, readSync, realpathSync, rmSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { onlineBackup, SqliteLockedError } from './online-backup.ts';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createRequire } from 'node:module';
import type Libsql from 'libsql';
import type { BackupType } from '../../../shared/domain.ts';
import { BackstopError } from '../../../shared/result.ts';
import { NO_VOLATILE_BYTES } from '../connector.ts';
import { formatBytes } from '../../../shared/format-bytes.ts';
import type { BackupSupport, ConnectionReport, Connector, DumpStream, OperationOptions, RestoredInspection, RestoreOptions, RestoreReport, ServerStream, SkippedDatabase } from '../connector.ts';
import { countingStream, ProgressReporter } from '../progress.ts';
import { scalar, sqliteSqlDump } from './sql-dump.ts';
import { FULL, makeTempFolder, tempFullError } from '../temp-folder.ts';
import { shellQuote } from '../shell-quote.ts';
import { hardLinksUnsupported } from '../../storage/hard-links.ts';
import { freeBytesAt } from '../../storage/local-backend.ts';
import { StatementSplitter, type SqlStatement } from './statement-splitter.ts';
import { knownFacts, type FactsOutcome } from '../../facts/dump-facts.ts';
import { sqliteFacts, sqliteRowCounts, sqliteUserTables } from '../../facts/sqlite-facts.ts';

// libsql (native; loading it asks process.report which libc this is, slow) is required on first use,
// so a backup worker of a PostgreSQL or MySQL job never loads it.
const requireCjs = createRequire(import.meta.url);
let libsql: typeof Libsql | undefined;
const Database = (): typeof Libsql => (libsql ??= requireCjs('libsql') as typeof Libsql);

const HEADER = Buffer.from('SQLite format 3\0', 'latin1');
const SIDE_FILES = ['-wal', '-shm', '-journal'];
const TEMP_PREFIX = '.backstop-restore-';
const BUSY_TIMEOUT_MS = 30_000;
/** The extended result code of a read-only connection that finds a hot journal it may not roll back. */
const SQLITE_READONLY_ROLLBACK = 776;
/** libsql's exec slows down on long texts (a restore of 40,000 small INSERTs: 0.5 s in 64 KiB batches, 1.6 s in 1 MiB ones). */
const EXEC_BATCH_CHARS = 64 * 1024;

/** The bytes a copy of an SQLite database takes at most: the file and its -wal beside it (0 for what cannot be read). */
function sourceBytes(path: string): number {
  const size = (p: string) => {
    try {
      return statSync(p).size;
    } catch {
      return 0;
    }
  };
  return size(path) + size(`${path}-wal`);
}

/** Row counts of a snapshot copy (read-only; never throws). */
function snapshotFacts(file: string): FactsOutcome {
  try {
    const db = new (Database())(file, { readonly: true });
    try {
      return sqliteFacts(db, 'sqlite-snapshot');
    } finally {
      db.close();
    }
  } catch (e) {
    return { unavailable: `the snapshot could not be opened to count its rows (${(e as Error).message})` };
  }
}

/** What PRAGMA quick_check finds wrong with a snapshot copy (integrityProblems), null when it is sound. */
function quickCheck(file: string): string | null {
  let db: Libsql.Database;
  try {
    db = new (Database())(file, { readonly: true });
  } catch (e) {
    return (e as Error).message;
  }
  try {
    return integrityProblems(db, 'quick_check');
  } finally {
    db.close();
  }
}

/** The first 100 bytes of a file when it is an SQLite database, else null (also for a folder or anything unreadable). */
function readHeader(path: string | Buffer): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const buf = Buffer.alloc(100);
    const n = readSync(fd, buf, 0, 100, 0);
    return n >= 16 && buf.subarray(0, 16).equals(HEADER) ? buf : null;
  } catch {
    return null; // EISDIR (a folder opens for reading on Linux), EIO…
  } finally {
    closeSync(fd);
  }
}

/**
 * Why a subfolder, or a symbolic link to a folder, is not backed up when SQLite files lie in it; null
 * for any other entry (a link loop or dangling link, and a link back to the task's own folder `self`,
 * whose files are backed up).
 */
function subfolderReason(name: string, path: string, self: string): string | null {
  let target: string | null = null;
  try {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) {
      if (!statSync(path).isDirectory()) return null;
      target = realpathSync(path);
      if (target === self) return null;
    } else if (!st.isDirectory()) return null;
  } catch {
    return null;
  }
  const found = sqliteFilesIn(path, 4);
  if (found.length === 0) return null;
  const shown = found.slice(0, 3).map((f) => `"${f}"`).join(', ') + (found.length > 3 ? ', …' : '');
  if (target !== null) {
    return `"${name}" is a symbolic link to the folder "${target}", which holds SQLite databases (${shown}) that were not backed up — Backstop backs up only the regular files directly in the folder: add a server for "${target}" and a task for it to back them up`;
  }
  return `the subfolder "${name}" holds SQLite databases (${shown}) that were not backed up — Backstop backs up only the files directly in the folder: add a server for "${path}" and a task for it to back them up`;
}

/** File name endings applications give SQLite databases: such a file without the SQLite header is reported, not silently passed over. */
const DATABASE_EXTENSION = /\.(db|sqlite|sqlite3|db3|s3db|sl3|sqlitedb)$/i;

/** The signature of an OLE compound file (Windows' Thumbs.db is one). */
const OLE_MAGIC = Buffer.from('d0cf11e0a1b11ae1', 'hex');

function startsWith(path: string, magic: Buffer): boolean {
  try {
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.alloc(magic.length);
      return readSync(fd, buf, 0, magic.length, 0) === magic.length && buf.equals(magic);
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

/** Why a regular file named like a database is not one (null when it is a database, or unreadable). */
function notDatabaseReason(name: string, path: string): string | null {
  let size: number;
  try {
    const st = lstatSync(path);
    if (!st.isFile()) return null;
    size = st.size;
  } catch {
    return null;
  }
  if (size === 0) return `"${name}" is empty (0 bytes), so there is nothing to back up yet — SQLite writes the first page when the application first stores something`;
  if (startsWith(path, OLE_MAGIC)) return null; // Windows' Thumbs.db and other OLE compound files: never SQLite
  return `"${name}" has a database file name but is not an SQLite database (its first bytes are not the SQLite header), so it was not backed up — if it is an encrypted database (SQLCipher, SEE), Backstop cannot read it: back it up as a file, or exclude it from the task`;
}

/** Entries of a subfolder looked at per run: a large cache folder must not make every run read thousands of files. */
const SUBFOLDER_SCAN_LIMIT = 500;

/** The SQLite files directly in `dir` (a subfolder of the task's folder), up to `max`, among its first SUBFOLDER_SCAN_LIMIT regular files. */
function sqliteFilesIn(dir: string, max: number): string[] {
  const found: string[] = [];
  let looked = 0;
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (!e.isFile()) continue;
      if (readHeader(join(dir, e.name))) found.push(e.name);
      if (found.length >= max || ++looked >= SUBFOLDER_SCAN_LIMIT) break;
    }
  } catch {
    // unreadable: nothing to say about it
  }
  return found.sort();
}

/** The OS user this process runs as, for messages (the uid where the user has no name). */
function osUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return `with uid ${process.getuid?.() ?? '?'}`;
  }
}

/** A regular file (not a link) that this process may not open for reading: it might be a database Backstop cannot see. */
function unreadableFile(path: string | Buffer): boolean {
  try {
    if (!lstatSync(path).isFile()) return false;
    closeSync(openSync(path, 'r'));
    return false;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'EACCES' || code === 'EPERM';
  }
}

/**
 * What `PRAGMA integrity_check` or `quick_check` finds wrong with an open database, one problem a
 * line ([] when it says "ok"); a file too damaged to run the check at all gives SQLite's error.
 */
function integrityLines(db: Libsql.Database, pragma: 'integrity_check' | 'quick_check'): string[] {
  let rows: string[];
  try {
    rows = db.prepare(`PRAGMA ${pragma}`).pluck().all() as string[];
  } catch (e) {
    return [(e as Error).message];
  }
  if (rows.length === 1 && rows[0] === 'ok') return [];
  return rows.flatMap((r) => String(r).split('\n')).filter((l) => l && !/^\*\*\* in database /.test(l));
}

/** integrityLines in at most five of them (SQLite may report thousands), or null when the check says "ok". */
function integrityProblems(db: Libsql.Database, pragma: 'integrity_check' | 'quick_check'): string | null {
  return integrityText(integrityLines(db, pragma));
}

function integrityText(lines: string[]): string | null {
  if (lines.length === 0) return null;
  return lines.slice(0, 5).join('; ') + (lines.length > 5 ? `; … (${lines.length - 5} more)` : '');
}

/** The problems integrity_check reports when only an index's entries disagree with its table's rows (REINDEX rebuilds it from them). */
const INDEX_MISMATCH = /^(?:row \d+ missing from index |wrong # of entries in index )(.+)$/;

/** SQLite's words for a database file whose pages are damaged or cut short. */
const DAMAGED = /SQLITE_CORRUPT|SQLITE_NOTADB|database disk image is malformed|file is not a database/i;

/**
 * A source database whose file is damaged (a torn write, a truncated copy, a bad disk): no backup of
 * it could be restored, so it fails naming what SQLite found and how to repair it. Null for any
 * other failure (`problems` given: the damage a check on the copy found).
 */
function damagedError(action: string, database: string, folder: string, e: unknown, problems?: string): BackstopError | null {
  if (e instanceof BackstopError) return null;
  const text = problems ?? (e instanceof Error ? e.message : String(e));
  const collation = /no such collation sequence: (\S+)/.exec(text)?.[1];
  if (collation !== undefined) return collationError(action, join(folder, database), collation, e);
  if (problems === undefined && !DAMAGED.test(text)) return null;
  const path = join(folder, database);
  return new BackstopError(
    'DUMP_FAILED',
    `${action}: the database file is damaged (${text}), or was still being copied into the folder when the backup read it. A copy of it would not pass the integrity check every restore makes, so nothing was stored for it and its earlier points are kept. If it is damaged, repair it with the application stopped: \`sqlite3 ${shellQuote(path)} .recover | sqlite3 ${shellQuote(`${path}.recovered`)}\`, check the result with PRAGMA integrity_check, and put it in place of the damaged file.`,
    e === undefined ? {} : { cause: e },
  );
}

/**
 * A sound database whose indexes use a collating sequence only its application defines: SQLite here
 * can neither check a snapshot of them nor build them in a restore, so no point is stored.
 */
function collationError(action: string, path: string, collation: string, e: unknown): BackstopError {
  return new BackstopError(
    'DUMP_FAILED',
    `${action}: its indexes use the collating sequence ${collation}, which only the application that made it defines (as Android's LOCALIZED and UNICODE are). The file is not damaged, but without that collation SQLite can neither check a copy of those indexes nor build them in a restore, so nothing was stored for it and its earlier points are kept. Copy it outside Backstop page by page, which needs no collation (\`sqlite3 ${shellQuote(path)} ".backup backup-copy.db"\` writes backup-copy.db in the current folder), or have the application use a built-in collation (BINARY, NOCASE, RTRIM) in its indexes.`,
    e === undefined ? {} : { cause: e },
  );
}

function pageSizeOf(header: Buffer): number {
  const raw = header.readUInt16BE(16);
  return raw === 1 ? 65536 : raw;
}

/** A file name usable as a database name in a folder on this OS. */
export function checkSqliteFileName(name: string): void {
  // eslint-disable-next-line no-control-regex
  const winBad = /[<>:"\\|?*\x00-\x1f]/;
  const bad =
    name.length === 0 ||
    name === '.' ||
    name === '..' ||
    Buffer.byteLength(name, 'utf8') > 255 ||
    /[/\0]/.test(name) ||
    (process.platform === 'win32' && (winBad.test(name) || /[. ]$/.test(name) || /^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i.test(name)));
  if (bad || name.startsWith(TEMP_PREFIX)) {
    throw new BackstopError('VALIDATION', `"${name}" cannot be used as an SQLite database file name in this folder.`);
  }
}

/**
 * Reading a WAL-mode database needs its -wal and -shm files beside it (SQLite creates them even
 * for a read-only connection; where both exist it can read through a read-only -shm): in a
 * folder this OS user may not write, that fails as "attempt to write a readonly database"
 * (EACCES) or "unable to open database file" (EPERM, e.g. an immutable folder). Null for any
 * other failure, and for a database whose header says it is not in WAL mode.
 */
function walFilesError(action: string, database: string, folder: string, e: unknown): BackstopError | null {
  if (e instanceof BackstopError) return null;
  const text = e instanceof Error ? e.message : String(e);
  if (!/attempt to write a readonly database|SQLITE_READONLY|unable to open database file|SQLITE_CANTOPEN/i.test(text)) return null;
  if (readHeader(join(folder, database))?.[18] !== 2) return null; // file format write version 2 = WAL
  try {
    accessSync(folder, constants.W_OK);
    return null;
  } catch {
    const who = osUserName();
    return new BackstopError(
      'PERMISSION_DENIED',
      `${action}: "${database}" is in WAL mode, and reading it needs its "-wal" and "-shm" files, which the OS user ${who} may not create in "${folder}" (${text}). Let that user write to the folder (e.g. setfacl -m u:${who}:rwx on it), or run the backup as the user that owns the database.`,
      { cause: e },
    );
  }
}

const LOCK_FIX =
  'Try again when the writing process is idle, or shorten its transactions. An application that opens the database with PRAGMA locking_mode=EXCLUSIVE holds the lock for as long as it runs: stop it while the backup runs (e.g. in a pre-backup hook of the task) or let it use normal locking.';

/**
 * A read-only connection (or a folder/file this OS user may not write) meeting a hot rollback
 * journal — a writer stopped mid-transaction — cannot roll it back, so the last committed state
 * cannot be read: PERMISSION_DENIED naming the journal and the fix. Null for any other failure.
 */
function hotJournalError(action: string, database: string, folder: string, e: unknown): BackstopError | null {
  if (e instanceof BackstopError) return null;
  const text = e instanceof Error ? e.message : String(e);
  if (!/readonly|read-only|SQLITE_READONLY|unable to open|SQLITE_CANTOPEN/i.test(text) || !existsSync(join(folder, `${database}-journal`))) return null;
  const who = osUserName();
  return new BackstopError(
    'PERMISSION_DENIED',
    `${action}: its rollback journal "${database}-journal" is hot — a writer stopped in the middle of a transaction — and SQLite must roll it back before the last committed state can be read, which needs write access to the file and its folder "${folder}" that the OS user ${who} lacks (${text}). Open the database once with its application (or \`sqlite3 ${shellQuote(join(folder, database))} "PRAGMA integrity_check"\`) as a user that may write it, then back it up again.`,
    { cause: e },
  );
}

/** `startedAt`: when the failed operation began, so a lock error states the time really spent, never an assumed one. */
/** A restore that does not fit in its folder (refused up front, or the disk filled on the way): DISK_FULL; the temp file is already removed. */
function noRoom(database: string, folder: string, what: string, cause?: unknown): BackstopError {
  return new BackstopError('DISK_FULL', `Restoring "${database}" ${what}. Free space there (or restore into another folder). Nothing was created.`, cause === undefined ? undefined : { cause });
}

function sqliteError(code: 'DUMP_FAILED' | 'RESTORE_FAILED', action: string, e: unknown, startedAt?: number): BackstopError {
  if (e instanceof BackstopError) return e;
  if (e instanceof SqliteLockedError) {
    return new BackstopError(code, `${action}: ${e.message}. ${LOCK_FIX}`, { cause: e });
  }
  const text = e instanceof Error ? e.message : String(e);
  if (/SQLITE_BUSY|database is locked/i.test(text)) {
    const waited = startedAt === undefined ? '' : `; Backstop gave up after ${((Date.now() - startedAt) / 1000).toFixed(1)} s`;
    return new BackstopError(code, `${action}: the database was locked by another process (${text})${waited}. ${LOCK_FIX}`, { cause: e });
  }
  return new BackstopError(code, `${action} failed: ${text}`, { cause: e });
}

export class SqliteConnector implements Connector {
  readonly kind = 'sqlite' as const;

  private readonly lockTimeoutMs: number;

  /** `lockTimeoutMs`: how long a snapshot may wait for a writer's lock (default 30 s). */
  constructor(
    private readonly folder: string,
    opts: { lockTimeoutMs?: number } = {},
  ) {
    this.lockTimeoutMs = opts.lockTimeoutMs ?? BUSY_TIMEOUT_MS;
  }

  support(type: BackupType): BackupSupport {
    void type;
    return { available: true, scope: 'database' };
  }

  private checkFolder(folder = this.folder): void {
    if (!isAbsolute(folder)) throw new BackstopError('VALIDATION', `The folder "${folder}" must be an absolute path.`);
    let isDir = false;
    try {
      isDir = statSync(folder).isDirectory();
    } catch {
      throw new BackstopError('UNREACHABLE', `The folder "${folder}" does not exist or is not mounted.`);
    }
    if (!isDir) throw new BackstopError('VALIDATION', `"${folder}" is not a folder.`);
    try {
      accessSync(folder, constants.R_OK | constants.X_OK);
    } catch {
      throw new BackstopError('PERMISSION_DENIED', `Backstop may not read the folder "${folder}".`);
    }
  }

  async testConnection(): Promise<ConnectionReport> {
    this.checkFolder();
    const mem = new (Database())(':memory:');
    const version = String(scalar(mem, 'SELECT sqlite_version()'));
    mem.close();
    const warnings: string[] = [];
    try {
      accessSync(this.folder, constants.W_OK);
    } catch {
      warnings.push(`The folder "${this.folder}" is read-only for Backstop: restores into it will fail (choose another folder when restoring).`);
    }
    return { serverVersion: `SQLite ${version}`, tools: [], warnings };
  }

  async listDatabases(): Promise<string[]> {
    this.checkFolder();
    const names: string[] = [];
    for (const { name, path, utf8 } of this.entries()) {
      if (!utf8 || this.sideOrTemp(name)) continue;
      try {
        if (!lstatSync(path).isFile()) continue;
      } catch {
        continue;
      }
      if (readHeader(path)) names.push(name);
    }
    return names.sort();
  }

  /**
   * SQLite files in the folder that listDatabases leaves out, so a run reports them as skipped
   * instead of silently not backing them up: a name that is not UTF-8 (database names are
   * text everywhere in Backstop), a symbolic link (only regular files directly in the
   * folder are backed up; a link loop or a link to nothing is not a database at all), and a
   * regular file this OS user may not read (it may be a database).
   */
  async skippedDatabases(): Promise<SkippedDatabase[]> {
    this.checkFolder();
    const skipped: SkippedDatabase[] = [];
    const self = realpathSync(this.folder);
    for (const { name, path, utf8, bytes } of this.entries()) {
      const leftover = utf8 ? this.restoreLeftover(name) : null;
      if (leftover) {
        skipped.push({ database: name, reason: leftover });
        continue;
      }
      if (utf8 && !this.sideOrTemp(name) && unreadableFile(path)) {
        const who = osUserName();
        skipped.push({
          database: name,
          reason: `Backstop may not read "${name}" (permission denied), so it was not backed up — if it is an SQLite database, let the OS user ${who} read it and its folder's -wal/-shm files (e.g. setfacl -m u:${who}:r, or a group with read access), or exclude it from the task`,
        });
        continue;
      }
      if (utf8 && !this.sideOrTemp(name) && typeof path === 'string') {
        const sub = subfolderReason(name, path, self);
        if (sub) {
          skipped.push({ database: `${name}/`, reason: sub });
          continue;
        }
        if (DATABASE_EXTENSION.test(name) && !readHeader(path)) {
          const reason = notDatabaseReason(name, path);
          if (reason) skipped.push({ database: name, reason });
          continue;
        }
      }
      if (!readHeader(path)) continue; // follows links: loops and dangling links read nothing
      if (!utf8) {
        const shown = [...bytes.toString('latin1')].map((ch) => (ch.charCodeAt(0) < 0x80 ? ch : `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`)).join('');
        skipped.push({ database: name, reason: `the file name "${shown}" (bytes outside ASCII shown as \\xNN) is not valid UTF-8, so it was not backed up — rename it to a UTF-8 name to back it up` });
        continue;
      }
      let link: string | null = null;
      try {
        if (lstatSync(path).isSymbolicLink()) link = resolve(this.folder, readlinkSync(path));
      } catch {
        continue;
      }
      if (link === null) continue;
      let inFolder = false;
      let target = '';
      try {
        target = realpathSync(path);
        inFolder = dirname(target) === self && lstatSync(target).isFile();
      } catch {
        continue; // the link was removed or changed since it was read: nothing to report
      }
      skipped.push({
        database: name,
        reason: `"${name}" is a symbolic link (to ${link}), so it was not backed up — Backstop backs up the regular files directly in the folder${
          inFolder ? `; that file is backed up as "${basename(target)}"` : ': replace the link with the file, or back up the folder that holds it'
        }`,
      });
    }
    return skipped.sort((a, b) => (a.database < b.database ? -1 : a.database > b.database ? 1 : 0));
  }

  /**
   * Why a restore's temporary file is not backed up (its own -wal/-journal/-shm files: null, the file
   * itself says it): a restore into this folder writes it and removes it when done, so one that stays
   * was left by a restore that was killed (or is one running now) — never silently passed over, as
   * it may be as large as a database.
   */
  private restoreLeftover(name: string): string | null {
    if (!name.startsWith(TEMP_PREFIX) || SIDE_FILES.some((s) => name.endsWith(s))) return null;
    let size: number;
    try {
      const st = lstatSync(join(this.folder, name));
      if (!st.isFile()) return null;
      size = st.size;
    } catch {
      return null;
    }
    return `"${name}" (${formatBytes(size)}) is the temporary file of a Backstop restore into this folder, not a database of the application, so it was not backed up — a restore removes it when it ends, so unless a restore into "${this.folder}" is running now, one that was killed left it: delete it and its -journal/-wal/-shm files`;
  }

  /** A restore's temp file, or the -wal/-shm/-journal file of a database beside it. */
  private sideOrTemp(name: string): boolean {
    return name.startsWith(TEMP_PREFIX) || SIDE_FILES.some((s) => name.endsWith(s) && existsSync(join(this.folder, name.slice(0, -s.length))));
  }

  /** The folder's entries by their raw bytes: `utf8` false when the name is not valid UTF-8 (Node would show U+FFFD). */
  private entries(): { name: string; path: string | Buffer; utf8: boolean; bytes: Buffer }[] {
    return readdirSync(this.folder, { encoding: 'buffer' }).map((bytes) => {
      const name = bytes.toString('utf8');
      const utf8 = Buffer.from(name, 'utf8').equals(bytes);
      return { name, bytes, utf8, path: utf8 ? join(this.folder, name) : Buffer.concat([Buffer.from(join(this.folder, '/')), bytes]) };
    });
  }

  /** Opens a database file of the folder for reading; DATABASE_NOT_FOUND unless it is an SQLite file. */
  private openSource(database: string): Libsql.Database {
    checkSqliteFileName(database);
    this.checkFolder();
    const path = join(this.folder, database);
    if (!readHeader(path)) {
      let gone = false;
      try {
        lstatSync(path);
      } catch (e) {
        gone = (e as NodeJS.ErrnoException).code === 'ENOENT';
      }
      // A backup run lists the folder when it starts, and a database's turn may come much later.
      if (gone) {
        throw new BackstopError(
          'DATABASE_NOT_FOUND',
          `"${database}" is no longer in "${this.folder}": it was deleted or renamed after the backup run listed the folder, before its turn; nothing was stored for it and its earlier points are kept. The next run backs up the files the folder holds then (a renamed one under its new name).`,
        );
      }
      throw new BackstopError('DATABASE_NOT_FOUND', `"${database}" is not an SQLite database in "${this.folder}" (not an SQLite file).`);
    }
    const db = new (Database())(path);
    db.exec(`PRAGMA busy_timeout = ${this.lockTimeoutMs}`);
    return db;
  }

  async openDump(database: string, type: BackupType, opts: OperationOptions = {}): Promise<DumpStream> {
    if (opts.signal?.aborted) throw new BackstopError('CANCELED', 'The backup was canceled.');
    return type === 'snapshot' ? this.snapshot(database, opts) : this.logical(database, opts);
  }

  /**
   * A consistent copy of `database` in a new temporary folder (online-backup.ts; `VACUUM INTO` where the
   * binding cannot load), the source's read lock held only while the pages are copied: what a backup then
   * does with the copy (stream it, dump it as SQL, both as slowly as its destination takes them) never
   * keeps the application's writers or checkpoints waiting. `action` names the step in errors.
   */
  private async copyToTemp(database: string, action: string, opts: OperationOptions): Promise<{ dir: string; file: string }> {
    const db = this.openSource(database);
    let dir: string;
    try {
      dir = makeTempFolder('backstop-sqlite-', action);
    } catch (e) {
      db.close();
      throw e;
    }
    const file = join(dir, 'snapshot.sqlite');
    const startedAt = Date.now();
    try {
      db.close();
      const copy = (): Promise<boolean> => onlineBackup(join(this.folder, database), file, { lockTimeoutMs: this.lockTimeoutMs, signal: opts.signal });
      let copied: boolean;
      try {
        copied = await copy();
      } catch (e) {
        if ((e as { errno?: number }).errno !== SQLITE_READONLY_ROLLBACK) throw e;
        // A hot journal: a writer stopped mid-transaction. The read-only connection may not roll it
        // back; SQLite's own recovery on a read-write connection does (as the application would on its
        // next open), and only then is the last committed state readable.
        this.rollBackHotJournal(database, action);
        rmSync(file, { force: true });
        copied = await copy();
      }
      if (!copied) {
        const fallback = this.openSource(database);
        try {
          fallback.exec(`VACUUM INTO '${file.replace(/'/g, "''")}'`);
        } finally {
          fallback.close();
        }
      }
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw walFilesError(action, database, this.folder, e) ?? damagedError(action, database, this.folder, e) ?? tempFullError(action, dir, sourceBytes(join(this.folder, database)), e) ?? sqliteError('DUMP_FAILED', action, e, startedAt);
    }
    return { dir, file };
  }

  private async snapshot(database: string, opts: OperationOptions): Promise<DumpStream> {
    const { dir, file } = await this.copyToTemp(database, `Snapshotting "${database}"`, opts);
    const header = readHeader(file);
    if (!header) {
      rmSync(dir, { recursive: true, force: true });
      throw new BackstopError('DUMP_FAILED', `The snapshot of "${database}" is not a valid SQLite file.`);
    }
    // The copy holds the source's pages as they are: a damaged source gives a copy no restore accepts.
    const problems = quickCheck(file);
    if (problems !== null) {
      rmSync(dir, { recursive: true, force: true });
      throw damagedError(`Snapshotting "${database}"`, database, this.folder, undefined, problems)!;
    }
    const facts = snapshotFacts(file);
    const stream = createReadStream(file);
    const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
    stream.once('close', cleanup);
    const onAbort = (): void => {
      stream.destroy(new BackstopError('CANCELED', 'The backup was canceled.'));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const done = new Promise<void>((resolve, reject) => {
      stream.once('end', resolve);
      stream.once('error', (e) => reject(sqliteError('DUMP_FAILED', `Reading the snapshot of "${database}"`, e)));
    }).finally(() => opts.signal?.removeEventListener('abort', onAbort));
    done.catch(() => undefined);
    // A read stream of a private temp file: each read is a fresh buffer nothing else keeps.
    return { stream, done, handsOverBuffers: true, facts: knownFacts(facts), meta: { format: 'sqlite-file', pageSize: pageSizeOf(header), expectedBytes: statSync(file).size }, volatile: NO_VOLATILE_BYTES };
  }

  /**
   * Lets SQLite roll back the hot journal a crashed writer left beside `database` (the first read
   * of a read-write connection does, under an exclusive lock). Where this OS user may not write the
   * file or folder, PERMISSION_DENIED naming the journal and the fix; the source is not touched then.
   */
  private rollBackHotJournal(database: string, action: string): void {
    const db = this.openSource(database);
    try {
      scalar(db, 'PRAGMA schema_version');
    } catch (e) {
      throw hotJournalError(action, database, this.folder, e) ?? e;
    } finally {
      db.close();
    }
  }

  private async logical(database: string, opts: OperationOptions): Promise<DumpStream> {
    const action = `Dumping "${database}"`;
    // The SQL is written from a copy, not the live file: a read transaction on the source for as long as the
    // dump is read (a slow destination, a read limit) kept every writer's COMMIT (rollback journal) or
    // TRUNCATE/RESTART checkpoint (WAL) waiting for the whole backup.
    const { dir, file } = await this.copyToTemp(database, action, opts);
    const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
    let db: Libsql.Database;
    try {
      db = new (Database())(file, { readonly: true });
    } catch (e) {
      cleanup();
      throw sqliteError('DUMP_FAILED', action, e);
    }
    const signal = opts.signal;
    const folder = this.folder;
    let facts: FactsOutcome = { unavailable: 'the dump did not start' };
    function* guarded(): Generator<string> {
      try {
        db.exec('BEGIN');
        facts = sqliteFacts(db, 'sqlite-transaction');
        for (const chunk of sqliteSqlDump(db)) {
          if (signal?.aborted) throw new BackstopError('CANCELED', 'The backup was canceled.');
          yield chunk;
        }
      } catch (e) {
        throw damagedError(action, database, folder, e) ?? sqliteError('DUMP_FAILED', action, e);
      } finally {
        try {
          if (db.inTransaction) db.exec('ROLLBACK');
        } finally {
          db.close();
          cleanup();
        }
      }
    }
    const stream = Readable.from(guarded(), { objectMode: false });
    // A stream destroyed before its first read never runs the generator: the copy goes with it.
    stream.once('close', () => {
      if (db.open) db.close();
      cleanup();
    });
    const done = new Promise<void>((resolve, reject) => {
      stream.once('end', resolve);
      stream.once('error', reject);
      stream.once('close', () => reject(new BackstopError('CANCELED', 'The dump stream was closed before it was complete.')));
    });
    done.catch(() => undefined);
    return { stream, done, facts: { observe: () => undefined, result: () => facts }, meta: { format: 'sqlite-sql' }, volatile: NO_VOLATILE_BYTES };
  }

  serverStreams(): ServerStream[] {
    return [];
  }

  async openServerDump(name: string): Promise<DumpStream> {
    throw new BackstopError('VALIDATION', `SQLite folders have no server-level stream "${name}".`);
  }

  async inspectRestored(database: string, countTables: string[], opts: OperationOptions & { folder?: string } = {}): Promise<RestoredInspection> {
    checkSqliteFileName(database);
    const path = join(opts.folder ?? this.folder, database);
    if (!readHeader(path)) throw new BackstopError('DATABASE_NOT_FOUND', `"${path}" is not an SQLite database.`);
    const db = new (Database())(path, { readonly: true });
    try {
      const problems = integrityProblems(db, 'integrity_check');
      const tables = sqliteUserTables(db);
      const present = new Set(tables);
      const counts = sqliteRowCounts(db, countTables.filter((t) => present.has(t)));
      return { tables, counts, checks: [{ name: 'integrity_check', ok: problems === null, detail: `PRAGMA integrity_check: ${problems ?? 'ok'}` }] };
    } finally {
      db.close();
    }
  }

  async dropDatabase(): Promise<void> {
    throw new BackstopError('VALIDATION', 'An SQLite test restore goes into a temporary folder, which is removed as a whole; there is no database to drop.');
  }

  async restore(database: string, source: Readable, type: BackupType, opts: RestoreOptions = {}): Promise<RestoreReport> {
    try {
      return await this.restoreFile(database, source, type, opts);
    } catch (e) {
      source.destroy(); // the restore owns the source: an unread dump must not keep a child or temp file alive
      throw e;
    }
  }

  private async restoreFile(database: string, source: Readable, type: BackupType, opts: RestoreOptions): Promise<RestoreReport> {
    checkSqliteFileName(database);
    const folder = opts.folder ?? this.folder;
    this.checkFolder(folder);
    const target = join(folder, database);
    // lstat, not exists: a dangling symbolic link holds the name too (the final link() would meet it).
    const present = (p: string): boolean => {
      try {
        lstatSync(p);
        return true;
      } catch {
        return false;
      }
    };
    if ([target, ...SIDE_FILES.map((s) => target + s)].some(present)) throw new BackstopError('DATABASE_EXISTS', `"${database}" already exists in "${folder}" (or has a leftover -wal/-journal file); choose another name.`);
    // A snapshot is its file: one that cannot fit is refused before a byte is written.
    if (type === 'snapshot' && opts.totalBytes) {
      const free = freeBytesAt(folder);
      if (free !== null && free < opts.totalBytes) throw noRoom(database, folder, `needs about ${formatBytes(opts.totalBytes)} free in "${folder}", but only ${formatBytes(free)} is free`);
    }
    const temp = join(folder, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    const removeTemp = (): void => {
      for (const p of [temp, ...SIDE_FILES.map((s) => temp + s)]) rmSync(p, { force: true });
    };
    const progress = new ProgressReporter('bytes', opts.totalBytes ?? null, opts.onProgress);
    try {
      if (type === 'snapshot') await this.writeSnapshot(source, temp, progress, opts.signal);
      else await this.loadSql(source, temp, progress, opts.signal);
      const repaired = this.checkIntegrity(temp, database);
      try {
        linkSync(temp, target);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new BackstopError('DATABASE_EXISTS', `"${database}" appeared in "${folder}" during the restore; nothing was overwritten.`);
        if (!hardLinksUnsupported(e)) throw e;
        // Filesystems without hard links: the copy creates `target` itself (EXCL), so a copy cut
        // short (a full disk) removes what it wrote; a name taken meanwhile is not ours to touch.
        try {
          copyFileSync(temp, target, constants.COPYFILE_EXCL);
        } catch (copyError) {
          if ((copyError as NodeJS.ErrnoException).code === 'EEXIST') throw new BackstopError('DATABASE_EXISTS', `"${database}" appeared in "${folder}" during the restore; nothing was overwritten.`);
          rmSync(target, { force: true });
          throw copyError;
        }
      }
      removeTemp();
      progress.finish();
      return { database, path: target, ...(repaired.length ? { notes: repaired.map((r) => r.note), repaired: repaired.map((r) => r.damage) } : {}) };
    } catch (e) {
      removeTemp();
      const text = e instanceof Error ? `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}` : String(e);
      if (!(e instanceof BackstopError) && FULL.test(text)) throw noRoom(database, folder, `ran out of space in "${folder}" (${e instanceof Error ? e.message : String(e)})`, e);
      throw sqliteError('RESTORE_FAILED', `Restoring "${database}"`, e);
    }
  }

  private async writeSnapshot(source: Readable, temp: string, progress: ProgressReporter, signal?: AbortSignal): Promise<void> {
    const out = createWriteStream(temp, { flags: 'wx', mode: 0o644 });
    await pipeline(source, countingStream(progress), out, { signal });
    const fd = openSync(temp, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const header = readHeader(temp);
    if (!header) throw new BackstopError('RESTORE_FAILED', 'The snapshot stream is not an SQLite database file.');
    // The in-header page count is authoritative when its "valid-for" counter matches the change counter.
    const pages = header.readUInt32BE(28);
    if (pages > 0 && header.readUInt32BE(24) === header.readUInt32BE(92)) {
      const expected = pages * pageSizeOf(header);
      const actual = statSync(temp).size;
      if (actual !== expected) throw new BackstopError('RESTORE_FAILED', `The snapshot stream is truncated: ${actual} bytes instead of ${expected}.`);
    }
  }

  private async loadSql(source: Readable, temp: string, progress: ProgressReporter, signal?: AbortSignal): Promise<void> {
    closeSync(openSync(temp, 'wx', 0o644)); // reserve the temp name exclusively; 0 bytes is an empty database
    const db = new (Database())(temp);
    try {
      const splitter = new StatementSplitter();
      let batch = '';
      const decoder = new TextDecoder('utf-8', { fatal: false });
      const sink = countingStream(progress);
      // Statements run in batches of about 64 KiB, and a longer one (a large BLOB's X'…' literal)
      // alone: libsql's exec costs each statement of a batch about the length of the text after
      // it (a 16 MB statement behind 200 small ones in one exec: 51 s; alone: under 1 s).
      const take = (stmt: SqlStatement): void => {
        if (typeof stmt !== 'string') {
          // An INSERT with large BLOBs (statement-splitter.ts): run alone, the blobs bound.
          if (batch) db.exec(batch);
          batch = '';
          db.prepare(stmt.sql).run(stmt.blobs);
          return;
        }
        if (stmt.length >= EXEC_BATCH_CHARS) {
          if (batch) db.exec(batch);
          batch = '';
          db.exec(stmt);
          return;
        }
        batch += stmt;
        if (batch.length >= EXEC_BATCH_CHARS) {
          db.exec(batch);
          batch = '';
        }
      };
      const run = async (): Promise<void> => {
        for await (const chunk of source.pipe(sink) as AsyncIterable<Buffer>) {
          for (const stmt of splitter.push(decoder.decode(chunk, { stream: true }))) take(stmt);
        }
        for (const stmt of splitter.push(decoder.decode())) take(stmt);
        splitter.end();
        if (batch) db.exec(batch);
      };
      source.on('error', (e) => sink.destroy(e));
      const onAbort = (): void => {
        sink.destroy(new BackstopError('CANCELED', 'The restore was canceled.'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        if (signal?.aborted) onAbort();
        await run();
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
      if (db.inTransaction) throw new BackstopError('RESTORE_FAILED', 'The SQL dump has no final COMMIT: the backup stream is incomplete.');
      // A database without tables (an application that has not created its schema yet) creates no
      // table, and that decides its file: none at all (0 bytes: not an SQLite file to anyone), or a
      // header in UTF-8 whatever the dump's PRAGMA encoding said. A table created and dropped, then
      // VACUUM, writes the header with every setting the dump gave this connection.
      if (scalar(db, 'SELECT count(*) FROM sqlite_schema') === 0) db.exec('CREATE TABLE backstop_header (x); DROP TABLE backstop_header; VACUUM;');
    } finally {
      db.close();
    }
  }

  /**
   * PRAGMA integrity_check on the restored temp file; RESTORE_FAILED naming the problems. A snapshot
   * copies the source's pages as they are, and the backup's quick_check does not compare an index's
   * entries with its table's rows: when that is all that is wrong, the indexes are rebuilt from the
   * rows (REINDEX, the tables untouched) and a note says so — the data comes back rather than nothing.
   */
  /** integrity_check on a restored copy: nothing to say, the index damage it repaired (a note and the damage in words), or RESTORE_FAILED. */
  private checkIntegrity(path: string, database: string): { note: string; damage: string }[] {
    const db = new (Database())(path);
    try {
      const lines = integrityLines(db, 'integrity_check');
      if (lines.length === 0) return [];
      const indexes = new Set(lines.map((l) => INDEX_MISMATCH.exec(l)?.[1]));
      if (!indexes.has(undefined)) {
        try {
          db.exec('REINDEX');
        } catch {
          // e.g. a UNIQUE index whose table now holds duplicates: reported below as it was
        }
        if (integrityLines(db, 'integrity_check').length === 0) {
          const names = [...indexes].map((n) => `"${n}"`).join(', ');
          const one = indexes.size === 1;
          const damage = `the backup's copy failed PRAGMA integrity_check (${integrityText(lines)}): a restore rebuilds ${one ? 'index' : 'indexes'} ${names} from ${one ? "its table's" : 'their tables\''} rows (REINDEX) — the source database has the same damage: run REINDEX on it`;
          return [
            {
              damage,
              note: `The backup of "${database}" held ${indexes.size === 1 ? 'an index' : 'indexes'} (${names}) whose entries did not match ${indexes.size === 1 ? 'its table' : 'their tables'} (PRAGMA integrity_check: ${integrityText(lines)}); the source database has the same damage. The tables were restored as they were and ${indexes.size === 1 ? 'that index was' : 'those indexes were'} rebuilt from their rows (REINDEX) — run REINDEX on the source database too.`,
            },
          ];
        }
      }
      throw new BackstopError('RESTORE_FAILED', `The restored "${database}" failed PRAGMA integrity_check: ${integrityText(lines)}`);
    } finally {
      db.close();
    }
  }
}
