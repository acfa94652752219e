/**
 * A consistent copy of a live SQLite database through SQLite's online backup API (the
 * `sqlite3` N-API binding): all pages are copied in one step, under one read lock, so the
 * copy is a single point in time while other processes keep writing (WAL or rollback
 * journal). Busy/locked sources are retried by the binding.
 *
 * Contract: resolves when `dest` holds the complete copy; rejects (and leaves `dest` for
 * the caller to remove) on any error. Returns false when the binding is unavailable, so
 * the caller can fall back to `VACUUM INTO`.
 */
import { createRequire } from 'node:module';

interface Sqlite3Backup {
  step(pages: number, cb: (err: Error | null) => void): void;
  finish(cb?: (err: Error | null) => void): void;
  completed: boolean;
  failed: boolean;
}
interface Sqlite3Database {
  backup(filename: string, cb: (err: Error | null) => void): Sqlite3Backup;
  close(cb?: (err: Error | null) => void): void;
}
interface Sqlite3Module {
  OPEN_READONLY: number;
  Database: new (filename: string, mode: number, cb: (err: Error | null) => void) => Sqlite3Database;
}

function loadBinding(): Sqlite3Module | null {
  try {
    return createRequire(import.meta.url)('sqlite3') as Sqlite3Module;
  } catch {
    return null;
  }
}

export async function onlineBackup(source: string, dest: string): Promise<boolean> {
  const sqlite3 = loadBinding();
  if (!sqlite3) return false;
  const db = await new Promise<Sqlite3Database>((resolve, reject) => {
    const d: Sqlite3Database = new sqlite3.Database(source, sqlite3.OPEN_READONLY, (err) => (err ? reject(err) : resolve(d)));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const backup = db.backup(dest, (err) => {
        if (err) return reject(err);
        backup.step(-1, (stepErr) => {
          if (stepErr) return backup.finish(() => reject(stepErr));
          if (!backup.completed) return backup.finish(() => reject(new Error('the online backup did not complete')));
          backup.finish((finishErr) => (finishErr ? reject(finishErr) : resolve()));
        });
      });
    });
  } finally {
    await new Promise<void>((resolve) => db.close(() => resolve()));
  }
  return true;
}
