/**
 * Tables a MySQL/MariaDB logical backup cannot copy consistently: those of storage engines
 * without transactions (MyISAM, Aria, MEMORY, CSV, ARCHIVE, MERGE). A dump reads every
 * database inside one transaction (--single-transaction), which gives InnoDB tables one
 * consistent snapshot; these engines are read as they are at the moment each is dumped, so
 * rows written to them while the dump runs need not match the rest of the database, nor the
 * binary-log position the dump records (a restore to a moment replays the log from there).
 *
 * `NON_TRANSACTIONAL_QUERY` lists them per database and engine (one row each: the tag, the
 * database name in hex, the engine, how many tables); `nonTransactionalWarning` turns those
 * rows into the one warning a connection test shows, or null when there are none. The query
 * reads information_schema.TABLES (it opens every table's definition), so only an explicit
 * connection test asks it, never a run.
 */

/** Engines that hold data without transactions. */
const ENGINES = ['MyISAM', 'Aria', 'MEMORY', 'CSV', 'ARCHIVE', 'MRG_MyISAM'];
const TAG = 'non-transactional';

export function nonTransactionalQuery(systemDatabases: readonly string[]): string {
  const list = (xs: readonly string[]) => xs.map((x) => `'${x}'`).join(', ');
  return `SELECT '${TAG}', HEX(TABLE_SCHEMA), ENGINE, COUNT(*) FROM information_schema.TABLES
  WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') AND ENGINE IN (${list(ENGINES)})
    AND TABLE_SCHEMA NOT IN (${list(systemDatabases)})
  GROUP BY TABLE_SCHEMA, ENGINE ORDER BY TABLE_SCHEMA, ENGINE;`;
}

/** The query's rows among others of the same client output (they carry the tag first). */
export function isNonTransactionalRow(row: readonly string[]): boolean {
  return row.length === 4 && row[0] === TAG;
}

const MAX_NAMED = 8;

export function nonTransactionalWarning(rows: readonly (readonly string[])[]): string | null {
  const byDatabase = new Map<string, string[]>();
  for (const [, hex, engine, count] of rows.filter(isNonTransactionalRow)) {
    const database = Buffer.from(hex ?? '', 'hex').toString('utf8');
    const n = Number(count);
    const list = byDatabase.get(database) ?? [];
    list.push(`${n} ${engine} table${n === 1 ? '' : 's'}`);
    byDatabase.set(database, list);
  }
  if (byDatabase.size === 0) return null;
  const named = [...byDatabase].slice(0, MAX_NAMED).map(([d, what]) => `"${d}" (${what.join(', ')})`);
  const more = byDatabase.size > MAX_NAMED ? ` and ${byDatabase.size - MAX_NAMED} more` : '';
  return (
    `Tables without transactions in ${byDatabase.size === 1 ? 'database' : 'databases'} ${named.join(', ')}${more}: ` +
    'a backup reads them as they are when it reaches them, not at the moment of its snapshot, so rows written to them while it runs may not match the rest of the database ' +
    '(and a restore to a moment may replay a change the dump already holds). ' +
    'Fix: convert them to InnoDB (ALTER TABLE <table> ENGINE=InnoDB), or schedule the task when nothing writes to them (docs/RESTORE.md, MariaDB section).'
  );
}
