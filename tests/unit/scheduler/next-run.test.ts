import { describe, expect, it } from 'vitest';
import { missedRun, nextRun, upcomingRuns } from '../../../electron/engine/scheduler/index.ts';

const iso = (d: Date | null | undefined) => d?.toISOString() ?? null;

describe('nextRun', () => {
  it('finds the next full and incremental slots in the task time zone', () => {
    const r = nextRun({ full: '0 2 * * *', incremental: '0 * * * *', timezone: 'Europe/Berlin' }, new Date('2026-06-10T10:15:00Z'));
    expect(iso(r.full)).toBe('2026-06-11T00:00:00.000Z'); // 02:00 CEST
    expect(iso(r.incremental)).toBe('2026-06-10T11:00:00.000Z');
    expect(r.next).toEqual({ at: new Date('2026-06-10T11:00:00Z'), kind: 'incremental' });
  });

  it('lets the full win when both fall on the same instant', () => {
    const r = nextRun({ full: '0 2 * * *', incremental: '0 * * * *', timezone: 'UTC' }, new Date('2026-06-10T01:30:00Z'));
    expect(r.next).toEqual({ at: new Date('2026-06-10T02:00:00Z'), kind: 'full' });
  });

  it('handles incremental-only and full-only schedules', () => {
    expect(nextRun({ full: null, incremental: '*/15 * * * *', timezone: 'UTC' }, new Date('2026-01-01T00:07:00Z')).next).toEqual({
      at: new Date('2026-01-01T00:15:00Z'),
      kind: 'incremental',
    });
    expect(nextRun({ full: '0 3 * * 0', incremental: null, timezone: 'UTC' }, new Date('2026-01-01T00:00:00Z')).next).toEqual({
      at: new Date('2026-01-04T03:00:00Z'), // Sunday
      kind: 'full',
    });
  });

  it('skips a time that does not exist when clocks spring forward (Europe/Berlin, 29 March 2026)', () => {
    // 02:30 does not exist on 2026-03-29 in Berlin (02:00 → 03:00).
    const r = nextRun({ full: '30 2 * * *', incremental: null, timezone: 'Europe/Berlin' }, new Date('2026-03-28T12:00:00Z'));
    expect(r.full!.getTime()).toBeGreaterThan(new Date('2026-03-29T00:59:59Z').getTime());
    expect(r.full!.getTime()).toBeLessThanOrEqual(new Date('2026-03-30T00:30:00Z').getTime());
    const next = nextRun({ full: '30 2 * * *', incremental: null, timezone: 'Europe/Berlin' }, r.full!);
    expect(iso(next.full)).toBe('2026-03-30T00:30:00.000Z'); // back to 02:30 CEST the day after
  });

  it('fires once for a time that occurs twice when clocks fall back (America/New_York, 1 November 2026)', () => {
    // 01:30 happens twice on 2026-11-01 in New York.
    const runs = upcomingRuns({ full: '30 1 * * *', incremental: null, timezone: 'America/New_York' }, new Date('2026-10-31T12:00:00Z'), 3);
    const onThatDay = runs.filter((r) => r.at.toISOString().startsWith('2026-11-01'));
    expect(onThatDay).toHaveLength(1);
    expect(runs.map((r) => r.at.toISOString())[2]).toBe('2026-11-03T06:30:00.000Z'); // EST again
  });

  it('keeps hourly incrementals evenly spaced across a DST change', () => {
    const runs = upcomingRuns({ full: null, incremental: '0 * * * *', timezone: 'Europe/London' }, new Date('2026-03-29T00:10:00Z'), 4);
    const gaps = runs.slice(1).map((r, i) => (r.at.getTime() - runs[i]!.at.getTime()) / 3_600_000);
    expect(gaps).toEqual([1, 1, 1]);
  });

  it('computes the same instant for the same wall time in different zones differently', () => {
    const policy = (timezone: string) => ({ full: '0 2 * * *', incremental: null, timezone });
    const after = new Date('2026-01-15T12:00:00Z');
    expect(iso(nextRun(policy('Asia/Tokyo'), after).full)).toBe('2026-01-15T17:00:00.000Z');
    expect(iso(nextRun(policy('America/Los_Angeles'), after).full)).toBe('2026-01-16T10:00:00.000Z');
    expect(iso(nextRun(policy('Asia/Kolkata'), after).full)).toBe('2026-01-15T20:30:00.000Z');
  });
});

describe('missedRun (catch-up)', () => {
  const policy = { full: '0 2 * * *', incremental: '0 * * * *', timezone: 'UTC' };

  it('returns one run however many slots were missed, and the full wins', () => {
    // Asleep for three days: dozens of incrementals and three fulls missed → one full.
    expect(missedRun(policy, new Date('2026-05-01T10:00:00Z'), new Date('2026-05-04T09:00:00Z'))).toEqual({
      kind: 'full',
      slot: new Date('2026-05-04T02:00:00Z'),
    });
  });

  it('returns an incremental when only incremental slots were missed', () => {
    expect(missedRun(policy, new Date('2026-05-01T10:00:00Z'), new Date('2026-05-01T13:30:00Z'))).toEqual({
      kind: 'incremental',
      slot: new Date('2026-05-01T13:00:00Z'),
    });
  });

  it('returns nothing when no slot passed', () => {
    expect(missedRun(policy, new Date('2026-05-01T10:00:00Z'), new Date('2026-05-01T10:59:59Z'))).toBeNull();
    expect(missedRun(policy, new Date('2026-05-01T10:00:00Z'), new Date('2026-05-01T09:00:00Z'))).toBeNull();
  });

  it('counts a slot exactly at now as missed, and one exactly at lastHandled as handled', () => {
    expect(missedRun(policy, new Date('2026-05-01T10:00:00Z'), new Date('2026-05-01T11:00:00Z'))?.kind).toBe('incremental');
    expect(missedRun({ ...policy, incremental: null }, new Date('2026-05-01T02:00:00Z'), new Date('2026-05-01T03:00:00Z'))).toBeNull();
  });
});
