/**
 * What a PostgreSQL server lacks for snapshot tasks (base backup + WAL through a
 * replication slot), as warnings that name the fix: wal_level, max_wal_senders, free
 * replication slots, a pg_hba.conf line for replication connections, and Backstop slots
 * that hold back more WAL than `SLOT_WARN_BYTES` (the server's disk fills otherwise).
 *
 * Contract: never throws (a check that cannot run says so in a warning); asks the server
 * with one query and one replication connection (IDENTIFY_SYSTEM, the same pg_hba.conf
 * rules pg_basebackup and pg_receivewal meet).
 */
import { toFailure } from '../../../shared/result.ts';
import { runTool } from '../child-process.ts';
import type { PgConnection } from './connection.ts';
import { poolerReplicationReason, replicationThroughPooler } from './pooler.ts';

/** A Backstop slot retaining more WAL than this is reported. */
export const SLOT_WARN_BYTES = 1024 ** 3;

const gb = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GB`;

export async function walReadiness(conn: PgConnection, signal?: AbortSignal): Promise<string[]> {
  // The settings and the replication connection are asked at once (two process starts); warnings keep this order.
  const [settings, connection] = await Promise.all([settingsWarnings(conn, signal), replicationWarnings(conn, signal)]);
  return [...settings, ...connection];
}

async function settingsWarnings(conn: PgConnection, signal?: AbortSignal): Promise<string[]> {
  const out: string[] = [];
  try {
    const rows = await conn.query(
      `SELECT current_setting('wal_level'), current_setting('max_wal_senders'), current_setting('max_replication_slots'),
              (SELECT count(*) FROM pg_replication_slots), (SELECT count(*) FROM pg_stat_replication),
              coalesce((SELECT string_agg(slot_name || '=' || pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint, ',')
                        FROM pg_replication_slots WHERE slot_name LIKE 'backstop\\_%' AND restart_lsn IS NOT NULL), '')`,
      { signal, action: 'checking the replication settings' },
    );
    const r = rows[0] ?? [];
    const [walLevel, senders, slots, used, streaming] = [r[0] ?? '', Number(r[1]), Number(r[2]), Number(r[3]), Number(r[4])];
    if (walLevel === 'minimal') out.push("wal_level is 'minimal': snapshot backups need 'replica'. Fix: ALTER SYSTEM SET wal_level = 'replica'; then restart the server.");
    if (senders < 2 || senders - streaming < 2) {
      out.push(`max_wal_senders is ${senders} with ${streaming} in use: a snapshot backup needs 2 free (base backup + WAL). Fix: ALTER SYSTEM SET max_wal_senders = ${Math.max(10, streaming + 2)}; then restart the server.`);
    }
    if (slots - used < 1) out.push(`All ${slots} replication slots are in use: a snapshot task needs one of its own. Fix: ALTER SYSTEM SET max_replication_slots = ${slots + 5}; then restart the server (or drop slots nobody uses).`);
    for (const pair of (r[5] ?? '').split(',').filter(Boolean)) {
      const [slot, bytes] = pair.split('=');
      if (Number(bytes) > SLOT_WARN_BYTES) {
        out.push(`Replication slot "${slot}" of a Backstop snapshot task holds back ${gb(Number(bytes))} of WAL on the server: the WAL stays until the task's next backup receives it. Run the task (or check why its runs fail); if the task is gone, drop the slot: SELECT pg_drop_replication_slot('${slot}');`);
      }
    }
  } catch (e) {
    out.push(`The replication settings could not be checked: ${toFailure(e).message}`);
  }
  return out;
}

async function replicationWarnings(conn: PgConnection, signal?: AbortSignal): Promise<string[]> {
  const out: string[] = [];
  try {
    await runTool(conn.command('psql', ['-X', '-A', '-t', '-c', 'IDENTIFY_SYSTEM', ...conn.connArgs(), '-d', 'replication=true']), {
      signal,
      classify: conn.classify('opening a replication connection', 'PERMISSION_DENIED'),
    });
  } catch (e) {
    const m = toFailure(e).message;
    if (replicationThroughPooler(m)) {
      out.push(poolerReplicationReason(conn.label));
    } else if (/pg_hba\.conf/i.test(m)) {
      out.push(`pg_hba.conf does not allow replication connections for user "${conn.server.user}" from this machine: snapshot backups will fail. Fix: add a line such as "host replication ${conn.server.user} <this machine's address>/32 scram-sha-256" to pg_hba.conf and reload the server (SELECT pg_reload_conf();).`);
    } else {
      out.push(`A replication connection (what snapshot backups use) failed: ${m}`);
    }
  }
  return out;
}
