/**
 * Applies a retention policy to one repository (one database at one destination):
 * plans with `planRetention`, deletes what the plan says, collects garbage.
 *
 * Contract: never deletes when the policy is "no retention"; `dryRun` only returns the
 * plan. Points whose manifests cannot be read are never deleted (the plan sees only
 * readable points, and damaged ones are left for the user to inspect), nor while a restore
 * reads them or a backup builds on them (kept for the next prune, listed in `inUse`). PostgreSQL WAL
 * points roll forward (plan-retention.ts): a base backup's WAL chain is kept whole while any
 * point of it is kept, and goes whole once none is (never a gap in the middle).
 */
import type { DeletedPoint, Retention } from '../../shared/domain.ts';
import type { PointSummary, Repository } from '../repository/index.ts';
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

export async function applyRetention(repo: Repository, policy: Retention, now: Date, opts: { dryRun?: boolean } = {}): Promise<RetentionResult> {
  const points = await repo.listPoints({ skipDamaged: true });
  const plan = planRetention(retentionPointsOf(points), policy, now);
  const doomed = plan.filter((d) => d.action === 'delete').map((d) => d.id);
  if (opts.dryRun || doomed.length === 0) return { plan, deleted: [], deletedPoints: [], bytesFreed: 0 };
  const res = await repo.deletePoints(doomed, { skipInUse: true });
  return { plan, deleted: res.deleted, deletedPoints: deletedPointsOf(points, res.deleted), bytesFreed: res.bytesFreed, inUse: res.inUse };
}

/** The repository's points as retention plans them (the one owner: a run, `backstop prune` and the editor's preview alike). */
export function retentionPointsOf(points: readonly Pick<PointSummary, 'id' | 'kind' | 'createdAt' | 'chainId' | 'meta'>[]): RetentionPoint[] {
  return points.map((p) => ({ id: p.id, kind: p.kind, createdAt: p.createdAt, chainId: p.chainId, ...(p.meta.format === PG_WAL_FORMAT ? { rollsForward: true } : {}) }));
}

/** The deleted ids as History lists them: with when each point was taken and its kind. */
export function deletedPointsOf(points: readonly { id: string; createdAt: string; kind: DeletedPoint['kind'] }[], deleted: readonly string[]): DeletedPoint[] {
  const byId = new Map(points.map((p) => [p.id, p]));
  return deleted.map((id) => ({ id, createdAt: byId.get(id)?.createdAt ?? '', kind: byId.get(id)?.kind ?? 'full' }));
}
