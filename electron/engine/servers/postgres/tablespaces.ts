/**
 * PostgreSQL user tablespaces and snapshot tasks (base backup + WAL): refused, not half-done.
 *
 * Why refused: `pg_basebackup -D - -Ft` (the snapshot's one `base.tar` stream) writes only the
 * main data directory and refuses a cluster with more than one tablespace; and replaying WAL
 * that creates a tablespace (CREATE TABLESPACE … LOCATION '/dir') makes the recovering server
 * write into '/dir' on the restoring machine — when the source runs there, into the source's
 * own tablespace. A logical task backs such a cluster up (its restore puts tables back into
 * their tablespaces).
 *
 * Contract:
 * - `userTablespaces(conn)`: the cluster's tablespaces other than pg_default and pg_global
 *   (name, oid, location), sorted by name; errors as the connection's (`fallback` DUMP_FAILED).
 * - `snapshotRefusal(tablespaces, chain)`: the UNSUPPORTED error a snapshot run (or the
 *   server check's `support.snapshot` reason, `snapshotUnsupportedReason`) gives, naming each
 *   tablespace and the fixes; with `chain` (an incremental was due) it starts "WAL chain
 *   broken: " and says what the task's replication slot keeps meanwhile.
 * - `tablespaceCreations(dir, pg_waldump)`: every CREATE TABLESPACE record (oid, location,
 *   WAL position) in the WAL segments of `dir`, read with pg_waldump (`-r Tablespace`); the
 *   end of the WAL (pg_waldump's "error in WAL record" at the zero padding) is not a failure.
 *   Anything else pg_waldump reports is a RESTORE_FAILED naming it (the WAL was not checked).
 *   No segments: none. Never writes anything. `walDump` is that pg_waldump run for other
 *   record kinds (prepared-transactions.ts reads the parameter changes with it).
 */
import { readdirSync } from 'node:fs';
import { BackstopError } from '../../../shared/result.ts';
import { runToolCapture } from '../child-process.ts';
import type { PgConnection } from './connection.ts';
import { quoteIdent } from './connection.ts';

export interface UserTablespace {
  name: string;
  oid: number;
  location: string;
}

export async function userTablespaces(conn: PgConnection, signal?: AbortSignal): Promise<UserTablespace[]> {
  const rows = await conn.query(
    `SELECT oid, encode(convert_to(spcname, 'UTF8'), 'hex'), encode(convert_to(pg_tablespace_location(oid), 'UTF8'), 'hex')
       FROM pg_tablespace WHERE spcname NOT IN ('pg_default', 'pg_global')`,
    { signal, action: 'listing the tablespaces of the cluster', fallback: 'DUMP_FAILED' },
  );
  const text = (hex: string | undefined) => Buffer.from(hex ?? '', 'hex').toString('utf8');
  return rows.map((r) => ({ oid: Number(r[0]), name: text(r[1]), location: text(r[2]) })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const named = (t: UserTablespace[]) => t.map((x) => `"${x.name}" (LOCATION '${x.location}')`).join(', ');

/** The reason the server check gives for `support.snapshot` (see the header). */
export function snapshotUnsupportedReason(tablespaces: UserTablespace[]): string {
  const s = tablespaces.length === 1 ? '' : 's';
  return (
    `the cluster has tablespace${s} ${named(tablespaces)}: a snapshot (base backup + WAL) covers only the main data directory, and replaying its WAL would write into the tablespace folder${s} on the restoring machine. ` +
    `Back this server up with a logical task (it restores tables into their tablespaces), or move everything to pg_default (ALTER TABLE … SET TABLESPACE pg_default; ALTER DATABASE … SET TABLESPACE pg_default) and ${tablespaces.map((t) => `DROP TABLESPACE ${quoteIdent(t.name)}`).join('; ')}.`
  );
}

export function snapshotRefusal(tablespaces: UserTablespace[], chain: { slot: string } | null): BackstopError {
  const s = tablespaces.length === 1 ? '' : 's';
  const reason = snapshotUnsupportedReason(tablespaces);
  if (!chain) {
    return new BackstopError('UNSUPPORTED', `A snapshot task cannot back up this cluster: ${reason} Nothing was stored and no replication slot was created.`);
  }
  return new BackstopError(
    'UNSUPPORTED',
    `WAL chain broken: tablespace${s} ${named(tablespaces)} ${s ? 'were' : 'was'} created after this chain's base backup, and a snapshot task cannot back up a cluster with tablespaces: ${reason} ` +
      `Nothing was stored for this run; the earlier points stay restorable. Until the task can run again its replication slot "${chain.slot}" keeps the server's WAL: if it stays a cluster with tablespaces, delete this task (that drops the slot) or SELECT pg_drop_replication_slot('${chain.slot}');`,
  );
}

export interface TablespaceCreation {
  oid: number;
  location: string;
  /** WAL position of the record, e.g. "0/4000428". */
  lsn: string;
}

const SEGMENT = /^[0-9A-F]{24}$/;
const CREATE_RECORD = /lsn: ([0-9A-F]+\/[0-9A-F]+),.*desc: CREATE (\d+) "((?:[^"\\]|\\.)*)"\s*$/;

/**
 * pg_waldump's lines for the WAL segments of `dir` with `args` (e.g. `-r XLOG`), "" without
 * segments. The end of the WAL (its zero padding: "error in WAL record at") is not a failure;
 * anything else pg_waldump reports is RESTORE_FAILED saying Backstop could not `purpose`.
 */
export async function walDump(dir: string, pgWaldump: string, args: string[], purpose: string, signal?: AbortSignal): Promise<string> {
  const segments = readdirSync(dir).filter((f) => SEGMENT.test(f)).sort();
  if (segments.length === 0) return '';
  const { stdout, stderr, code } = await runToolCapture({ path: pgWaldump, args: ['-p', dir, ...args, segments[0]!, segments.at(-1)!] }, { signal });
  const problems = stderr.split('\n').filter((l) => l.trim() && !/error in WAL record at /.test(l));
  if (code !== 0 && (problems.length > 0 || !/error in WAL record at /.test(stderr))) {
    throw new BackstopError(
      'RESTORE_FAILED',
      `pg_waldump could not read the WAL to replay, so Backstop could not ${purpose}: ${(problems.at(-1) ?? stderr).trim() || `exit ${code}`}. Nothing was created. Set the folder of the PostgreSQL tools of the backup's version in Settings.`,
    );
  }
  return stdout;
}

export async function tablespaceCreations(dir: string, pgWaldump: string, signal?: AbortSignal): Promise<TablespaceCreation[]> {
  const stdout = await walDump(dir, pgWaldump, ['-r', 'Tablespace'], "check that it creates no tablespace (a recovery would write into a tablespace's folder on this machine)", signal);
  const out: TablespaceCreation[] = [];
  for (const line of stdout.split('\n')) {
    const m = CREATE_RECORD.exec(line);
    if (m) out.push({ lsn: m[1]!, oid: Number(m[2]), location: m[3]! });
  }
  return out;
}
