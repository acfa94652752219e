/**
 * Which restore points the picker lists. A folder can hold thousands (a year of hourly
 * incrementals): the picker renders the newest `POINT_PAGE` (newest first) and more on
 * request, or the newest up to the end of a chosen local day — never all of them at once.
 *
 * Contract: `points` oldest first, as the engine lists them; `upToDay` "YYYY-MM-DD" (local)
 * or '' (no bound; a half-typed day is no bound either); the `chosen` point is always listed
 * (in time order) even when outside the window, so a choice never disappears from view.
 * `older`: how many points before the last row are not listed.
 */
import type { RestorePoint } from '@shared/domain.ts';

export const POINT_PAGE = 50;

export interface PointWindow {
  rows: RestorePoint[];
  older: number;
}

/** The first instant after local day "YYYY-MM-DD", in ms; null when the day is unreadable. */
function endOfLocalDay(day: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return null;
  const t = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + 1).getTime();
  return Number.isNaN(t) ? null : t;
}

export function pointWindow(points: readonly RestorePoint[], shown: number, upToDay: string, chosen: string): PointWindow {
  const end = upToDay ? endOfLocalDay(upToDay) : null;
  const eligible: RestorePoint[] = [];
  for (let i = points.length - 1; i >= 0; i--) {
    const p = points[i]!;
    if (end === null || Date.parse(p.createdAt) < end) eligible.push(p);
  }
  const rows = eligible.slice(0, Math.max(0, shown));
  const older = eligible.length - rows.length;
  if (chosen && !rows.some((p) => p.id === chosen)) {
    const extra = points.find((p) => p.id === chosen);
    if (extra) {
      rows.push(extra);
      rows.sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
    }
  }
  return { rows, older };
}
