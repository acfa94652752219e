/**
 * Optimistic concurrency for rows the window edits (tasks, servers): an edit names the
 * `updatedAt` it started from (`basedOn`), and a save over a newer version is refused with
 * STALE, nothing saved — so a change made in another window or by the command line is never
 * silently undone. Each save stamps a strictly later `updatedAt`, so two versions never share
 * one even when the clock has not moved.
 */
import { BackstopError } from '../../shared/result.ts';

/** STALE for an edit of `what` (e.g. `Task "nightly"`), whose stored version was saved at `updatedAt`. */
export function changedElsewhere(what: string, updatedAt: string): BackstopError {
  return new BackstopError(
    'STALE',
    `${what} was changed elsewhere (another window or the command line; saved at ${updatedAt}) after this edit began, so nothing was saved. Review its current settings and save again.`,
  );
}

/** `now`, or 1 ms past `previous` when the clock has not moved past it (ISO-8601 UTC stamps). */
export function laterStamp(previous: string, now: string): string {
  const prev = Date.parse(previous);
  return Number.isFinite(prev) && Date.parse(now) <= prev ? new Date(prev + 1).toISOString() : now;
}
