import { describe, expect, it } from 'vitest';
/**
 * `--as-of` as a DBA types it (moment.ts): with `Z` or an offset (a half-hour one too), that
 * instant; without one, the wall time of this computer's zone (here given explicitly:
 * America/New_York, Asia/Kolkata); a time the local clocks skip or show twice is refused
 * naming both offsets (never shifted by an hour); digits finer than a millisecond are dropped,
 * never rounded up past the moment; a date alone is refused.
 */
import { describeLocalMoment, parseMoment, readMoment } from '../../../electron/shared/moment.ts';
import { hasCode } from '../../../electron/shared/result.ts';

describe('parseMoment', () => {
  it('reads UTC and offset moments to the millisecond', () => {
    expect(parseMoment('2026-12-04T13:02:00Z').toISOString()).toBe('2026-12-04T13:02:00.000Z');
    expect(parseMoment('2026-12-04T14:02:03.25+01:00').toISOString()).toBe('2026-12-04T13:02:03.250Z');
    expect(parseMoment('2026-12-04 08:02-0500').toISOString()).toBe('2026-12-04T13:02:00.000Z');
  });

  it('reads a moment without an offset as local time', () => {
    const d = parseMoment('2026-07-01T14:02:05');
    expect([d.getFullYear(), d.getMonth(), d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()]).toEqual([2026, 6, 1, 14, 2, 5]);
  });

  it.each(['2026-12-04', 'yesterday', '2026-02-30T10:00', '2026-13-01T10:00', '2026-12-04T24:00', '2026-12-04T10:60', '2026-12-04T10:00+1'])(
    'refuses %s with VALIDATION naming the accepted form',
    (text) => {
      let error: unknown;
      try {
        parseMoment(text);
      } catch (e) {
        error = e;
      }
      expect(hasCode(error, 'VALIDATION')).toBe(true);
      expect((error as Error).message).toContain('ISO-8601');
    },
  );

  const failure = (f: () => unknown): { code: string; message: string } => {
    try {
      f();
    } catch (e) {
      return { code: (e as { code: string }).code, message: (e as Error).message };
    }
    throw new Error('expected a failure');
  };

  it('reads a moment without an offset in the given zone: New York (DST), Kolkata (+05:30); Z and offsets ignore the zone', () => {
    expect(parseMoment('2026-07-01T14:02:05', 'America/New_York').toISOString()).toBe('2026-07-01T18:02:05.000Z');
    expect(parseMoment('2026-12-04T14:02:05.5', 'America/New_York').toISOString()).toBe('2026-12-04T19:02:05.500Z');
    expect(parseMoment('2026-12-04T14:02', 'Asia/Kolkata').toISOString()).toBe('2026-12-04T08:32:00.000Z');
    expect(parseMoment('2026-12-04T14:02:00+05:30', 'America/New_York').toISOString()).toBe('2026-12-04T08:32:00.000Z');
    expect(parseMoment('2026-12-04T14:02:00Z', 'Asia/Kolkata').toISOString()).toBe('2026-12-04T14:02:00.000Z');
    const r = readMoment('2026-12-04T14:02', 'Asia/Kolkata');
    expect(describeLocalMoment('2026-12-04T14:02', r)).toBe("--as-of 2026-12-04T14:02 has no offset: read in this computer's time zone (Asia/Kolkata, UTC+05:30), that is 2026-12-04T08:32:00.000Z.");
    expect(describeLocalMoment('2026-12-04T14:02Z', readMoment('2026-12-04T14:02Z', 'Asia/Kolkata'))).toBeNull();
  });

  it('refuses a local time the clocks skip (2026-03-08 02:30 New York), naming the gap and what to type; never shifts it an hour', () => {
    const f = failure(() => parseMoment('2026-03-08T02:30', 'America/New_York'));
    expect(f.code).toBe('VALIDATION');
    expect(f.message).toBe(
      "2026-03-08 02:30:00 never happens in America/New_York (this computer's time zone): the clocks skip forward there that day (UTC-05:00 to UTC-04:00). Write the moment with the offset you mean, e.g. 2026-03-08T02:30:00-05:00 or 2026-03-08T02:30:00-04:00.",
    );
    // Either spelling it suggests is an instant.
    expect(parseMoment('2026-03-08T02:30:00-05:00').toISOString()).toBe('2026-03-08T07:30:00.000Z');
  });

  it('refuses a local time the clocks show twice (2026-11-01 01:30 New York), naming both offsets; with the offset each is one instant', () => {
    const f = failure(() => parseMoment('2026-11-01 01:30:15', 'America/New_York'));
    expect(f.code).toBe('VALIDATION');
    expect(f.message).toContain('2026-11-01 01:30:15 happens twice in America/New_York');
    expect(f.message).toContain('2026-11-01T01:30:15-04:00 (the first) or 2026-11-01T01:30:15-05:00 (the second)');
    expect(parseMoment('2026-11-01T01:30:15-04:00').toISOString()).toBe('2026-11-01T05:30:15.000Z');
    expect(parseMoment('2026-11-01T01:30:15-05:00').toISOString()).toBe('2026-11-01T06:30:15.000Z');
    // The same wall time in a zone without that transition is fine.
    expect(parseMoment('2026-11-01T01:30:15', 'Asia/Kolkata').toISOString()).toBe('2026-10-31T20:00:15.000Z');
  });

  it('keeps milliseconds exactly; drops finer digits (a PostgreSQL timestamp with microseconds) instead of rounding up past the moment', () => {
    expect(parseMoment('2026-12-04T14:02:03.123000Z').toISOString()).toBe('2026-12-04T14:02:03.123Z');
    expect(parseMoment('2026-12-04T14:02:03.9990Z').toISOString()).toBe('2026-12-04T14:02:03.999Z');
    expect(parseMoment('2026-12-04T14:02:03.123756Z').toISOString()).toBe('2026-12-04T14:02:03.123Z');
    expect(parseMoment('2026-12-04T14:02:03.999999+05:30').toISOString()).toBe('2026-12-04T08:32:03.999Z');
    expect(parseMoment('2026-12-04T14:02:03.000999', 'Asia/Kolkata').toISOString()).toBe('2026-12-04T08:32:03.000Z');
    expect(parseMoment('2026-12-04T14:02:03.123456789Z').toISOString()).toBe('2026-12-04T14:02:03.123Z');
    // As PostgreSQL prints now(): a space, microseconds and an hours-only offset.
    expect(parseMoment('2026-12-04 14:02:03.123456+00').toISOString()).toBe('2026-12-04T14:02:03.123Z');
    expect(parseMoment('2026-12-04 14:02:03.5-05').toISOString()).toBe('2026-12-04T19:02:03.500Z');
  });
});
