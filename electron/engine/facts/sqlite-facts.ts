/**
 * Row counts per table of an SQLite database, queried inside the snapshot being dumped
 * (the snapshot copy, or the read transaction of a logical dump). Virtual tables are left
 * out (counting them may need their module); their shadow tables are ordinary tables and
 * are counted. Names are the bare table names.
 */
import type Libsql from 'libsql';
import { quoteSqliteIdent } from '../servers/sqlite/sql-dump.ts';
import type { FactsOutcome } from './dump-facts.ts';

/** Ordinary user tables (no sqlite_* internals, no virtual tables). */
export function sqliteUserTables(db: Libsql.Database): string[] {
  return (
    db
      .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND coalesce(sql, '') NOT LIKE 'CREATE VIRTUAL%' ORDER BY name")
      .pluck()
      .all() as string[]
  );
}

export function sqliteRowCounts(db: Libsql.Database, tables: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of tables) {
    const row = db.prepare(`SELECT count(*) AS n FROM ${quoteSqliteIdent(t)}`).get() as { n: number | bigint };
    const n = Number(row.n);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`table ${t} answered ${String(row.n)} to count(*)`);
    out[t] = n;
  }
  return out;
}

/** Never throws: a database that cannot be counted has no facts, and says why. */
export function sqliteFacts(db: Libsql.Database, method: string): FactsOutcome {
  try {
    return { facts: { method, tables: sqliteRowCounts(db, sqliteUserTables(db)) } };
  } catch (e) {
    return { unavailable: `counting the rows failed (${(e as Error).message})` };
  }
}
