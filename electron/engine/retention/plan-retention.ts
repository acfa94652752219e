/**
 * Which restore points retention deletes, and why: a pure function of (points, policy,
 * now), used both to delete and to preview.
 *
 * Contract (applied per database, per destination):
 * - The minimum age is minAgeHours when given (exact to the hour), else minAgeDays.
 * - No retention — nothing is deleted — when minAgeDays = 0 without minAgeHours (what the
 *   window stores for "keep everything"), or minAgeHours = 0 without keepLast.
 * - A point younger than the minimum age is kept.
 * - With keepLast = N, the newest N points are kept whatever their age.
 * - The newest point is never deleted.
 * - A full is never deleted while a kept incremental belongs to its chain.
 * - An incremental that rolls forward from the point before it (`rollsForward`: a
 *   PostgreSQL WAL point, which replays on top of every earlier point of its chain) keeps
 *   every earlier point of its chain, so such a chain is never cut in the middle (a gap
 *   would make the moments after it unreachable).
 * - Everything else is deleted. Every point gets exactly one decision with a reason.
 */
import type { PointKind, Retention } from '../../shared/domain.ts';

export interface RetentionPoint {
  id: string;
  kind: PointKind;
  createdAt: string;
  /** The id of the full point that starts this point's chain (a full's own id). */
  chainId: string;
  /** An incremental that replays on top of every earlier point of its chain (see the header). */
  rollsForward?: boolean;
}

export interface RetentionDecision {
  id: string;
  action: 'keep' | 'delete';
  reason: string;
}

const HOUR = 3_600_000;

/** The policy's minimum age in hours, or null when it is no retention at all. */
export function retentionHours(policy: Retention): number | null {
  if (policy.minAgeHours === undefined) return policy.minAgeDays === 0 ? null : policy.minAgeDays * 24;
  return policy.minAgeHours === 0 && policy.keepLast === null ? null : policy.minAgeHours;
}

/** "36 hours", "2 days", "1 day": the age as the user gave it. */
export function describeAge(hours: number): string {
  if (hours % 24 === 0) return `${hours / 24} day${hours === 24 ? '' : 's'}`;
  return `${hours} hour${hours === 1 ? '' : 's'}`;
}

export function planRetention(points: readonly RetentionPoint[], policy: Retention, now: Date): RetentionDecision[] {
  const newestFirst = [...points].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
  const decisions = new Map<string, RetentionDecision>();
  const keep = (id: string, reason: string) => decisions.set(id, { id, action: 'keep', reason });

  const hours = retentionHours(policy);
  if (hours === null) {
    for (const p of newestFirst) keep(p.id, 'no retention policy');
    return newestFirst.map((p) => decisions.get(p.id)!);
  }
  const cutoff = now.getTime() - hours * HOUR;
  newestFirst.forEach((p, index) => {
    if (index === 0) keep(p.id, 'newest point');
    else if (policy.keepLast !== null && index < policy.keepLast) keep(p.id, `one of the newest ${policy.keepLast}`);
    else if (hours > 0 && Date.parse(p.createdAt) > cutoff) keep(p.id, `younger than ${describeAge(hours)}`);
  });
  // Chains: a kept incremental keeps its chain's full.
  const byId = new Map(newestFirst.map((p) => [p.id, p]));
  for (const p of newestFirst) {
    if (p.kind !== 'incremental' || decisions.get(p.id)?.action !== 'keep') continue;
    const full = byId.get(p.chainId);
    if (full && !decisions.has(full.id)) keep(full.id, `full needed by kept incremental ${p.id}`);
  }
  // Rolled-forward chains: a kept WAL point keeps everything before it in its chain (newest first, so the newest kept one names itself).
  for (const p of newestFirst) {
    if (!p.rollsForward || decisions.get(p.id)?.action !== 'keep') continue;
    for (const q of newestFirst) {
      if (q.chainId === p.chainId && q.createdAt < p.createdAt && !decisions.has(q.id)) keep(q.id, `replayed before kept incremental ${p.id}`);
    }
  }
  for (const p of newestFirst) {
    if (!decisions.has(p.id)) decisions.set(p.id, { id: p.id, action: 'delete', reason: hours > 0 ? `older than ${describeAge(hours)}` : `not one of the newest ${policy.keepLast}` });
  }
  return newestFirst.map((p) => decisions.get(p.id)!);
}
