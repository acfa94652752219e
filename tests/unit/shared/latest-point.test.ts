/**
 * What "latest" restores when a point is dated after now (written while the clock was ahead,
 * corrected since): the newest point not dated more than an hour after now.
 */
import { describe, expect, it } from 'vitest';
import { latestPoint } from '../../../electron/shared/latest-point.ts';

const now = new Date('2026-12-06T12:00:00.000Z');
const at = (id: string, createdAt: string) => ({ id, createdAt });

describe('latestPoint', () => {
  it('is the newest point, unless it is dated after now while others are not; with every point ahead of this clock, the newest', () => {
    expect(latestPoint([], now)).toBeUndefined();
    const usual = [at('a', '2026-12-05T02:00:00.000Z'), at('b', '2026-12-06T02:00:00.000Z')];
    expect(latestPoint(usual, now)?.id).toBe('b');
    // Written a year ahead, then the clock was corrected and two more backups came.
    const jumped = [at('a', '2026-12-05T02:00:00.000Z'), at('c', '2026-12-06T10:00:00.000Z'), at('d', '2026-12-06T11:00:00.000Z'), at('ahead', '2027-12-05T02:00:00.000Z')];
    expect(latestPoint(jumped, now)?.id).toBe('d');
    // Within an hour ahead (clocks of two machines a little apart): still the newest.
    expect(latestPoint([...usual, at('soon', '2026-12-06T12:30:00.000Z')], now)?.id).toBe('soon');
    // This clock is behind every point (set back by mistake): the newest.
    expect(latestPoint(usual, new Date('2025-01-01T00:00:00.000Z'))?.id).toBe('b');
  });
});
