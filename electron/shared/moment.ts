/**
 * A restore moment ("restore to 14:02"), as users type it: ISO-8601 date and time, with an
 * offset or `Z`, or without one (then it is the local time of the machine, as a DBA reading
 * the clock on the wall means it). Seconds and fractions are optional; a date alone is not
 * a moment (ambiguous: which end of the day?). parseMoment throws VALIDATION naming the
 * accepted form; it never guesses.
 */
import { BackstopError } from './result.ts';

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}:?\d{2})?$/;

export function parseMoment(text: string): Date {
  const bad = (): never => {
    throw new BackstopError('VALIDATION', `"${text.slice(0, 60)}" is not a moment: write it as ISO-8601 date and time, e.g. 2026-12-04T14:02:00 (local time) or 2026-12-04T13:02:00Z.`);
  };
  const m = ISO.exec(text.trim());
  if (!m) return bad();
  const [, y, mo, d, h, mi, s = '0', frac = '0', zone] = m;
  const f = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  // No calendar overflow: Date would roll 2026-02-30 into March.
  const daysInMonth = new Date(Date.UTC(f[0], f[1], 0)).getUTCDate();
  if (f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > daysInMonth || f[3] > 23 || f[4] > 59 || f[5] > 59) return bad();
  const ms = Math.round(Number(`0.${frac}`) * 1000);
  if (zone === undefined) return new Date(f[0], f[1] - 1, f[2], f[3], f[4], f[5], ms);
  const offset = zone === 'Z' ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(-2)));
  return new Date(Date.UTC(f[0], f[1] - 1, f[2], f[3], f[4], f[5], ms) - offset * 60_000);
}
