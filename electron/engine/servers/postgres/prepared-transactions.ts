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
 * - `walLimits(dir, pg_waldump)`: the highest `max_prepared_transactions` and
 *   `max_locks_per_transaction` the WAL segments in `dir` record (the parameter-change record
 *   PostgreSQL writes when a restart changed them: a DBA raised them after the base backup).
 *   What pg_waldump cannot read is RESTORE_FAILED (tablespaces.ts `walDump`).
 * - `controlSettings(dataDir, toolPaths, wal)`: the lines for a recovering cluster's
 *   configuration that replay needs: `max_prepared_transactions` and
 *   `max_locks_per_transaction` at least the source's — the higher of the base backup's
 *   pg_control (pg_controldata) and `wal` — (the locks of prepared transactions are taken
 *   again from the shared lock table); `raised` when the WAL's value won. `unread` says why
 *   pg_controldata gave nothing (missing, failed): the lines then come from `wal` alone, and a
 *   --folder restore says so in its notes. Only hot_standby = on compares max_connections,
 *   max_worker_processes and max_wal_senders with the WAL's, so they are not carried.
 * - `rollBackPrepared(conn, database)`: rolls back every prepared transaction of `database`
 *   in the (temporary, recovered) cluster `conn` reaches — none of them had committed at the
 *   moment — and returns them (gid, when prepared, owner) for the restore's notes.
 */
import { runToolCapture } from '../child-process.ts';
import type { ToolPaths } from '../connector.ts';
import { findTool } from '../tools.ts';
import type { PgConnection } from './connection.ts';
import { walDump } from './tablespaces.ts';

/** Server default of max_locks_per_transaction (PostgreSQL 10 and later). */
const DEFAULT_LOCKS = 64;

export interface ServerLimits {
  maxPreparedXacts: number;
  maxLocksPerXact: number;
}

const PARAMETER_CHANGE = /desc: PARAMETER_CHANGE .*\bmax_prepared_xacts=(\d+) max_locks_per_xact=(\d+)/;

export async function walLimits(dir: string, pgWaldump: string, signal?: AbortSignal): Promise<ServerLimits> {
  const out = await walDump(dir, pgWaldump, ['-r', 'XLOG'], 'read the server limits it records (max_prepared_transactions, max_locks_per_transaction)', signal);
  const limits: ServerLimits = { maxPreparedXacts: 0, maxLocksPerXact: 0 };
  for (const line of out.split('\n')) {
    const m = PARAMETER_CHANGE.exec(line);
    if (!m) continue;
    limits.maxPreparedXacts = Math.max(limits.maxPreparedXacts, Number(m[1]));
    limits.maxLocksPerXact = Math.max(limits.maxLocksPerXact, Number(m[2]));
  }
  return limits;
}

export interface ControlSettings {
  /** postgresql.conf lines ("" when nothing above the defaults is needed or known). */
  settings: string;
  /** A value from the WAL was higher than the base backup's pg_control. */
  raised: boolean;
  /** Why pg_controldata gave nothing; null when it was read. */
  unread: string | null;
}

export async function controlSettings(dataDir: string, toolPaths: ToolPaths, signal?: AbortSignal, wal: ServerLimits = { maxPreparedXacts: 0, maxLocksPerXact: 0 }): Promise<ControlSettings> {
  let out = '';
  let unread: string | null = null;
  try {
    const tool = findTool(['pg_controldata'], 'postgres', { binDir: toolPaths.postgres ?? null });
    const r = await runToolCapture({ path: tool, args: [dataDir], env: { LC_ALL: 'C', LANG: 'C' } }, signal ? { signal } : {});
    if (r.code === 0) out = r.stdout;
    else unread = `pg_controldata could not read the backup's pg_control (${r.stderr.trim().split('\n').at(-1) || `exit ${r.code}`})`;
  } catch (e) {
    if (signal?.aborted) throw e;
    unread = 'pg_controldata (part of the PostgreSQL server package) was not found here';
  }
  const value = (label: string): number => {
    const m = new RegExp(`^${label} setting:\\s+(\\d+)\\s*$`, 'm').exec(out);
    return m ? Number(m[1]) : 0;
  };
  const control = { maxPreparedXacts: value('max_prepared_xacts'), maxLocksPerXact: value('max_locks_per_xact') };
  const prepared = Math.max(control.maxPreparedXacts, wal.maxPreparedXacts);
  const locks = Math.max(control.maxLocksPerXact, wal.maxLocksPerXact);
  return {
    settings: `${prepared ? `max_prepared_transactions = ${prepared}\n` : ''}${locks > DEFAULT_LOCKS ? `max_locks_per_transaction = ${locks}\n` : ''}`,
    raised: wal.maxPreparedXacts > control.maxPreparedXacts || (wal.maxLocksPerXact > control.maxLocksPerXact && wal.maxLocksPerXact > DEFAULT_LOCKS),
    unread,
  };
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
