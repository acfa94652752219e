/**
 * Retention of a MySQL/MariaDB server's stored binary log (`<root>/~server/binlog`): the
 * one owner of "which log reads no kept dump needs". The log is one stream that every kept
 * dump of every database at the destination rolls forward from its recorded position to
 * the newest read, so a read goes only when no kept dump needs any file in it — the task's
 * per-point policy (age, count) is applied to the database folders, never to the log.
 *
 * Contract:
 * - Needed: for each log base name, every file from the oldest position recorded by any
 *   kept dump (a point of any database folder at the same root readable with the task's
 *   key) onward. A read is deleted only when every file it stored is older than that (or
 *   of a base no kept dump names), only as an oldest-first prefix of its chain, and never
 *   the newest read (the chain continues after it). So every moment a kept dump reaches
 *   (restore-to-moment.ts `momentCandidates`) stays reachable; only ranges of dumps that
 *   retention already deleted disappear.
 * - Conservative: a database folder that cannot be read (damaged manifest, storage error)
 *   stops the pruning with that error and nothing is deleted; a folder written with
 *   another key belongs to another key's log folder and is not counted.
 * - Crash-safe: reads are deleted oldest first (what remains is always a chain's newest
 *   part) and packs only after; a prune killed half way leaves a consistent repository,
 *   and the next prune deletes the rest and collects the packs left behind.
 */
import { hasCode } from '../../shared/result.ts';
import { newestFirst } from '../../shared/latest-point.ts';
import type { Location } from '../destinations/index.ts';
import { isRepository, openRepository, type OpenOptions, type PointSummary, type Repository } from '../repository/index.ts';
import { SERVER_FOLDER } from '../servers/index.ts';
import { logFileNumber } from '../servers/mysql/binlog.ts';
import { deletedPointsOf, type RetentionResult } from './apply-retention.ts';
import type { RetentionDecision } from './plan-retention.ts';

/** Per log base name (`binlog` of `binlog.000042`), the oldest file number a kept dump needs. */
export type LogNeeds = Map<string, number>;

/** Adds the positions recorded by `dumps` (points of database folders) to `needs`. */
export function addDumpNeeds(needs: LogNeeds, dumps: readonly PointSummary[]): void {
  for (const p of dumps) {
    const at = typeof p.meta.binlogFile === 'string' ? logFileNumber(p.meta.binlogFile) : null;
    if (!at) continue;
    const was = needs.get(at.base);
    if (was === undefined || at.n < was) needs.set(at.base, at.n);
  }
}

function filesOf(p: PointSummary): string[] | null {
  const files = p.meta.binlogFiles;
  return Array.isArray(files) && files.every((f) => typeof f === 'string') ? (files as string[]) : null;
}

/** Whether no kept dump needs any file of the read `p`. */
function unneeded(p: PointSummary, needs: LogNeeds): boolean {
  const files = filesOf(p);
  if (!files) return false;
  return files.every((f) => {
    const at = logFileNumber(f);
    if (!at) return false;
    const need = needs.get(at.base);
    return need === undefined || at.n < need;
  });
}

/** The decision for every read of the log (oldest first in, newest first out, as planRetention). */
export function planLogPrune(logPoints: readonly PointSummary[], needs: LogNeeds, now: Date = new Date()): RetentionDecision[] {
  const decisions = new Map<string, RetentionDecision>();
  // The order the reads were written in (latest-point.ts): after a clock set back the newest by date is an older read.
  const written = newestFirst(logPoints, now).reverse();
  const newest = written.at(-1);
  const chains = new Map<string, PointSummary[]>();
  for (const p of written) chains.set(p.chainId, [...(chains.get(p.chainId) ?? []), p]);
  const described = [...needs].map(([base, n]) => `${base}.${String(n).padStart(6, '0')}`).join(', ');
  for (const points of chains.values()) {
    let prefix = true;
    for (const p of points) {
      prefix &&= p !== newest && unneeded(p, needs);
      decisions.set(
        p.id,
        prefix
          ? { id: p.id, action: 'delete', reason: needs.size ? `every file it holds is older than the oldest position a kept dump needs (${described})` : 'no kept dump records a binary-log position' }
          : { id: p.id, action: 'keep', reason: p === newest ? 'newest read of the log (the next read continues after it)' : `a kept dump is rolled forward through it (from ${described})` },
      );
    }
  }
  return [...written].reverse().map((p) => decisions.get(p.id)!);
}

/**
 * Each database folder's newest logical point as `keptDumpNeeds` found it (by Location.folder;
 * null: no logical chain), so the log job's coverage check (covered-databases.ts) needs no
 * second look at a folder it has just listed.
 */
export type NewestDumps = Map<string, PointSummary | null>;

/** The log needs of every database folder at `root` readable with `key` (see the header); fills `newest` when given. */
export async function keptDumpNeeds(root: Location, key: Buffer | null, repoOptions: OpenOptions, newest?: NewestDumps): Promise<LogNeeds> {
  const needs: LogNeeds = new Map();
  for (const name of await root.listFolders()) {
    if (name === SERVER_FOLDER) continue;
    await root.child(name).use(async (folder) => {
      const backend = folder.backend();
      if (!(await isRepository(backend))) return;
      const repo = await openRepository(backend, { ...repoOptions, key }).catch((e: unknown) => {
        if (hasCode(e, 'KEY_MISMATCH', 'KEY_REQUIRED')) return null;
        throw e;
      });
      if (!repo) return;
      addDumpNeeds(needs, await repo.listPoints());
      newest?.set(folder.folder, (await repo.newestChain('logical', { reuse: true }))?.newest ?? null);
    });
  }
  return needs;
}

/** Deletes the reads of `logRepo` (the log folder at `root`) that no kept dump needs; see the header. */
export async function pruneLogStream(logRepo: Repository, root: Location, key: Buffer | null, repoOptions: OpenOptions, newest?: NewestDumps): Promise<RetentionResult> {
  const needs = await keptDumpNeeds(root, key, repoOptions, newest);
  const points = await logRepo.listPoints();
  const plan = planLogPrune(points, needs);
  const doomed = plan.filter((d) => d.action === 'delete').map((d) => d.id).reverse();
  // Nothing to delete: still collect what a prune killed after deleting its reads left behind.
  if (doomed.length === 0) return { plan, deleted: [], deletedPoints: [], bytesFreed: (await logRepo.collectGarbage()).bytesFreed };
  const res = await logRepo.deletePoints(doomed, { skipInUse: true });
  return { plan, deleted: res.deleted, deletedPoints: deletedPointsOf(points, res.deleted, plan), bytesFreed: res.bytesFreed, inUse: res.inUse };
}
