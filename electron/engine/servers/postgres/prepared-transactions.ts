/**
 * Prepared transactions (PREPARE TRANSACTION, two-phase commit) in a restore to a moment.
 *
 * WAL replay re-creates every transaction prepared and not yet finished at the moment: a
 * PREPARE record needs a free slot of `max_prepared_transactions` (else the startup process
 * fails with "maximum number of prepared transactions reached"), and once recovered the
 * transaction holds its locks again (e.g. the ACCESS EXCLUSIVE lock of an ALTER TABLE, which
 * would block pg_dump's read of that table forever).
 *
 * Contract:
 * - `controlSettings(dataDir, toolPaths)`: the lines for a temporary cluster's postgresql.conf
 *   that replay needs from the source's pg_control (pg_controldata of the base backup):
 *   `max_prepared_transactions` and `max_locks_per_transaction` at least the source's (the
 *   locks of prepared transactions are taken again from the shared lock table). "" when
 *   pg_controldata is missing or unreadable (the defaults then apply, as before). A value the
 *   source raised after the base backup (a restart) is not seen.
 * - `rollBackPrepared(conn, database)`: rolls back every prepared transaction of `database`
 *   in the (temporary, recovered) cluster `conn` reaches — none of them had committed at the
 *   moment — and returns them (gid, when prepared, owner) for the restore's notes.
 */
import { runToolCapture } from '../child-process.ts';
import type { ToolPaths } from '../connector.ts';
import { findTool } from '../tools.ts';
import type { PgConnection } from './connection.ts';

/** Server defaults of the two settings (PostgreSQL 10 and later). */
const DEFAULT_LOCKS = 64;

export async function controlSettings(dataDir: string, toolPaths: ToolPaths, signal?: AbortSignal): Promise<string> {
  let out: string;
  try {
    const tool = findTool(['pg_controldata'], 'postgres', { binDir: toolPaths.postgres ?? null });
    const r = await runToolCapture({ path: tool, args: [dataDir], env: { LC_ALL: 'C', LANG: 'C' } }, signal ? { signal } : {});
    if (r.code !== 0) return '';
    out = r.stdout;
  } catch (e) {
    if (signal?.aborted) throw e;
    return '';
  }
  const value = (label: string): number | null => {
    const m = new RegExp(`^${label} setting:\\s+(\\d+)\\s*$`, 'm').exec(out);
    return m ? Number(m[1]) : null;
  };
  const prepared = value('max_prepared_xacts');
  const locks = value('max_locks_per_xact');
  return `${prepared ? `max_prepared_transactions = ${prepared}\n` : ''}${locks && locks > DEFAULT_LOCKS ? `max_locks_per_transaction = ${locks}\n` : ''}`;
}

export interface RolledBack {
  gid: string;
  prepared: string;
  owner: string;
}

export async function rollBackPrepared(conn: PgConnection, database: string, signal?: AbortSignal): Promise<RolledBack[]> {
  const hex = Buffer.from(database, 'utf8').toString('hex');
  const rows = await conn.query(
    `SELECT encode(convert_to(gid, 'UTF8'), 'hex'), to_char(prepared AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'), encode(convert_to(owner, 'UTF8'), 'hex') FROM pg_prepared_xacts WHERE encode(convert_to(database, 'UTF8'), 'hex') = '${hex}' ORDER BY prepared, gid`,
    { database, ...(signal ? { signal } : {}), action: 'listing the prepared transactions of the recovered cluster', fallback: 'RESTORE_FAILED' },
  );
  const text = (h: string | undefined) => Buffer.from(h ?? '', 'hex').toString('utf8');
  const found = rows.map((r) => ({ gid: text(r[0]), prepared: r[1] ?? '', owner: text(r[2]) }));
  for (const t of found) {
    await conn.query(`ROLLBACK PREPARED '${t.gid.replace(/'/g, "''")}'`, { database, ...(signal ? { signal } : {}), action: `rolling back prepared transaction "${t.gid}" in the recovered cluster`, fallback: 'RESTORE_FAILED' });
  }
  return found;
}

/** The restore's note for `rolled` (none: null). */
export function rolledBackNote(database: string, rolled: RolledBack[]): string | null {
  if (rolled.length === 0) return null;
  const list = rolled.map((t) => `"${t.gid}" (prepared ${t.prepared} by ${t.owner})`).join(', ');
  return `${rolled.length} prepared transaction${rolled.length === 1 ? ' was' : 's were'} open in "${database}" at that moment (PREPARE TRANSACTION, not yet COMMIT PREPARED): ${list}. ${rolled.length === 1 ? 'It had' : 'They had'} not committed then, so ${rolled.length === 1 ? 'it was' : 'they were'} rolled back in the temporary cluster before the dump: ${rolled.length === 1 ? 'its' : 'their'} changes are not in the restored database.`;
}
