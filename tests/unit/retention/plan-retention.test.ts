import { describe, expect, it } from 'vitest';
import { planRetention, retentionPointsOf, type RetentionPoint } from '../../../electron/engine/retention/index.ts';
import { PG_WAL_FORMAT } from '../../../electron/engine/servers/postgres/wal-stream.ts';

const now = new Date('2026-06-30T12:00:00Z');
const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000).toISOString();

/** Two chains: f1 (40 days ago) + incrementals, f2 (10 days ago) + incrementals. */
const points: RetentionPoint[] = [
  { id: 'f1', kind: 'full', createdAt: daysAgo(40), chainId: 'f1' },
  { id: 'i1a', kind: 'incremental', createdAt: daysAgo(35), chainId: 'f1' },
  { id: 'i1b', kind: 'incremental', createdAt: daysAgo(20), chainId: 'f1' },
  { id: 'i1c', kind: 'incremental', createdAt: daysAgo(12), chainId: 'f1' },
  { id: 'f2', kind: 'full', createdAt: daysAgo(10), chainId: 'f2' },
  { id: 'i2a', kind: 'incremental', createdAt: daysAgo(5), chainId: 'f2' },
  { id: 'i2b', kind: 'incremental', createdAt: daysAgo(1), chainId: 'f2' },
];

const deleted = (d: ReturnType<typeof planRetention>) => d.filter((x) => x.action === 'delete').map((x) => x.id).sort();

describe('planRetention', () => {
  it('deletes nothing without a policy', () => {
    const d = planRetention(points, { minAgeDays: 0, keepLast: null }, now);
    expect(deleted(d)).toEqual([]);
    expect(d.every((x) => x.reason === 'no retention policy')).toBe(true);
  });

  it('deletes points older than the minimum age, newest first in the plan', () => {
    const d = planRetention(points, { minAgeDays: 15, keepLast: null }, now);
    expect(deleted(d)).toEqual(['i1a', 'i1b']);
    // i1c (12 days) is kept, so its full f1 stays although it is 40 days old.
    expect(d.find((x) => x.id === 'f1')).toEqual({ id: 'f1', action: 'keep', reason: 'full needed by kept incremental i1c' });
    expect(d.map((x) => x.id)).toEqual(['i2b', 'i2a', 'f2', 'i1c', 'i1b', 'i1a', 'f1']);
  });

  it('deletes a whole chain once nothing in it is kept', () => {
    const d = planRetention(points, { minAgeDays: 11, keepLast: null }, now);
    expect(deleted(d)).toEqual(['f1', 'i1a', 'i1b', 'i1c']);
    expect(d.find((x) => x.id === 'f1')).toEqual({ id: 'f1', action: 'delete', reason: 'older than 11 days' });
  });

  it('keeps the newest N whatever their age', () => {
    const d = planRetention(points, { minAgeDays: 1, keepLast: 3 }, now);
    expect(d.filter((x) => x.action === 'keep').map((x) => x.id).sort()).toEqual(['f2', 'i2a', 'i2b']);
    expect(d.find((x) => x.id === 'f2')?.reason).toBe('one of the newest 3');
  });

  it('never deletes the newest point, however old', () => {
    const old: RetentionPoint[] = [
      { id: 'a', kind: 'full', createdAt: daysAgo(400), chainId: 'a' },
      { id: 'b', kind: 'incremental', createdAt: daysAgo(300), chainId: 'a' },
    ];
    const d = planRetention(old, { minAgeDays: 7, keepLast: null }, now);
    expect(d).toEqual([
      { id: 'b', action: 'keep', reason: 'newest point' },
      { id: 'a', action: 'keep', reason: 'full needed by kept incremental b' },
    ]);
  });

  it('gives every point exactly one decision', () => {
    for (const minAgeDays of [0, 1, 6, 11, 30, 365]) {
      for (const keepLast of [null, 1, 2, 5, 50]) {
        const d = planRetention(points, { minAgeDays, keepLast }, now);
        expect(d.map((x) => x.id).sort()).toEqual(points.map((p) => p.id).sort());
        // Invariant: no kept incremental without its full.
        const kept = new Set(d.filter((x) => x.action === 'keep').map((x) => x.id));
        for (const p of points) if (p.kind === 'incremental' && kept.has(p.id)) expect(kept.has(p.chainId)).toBe(true);
        expect(kept.has('i2b')).toBe(true);
      }
    }
  });

  it('minAgeHours is exact to the hour: a 40-hour-old point goes at 36 h and stays at 48 h', () => {
    const hoursAgo = (h: number) => new Date(now.getTime() - h * 3_600_000).toISOString();
    const pts: RetentionPoint[] = [
      { id: 'a', kind: 'full', createdAt: hoursAgo(40), chainId: 'a' },
      { id: 'b', kind: 'full', createdAt: hoursAgo(1), chainId: 'b' },
    ];
    expect(planRetention(pts, { minAgeDays: 2, minAgeHours: 36, keepLast: null }, now).find((x) => x.id === 'a')).toEqual({ id: 'a', action: 'delete', reason: 'older than 36 hours' });
    expect(planRetention(pts, { minAgeDays: 2, minAgeHours: 48, keepLast: null }, now).find((x) => x.id === 'a')).toEqual({ id: 'a', action: 'keep', reason: 'younger than 2 days' });
  });

  it('minAgeHours 0 with keepLast keeps exactly the newest N, and the fulls their kept incrementals need', () => {
    const d = planRetention(points, { minAgeDays: 0, minAgeHours: 0, keepLast: 2 }, now);
    expect(d.filter((x) => x.action === 'keep').map((x) => [x.id, x.reason])).toEqual([
      ['i2b', 'newest point'],
      ['i2a', 'one of the newest 2'],
      ['f2', 'full needed by kept incremental i2b'],
    ]);
    expect(deleted(d)).toEqual(['f1', 'i1a', 'i1b', 'i1c']);
    expect(d.find((x) => x.id === 'i1c')).toMatchObject({ reason: 'not one of the newest 2' });
  });

  it('minAgeHours 0 without keepLast, and a stored minAgeDays 0 with keepLast, are no retention', () => {
    for (const policy of [{ minAgeDays: 0, minAgeHours: 0, keepLast: null }, { minAgeDays: 0, keepLast: 3 }]) {
      const d = planRetention(points, policy, now);
      expect(deleted(d)).toEqual([]);
      expect(d.every((x) => x.reason === 'no retention policy')).toBe(true);
    }
  });

  it('a PostgreSQL WAL chain is never cut in the middle: a kept WAL point keeps every earlier point of its chain', () => {
    const wal = points.map((p) => (p.kind === 'incremental' ? { ...p, rollsForward: true } : p));
    // Per point, the newest 3 are i2b, i2a, f2, then i1c by age: i1a and i1b would go, a gap between f1 and i1c.
    const d = planRetention(wal, { minAgeDays: 15, keepLast: null }, now);
    expect(deleted(d)).toEqual([]);
    expect(d.find((x) => x.id === 'i1a')).toEqual({ id: 'i1a', action: 'keep', reason: 'replayed before kept incremental i1c' });
    // Once nothing of the old chain is kept, it goes whole.
    expect(deleted(planRetention(wal, { minAgeDays: 11, keepLast: null }, now))).toEqual(['f1', 'i1a', 'i1b', 'i1c']);
    // Without rollsForward (dumps: each incremental whole), the middle goes as before.
    expect(deleted(planRetention(points, { minAgeDays: 15, keepLast: null }, now))).toEqual(['i1a', 'i1b']);
  });

  it('a clock a year ahead (or a week of failed runs) does not leave only the newest point: the points before the gap wait until the points after it span the minimum age', () => {
    const hoursAgo = (h: number) => new Date(now.getTime() - h * 3_600_000).toISOString();
    // Hourly points of the last 30 hours, then one run with the clock a year ahead.
    const hourly: RetentionPoint[] = Array.from({ length: 30 }, (_, i) => ({ id: `h${i}`, kind: 'full' as const, createdAt: hoursAgo(30 - i), chainId: `h${i}` }));
    const ahead = new Date(now.getTime() + 365 * 86_400_000);
    const jumped = [...hourly, { id: 'future', kind: 'full' as const, createdAt: ahead.toISOString(), chainId: 'future' }];
    const d = planRetention(jumped, { minAgeDays: 2, keepLast: null }, ahead);
    expect(deleted(d)).toEqual([]);
    expect(d.find((x) => x.id === 'h29')?.reason).toBe('before a gap of 365 days in the backups (the clock jumped forward, or no backup was made): kept until the points after it span 2 days');
    // Two days of runs on the new clock later, the policy applies again.
    const later = new Date(ahead.getTime() + 49 * 3_600_000);
    const filled = [...jumped, { id: 'future2', kind: 'full' as const, createdAt: new Date(ahead.getTime() + 48 * 3_600_000).toISOString(), chainId: 'future2' }];
    expect(deleted(planRetention(filled, { minAgeDays: 2, keepLast: null }, later))).toEqual([...hourly.map((p) => p.id), 'future'].sort());
    // The clock comes back: the point from the future is kept and says why (it is not the newest: the point written since is); the rest keep their reasons.
    const back = planRetention([...jumped, { id: 'back', kind: 'full' as const, createdAt: now.toISOString(), chainId: 'back' }], { minAgeDays: 2, keepLast: null }, now);
    expect(deleted(back)).toEqual([]);
    expect(back.find((x) => x.id === 'future')).toEqual({ id: 'future', action: 'keep', reason: 'taken after now: the clock was ahead when it was written, or is behind now' });
    expect(back[0]).toEqual({ id: 'back', action: 'keep', reason: 'newest point' });
    const twoAhead = [...jumped, { id: 'future0', kind: 'full' as const, createdAt: new Date(ahead.getTime() - 3_600_000).toISOString(), chainId: 'future0' }];
    expect(planRetention(twoAhead, { minAgeDays: 2, keepLast: null }, now).find((x) => x.id === 'future0')).toEqual({ id: 'future0', action: 'keep', reason: 'taken after now: the clock was ahead when it was written, or is behind now' });
    // Daily points, a week of failures, one good run: keeping 2 days deletes nothing yet.
    const daily: RetentionPoint[] = [10, 9, 8, 7].map((n) => ({ id: `d${n}`, kind: 'full' as const, createdAt: daysAgo(n), chainId: `d${n}` }));
    const afterOutage = [...daily, { id: 'today', kind: 'full' as const, createdAt: daysAgo(0), chainId: 'today' }];
    expect(deleted(planRetention(afterOutage, { minAgeDays: 2, keepLast: null }, now))).toEqual([]);
    // A schedule sparser than the policy is no gap: weekly points keeping 3 days go as before.
    const weekly: RetentionPoint[] = [21, 14, 7, 0].map((n) => ({ id: `w${n}`, kind: 'full' as const, createdAt: daysAgo(n), chainId: `w${n}` }));
    expect(deleted(planRetention(weekly, { minAgeDays: 3, keepLast: null }, now))).toEqual(['w14', 'w21', 'w7']);
  });

  it('the clock far ahead of every point (no point stored since: an unchanged database, prune) deletes nothing by age, saying why; a sparse schedule is not such a gap', () => {
    const hoursAgo = (h: number) => new Date(now.getTime() - h * 3_600_000).toISOString();
    const recent: RetentionPoint[] = [30, 20, 10].map((h) => ({ id: `h${h}`, kind: 'full' as const, createdAt: hoursAgo(h), chainId: `h${h}` }));
    const ahead = new Date(now.getTime() + 365 * 86_400_000);
    const d = planRetention(recent, { minAgeDays: 2, keepLast: null }, ahead);
    expect(deleted(d)).toEqual([]);
    expect(d.map((x) => x.reason)).toEqual([
      'newest point',
      'the newest point is 365 days older than now (the clock jumped forward, or no backup stored a point since): nothing is deleted by age until newer points span 2 days',
      'the newest point is 365 days older than now (the clock jumped forward, or no backup stored a point since): nothing is deleted by age until newer points span 2 days',
    ]);
    // Within twice the minimum age of the newest point the policy applies as always.
    expect(deleted(planRetention(recent, { minAgeDays: 2, keepLast: null }, new Date(now.getTime() + 3 * 86_400_000)))).toEqual(['h20', 'h30']);
    // Weekly points keeping 3 days, six and a half days after the last: the schedule's own spacing, not a gap.
    const weekly: RetentionPoint[] = [21, 14, 7].map((n) => ({ id: `w${n}`, kind: 'full' as const, createdAt: daysAgo(n), chainId: `w${n}` }));
    expect(deleted(planRetention(weekly, { minAgeDays: 3, keepLast: null }, new Date(now.getTime() - 0.5 * 86_400_000)))).toEqual(['w14', 'w21']);
  });

  it('retentionPointsOf (what a run, prune and the editor preview all plan with) marks PostgreSQL WAL points as rolling forward, so the preview never shows a WAL gap a run would not make', () => {
    const summaries = points.map((p) => ({ ...p, meta: p.kind === 'incremental' ? { format: PG_WAL_FORMAT } : { format: 'base' } }));
    const d = planRetention(retentionPointsOf(summaries), { minAgeDays: 15, keepLast: null }, now);
    expect(deleted(d)).toEqual([]);
    expect(d.find((x) => x.id === 'i1a')?.reason).toBe('replayed before kept incremental i1c');
  });
});
