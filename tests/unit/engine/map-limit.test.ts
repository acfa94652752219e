/**
 * mapLimit (engine/runtime/map-limit.ts): results in the items' order, never more than the
 * limit in flight, and no call started after one failed. limiter: the same bound for calls
 * started at different times, in the order given, a failing call freeing its place.
 */
import { describe, expect, it } from 'vitest';
import { limiter, mapLimit } from '../../../electron/engine/runtime/map-limit.ts';

describe('mapLimit', () => {
  it('keeps the order of the items and at most `limit` calls in flight', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 0, 6], 3, async (n, i) => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setImmediate(r));
      for (let k = 0; k < n; k++) await Promise.resolve();
      inFlight--;
      return `${i}:${n}`;
    });
    expect(out).toEqual(['0:5', '1:1', '2:4', '3:2', '4:3', '5:0', '6:6']);
    expect(peak).toBe(3);
    expect(await mapLimit([], 4, () => Promise.resolve(1))).toEqual([]);
  });

  it('rejects with the first failure and starts no call after it', async () => {
    const started: number[] = [];
    await expect(
      mapLimit([0, 1, 2, 3, 4, 5], 2, async (n) => {
        started.push(n);
        await new Promise((r) => setImmediate(r));
        if (n === 1) throw new Error('refused');
        return n;
      }),
    ).rejects.toThrow('refused');
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2]);
  });
});

describe('limiter', () => {
  it('runs at most `limit` of the calls given at once, in order; a rejected call frees its place', async () => {
    const gate = limiter(2);
    let inFlight = 0;
    let peak = 0;
    const order: number[] = [];
    const call = (n: number) =>
      gate(async () => {
        order.push(n);
        peak = Math.max(peak, ++inFlight);
        await new Promise((r) => setImmediate(r));
        inFlight--;
        if (n === 1) throw new Error('one failed');
        return n;
      });
    const results = await Promise.allSettled([0, 1, 2, 3, 4].map(call));
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : 'rejected'))).toEqual([0, 'rejected', 2, 3, 4]);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(peak).toBe(2);
    // A limit below 1 still lets one call run.
    await expect(limiter(0)(async () => 'ran')).resolves.toBe('ran');
  });
});
