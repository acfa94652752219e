/**
 * UNLOGGED tables and sequences in a snapshot (base backup + WAL) backup: PostgreSQL writes no
 * WAL for their contents and pg_basebackup leaves their data files out (only the empty init
 * fork is copied), so every restore of a snapshot — a moment, a point, the whole cluster —
 * yields them empty (a sequence at its start). A logical task's pg_dump carries their rows.
 *
 * Contract:
 * - `unloggedRelations(conn, database)`: the unlogged tables and sequences of `database`
 *   (schema-qualified, quoted where needed, sorted); errors as the connection's.
 * - `unloggedNote(database, names, when)`: the sentence a restore's notes (`when` 'restore')
 *   or a backup's warnings (`when` 'backup') carry, naming them; null for none.
 */
import type { PgConnection } from './connection.ts';

export async function unloggedRelations(conn: PgConnection, database: string, signal?: AbortSignal): Promise<string[]> {
  const rows = await conn.query(
    `SELECT encode(convert_to(format('%I.%I', n.nspname, c.relname), 'UTF8'), 'hex') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relpersistence = 'u' AND c.relkind IN ('r', 'p', 'S') AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
    { database, ...(signal ? { signal } : {}), action: `listing the unlogged tables of "${database}"`, fallback: 'RESTORE_FAILED' },
  );
  return rows.map((r) => Buffer.from(r[0] ?? '', 'hex').toString('utf8')).sort();
}

const SHOWN = 20;

export function unloggedNote(database: string, names: string[], when: 'restore' | 'backup'): string | null {
  if (names.length === 0) return null;
  const list = names.slice(0, SHOWN).join(', ') + (names.length > SHOWN ? ` and ${names.length - SHOWN} more` : '');
  const what = `${names.length} unlogged table${names.length === 1 ? '' : 's'} or sequence${names.length === 1 ? '' : 's'}`;
  const why = 'PostgreSQL writes no WAL for UNLOGGED tables and pg_basebackup leaves their data out';
  return when === 'restore'
    ? `"${database}" has ${what} (${list}): restored empty (a sequence at its start), as they were not in the backup: ${why}. A logical task's dump carries their rows; or ALTER TABLE … SET LOGGED on the source if their rows must survive a restore.`
    : `"${database}" has ${what} (${list}): a restore of this snapshot yields them empty (${why}). Back "${database}" up with a logical task too if their rows matter, or ALTER TABLE … SET LOGGED.`;
}
