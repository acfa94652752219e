/**
 * Wall-clock times in a task's time zone → instants, across DST transitions in
 * Europe/Berlin and America/New_York (whatever zone the test machine runs in).
 */
import { describe, expect, it } from 'vitest';
import { formatOffset, wallTime, wallToInstant, zoneLabel, zoneOffset } from '../../../electron/shared/zoned-time.ts';

const iso = (r: ReturnType<typeof wallToInstant>) => (r.kind === 'ok' ? r.instant.toISOString() : r.kind);

describe('zoned time', () => {
  it('reads an ordinary wall time in winter and in summer', () => {
    expect(iso(wallToInstant('2026-01-15T14:02:03', 'Europe/Berlin'))).toBe('2026-01-15T13:02:03.000Z');
    expect(iso(wallToInstant('2026-07-15T14:02', 'Europe/Berlin'))).toBe('2026-07-15T12:02:00.000Z');
    expect(iso(wallToInstant('2026-07-15T14:02:03.250', 'America/New_York'))).toBe('2026-07-15T18:02:03.250Z');
    expect(iso(wallToInstant('2026-01-15T00:00', 'America/New_York'))).toBe('2026-01-15T05:00:00.000Z');
    expect(iso(wallToInstant('2026-07-15T14:02', 'UTC'))).toBe('2026-07-15T14:02:00.000Z');
  });

  it('names a time the clocks skip (spring forward) as a gap with the offsets around it', () => {
    // Europe/Berlin: 2026-03-29 02:00 CET → 03:00 CEST.
    expect(wallToInstant('2026-03-29T02:30', 'Europe/Berlin')).toEqual({ kind: 'gap', before: 60, after: 120 });
    expect(iso(wallToInstant('2026-03-29T01:59:59', 'Europe/Berlin'))).toBe('2026-03-29T00:59:59.000Z');
    expect(iso(wallToInstant('2026-03-29T03:00', 'Europe/Berlin'))).toBe('2026-03-29T01:00:00.000Z');
    // America/New_York: 2026-03-08 02:00 EST → 03:00 EDT.
    expect(wallToInstant('2026-03-08T02:15', 'America/New_York')).toEqual({ kind: 'gap', before: -300, after: -240 });
    expect(iso(wallToInstant('2026-03-08T03:00', 'America/New_York'))).toBe('2026-03-08T07:00:00.000Z');
  });

  it('gives both instants of a time the clocks show twice (fall back), the earlier first', () => {
    // Europe/Berlin: 2026-10-25 03:00 CEST → 02:00 CET: 02:30 happens at 00:30Z and at 01:30Z.
    const berlin = wallToInstant('2026-10-25T02:30', 'Europe/Berlin');
    expect(berlin.kind).toBe('ambiguous');
    if (berlin.kind === 'ambiguous') {
      expect([berlin.earlier.toISOString(), berlin.later.toISOString()]).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-25T01:30:00.000Z']);
      expect(berlin.offsets).toEqual([120, 60]);
    }
    // America/New_York: 2026-11-01 02:00 EDT → 01:00 EST: 01:30 happens at 05:30Z and 06:30Z.
    const ny = wallToInstant('2026-11-01T01:30:00', 'America/New_York');
    expect(ny.kind === 'ambiguous' && [ny.earlier.toISOString(), ny.later.toISOString(), ...ny.offsets]).toEqual(['2026-11-01T05:30:00.000Z', '2026-11-01T06:30:00.000Z', -240, -300]);
    expect(iso(wallToInstant('2026-11-01T02:00', 'America/New_York'))).toBe('2026-11-01T07:00:00.000Z');
  });

  it('refuses text that is not a date and time, and an unknown zone', () => {
    for (const text of ['2026-02-30T10:00', '2026-12-04', '2026-12-04T24:00', 'noon']) expect(wallToInstant(text, 'Europe/Berlin')).toEqual({ kind: 'invalid' });
    expect(wallToInstant('2026-12-04T10:00', 'Mars/Olympus')).toEqual({ kind: 'invalid' });
  });

  it('labels the zone with the offset in force and shows an instant as its wall clock', () => {
    expect(zoneLabel('Europe/Berlin', new Date('2026-01-15T12:00:00Z'))).toBe('Europe/Berlin, UTC+01:00');
    expect(zoneLabel('Europe/Berlin', new Date('2026-07-15T12:00:00Z'))).toBe('Europe/Berlin, UTC+02:00');
    expect(zoneLabel('America/New_York', new Date('2026-01-15T12:00:00Z'))).toBe('America/New_York, UTC-05:00');
    expect(zoneLabel('Asia/Kolkata', new Date('2026-01-15T12:00:00Z'))).toBe('Asia/Kolkata, UTC+05:30');
    expect(formatOffset(-570)).toBe('UTC-09:30');
    expect(zoneOffset(new Date('2026-10-25T00:59:59Z'), 'Europe/Berlin')).toBe(120);
    expect(zoneOffset(new Date('2026-10-25T01:00:00Z'), 'Europe/Berlin')).toBe(60);
    expect(wallTime('2026-10-25T00:30:00Z', 'Europe/Berlin')).toBe('2026-10-25T02:30:00');
    expect(wallTime('2026-10-25T01:30:00Z', 'Europe/Berlin')).toBe('2026-10-25T02:30:00');
    expect(wallTime(new Date('2026-07-15T18:02:03Z'), 'America/New_York')).toBe('2026-07-15T14:02:03');
  });
});
