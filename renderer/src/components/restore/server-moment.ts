/**
 * "As of a moment" for a whole-server restore (issue #22): each database comes back as its
 * latest restore point at or before the moment (the engine's `asOf`, as `backstop
 * restore-server --as-of`), so the moments every chosen database reaches start at the
 * newest of their oldest restore points — the database with that point limits the range.
 *
 * Contract: pure; `commonRange` returns null when no chosen database has a restore point.
 */

export interface DatabaseRange {
  database: string;
  range: { from: string; to: string } | null | undefined;
}

export interface CommonRange {
  /** The earliest moment every chosen database reaches (ISO UTC). */
  from: string;
  /** The database whose oldest restore point is `from`. */
  limitedBy: string;
  /** The newest restore point among them: a later moment restores the same points as this one. */
  newest: string;
}

export function commonRange(entries: DatabaseRange[]): CommonRange | null {
  const known = entries.filter((e): e is DatabaseRange & { range: { from: string; to: string } } => !!e.range);
  if (known.length === 0) return null;
  const limiting = known.reduce((a, b) => (Date.parse(b.range.from) > Date.parse(a.range.from) ? b : a));
  const newest = known.reduce((a, b) => (Date.parse(b.range.to) > Date.parse(a.range.to) ? b : a));
  return { from: limiting.range.from, limitedBy: limiting.database, newest: newest.range.to };
}
