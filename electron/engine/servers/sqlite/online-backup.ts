/**
 * A consistent copy of a live SQLite database through SQLite's online backup API (the
 * `sqlite3` N-API binding): all pages are copied in one step (`step(-1)`), under one read
 * lock, so the copy is a single point in time while other processes keep writing, and a
 * writer's commit can never make it restart (in rollback-journal mode writers wait for
 * the lock with their own busy timeout; in WAL mode they do not wait at all).
 *
 * Contract: resolves when `dest` holds the complete copy; rejects (and leaves `dest` for
 * the caller to remove) on any error. Taking the read lock is retried while the source
 * is locked by a writer (SQLITE_BUSY / SQLITE_LOCKED) for at most `lockTimeoutMs` of real
 * time; after that it rejects with a `SqliteLockedError` carrying the time really waited.
 * An aborted `signal` stops the retries (CANCELED). Returns false when the binding is
 * unavailable, so the caller can fall back to `VACUUM INTO`.
 */
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackstopError } from '../../../shared/result.ts';

interface Sqlite3Backup {
  step(pages: number, cb: (err: (Error & { errno?: number; code?: string }) | null) => void): void;
  finish(cb?: (err: Error | null) => void): void;
  completed: boolean;
  failed: boolean;
}
interface Sqlite3Database {
  backup(filename: string, cb: (err: Error | null) => void): Sqlite3Backup;
  configure(option: 'busyTimeout', ms: number): void;
  close(cb?: (err: Error | null) => void): void;
}
interface Sqlite3Module {
  OPEN_READONLY: number;
  BUSY: number;
  LOCKED: number;
  Database: new (filename: string, mode: number, cb: (err: Error | null) => void) => Sqlite3Database;
}

/** The source stayed locked by other connections for longer than allowed. */
export class SqliteLockedError extends Error {
  constructor(
    readonly waitedMs: number,
    readonly detail: string,
  ) {
    super(`the database stayed locked by another process for ${(waitedMs / 1000).toFixed(1)} s (${detail})`);
  }
}

export interface OnlineBackupOptions {
  /** Real time allowed for getting the read lock, summed over retries. */
  lockTimeoutMs: number;
  signal?: AbortSignal;
}

/** One attempt's wait inside SQLite's busy handler before control returns here. */
const ATTEMPT_BUSY_MS = 250;
const RETRY_PAUSE_MS = 10;

function loadBinding(): Sqlite3Module | null {
  try {
    return createRequire(import.meta.url)('sqlite3') as Sqlite3Module;
  } catch {
    return null;
  }
}

export async function onlineBackup(source: string, dest: string, opts: OnlineBackupOptions = { lockTimeoutMs: 30_000 }): Promise<boolean> {
  const sqlite3 = loadBinding();
  if (!sqlite3) return false;
  const db = await new Promise<Sqlite3Database>((resolve, reject) => {
    const d: Sqlite3Database = new sqlite3.Database(source, sqlite3.OPEN_READONLY, (err) => (err ? reject(err) : resolve(d)));
  });
  db.configure('busyTimeout', ATTEMPT_BUSY_MS);
  try {
    const backup = await new Promise<Sqlite3Backup>((resolve, reject) => {
      const b = db.backup(dest, (err) => (err ? reject(err) : resolve(b)));
    });
    const step = (): Promise<(Error & { errno?: number; code?: string }) | null> => new Promise((resolve) => backup.step(-1, (err) => resolve(err)));
    const finish = (): Promise<Error | null> => new Promise((resolve) => backup.finish((err) => resolve(err)));
    let firstBusy: number | null = null;
    for (;;) {
      const attemptStart = Date.now();
      const err = await step();
      if (!err) break;
      const busy = err.errno === sqlite3.BUSY || err.errno === sqlite3.LOCKED;
      if (!busy) {
        await finish();
        throw err;
      }
      const now = Date.now();
      firstBusy ??= attemptStart; // the wait began with the first attempt that found the lock taken
      if (now - firstBusy >= opts.lockTimeoutMs) {
        await finish();
        throw new SqliteLockedError(now - firstBusy, err.code ?? 'SQLITE_BUSY');
      }
      if (opts.signal?.aborted) {
        await finish();
        throw new BackstopError('CANCELED', 'The backup was canceled.');
      }
      await sleep(RETRY_PAUSE_MS);
    }
    if (!backup.completed) {
      await finish();
      throw new Error('the online backup did not complete');
    }
    const finishErr = await finish();
    if (finishErr) throw finishErr;
  } finally {
    await new Promise<void>((resolve) => db.close(() => resolve()));
  }
  return true;
}
