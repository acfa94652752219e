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
 * - `walLimits(dir, pg_waldump)`: the highest `max_prepared_transactions`,
 *   `max_locks_per_transaction`, max_connections, … the WAL segments in `dir` record (the parameter-change record
 *   PostgreSQL writes when a restart changed them: a DBA raised them after the base backup).
 *   What pg_waldump cannot read is RESTORE_FAILED (tablespaces.ts `walDump`).
 * - `controlSettings(dataDir, toolPaths, wal)`: the lines for a recovering cluster's
 *   configuration that replay needs: `max_prepared_transactions` and
 *   `max_locks_per_transaction` at least the source's — the higher of the base backup's
 *   pg_control (pg_controldata) and `wal` — (the locks of prepared transactions are taken
 *   again from the shared lock table); `raised` when the WAL's value won. `unread` says why
 *   pg_controldata gave nothing (missing, failed): the lines then come from `wal` alone, and a
 *   --folder restore says so in its notes. With `hotStandby` (a --folder cluster: PostgreSQL's
 *   default hot_standby = on) also max_connections, max_worker_processes and max_wal_senders
 *   above their defaults: a hot standby with less than the source's pauses its recovery at
 *   the start or at the parameter change and never opens ("insufficient parameter settings");
 *   the temporary cluster runs with hot_standby = off, where they are not compared — but its
 *   lock table is sized by them: without `hotStandby`, max_locks_per_transaction is raised so
 *   the table (locks × (backends + prepared)) holds as many locks as the source's did.
 * - `rollBackPrepared(conn, database)`: rolls back every prepared transaction of `database`
 *   in the (temporary, recovered) cluster `conn` reaches — none of them had committed at the
 *   moment — and returns them (gid, when prepared, owner) for the restore's notes.
 */
import { runToolCapture } from '../child-process.ts';
import type { ToolPaths } from '../connector.ts';
import { findTool } from '../tools.ts';
import type { PgConnection } from './connection.ts';
import { walDump } from './tablespaces.ts';

/**
 * The limits WAL replay checks, by pg_controldata's label (also the parameter-change record's
 * field): the setting, PostgreSQL's default (a line is written only above it), and whether
 * only a hot standby (hot_standby = on) needs at least the source's value.
 */
const LIMITS = [
  { label: 'max_prepared_xacts', setting: 'max_prepared_transactions', fallback: 0, standbyOnly: false },
  { label: 'max_locks_per_xact', setting: 'max_locks_per_transaction', fallback: 64, standbyOnly: false },
  { label: 'max_connections', setting: 'max_connections', fallback: 100, standbyOnly: true },
  { label: 'max_worker_processes', setting: 'max_worker_processes', fallback: 8, standbyOnly: true },
  { label: 'max_wal_senders', setting: 'max_wal_senders', fallback: 10, standbyOnly: true },
] as const;

/** Values by pg_controldata's label (absent: unknown). */
export type ServerLimits = Partial<Record<(typeof LIMITS)[number]['label'], number>>;

/** The higher of each value of `a` and `b`. */
export function higherLimits(a: ServerLimits, b: ServerLimits): ServerLimits {
  const out: ServerLimits = {};
  for (const { label } of LIMITS) {
    const v = Math.max(a[label] ?? 0, b[label] ?? 0);
    if (v > 0) out[label] = v;
  }
  return out;
}

const PARAMETER_CHANGE = /desc: PARAMETER_CHANGE (.*)$/;

export async function walLimits(dir: string, pgWaldump: string, signal?: AbortSignal): Promise<ServerLimits> {
  const out = await walDump(dir, pgWaldump, ['-r', 'XLOG'], 'read the server limits it records (max_prepared_transactions, max_locks_per_transaction, max_connections)', signal);
  let limits: ServerLimits = {};
  for (const line of out.split('\n')) {
    const fields = PARAMETER_CHANGE.exec(line)?.[1];
    if (!fields) continue;
    const seen: ServerLimits = {};
    for (const { label } of LIMITS) {
      const m = new RegExp(`\\b${label}=(\\d+)`).exec(fields);
      if (m) seen[label] = Number(m[1]);
    }
    limits = higherLimits(limits, seen);
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

export async function controlSettings(dataDir: string, toolPaths: ToolPaths, signal?: AbortSignal, wal: ServerLimits = {}, opts: { hotStandby?: boolean } = {}): Promise<ControlSettings> {
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
  const control: ServerLimits = {};
  for (const { label } of LIMITS) {
    const m = new RegExp(`^${label} setting:\\s+(\\d+)\\s*$`, 'm').exec(out);
    if (m) control[label] = Number(m[1]);
  }
  const source = higherLimits(control, wal);
  const wanted: ServerLimits = { ...source };
  if (!opts.hotStandby) {
    // The shared lock table holds max_locks_per_transaction × (backends + max_prepared_transactions) locks, and the
    // prepared transactions' locks are taken again at the end of recovery: a cluster with PostgreSQL's default
    // backends gets as many lock slots as the source had (whose max_connections may be far higher).
    const backends = (l: ServerLimits) => LIMITS.filter((x) => x.standbyOnly).reduce((n, x) => n + (l[x.label] ?? x.fallback), 0);
    const defaults = backends({});
    const prepared = source.max_prepared_xacts ?? 0;
    const locks = source.max_locks_per_xact ?? 64;
    wanted.max_locks_per_xact = Math.max(locks, Math.ceil((locks * (backends(source) + prepared)) / (defaults + prepared)));
  }
  let settings = '';
  let raised = false;
  for (const { label, setting, fallback, standbyOnly } of LIMITS) {
    if (standbyOnly && !opts.hotStandby) continue;
    const value = wanted[label] ?? 0;
    if (value <= fallback) continue;
    settings += `${setting} = ${value}\n`;
    if ((source[label] ?? 0) > (control[label] ?? 0)) raised = true;
  }
  return { settings, raised, unread };
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
