/**
 * Applies a retention policy to one repository (one database at one destination):
 * plans with `planRetention`, deletes what the plan says, collects garbage.
 *
 * Contract: never deletes when the policy is "no retention"; `dryRun` only returns the
 * plan. Points whose manifests cannot be read (damaged, or written by a newer Backstop) are
 * never deleted: the plan lists them last, kept, with the error and the fix (`backstop prune`
 * prints it). Nor is a point deleted while a restore
 * reads it or a backup builds on it (kept for the next prune, listed in `inUse`). PostgreSQL WAL
 * points roll forward (plan-retention.ts): a base backup's WAL chain is kept whole while any
 * point of it is kept, and goes whole once none is (never a gap in the middle).
 * `fromView` (a backup run): planned on the run's view of the folder, and planned again on a
 * fresh listing only when that plan deletes something.
 */
import type { DeletedPoint, Retention } from '../../shared/domain.ts';
import type { DamagedPoint, PointSummary, Repository } from '../repository/index.ts';
import { PG_WAL_FORMAT } from '../servers/postgres/wal-stream.ts';
import { planRetention, type RetentionDecision, type RetentionPoint } from './plan-retention.ts';

export interface RetentionResult {
  plan: RetentionDecision[];
  deleted: string[];
  /** The deleted points with when they were taken and their kind (what History lists). */
  deletedPoints: DeletedPoint[];
  bytesFreed: number;
  /** Points the plan deletes but a running restore or backup uses: kept, for the next prune. */
  inUse?: string[];
}

export async function applyRetention(repo: Repository, policy: Retention, now: Date, opts: { dryRun?: boolean; fromView?: boolean } = {}): Promise<RetentionResult> {
  const planned = async (reuse: boolean) => {
    const { points, unreadable } = await repo.scanPoints({ reuse });
    // A point whose manifest cannot be read is never deleted, and the plan names it (and why) last.
    const plan = [...planRetention(retentionPointsOf(points), policy, now), ...unreadable.map((d) => unreadableDecision(d))];
    return { points, plan, doomed: plan.filter((d) => d.action === 'delete').map((d) => d.id) };
  };
  // A run's retention first plans on the run's view of the folder (with the point it committed): when
  // nothing is due, as in most runs, that costs no LIST.
  let { points, plan, doomed } = await planned(opts.fromView === true);
  if (opts.dryRun || doomed.length === 0) return { plan, deleted: [], deletedPoints: [], bytesFreed: 0 };
  // Before anything is deleted, the plan is made again on the folder as it is now: another machine may
  // have added a point to a chain this plan deletes whole (kept with its chain then), or deleted some.
  if (opts.fromView) ({ points, plan, doomed } = await planned(false));
  if (doomed.length === 0) return { plan, deleted: [], deletedPoints: [], bytesFreed: 0 };
  const res = await repo.deletePoints(doomed, { skipInUse: true });
  return { plan, deleted: res.deleted, deletedPoints: deletedPointsOf(points, res.deleted, plan), bytesFreed: res.bytesFreed, inUse: res.inUse };
}

/** The decision for a point whose manifest cannot be read: kept, naming the error and the fix. */
export function unreadableDecision(d: Pick<DamagedPoint, 'id' | 'code'>): RetentionDecision {
  const why = d.code === 'FORMAT_TOO_NEW' ? 'written by a newer Backstop' : 'its manifest is damaged';
  return { id: d.id, action: 'keep', reason: `cannot be read (${d.code}: ${why}): never deleted by retention; run verify on this folder` };
}

/** The repository's points as retention plans them (the one owner: a run, `backstop prune` and the editor's preview alike). */
export function retentionPointsOf(points: readonly (Pick<PointSummary, 'id' | 'kind' | 'createdAt' | 'chainId' | 'meta'> & { parentId?: string | null })[]): RetentionPoint[] {
  return points.map((p) => ({ id: p.id, kind: p.kind, createdAt: p.createdAt, chainId: p.chainId, parentId: p.parentId, ...(p.meta.format === PG_WAL_FORMAT ? { rollsForward: true } : {}) }));
}

/** The deleted ids as History lists them: with when each point was taken, its kind, and why the plan deleted it. */
export function deletedPointsOf(points: readonly { id: string; createdAt: string; kind: DeletedPoint['kind'] }[], deleted: readonly string[], plan: readonly RetentionDecision[]): DeletedPoint[] {
  const byId = new Map(points.map((p) => [p.id, p]));
  const why = new Map(plan.map((d) => [d.id, d.reason]));
  return deleted.map((id) => ({ id, createdAt: byId.get(id)?.createdAt ?? '', kind: byId.get(id)?.kind ?? 'full', ...(why.has(id) ? { reason: why.get(id)! } : {}) }));
}
