/**
 * Which restore point "latest" means (a restore, a test restore, apply-globals, a server
 * restore without a moment).
 *
 * Points are ordered by when they were taken — their `createdAt`, read from the clock of the
 * machine that wrote them. A point dated more than an hour after now was written while the
 * clock was ahead (corrected since), or this clock is behind: the points written after the
 * correction are dated before it, so the newest by date is not the last one written, and
 * "latest" would restore older data than the newest backup holds.
 *
 * Contract: `latestPoint(points, now)` (points oldest first, as `listPoints` gives them) is the
 * newest point dated at most an hour after `now`; when every point is dated later than that
 * (this clock behind them all), the newest; undefined for none.
 */
const AHEAD_MS = 3_600_000;

export function latestPoint<T extends { createdAt: string }>(points: readonly T[], now: Date): T | undefined {
  const limit = now.getTime() + AHEAD_MS;
  for (let i = points.length - 1; i >= 0; i--) if (Date.parse(points[i]!.createdAt) <= limit) return points[i];
  return points.at(-1);
}
