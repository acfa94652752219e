/**
 * Wall-clock times in a named IANA time zone (a task's schedule zone) and the instants they
 * mean, for the window's "restore to a moment". Pure (Intl only): the renderer and the
 * engine both use it.
 *
 * Contract:
 * - `zoneOffset(instant, zone)`: the zone's offset from UTC at that instant, in minutes.
 * - `zoneLabel(zone, at)`: e.g. "Europe/Berlin, UTC+01:00" (the offset in force at `at`).
 * - `wallTime(instant, zone)`: "YYYY-MM-DDTHH:mm:ss" as a clock in that zone shows it.
 * - `wallToInstant(text, zone)` reads "YYYY-MM-DDTHH:mm[:ss[.fff]]" (as a datetime-local
 *   input gives it) in `zone`: `ok` with the one instant; `gap` for a time the clocks skip
 *   (spring forward: it never happened there), with the offsets before and after; `ambiguous`
 *   for a time the clocks show twice (fall back), with both instants, `earlier` first —
 *   the window takes the earlier unless the user asks for the later one; `invalid` when the
 *   text is not a date and time (or the zone is unknown).
 */

export type WallTimeReading =
  | { kind: 'ok'; instant: Date }
  | { kind: 'gap'; before: number; after: number }
  | { kind: 'ambiguous'; earlier: Date; later: Date; offsets: [number, number] }
  | { kind: 'invalid' };

const WALL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/;

const formatters = new Map<string, Intl.DateTimeFormat>();
function partsFormatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(zone, f);
  }
  return f;
}

/** The wall clock in `zone` at `ms` as a UTC-based millisecond count (seconds precision). */
function wallMs(ms: number, zone: string): number {
  const p: Record<string, number> = {};
  for (const part of partsFormatter(zone).formatToParts(new Date(ms))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour! % 24, p.minute!, p.second!);
}

/** The zone's offset from UTC at `instant`, in minutes (east positive). */
export function zoneOffset(instant: Date | number, zone: string): number {
  const ms = typeof instant === 'number' ? instant : instant.getTime();
  const whole = ms - (((ms % 1000) + 1000) % 1000);
  return Math.round((wallMs(whole, zone) - whole) / 60_000);
}

/** "UTC+01:00" for 60, "UTC-04:00" for -240. */
export function formatOffset(minutes: number): string {
  const a = Math.abs(minutes);
  return `UTC${minutes < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

/** The zone's name and the offset in force at `at`, e.g. "Europe/Berlin, UTC+01:00". */
export function zoneLabel(zone: string, at: Date = new Date()): string {
  return `${zone}, ${formatOffset(zoneOffset(at, zone))}`;
}

/** "YYYY-MM-DDTHH:mm:ss" as a clock in `zone` shows `instant`. */
export function wallTime(instant: Date | string, zone: string): string {
  const ms = typeof instant === 'string' ? Date.parse(instant) : instant.getTime();
  return new Date(wallMs(ms, zone)).toISOString().slice(0, 19);
}

/** Whether `zone` is an IANA zone this runtime knows. */
export function knownZone(zone: string): boolean {
  try {
    partsFormatter(zone);
    return true;
  } catch {
    return false;
  }
}

/** The instant(s) a wall-clock time in `zone` means (see the header). */
export function wallToInstant(text: string, zone: string): WallTimeReading {
  const m = WALL.exec(text);
  if (!m || !knownZone(zone)) return { kind: 'invalid' };
  const [, y, mo, d, h, mi, s = '0', frac = '0'] = m;
  const f = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(f[0], f[1], 0)).getUTCDate();
  if (f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > daysInMonth || f[3] > 23 || f[4] > 59 || f[5] > 59) return { kind: 'invalid' };
  const ms = Math.round(Number(`0.${frac}`) * 1000);
  // The wall time read as if it were UTC; the instant is that minus the offset in force then.
  const naive = Date.UTC(f[0], f[1] - 1, f[2], f[3], f[4], f[5], 0);
  // Every offset the zone uses within a day either side (a transition moves it at most once or twice).
  const offsets = [...new Set([-36, -12, 0, 12, 36].map((hours) => zoneOffset(naive + hours * 3600_000, zone)))];
  const hits = [...new Set(offsets.map((o) => naive - o * 60_000).filter((t) => wallMs(t, zone) === naive))].sort((a, b) => a - b);
  if (hits.length === 0) {
    const before = zoneOffset(naive - 36 * 3600_000, zone);
    const after = zoneOffset(naive + 36 * 3600_000, zone);
    return { kind: 'gap', before, after };
  }
  if (hits.length === 1) return { kind: 'ok', instant: new Date(hits[0]! + ms) };
  const earlier = hits[0]!;
  const later = hits.at(-1)!;
  return { kind: 'ambiguous', earlier: new Date(earlier + ms), later: new Date(later + ms), offsets: [Math.round((naive - earlier) / 60_000), Math.round((naive - later) / 60_000)] };
}
