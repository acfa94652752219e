/**
 * What a failing write to the app database (`<dataDir>/backstop.db`) tells the user, and the one
 * transaction helper every table uses.
 *
 * Contract: `guardAppDatabase(db)` returns the same database whose statements and `exec` throw a
 * BackstopError naming the file and the fix for a full disk (SQLITE_FULL → DISK_FULL), a
 * read-only file or folder (SQLITE_READONLY*) or an I/O error (SQLITE_IOERR*, a file-size limit
 * or quota, a failing disk; SQLITE_CANTOPEN) → STORAGE; other errors pass unchanged (a
 * constraint is the caller's to explain). `inTransaction(db, fn)` runs `fn` in one
 * BEGIN IMMEDIATE…COMMIT and, on failure, rolls back only if SQLite has not already done so
 * (libsql's `transaction()` always issues ROLLBACK, whose "no transaction is active" then hides
 * the real cause).
 */
import type Database from 'libsql';
import { dirname } from 'node:path';
import { BackstopError } from '../../shared/result.ts';

type Db = Database.Database;

/** The BackstopError for a SQLite error on the app database at `path`, or `e` itself when it is not a storage failure. */
export function appDatabaseError(path: string, e: unknown): unknown {
  if (e instanceof BackstopError) return e;
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return e;
  const reason = `${(e as Error).message}, ${code}`;
  const dir = dirname(path);
  if (code.startsWith('SQLITE_FULL')) {
    return new BackstopError('DISK_FULL', `Backstop could not write its app database ${path}: the disk is full (${reason}). Free space on the disk that holds ${dir}, then try again.`, { cause: e });
  }
  if (code.startsWith('SQLITE_READONLY')) {
    return new BackstopError(
      'STORAGE',
      `Backstop could not write its app database ${path}: it is read-only (${reason}). Make ${dir} and the files in it writable for this user (not a read-only mount, not owned by another user), then try again.`,
      { cause: e, retryable: false },
    );
  }
  if (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CANTOPEN')) {
    return new BackstopError(
      'STORAGE',
      `Backstop could not write its app database ${path} (${reason}). Check the disk that holds ${dir}: free space, a file-size limit or quota (ulimit -f), and that it is writable and not failing; then try again.`,
      { cause: e },
    );
  }
  return e;
}

/** `db` whose statements and exec report storage failures through appDatabaseError (see the contract). */
export function guardAppDatabase(db: Db, path: string): Db {
  const guard = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(t, key) {
        const value = Reflect.get(t, key, t) as unknown;
        if (typeof value !== 'function' || key === 'constructor') return value;
        return (...args: unknown[]) => {
          let r: unknown;
          try {
            r = (value as (...a: unknown[]) => unknown).apply(t, args);
          } catch (e) {
            throw appDatabaseError(path, e);
          }
          if (r === t) return proxy(t);
          return key === 'prepare' && typeof r === 'object' && r !== null ? guard(r) : r;
        };
      },
    });
  const proxies = new WeakMap<object, object>();
  const proxy = (t: object): unknown => {
    let p = proxies.get(t);
    if (!p) proxies.set(t, (p = guard(t)));
    return p;
  };
  return proxy(db) as Db;
}

/** Runs `fn` in one transaction (BEGIN IMMEDIATE…COMMIT); a failure rolls back (unless SQLite already did) and is rethrown with its real cause. */
export function inTransaction<T>(db: Db, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (e) {
    if (db.inTransaction) {
      try {
        db.exec('ROLLBACK');
      } catch {
        // The cause below matters; a failed rollback leaves SQLite to roll back when the file is next opened.
      }
    }
    throw e;
  }
}
