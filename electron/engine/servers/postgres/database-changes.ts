/**
 * Whether WAL changes the cluster's list of databases: read before a restore of one database
 * to a moment recovers anything, so a name the cluster cannot have had is refused at once
 * (restore/pitr.ts) instead of after a recovery of the whole cluster.
 *
 * Contract:
 * - `changesDatabases(dir, pg_waldump, filenode, fromLsn)`: the WAL position of the first
 *   record at or after `fromLsn` in the segments of `dir` that may create, drop or rename a
 *   database, null when there is none. Counted: every Database record (CREATE DATABASE, DROP
 *   DATABASE), a relation map change of the shared catalogs (VACUUM FULL pg_database moves
 *   it to another file), and a row written in pg_database's file `global/<filenode>`
 *   (INSERT, UPDATE, DELETE: ALTER DATABASE … RENAME is only that). Not counted: what never
 *   changes a name (VACUUM's in-place datfrozenxid update, pruning, hint bits).
 * - Two pg_waldump runs (`-R 1664/0/<filenode>`, then `-r Database -r RelMap`: PostgreSQL 15 and
 *   later); what pg_waldump cannot do is RESTORE_FAILED (tablespaces.ts `walDump`): the
 *   caller then recovers as before.
 */
import { walDump } from './tablespaces.ts';
import { parseLsn } from './wal-stream.ts';

const LSN = /\blsn: ([0-9A-F]+\/[0-9A-F]+),/;
/** Records that may change a database's name, whatever relation they touch (the first run). */
const STRUCTURE = /\brmgr: Database\s|\brmgr: RelMap\s.*desc: UPDATE database 0 /;
/** Row changes in pg_database's file (the second run lists only records touching it). */
const ROW_CHANGE = /\brmgr: Heap\s.*desc: (INSERT|UPDATE|HOT_UPDATE|DELETE)\b|\brmgr: Heap2\s.*desc: MULTI_INSERT\b/;

export async function changesDatabases(dir: string, pgWaldump: string, filenode: number, fromLsn: string, signal?: AbortSignal): Promise<string | null> {
  const from = parseLsn(fromLsn);
  const purpose = 'check whether it creates, drops or renames a database';
  const first = (out: string, wanted: RegExp): string | null => {
    for (const line of out.split('\n')) {
      const lsn = LSN.exec(line)?.[1];
      if (lsn && wanted.test(line) && parseLsn(lsn) >= from) return lsn;
    }
    return null;
  };
  // -R first: a pg_waldump older than 15 fails on it (and would read only the last of two -r).
  const row = first(await walDump(dir, pgWaldump, ['-R', `1664/0/${filenode}`], purpose, signal), ROW_CHANGE);
  if (row) return row;
  return first(await walDump(dir, pgWaldump, ['-r', 'Database', '-r', 'RelMap'], purpose, signal), STRUCTURE);
}
