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
 *
 * `nonTransactionalBackupWarning` is the same warning for one database a run backed up (from
 * the engines its dump names, no extra query): stored with its point and shown in History.
 *
 * `nonTransactionalNote` is the restore's side: the dump's tables of those engines (as
 * dump-tables.ts read them from the restored stream) named in one note, or null when there are
 * none — the copy is consistent only if nothing wrote to them while the backup ran, which the
 * dump cannot tell.
 *
 * A restore to a moment replays the binary log from the dump's position, which precedes what
 * the dump read of those tables: a change written to them meanwhile is applied twice, and the
 * server stops the replay (1062 duplicate key, 1032 row not found). `replayedTwiceError` words
 * that failure (the tables from `nonTransactionalTablesQuery` on the restored copy), or is null
 * for any other failure.
 */
import { BackstopError } from '../../../shared/result.ts';

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
    const list = byDatabase.get(database) ?? [];
    list.push(counted(Number(count), engine ?? '?'));
    byDatabase.set(database, list);
  }
  return warningOf(byDatabase);
}

/**
 * The run's warning for one database it backed up (History, `backstop history --json`): its
 * dump's tables without transactions (as DumpTables read them from the dump) counted per
 * engine, in the connection test's words; null when it has none.
 */
export function nonTransactionalBackupWarning(database: string, tables: readonly EngineTable[]): string | null {
  const engines = new Map(ENGINES.map((e) => [e.toUpperCase(), e]));
  const counts = new Map<string, number>();
  for (const t of tables) {
    const engine = t.engine ? engines.get(t.engine.toUpperCase()) : undefined;
    if (engine) counts.set(engine, (counts.get(engine) ?? 0) + 1);
  }
  if (counts.size === 0) return null;
  return warningOf(new Map([[database, [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([engine, n]) => counted(n, engine))]]));
}

const counted = (n: number, engine: string) => `${n} ${engine} table${n === 1 ? '' : 's'}`;

/** The warning for databases (name → their counts per engine), or null for none. */
function warningOf(byDatabase: Map<string, string[]>): string | null {
  if (byDatabase.size === 0) return null;
  const named = [...byDatabase].slice(0, MAX_NAMED).map(([d, what]) => `"${d}" (${what.join(', ')})`);
  const more = byDatabase.size > MAX_NAMED ? ` and ${byDatabase.size - MAX_NAMED} more` : '';
  return (
    `Tables without transactions in ${byDatabase.size === 1 ? 'database' : 'databases'} ${named.join(', ')}${more}: ` +
    'a backup reads them as they are when it reaches them, not at the moment of its snapshot, so rows written to them while it runs may not match the rest of the database ' +
    '(and a restore to a moment may replay a change the dump already holds). ' +
    'Fix: convert them to InnoDB (ALTER TABLE <table> ENGINE=InnoDB), or schedule the task when nothing writes to them, or accept that their copy may not match (docs/RESTORE.md, MariaDB section).'
  );
}

const quoted = (name: string) => `\`${name.replace(/`/g, '``')}\``;

interface EngineTable {
  name: string;
  engine: string | null;
}

/** Those of `tables` whose engine has no transactions, and how to name them (at most 10) and convert them. */
function unsnapped(tables: readonly EngineTable[]): { named: string; convert: string } | null {
  const engines = new Map(ENGINES.map((e) => [e.toUpperCase(), e]));
  const found = tables.filter((t) => t.engine && engines.has(t.engine.toUpperCase()));
  if (found.length === 0) return null;
  const more = found.length > 10 ? ` and ${found.length - 10} more` : '';
  return {
    named: `${found.slice(0, 10).map((t) => `${quoted(t.name)} (${engines.get(t.engine!.toUpperCase())})`).join(', ')}${more}`,
    convert: `ALTER TABLE ${quoted(found[0]!.name)} ENGINE=InnoDB;${found.length > 1 ? ' and likewise for the others' : ''}`,
  };
}

/** The restore's note on the dump's non-transactional tables (`database` the restored name), or null when it has none. */
export function nonTransactionalNote(database: string, tables: readonly EngineTable[]): string | null {
  const found = unsnapped(tables);
  if (!found) return null;
  return (
    `Tables of "${database}" without transactions were read by the backup when it reached them, not at its snapshot like the other tables: ${found.named}. ` +
    'If the application wrote to them while the backup ran, their rows may not match the rest of the database (rows of changes the other tables lack, or lacking changes they have). ' +
    `Check those tables before using this copy; so that the next backups are consistent, convert them to InnoDB on the source (${found.convert}) or run the task when nothing writes to them.`
  );
}

/** The tables of `database` without transactions: rows of HEX(name), engine. */
export function nonTransactionalTablesQuery(database: string): string {
  const list = ENGINES.map((x) => `'${x}'`).join(', ');
  return `SELECT HEX(TABLE_NAME), ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = X'${Buffer.from(database, 'utf8').toString('hex')}' AND ENGINE IN (${list}) ORDER BY TABLE_NAME;`;
}

const REPLAYED_TWICE = /ERROR (?:1062|1032) \([0-9A-Z]+\)(?: at line \d+)?: ([^|]*)/;

/**
 * The error for a replay into `target` (restoring `source` as of `moment`) the server stopped on
 * a change the dump already held, when `target` has tables without transactions (rows of
 * `nonTransactionalTablesQuery`); null for any other failure or when it has none.
 */
export function replayedTwiceError(source: string, target: string, moment: string, rows: readonly (readonly string[])[], failure: unknown): BackstopError | null {
  if (!(failure instanceof BackstopError) || failure.code === 'CANCELED') return null;
  const said = REPLAYED_TWICE.exec(failure.message);
  const found = unsnapped(rows.filter((r) => r.length === 2).map((r) => ({ name: Buffer.from(r[0] ?? '', 'hex').toString('utf8'), engine: r[1] ?? null })));
  if (!said || !found) return null;
  return new BackstopError(
    'RESTORE_FAILED',
    `Database "${source}" cannot be restored as of ${moment}: replaying the binary log on its dump stopped on a change the dump already holds (the server said: "${said[1]!.trim()}"). ` +
      `Its tables without transactions, ${found.named}, were read by the dump after the log position it recorded, while something wrote to them, so the log's first changes to them are in the dump already. The new database "${target}" was removed. ` +
      `Fix: restore a backup point without --as-of (backstop points <location> lists them), or a moment after a full taken when nothing wrote to those tables; so that later moments restore, convert them to InnoDB on the source (${found.convert}).`,
    { cause: failure },
  );
}
