/**
 * What "latest" restores when a point is dated after now (written while the clock was ahead,
 * corrected since): the newest point not dated more than an hour after now; and when the clock
 * was set back between two points of a chain: the one that continues the other, whatever the
 * dates; `newestFirst` takes the points in that order.
 */
import { describe, expect, it } from 'vitest';
import { latestPoint, newestFirst } from '../../../electron/shared/latest-point.ts';

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

  it('a point another point continues is never the latest, whatever the dates: the clock set back 40 minutes, or a day', () => {
    const full = { id: 'full', createdAt: '2026-12-06T12:30:00.000Z', parentId: null, chainId: 'full' };
    const first = { id: 'first', createdAt: '2026-12-06T11:55:00.000Z', parentId: 'full', chainId: 'full' };
    const second = { id: 'second', createdAt: '2026-12-06T11:58:00.000Z', parentId: 'first', chainId: 'full' };
    expect(latestPoint([first, second, full], now)?.id).toBe('second');
    expect(newestFirst([first, second, full], now).map((p) => p.id)).toEqual(['second', 'first', 'full']);
    // The full dated a day ahead, its incremental (written after the correction) a day before it.
    const ahead = { ...full, createdAt: '2026-12-07T11:00:00.000Z' };
    expect(latestPoint([first, ahead], now)?.id).toBe('first');
    // Its parent pruned: the chain's full is still one it continues.
    expect(latestPoint([ahead, { ...second, parentId: 'gone' }], now)?.id).toBe('second');
    // Two incrementals of one parent (an older Backstop continued the point dated ahead): the later one.
    const sibling = { id: 'sibling', createdAt: '2026-12-06T11:59:00.000Z', parentId: 'full', chainId: 'full' };
    expect(latestPoint([full, first, sibling], now)?.id).toBe('sibling');
  });

  it('no jump, this clock two hours behind the writer\'s: the tip dated ahead of this week\'s chain is the latest, not last week\'s tip', () => {
    const behind = new Date('2026-12-06T10:00:00.000Z');
    const points = [
      { id: 'f1', createdAt: '2026-11-28T12:00:00.000Z', parentId: null, chainId: 'f1' },
      { id: 'i1', createdAt: '2026-11-29T11:00:00.000Z', parentId: 'f1', chainId: 'f1' },
      { id: 'f2', createdAt: '2026-11-29T12:00:00.000Z', parentId: null, chainId: 'f2' },
      { id: 'i2a', createdAt: '2026-12-06T10:30:00.000Z', parentId: 'f2', chainId: 'f2' },
      { id: 'i2b', createdAt: '2026-12-06T11:55:00.000Z', parentId: 'i2a', chainId: 'f2' },
    ];
    expect(latestPoint(points, behind)?.id).toBe('i2b');
    expect(newestFirst(points, behind).map((p) => p.id)).toEqual(['i2b', 'i2a', 'f2', 'i1', 'f1']);
    // A chain dated ahead as a whole (nothing before it that is not) still ranks after the others.
    const aheadChain = [...points.slice(0, 3), { id: 'f3', createdAt: '2026-12-06T11:30:00.000Z', parentId: null, chainId: 'f3' }, { id: 'i3', createdAt: '2026-12-06T11:50:00.000Z', parentId: 'f3', chainId: 'f3' }];
    expect(newestFirst(aheadChain, behind).map((p) => p.id)).toEqual(['f2', 'i1', 'f1', 'i3', 'f3']);
  });

  it('newestFirst: unrelated points by the same rule (one dated ahead after those not), each point before the ones it continues; a loop of links comes last', () => {
    const points = [
      { id: 'a', createdAt: '2026-12-01T02:00:00.000Z', parentId: null, chainId: 'a' },
      { id: 'a1', createdAt: '2026-12-02T02:00:00.000Z', parentId: 'a', chainId: 'a' },
      { id: 'ahead', createdAt: '2027-12-05T02:00:00.000Z', parentId: null, chainId: 'ahead' },
      { id: 'b', createdAt: '2026-12-05T02:00:00.000Z', parentId: null, chainId: 'b' },
      { id: 'b1', createdAt: '2026-12-04T02:00:00.000Z', parentId: 'b', chainId: 'b' },
      { id: 'x', createdAt: '2026-12-06T00:00:00.000Z', parentId: 'y', chainId: 'x' },
      { id: 'y', createdAt: '2026-12-06T00:00:01.000Z', parentId: 'x', chainId: 'x' },
    ];
    expect(newestFirst(points, now).map((p) => p.id)).toEqual(['b1', 'b', 'a1', 'a', 'ahead', 'y', 'x']);
    expect(latestPoint(points, now)?.id).toBe('b1');
    expect(latestPoint(points.slice(5), now)?.id).toBe('y');
  });
});
