/**
 * A PostgreSQL restore onto another server than the source fails in ways the server words
 * for a developer; these turn them into what a DBA must do.
 *
 * Contract: pure functions over the classified failure (a BackstopError whose message quotes
 * the server; secrets are already out of it). Each returns null for any other failure, a
 * RESTORE_FAILED naming the server, what the backup needs and the fix otherwise. `created`
 * says whether the new database existed when it failed (the caller drops it then, so the
 * message says it was removed; otherwise nothing was created).
 * - `localeMissingError`: the backup uses a libc locale the target's operating system lacks
 *   — as the database's own locale (CREATE DATABASE: `invalid locale name`, `invalid
 *   LC_COLLATE/LC_CTYPE locale name`) or as a collation's (CREATE COLLATION: `could not create
 *   locale`). Never restored with another locale: that would silently change the sort order
 *   and what unique indexes on text accept.
 * - `collationMissingError`: a column, index or type uses a collation of pg_catalog the
 *   target lacks (`collation "pg_catalog.x" for encoding "UTF8" does not exist`): one initdb
 *   imported from the source host's locales; a restored database is made from template0,
 *   which holds only what the target's initdb imported.
 * - `lockSlotsError`: `out of shared memory` with the hint about max_locks_per_transaction:
 *   one statement of the restore locks more tables, partitions and indexes than the server's
 *   lock table holds (max_locks_per_transaction × its connections).
 */
import { BackstopError } from '../../../shared/result.ts';

const BAD_DATABASE_LOCALE = /invalid (?:(LC_COLLATE|LC_CTYPE) )?locale name:? "([^"]*)"/;
const BAD_COLLATION_LOCALE = /could not create locale "([^"]*)"/;
const COLLATION = /CREATE COLLATION ((?:"(?:[^"]|"")+"|[^\s("]+)(?:\.(?:"(?:[^"]|"")+"|[^\s("]+))?)/;

const removed = (created: boolean) => (created ? 'The new database was removed.' : 'Nothing was created.');

export function localeMissingError(server: string, database: string, failure: unknown, created: boolean): BackstopError | null {
  if (!(failure instanceof BackstopError) || failure.code === 'CANCELED') return null;
  const db = BAD_DATABASE_LOCALE.exec(failure.message);
  const coll = db ? null : BAD_COLLATION_LOCALE.exec(failure.message);
  if (!db && !coll) return null;
  const locale = db ? db[2]! : coll![1]!;
  const collation = coll ? COLLATION.exec(failure.message)?.[1] : undefined;
  const use = db ? `as the database's own locale${db[1] ? ` (${db[1]})` : ''}` : `in collation ${collation ?? '(a CREATE COLLATION)'}, which a column, index or type uses`;
  return new BackstopError(
    'RESTORE_FAILED',
    `Database "${database}" cannot be restored on the ${server}: the backup uses the locale "${locale}" ${use}, and that server's operating system does not have it. ${removed(created)} ` +
      `Restoring with another locale would silently change how text sorts and compares, so Backstop does not. Fix: install the locale on that server's host (Debian/Ubuntu: enable it in /etc/locale.gen and run locale-gen), restart PostgreSQL, then restore again; or restore onto a server that has it (locale -a lists them). (${failure.message})`,
    { cause: failure },
  );
}

const NO_COLLATION = /collation "([^"]+)" for encoding "([^"]+)" does not exist/;

export function collationMissingError(server: string, database: string, failure: unknown, created: boolean): BackstopError | null {
  if (!(failure instanceof BackstopError) || failure.code === 'CANCELED') return null;
  const m = NO_COLLATION.exec(failure.message);
  if (!m) return null;
  const collation = m[1]!;
  return new BackstopError(
    'RESTORE_FAILED',
    `Database "${database}" cannot be restored on the ${server}: the backup uses collation "${collation}", which that server lacks. initdb creates such collations from the locales its host has at that moment, and a restored database is made from template0, which holds only those. ${removed(created)} ` +
      `Fix: restore onto a server whose host has that locale; or install the locale on that server's host (Debian/Ubuntu: locale-gen), restart PostgreSQL and import it into template0 (ALTER DATABASE template0 ALLOW_CONNECTIONS true; then, connected to template0: SELECT pg_import_system_collations('pg_catalog'); then ALTER DATABASE template0 ALLOW_CONNECTIONS false;), then restore again; or use another collation for the column on the source (ALTER TABLE … ALTER COLUMN … TYPE text COLLATE "C") and take a new backup. (${failure.message})`,
    { cause: failure },
  );
}

const OUT_OF_LOCKS = /out of shared memory[\s\S]*max_locks_per_transaction/;

export function lockSlotsError(server: string, database: string, failure: unknown, created: boolean): BackstopError | null {
  if (!(failure instanceof BackstopError) || failure.code === 'CANCELED' || !OUT_OF_LOCKS.test(failure.message)) return null;
  return new BackstopError(
    'RESTORE_FAILED',
    `Database "${database}" cannot be restored on the ${server}: it ran out of lock slots (out of shared memory). One step of the restore locks more tables, partitions and indexes at once than that server's max_locks_per_transaction allows (its lock table holds max_locks_per_transaction × max_connections locks). ${removed(created)} ` +
      `Fix: on that server raise it (ALTER SYSTEM SET max_locks_per_transaction = 1024; then restart PostgreSQL), then restore again. (${failure.message})`,
    { cause: failure },
  );
}
