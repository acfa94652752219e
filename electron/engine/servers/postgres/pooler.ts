/**
 * A PostgreSQL server reached through a connection pooler (PgBouncer on port 6432, as many DBAs expose it).
 *
 * - `transactionPoolingRefusal(conn)`: UNSUPPORTED when the connection hands one server session to several
 *   clients (PgBouncer's `pool_mode = transaction` or `statement`), else null. pg_dump, pg_restore and
 *   Backstop's own sessions set session state (SET, search_path, timeouts) that such a pool neither keeps
 *   for them nor clears for the next client: a restore's settings would reach the applications' sessions,
 *   and a backup's could be lost between its statements. Asked before any session setup is sent: one
 *   session (no SET) asks its backend's pid and port and stays connected; when the port is the one
 *   configured the connection is direct (nothing more is asked); otherwise a second session asks its pid
 *   while the first idles: the same backend means the pool shares sessions. A second session that cannot
 *   connect in POOL_PROBE_MS (a full session pool) proves nothing and is not an error. The answer is kept
 *   per address and user for PROBE_KEPT_MS in this thread, so a run's database jobs do not each ask.
 * - `replicationThroughPooler(stderr)`: PgBouncer's refusal of a replication connection (its startup
 *   parameter `replication`), what pg_basebackup and pg_receivewal open: `poolerReplicationReason` says
 *   so with the fix (the server's own port), for the server check and for a snapshot run's failure.
 */
import { PassThrough } from 'node:stream';
import { BackstopError, hasCode } from '../../../shared/result.ts';
import { runTool, sinkTool } from '../child-process.ts';
import { pgConnectionSlotsFull } from '../classify.ts';
import type { PgConnection } from './connection.ts';

/** How long the second session may wait for a server connection before the probe gives up (no answer, no error). */
export const POOL_PROBE_MS = 5000;

export function replicationThroughPooler(stderr: string): boolean {
  return /unsupported startup parameter:\s*replication/i.test(stderr);
}

export function poolerReplicationReason(label: string): string {
  return `The ${label} is a connection pooler (PgBouncer): it does not pass replication connections, which snapshot backups (base backup + WAL: pg_basebackup, pg_receivewal) need. Fix: for snapshot tasks, connect to the PostgreSQL server's own port (usually 5432) instead of the pooler's; logical backups work through a session-mode pool.`;
}

export function transactionPoolingReason(label: string): string {
  return `The ${label} hands one PostgreSQL session to several clients (a connection pooler such as PgBouncer with pool_mode = transaction or statement): pg_dump, pg_restore and Backstop rely on session state (SET, search_path, timeouts) that such a pool neither keeps between their statements nor clears for the applications' next client. Fix: connect to the PostgreSQL server's own port (usually 5432), or to a pool with pool_mode = session (in PgBouncer: a [databases] entry with pool_mode=session).`;
}

/**
 * Answers of the probe per server address and user, for PROBE_KEPT_MS: every database job of a run
 * opens its own connector, and a run of hundreds of databases must not start a probe session for each
 * (one per thread and minute is enough: a pooler is not reconfigured between two jobs of a run).
 */
const probed = new Map<string, { at: number; transactionPool: boolean }>();
export const PROBE_KEPT_MS = 60_000;

export async function transactionPoolingRefusal(conn: PgConnection, signal?: AbortSignal): Promise<BackstopError | null> {
  const key = `${conn.server.host}\0${conn.server.port}\0${conn.server.user}`;
  const known = probed.get(key);
  if (known && Date.now() - known.at < PROBE_KEPT_MS) return known.transactionPool ? new BackstopError('UNSUPPORTED', transactionPoolingReason(conn.label)) : null;
  const answer = await probeTransactionPool(conn, signal);
  if (answer !== 'skipped') probed.set(key, { at: Date.now(), transactionPool: answer });
  return answer === true ? new BackstopError('UNSUPPORTED', transactionPoolingReason(conn.label)) : null;
}

/** true: the connection shares server sessions; false: it does not (or the probe could not tell); 'skipped': not asked (see above). */
async function probeTransactionPool(conn: PgConnection, signal?: AbortSignal): Promise<boolean | 'skipped'> {
  const args = ['-X', '-A', '-t', '-q', '-F', '|', '-v', 'ON_ERROR_STOP=1', ...conn.connArgs(), '-d', 'postgres'];
  const input = new PassThrough();
  let out = '';
  let answered: (line: string) => void = () => undefined;
  const first = new Promise<string>((r) => (answered = r));
  const classify = conn.classify('connecting', 'UNREACHABLE');
  let slotsFull = false;
  const session = sinkTool(conn.command('psql', args), input, {
    classify: (f) => {
      slotsFull = pgConnectionSlotsFull(f);
      return classify(f);
    },
    signal,
    onStdout: (d) => {
      out += d;
      if (out.includes('\n')) answered(out.slice(0, out.indexOf('\n')));
    },
  });
  input.write('SELECT coalesce(inet_server_port(), 0), pg_backend_pid();\n');
  try {
    // The first session's failure (unreachable, wrong password…) is the connection test's answer.
    let line: string;
    try {
      line = await Promise.race([first, session.then(() => '')]);
    } catch (e) {
      // No "postgres" database (the maintenance queries fall back to template1), or no free connection slot (they
      // are tried again after a pause): the probe is skipped, and those queries answer as before.
      if (hasCode(e, 'DATABASE_NOT_FOUND') || slotsFull) return 'skipped';
      throw e;
    }
    const [port, pid] = line.split('|');
    if (!pid || Number(port) === conn.server.port) return false;
    const timeout = AbortSignal.timeout(POOL_PROBE_MS);
    const other = await runTool(conn.command('psql', [...args, '-c', 'SELECT pg_backend_pid()']), {
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      classify: conn.classify('connecting', 'UNREACHABLE'),
    }).catch(() => null);
    return other?.trim() === pid.trim();
  } finally {
    input.end();
    await session.catch(() => undefined);
  }
}

/**
 * Refuses (UNSUPPORTED, poolerReplicationReason) a snapshot run whose server is a pooler, before any slot is
 * made: one replication connection (IDENTIFY_SYSTEM, as pg_basebackup opens). Any other failure is left to the
 * run's own steps, which report it as before.
 */
export async function refuseReplicationThroughPooler(conn: PgConnection, signal?: AbortSignal): Promise<void> {
  let refused = false;
  await runTool(conn.command('psql', ['-X', '-A', '-t', '-c', 'IDENTIFY_SYSTEM', ...conn.connArgs(), '-d', 'replication=true']), {
    signal,
    classify: conn.classify('opening a replication connection', 'DUMP_FAILED'),
  }).catch((e: unknown) => {
    if (e instanceof BackstopError && e.code === 'UNSUPPORTED' && replicationThroughPooler(e.message)) refused = true;
  });
  if (refused) throw new BackstopError('UNSUPPORTED', `${poolerReplicationReason(conn.label)} Nothing was created on the server.`);
}
