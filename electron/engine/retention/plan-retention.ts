/**
 * Which restore points retention deletes, and why: a pure function of (points, policy,
 * now), used both to delete and to preview.
 *
 * Contract (applied per database, per destination):
 * - The minimum age is minAgeHours when given (exact to the hour), else minAgeDays.
 * - No retention — nothing is deleted — when minAgeDays = 0 without minAgeHours (what the
 *   window stores for "keep everything"), or minAgeHours = 0 without keepLast.
 * - "Newest" is the order the points were written in (shared/latest-point.ts `newestFirst`): a
 *   point that continues another (`parentId`, `chainId`) is newer than it whatever their dates,
 *   and a point dated more than an hour after `now` (written while the clock was ahead) is older
 *   than every point not dated so — so after a clock set back, the points written since count
 *   as the newest, not the point dated ahead.
 * - A point younger than the minimum age is kept; so is one dated more than an hour after `now`,
 *   saying so (the clock was ahead when it was written, or is behind now), by age and by count.
 * - With keepLast = N, the newest N points are kept whatever their age.
 * - The newest point (the latest, latest-point.ts) is never deleted.
 * - A gap in the backups (the clock jumped forward — wrong NTP, a VM restored from a
 *   snapshot — or no backup was made for that long): when a point is more than twice the
 *   minimum age (and than the spacing of the two points before it) newer than the one
 *   before it, the points before that gap are not deleted by
 *   age until the points after it span the minimum age. So one run with the clock a year
 *   ahead (or the first good run after a week of failures) never leaves only the newest
 *   point: the DBA keeps at least the minimum age of history across the gap. The same holds
 *   for a gap after the newest point: when `now` is more than twice the minimum age (and than
 *   the spacing of the newest two points) after it — the clock far ahead and no point stored
 *   since (an unchanged database's incremental stores none; `backstop prune`) — nothing is
 *   deleted by age, so a clock set a year ahead by mistake deletes nothing before it is fixed.
 *   Gaps are looked for among the points not dated more than an hour after `now`, by date: a
 *   point dated ahead (kept anyway) does not hold retention of the others back until its date.
 * - A full is never deleted while a kept incremental belongs to its chain.
 * - An incremental that rolls forward from the point before it (`rollsForward`: a
 *   PostgreSQL WAL point, which replays on top of every earlier point of its chain) keeps
 *   every earlier point of its chain — written before it (the points it continues) or dated
 *   before it — so such a chain is never cut in the middle (a gap would make the moments
 *   after it unreachable).
 * - Everything else is deleted. Every point gets exactly one decision with a reason.
 */
import type { PointKind, Retention } from '../../shared/domain.ts';
import { newestFirst as writtenNewestFirst } from '../../shared/latest-point.ts';

export interface RetentionPoint {
  id: string;
  kind: PointKind;
  createdAt: string;
  /** The id of the full point that starts this point's chain (a full's own id). */
  chainId: string;
  /** The point this one continues (an incremental's parent); null or absent for a full. */
  parentId?: string | null;
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

export function planRetention(points: readonly RetentionPoint[], policy: Retention, now: Date): RetentionDecision[] {
  const newestFirst = writtenNewestFirst(points, now);
  const ahead = (p: RetentionPoint) => Date.parse(p.createdAt) > now.getTime() + HOUR;
  const decisions = new Map<string, RetentionDecision>();
  const keep = (id: string, reason: string) => decisions.set(id, { id, action: 'keep', reason });

  const hours = retentionHours(policy);
  if (hours === null) {
    for (const p of newestFirst) keep(p.id, 'no retention policy');
    return newestFirst.map((p) => decisions.get(p.id)!);
  }
  const cutoff = now.getTime() - hours * HOUR;
  // By date, without the points dated ahead (kept by their own rule): gaps are in time, and one
  // dated ahead must not pause the rest until its date comes.
  const dated = newestFirst.filter((p) => !ahead(p)).sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
  const gap = hours > 0 ? unfilledGap(dated, hours, now) : null;
  newestFirst.forEach((p, index) => {
    if (index === 0) keep(p.id, 'newest point');
    else if (policy.keepLast !== null && index < policy.keepLast) keep(p.id, `one of the newest ${policy.keepLast}`);
    else if (ahead(p)) keep(p.id, 'taken after now: the clock was ahead when it was written, or is behind now');
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
  // Written before it: after it in newestFirst (the points it continues are there, whatever their dates).
  newestFirst.forEach((p, index) => {
    if (!p.rollsForward || decisions.get(p.id)?.action !== 'keep') return;
    newestFirst.forEach((q, at) => {
      if (q.chainId === p.chainId && (at > index || q.createdAt < p.createdAt) && !decisions.has(q.id)) keep(q.id, `replayed before kept incremental ${p.id}`);
    });
  });
  // After the chains (so their reasons stand): every point before an unfilled gap stays, and with it
  // every older point its chains could need.
  if (gap) dated.slice(gap.before).forEach((p) => decisions.has(p.id) || keep(p.id, gap.reason));
  for (const p of newestFirst) {
    if (!decisions.has(p.id)) decisions.set(p.id, { id: p.id, action: 'delete', reason: hours > 0 ? `older than ${describeAge(hours)}` : `not one of the newest ${policy.keepLast}` });
  }
  return newestFirst.map((p) => decisions.get(p.id)!);
}
