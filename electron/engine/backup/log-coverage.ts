/**
 * Whether a database's incremental can be left to the server's binary log (stored once per
 * run in `~server/binlog`) instead of a new dump, at one destination.
 *
 * Contract: covered only when the newest dump of the database's chain (its full, or an
 * incremental dumped since — every point is a whole dump) recorded its log position and
 * the newest chain of the stored log starts at or before that position's file and holds that
 * file and every one after it, contiguously (as a restore to a moment needs; a log numbered
 * anew — RESET MASTER, another server at the address — does not), and each run
 * adds the next ones (a purge starts a new chain, which then no longer covers the full, so
 * the next incremental of the database is a dump again) — and only when that log chain was
 * read from the server the dump was taken from (the points' serverIdentity): after the task's
 * server setting names another server (or the same one at a new address), its log never
 * stands in for a dump of the earlier server (a restore would replay one server's log onto
 * another's dump) — and not when a read since the dump's file logged a DROP or CREATE
 * DATABASE of it (dropped and created again under its name: a replay would have to drop the
 * source, so a moment after it restores only from a dump taken after it) — and not when a read
 * since the dump (or the one just before it) was taken while the server's binlog_do_db /
 * binlog_ignore_db left the database out of the log (binlog.ts `leftOutOfReads`). Anything unreadable
 * is "not covered", with the reason: the caller then dumps — never a silent gap.
 */
import { hasCode } from '../../shared/result.ts';
import { isRepository, openRepository, type OpenOptions, type PointSummary, type Repository } from '../repository/index.ts';
import type { Backend } from '../storage/index.ts';
import { dumpFileReplaced, leftOutOfReads, logFileNumber } from '../servers/mysql/binlog.ts';
import type { PreparedDestination } from './prepare-destination.ts';

/** The history's reason of an incremental that re-dumped instead of reading the log starts with this (the window's hint finds it). */
export const REDUMPED = 're-dumped: ';

export const COVERED_BY_LOG = "its changes are in the server's binary log, stored once for this run in the ~server/binlog folder";

/** null when covered; otherwise why this incremental needs a dump. */
export async function logCoverage(prep: PreparedDestination, logFolder: Backend, repoOptions: OpenOptions): Promise<string | null> {
  const dumped = prep.chain?.newest;
  if (!dumped || !dumpedFile(dumped.meta)) return NO_POSITION;
  try {
    if (!(await isRepository(logFolder))) return NOT_STORED;
    return await coverageIn(dumped, await openRepository(logFolder, repoOptions));
  } catch (e) {
    if (hasCode(e, 'KEY_MISMATCH', 'KEY_REQUIRED', 'INTEGRITY', 'NOT_FOUND')) return 'the stored binary log could not be read with this task\'s key';
    throw e;
  }
}

const NO_POSITION = 'the last dump of this database has no binary-log position (it was taken by an earlier Backstop, which did not record it, or while the log was off or unreadable)';
const NOT_STORED = 'the binary log since the full is not stored yet';

function dumpedFile(dumped: Record<string, unknown> | undefined): { base: string; n: number } | null {
  return typeof dumped?.binlogFile === 'string' ? logFileNumber(dumped.binlogFile) : null;
}

/** The same decision on an opened log repository, for the database's newest dump (see the header). */
export async function coverageIn(dumped: Pick<PointSummary, 'meta' | 'serverIdentity' | 'database'>, logRepo: Repository): Promise<string | null> {
  const fullFile = dumpedFile(dumped.meta);
  if (!fullFile) return NO_POSITION;
  // The log folder as this run saw it (one LIST per log repository opened, not three per database:
  // the log job asks this for every database of the run, on the repository it just wrote).
  const logChain = await logRepo.newestChain('logical', { reuse: true });
  // The chain's oldest read still stored (retention may have pruned the reads no kept dump needs, its full among them).
  const oldest = logChain?.pointIds[0];
  if (!oldest) return NOT_STORED;
  if (logChain.newest.serverIdentity !== dumped.serverIdentity) {
    return `the stored binary log is of ${logChain.newest.serverIdentity}, the last dump of this database of ${dumped.serverIdentity} (the task's server setting changed)`;
  }
  const first = (await logRepo.getPoint(oldest)).meta.binlogFiles;
  const start = Array.isArray(first) && typeof first[0] === 'string' ? logFileNumber(first[0]) : null;
  if (!start || start.base !== fullFile.base || start.n > fullFile.n) return PURGED;
  const reads = (await logRepo.listPoints({ skipDamaged: true, reuse: true })).filter((p) => logChain.pointIds.includes(p.id));
  // The chain must hold the dump's own file and every one after it (a restore rolls forward only so):
  // after RESET MASTER or on a server rebuilt at the same address the numbering starts anew, and a
  // new chain from binlog.000001 does not hold the dump's binlog.000041.
  const names = new Set(reads.flatMap((p) => (Array.isArray(p.meta.binlogFiles) ? p.meta.binlogFiles.filter((f): f is string => typeof f === 'string') : [])));
  const numbers = [...names].map((f) => logFileNumber(f)).filter((f) => f !== null && f.base === fullFile.base && f.n >= fullFile.n).map((f) => f!.n);
  const snapshotAt = typeof dumped.meta.snapshotAt === 'string' ? dumped.meta.snapshotAt : '';
  const replaced = dumpFileReplaced({ binlogFile: dumped.meta.binlogFile as string, snapshotAt }, reads.map((p) => p.meta));
  if (!names.has(dumped.meta.binlogFile as string) || numbers.length !== Math.max(...numbers) - fullFile.n + 1 || replaced) {
    return `the stored binary log does not hold ${String(dumped.meta.binlogFile)}, the file of the last dump of this database, and every file after it (the log was numbered anew: RESET MASTER, or another server at this address)`;
  }
  const leftOut = leftOutOfReads(dumped.database, snapshotAt, reads.map((p) => ({ binlogEndAt: String(p.meta.binlogEndAt), binlogFilter: p.meta.binlogFilter })));
  if (leftOut) return leftOut.why;
  return recreatedSince(dumped.database, fullFile, reads) ? RECREATED : null;
}

const PURGED = 'the stored binary log does not reach back to the last dump of this database (it was purged on the server before it was read)';

const RECREATED =
  'the database was dropped or created again (DROP/CREATE DATABASE in the binary log since its last dump): its log cannot be replayed onto that dump, so this dump starts what later moments restore from';

/** Whether a read of the chain holding the dump's file or a later one logged a DROP/CREATE DATABASE of `database` (DatabaseStatementScan; names compared as the server may fold them). */
function recreatedSince(database: string, dumpFile: { base: string; n: number }, reads: readonly PointSummary[]): boolean {
  const name = database.toLowerCase();
  for (const p of reads) {
    const named = p.meta.binlogDatabaseStatements;
    if (!Array.isArray(named) || !named.some((d) => typeof d === 'string' && d.toLowerCase() === name)) continue;
    const files = Array.isArray(p.meta.binlogFiles) ? p.meta.binlogFiles : [];
    if (files.some((f) => typeof f === 'string' && (logFileNumber(f)?.n ?? -1) >= dumpFile.n)) return true;
  }
  return false;
}
