/**
 * A restore moment ("restore to 14:02"), as users type it: ISO-8601 date and time, with an
 * offset (`+05:30`, `+0530`, or PostgreSQL's `+05`) or `Z`, or without one (then it is the wall time of this computer's time zone, as a
 * DBA reading the clock on the wall means it). Seconds and decimals are optional; moments
 * resolve to the millisecond, finer digits (a PostgreSQL timestamp's microseconds, as scripts
 * pass them) are dropped — never rounded up, so nothing after the typed moment is restored
 * (a commit later in the same millisecond may be left out). A date alone is not a moment
 * (ambiguous: which end of the day?).
 *
 * Contract: parseMoment throws VALIDATION naming the accepted form; it never guesses or
 * shifts. A wall time without an offset that the local clocks skip (spring forward) or show
 * twice (fall back) is refused, naming the zone, the offsets and the text to type instead.
 * `readMoment` also says how a moment without an offset was read (`localZone`), so the CLI
 * can print the instant it used.
 */
import { BackstopError } from './result.ts';
import { formatOffset, knownZone, wallToInstant, zoneOffset } from './zoned-time.ts';

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

export interface MomentReading {
  at: Date;
  /** The local zone a moment typed without an offset was read in (null when it had one). */
  localZone: string | null;
}

/** This process's time zone as an IANA name (TZ as the user spelled it, e.g. Asia/Kolkata, not ICU's Asia/Calcutta); null when the runtime cannot name it. */
export function localTimeZone(): string | null {
  const tz = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.TZ;
  if (tz && knownZone(tz)) return tz;
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return zone && zone !== 'Etc/Unknown' ? zone : null;
}

export function parseMoment(text: string, zone: string | null = localTimeZone()): Date {
  return readMoment(text, zone).at;
}

export function readMoment(text: string, zone: string | null = localTimeZone()): MomentReading {
  const bad = (why = ''): never => {
    throw new BackstopError('VALIDATION', `"${text.slice(0, 60)}" is not a moment${why}: write it as ISO-8601 date and time, e.g. 2026-12-04T14:02:00 (local time) or 2026-12-04T13:02:00Z.`);
  };
  const m = ISO.exec(text.trim());
  if (!m) return bad();
  const [, y, mo, d, h, mi, s = '00', frac = '0', offset] = m;
  const f = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  // No calendar overflow: Date would roll 2026-02-30 into March.
  const daysInMonth = new Date(Date.UTC(f[0], f[1], 0)).getUTCDate();
  if (f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > daysInMonth || f[3] > 23 || f[4] > 59 || f[5] > 59) return bad();
  // Milliseconds, finer digits dropped: rounding .123756 up to .124 would restore a commit made after the moment.
  const ms = Number(frac.slice(0, 3).padEnd(3, '0'));
  if (offset !== undefined) {
    const minutes = offset === 'Z' ? 0 : (offset[0] === '-' ? -1 : 1) * (Number(offset.slice(1, 3)) * 60 + (offset.length > 3 ? Number(offset.slice(-2)) : 0));
    return { at: new Date(Date.UTC(f[0], f[1] - 1, f[2], f[3], f[4], f[5], ms) - minutes * 60_000), localZone: null };
  }
  const wall = `${y}-${mo}-${d}T${h}:${mi}:${s}`;
  const reading = zone ? wallToInstant(wall, zone) : ({ kind: 'invalid' } as const);
  switch (reading.kind) {
    case 'ok':
      return { at: new Date(reading.instant.getTime() + ms), localZone: zone };
    case 'gap':
      throw new BackstopError(
        'VALIDATION',
        `${wall.replace('T', ' ')} never happens in ${zone} (this computer's time zone): the clocks skip forward there that day (${formatOffset(reading.before)} to ${formatOffset(reading.after)}). Write the moment with the offset you mean, e.g. ${wall}${isoOffset(reading.before)} or ${wall}${isoOffset(reading.after)}.`,
      );
    case 'ambiguous':
      throw new BackstopError(
        'VALIDATION',
        `${wall.replace('T', ' ')} happens twice in ${zone} (this computer's time zone): the clocks go back there that night, first at ${formatOffset(reading.offsets[0])}, then at ${formatOffset(reading.offsets[1])}. Write the moment with the offset you mean: ${wall}${isoOffset(reading.offsets[0])} (the first) or ${wall}${isoOffset(reading.offsets[1])} (the second).`,
      );
    default: {
      // The runtime cannot name its zone: the process's local time as Date reads it.
      return { at: new Date(f[0], f[1] - 1, f[2], f[3], f[4], f[5], ms), localZone: null };
    }
  }
}

/** "+05:30" for 330, "-04:00" for -240. */
function isoOffset(minutes: number): string {
  return formatOffset(minutes).slice(3);
}

/** How the CLI read a moment typed without an offset, e.g. "--as-of 2026-12-04T14:02 has no offset: read in this computer's time zone (Asia/Kolkata, UTC+05:30), that is 2026-12-04T08:32:00.000Z." */
export function describeLocalMoment(text: string, reading: MomentReading): string | null {
  if (!reading.localZone) return null;
  return `--as-of ${text.trim()} has no offset: read in this computer's time zone (${reading.localZone}, ${formatOffset(zoneOffset(reading.at, reading.localZone))}), that is ${reading.at.toISOString()}.`;
}
