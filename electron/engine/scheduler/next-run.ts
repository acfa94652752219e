/**
 * When a task runs next, and what a run that was missed should be: pure functions of
 * (schedule, last handled slot, now). node-schedule only fires timers at the times
 * these return; tests drive them with any clock, across DST changes and time zones.
 *
 * Contract:
 * - `nextRun` returns the first slot strictly after `after` for each schedule and the
 *   overall next run; when a full and an incremental fall on the same instant, the full
 *   wins (one run, kind full).
 * - `missedRun` looks at the slots in (lastHandled, now]: any full slot → 'full', else
 *   any incremental slot → 'incremental', else null. However many slots were missed,
 *   the answer is one run.
 * - Wall-clock times that do not exist (spring forward) fire at the first valid instant
 *   after the gap; times that occur twice (fall back) fire once.
 */
import type { PointKind, Schedule } from '../../shared/domain.ts';
import { nextFireTimes } from './cron.ts';

export interface NextRun {
  full: Date | null;
  incremental: Date | null;
  next: { at: Date; kind: PointKind } | null;
}

export type SchedulePolicy = Pick<Schedule, 'full' | 'incremental' | 'timezone'>;

function firstAfter(expr: string | null, tz: string, after: Date): Date | null {
  if (!expr) return null;
  return nextFireTimes(expr, tz, after, 1)[0] ?? null;
}

export function nextRun(policy: SchedulePolicy, after: Date): NextRun {
  const full = firstAfter(policy.full, policy.timezone, after);
  const incremental = firstAfter(policy.incremental, policy.timezone, after);
  let next: NextRun['next'] = null;
  if (full && (!incremental || full.getTime() <= incremental.getTime())) next = { at: full, kind: 'full' };
  else if (incremental) next = { at: incremental, kind: 'incremental' };
  return { full, incremental, next };
}

export function missedRun(policy: SchedulePolicy, lastHandled: Date, now: Date): { kind: PointKind; slot: Date } | null {
  if (now.getTime() <= lastHandled.getTime()) return null;
  const full = firstAfter(policy.full, policy.timezone, lastHandled);
  if (full && full.getTime() <= now.getTime()) return { kind: 'full', slot: latestSlot(policy.full!, policy.timezone, full, now) };
  const inc = firstAfter(policy.incremental, policy.timezone, lastHandled);
  if (inc && inc.getTime() <= now.getTime()) return { kind: 'incremental', slot: latestSlot(policy.incremental!, policy.timezone, inc, now) };
  return null;
}

/** The last slot ≤ now, starting from a slot known to be ≤ now (bounded walk). */
function latestSlot(expr: string, tz: string, from: Date, now: Date): Date {
  let latest = from;
  for (let i = 0; i < 100_000; i++) {
    const n = firstAfter(expr, tz, latest);
    if (!n || n.getTime() > now.getTime()) return latest;
    latest = n;
  }
  return latest;
}

/** The next `count` runs (kind and time), merging both schedules, for previews in the task editor. */
export function upcomingRuns(policy: SchedulePolicy, after: Date, count: number): { at: Date; kind: PointKind }[] {
  const out: { at: Date; kind: PointKind }[] = [];
  let cursor = after;
  while (out.length < count) {
    const { next } = nextRun(policy, cursor);
    if (!next) break;
    out.push(next);
    cursor = next.at;
  }
  return out;
}
