/**
 * Staleness: which databases of a task have gone too long without a successful backup.
 * Pure functions of (task, databases seen, threshold setting, now).
 *
 * Contract: the threshold is the setting when given, else twice the task's incremental
 * interval, else twice its full interval (the interval is the gap between its next two
 * runs). A database never backed up counts from when the task first saw it; one a run found
 * gone from the server (dropped or renamed, announced then) is not stale. Disabled
 * tasks have no stale databases (nobody expects them to run).
 */
import type { Task } from '../../shared/domain.ts';
import { upcomingRuns } from '../scheduler/index.ts';
import type { TaskDatabase } from '../store/index.ts';

export function staleThresholdMs(task: Task, staleAfterHours: number | null, now: Date): number | null {
  if (staleAfterHours !== null) return staleAfterHours * 3_600_000;
  const expr = task.schedule.incremental ?? task.schedule.full;
  if (!expr) return null;
  const runs = upcomingRuns({ full: expr, incremental: null, timezone: task.schedule.timezone }, now, 2);
  if (runs.length < 2) return null;
  return 2 * (runs[1]!.at.getTime() - runs[0]!.at.getTime());
}

export function staleDatabases(task: Task, seen: readonly TaskDatabase[], staleAfterHours: number | null, now: Date): string[] {
  if (!task.enabled) return [];
  const threshold = staleThresholdMs(task, staleAfterHours, now);
  if (threshold === null) return [];
  const excluded = new Set(task.excludeDatabases);
  return seen
    .filter((d) => !excluded.has(d.database) && !d.goneAt)
    .filter((d) => now.getTime() - Date.parse(d.lastSuccessAt ?? d.firstSeenAt) > threshold)
    .map((d) => d.database);
}
