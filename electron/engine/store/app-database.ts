/**
 * The app database: one SQLite file (`<dataDir>/backstop.db`) in WAL mode, opened through
 * libsql (an N-API binding, so the same build serves Node and Electron).
 *
 * Contract: `openAppDatabase` applies all pending migrations in ONE transaction (a failure —
 * disk full, an object already there — leaves the file exactly as the older Backstop left it,
 * so that build still opens it, and throws STORAGE naming the migration and the cause), and
 * refuses a file written by a newer Backstop (FORMAT_TOO_NEW) instead of touching it. A file
 * SQLite cannot read (not a database, damaged) is STORAGE naming it and what to do. A later write
 * that fails (disk full, read-only, I/O error) names the file and the fix (app-database-errors.ts).
 * Only this process opens the file for writing. No secret is ever stored here: servers
 * and tasks keep keychain references only.
 */
import Database from 'libsql';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { BackstopError } from '../../shared/result.ts';
import { guardAppDatabase } from './app-database-errors.ts';
import { MIGRATIONS } from './migrations.ts';

export type Db = Database.Database;

export { SCHEMA_VERSION } from './schema-version.ts';

export function openAppDatabase(path: string): Db {
  mkdirSync(dirname(path), { recursive: true });
  let db: Db;
  try {
    db = new Database(path);
  } catch (e) {
    throw new BackstopError('STORAGE', `Cannot open the app database at ${path}: ${(e as Error).message}`);
  }
  try {
    db.exec('PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;');
    assertNotNewer(db);
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
    migrate(db);
    return guardAppDatabase(db, path);
  } catch (e) {
    db.close();
    throw e instanceof BackstopError ? e : unreadable(path, e);
  }
}

/** A file SQLite refuses (not a database, damaged): named, with what to do; never "an unexpected error". */
function unreadable(path: string, e: unknown): BackstopError {
  const code = (e as { code?: unknown }).code;
  const reason = (e as Error).message;
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return new BackstopError(
      'STORAGE',
      `The app database at ${path} cannot be read (${reason}). It may be damaged: put back a copy of it, or move it aside and Backstop starts with a new one (servers, tasks and history are then empty; backups at the destinations are not touched).`,
      { retryable: false },
    );
  }
  return new BackstopError('STORAGE', `The app database at ${path} cannot be read (${reason}).`);
}

export function schemaVersion(db: Db): number {
  const row = db.prepare('PRAGMA user_version').get() as { user_version: number };
  return row.user_version;
}

/** Checked before anything writes to the file (even the journal-mode switch). */
function assertNotNewer(db: Db): void {
  const current = schemaVersion(db);
  if (current > MIGRATIONS.length) {
    throw new BackstopError(
      'FORMAT_TOO_NEW',
      `The app database was written by a newer version of Backstop (schema ${current}, this version knows ${MIGRATIONS.length}). Update Backstop; the file was left untouched.`,
    );
  }
}

function migrate(db: Db): void {
  const from = schemaVersion(db);
  if (from >= MIGRATIONS.length) return;
  let at = from; // the migration being applied; MIGRATIONS.length: the commit
  try {
    // By hand, not db.transaction(): when SQLite has already rolled back (disk full at commit), its ROLLBACK error would hide the cause.
    db.exec('BEGIN IMMEDIATE');
    for (; at < MIGRATIONS.length; at++) db.exec(MIGRATIONS[at]!);
    db.exec(`PRAGMA user_version = ${MIGRATIONS.length}`);
    db.exec('COMMIT');
  } catch (e) {
    if (db.inTransaction) db.exec('ROLLBACK');
    const reason = (e as Error).message;
    const where = at < MIGRATIONS.length ? `at migration ${at + 1}` : `while saving migrations ${from + 1}–${MIGRATIONS.length}`;
    throw new BackstopError(
      /disk is full|SQLITE_FULL/i.test(reason) ? 'DISK_FULL' : 'STORAGE',
      `Upgrading the app database from schema ${from} to ${MIGRATIONS.length} failed ${where}: ${reason}. The database was left unchanged at schema ${from}: fix the cause (free disk space, or remove what the message names) and start Backstop again.`,
    );
  }
}
