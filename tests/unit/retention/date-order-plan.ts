/**
 * The reference for tests/unit/retention/written-order.property.test.ts: planRetention as it was
 * before the written order (commit 7b1c1d1^), ordering points by their dates alone. On a history
 * written without a clock jump the written order must plan exactly what this planned.
 */
import { describeAge, retentionHours, type RetentionDecision, type RetentionPoint } from '../../../electron/engine/retention/plan-retention.ts';
import type { Retention } from '../../../electron/shared/domain.ts';

const HOUR = 3_600_000;
/** "365 days", "1 day", "30 hours": a gap's width. */
function span(ms: number): string {
  const days = Math.round(ms / (24 * HOUR));
  return days >= 1 ? `${days} day${days === 1 ? '' : 's'}` : `${Math.round(ms / HOUR)} hours`;
}

/**
 * The newest gap of more than twice `hours` between two points (or between the newest point
 * and `now`) whose later side does not yet span `hours` (see the header): `before` is the index (newest first) of the newest point
 * before it; null when there is none.
 */
function unfilledGap(newestFirst: readonly RetentionPoint[], hours: number, now: Date): { before: number; reason: string } | null {
  const newest = newestFirst[0] ? Date.parse(newestFirst[0].createdAt) : NaN;
  // The gap may be after the newest point: the clock now far ahead of every point (no point stored since).
  if (newestFirst.length > 1) {
    const width = now.getTime() - newest;
    const prior = newest - Date.parse(newestFirst[1]!.createdAt);
    if (width > 2 * hours * HOUR && width > 2 * prior) {
      return {
        before: 1,
        reason: `the newest point is ${span(width)} older than now (the clock jumped forward, or no backup stored a point since): nothing is deleted by age until newer points span ${describeAge(hours)}`,
      };
    }
  }
  for (let i = 1; i < newestFirst.length; i++) {
    const after = Date.parse(newestFirst[i - 1]!.createdAt);
    const width = after - Date.parse(newestFirst[i]!.createdAt);
    const prior = newestFirst[i + 1] ? Date.parse(newestFirst[i]!.createdAt) - Date.parse(newestFirst[i + 1]!.createdAt) : 0;
    // Not a gap: a schedule sparser than the policy (a weekly task keeping 3 days) spaces every point so.
    if (width <= 2 * hours * HOUR || width <= 2 * prior) continue;
    if (newest - after >= hours * HOUR) return null;
    return {
      before: i,
      reason: `before a gap of ${span(width)} in the backups (the clock jumped forward, or no backup was made): kept until the points after it span ${describeAge(hours)}`,
    };
  }
  return null;
}

export function dateOrderPlan(points: readonly RetentionPoint[], policy: Retention, now: Date): RetentionDecision[] {
  const newestFirst = [...points].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
  const decisions = new Map<string, RetentionDecision>();
  const keep = (id: string, reason: string) => decisions.set(id, { id, action: 'keep', reason });

  const hours = retentionHours(policy);
  if (hours === null) {
    for (const p of newestFirst) keep(p.id, 'no retention policy');
    return newestFirst.map((p) => decisions.get(p.id)!);
  }
  const cutoff = now.getTime() - hours * HOUR;
  const gap = hours > 0 ? unfilledGap(newestFirst, hours, now) : null;
  newestFirst.forEach((p, index) => {
    if (index === 0) keep(p.id, 'newest point');
    else if (policy.keepLast !== null && index < policy.keepLast) keep(p.id, `one of the newest ${policy.keepLast}`);
    else if (hours > 0 && Date.parse(p.createdAt) > now.getTime() + HOUR) keep(p.id, 'taken after now: the clock was ahead when it was written, or is behind now');
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
  // After the chains (so their reasons stand): every point before an unfilled gap stays, and with it
  // every older point its chains could need.
  if (gap) newestFirst.slice(gap.before).forEach((p) => decisions.has(p.id) || keep(p.id, gap.reason));
  for (const p of newestFirst) {
    if (!decisions.has(p.id)) decisions.set(p.id, { id: p.id, action: 'delete', reason: hours > 0 ? `older than ${describeAge(hours)}` : `not one of the newest ${policy.keepLast}` });
  }
  return newestFirst.map((p) => decisions.get(p.id)!);
}
