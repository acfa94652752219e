import { describe, expect, it } from 'vitest';
import { RunQueue } from '../../../electron/engine/tasks/run-queue.ts';

/** A job that records start/end and finishes when released by the test. */
function controllable() {
  const log: string[] = [];
  const release = new Map<string, () => void>();
  let running = 0;
  let peak = 0;
  const job = (name: string) => () =>
    new Promise<string>((resolve) => {
      running++;
      peak = Math.max(peak, running);
      log.push(`start ${name}`);
      release.set(name, () => {
        running--;
        log.push(`end ${name}`);
        resolve(name);
      });
    });
  const finish = async (name: string) => {
    const r = release.get(name);
    if (!r) throw new Error(`${name} is not running (log: ${log.join(', ')})`);
    release.delete(name);
    r();
    await new Promise((r2) => setImmediate(r2));
  };
  return { log, job, finish, peak: () => peak, running: () => [...release.keys()] };
}

describe('RunQueue', () => {
  it('never runs more than the limit at once', async () => {
    const q = new RunQueue(2);
    const c = controllable();
    const all = ['a', 'b', 'c', 'd', 'e'].map((d) => q.run({ taskId: 't', database: d }, c.job(d)));
    await new Promise((r) => setImmediate(r));
    expect(c.running()).toEqual(['a', 'b']);
    for (const d of ['a', 'b', 'c', 'd', 'e']) await c.finish(d);
    expect(await Promise.all(all)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(c.peak()).toBe(2);
  });

  it('serves tasks round-robin so a big task cannot starve a small one', async () => {
    const q = new RunQueue(1);
    const c = controllable();
    for (const d of ['a1', 'a2', 'a3', 'a4']) void q.run({ taskId: 'A', database: d }, c.job(d));
    for (const d of ['b1', 'b2']) void q.run({ taskId: 'B', database: d }, c.job(d));
    await new Promise((r) => setImmediate(r));
    for (const d of ['a1', 'b1', 'a2', 'b2', 'a3', 'a4']) {
      expect(c.running()).toEqual([d]);
      await c.finish(d);
    }
  });

  it('never runs the same task and database twice at once', async () => {
    const q = new RunQueue(4);
    const c = controllable();
    void q.run({ taskId: 't', database: 'db' }, c.job('first'));
    void q.run({ taskId: 't', database: 'db' }, c.job('second'));
    void q.run({ taskId: 't', database: 'other' }, c.job('other'));
    await new Promise((r) => setImmediate(r));
    expect(c.running().sort()).toEqual(['first', 'other']);
    await c.finish('first');
    expect(c.running().sort()).toEqual(['other', 'second']);
  });

  it('drops a waiting job when its signal aborts, with CANCELED', async () => {
    const q = new RunQueue(1);
    const c = controllable();
    void q.run({ taskId: 't', database: 'a' }, c.job('a'));
    const ac = new AbortController();
    const waiting = q.run({ taskId: 't', database: 'b' }, c.job('b'), ac.signal);
    ac.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'CANCELED', message: expect.stringContaining('b') });
    expect(q.stats).toEqual({ running: 1, waiting: 0 });
    await c.finish('a');
    expect(c.log).toEqual(['start a', 'end a']);
  });

  it('releases the slot when a job fails', async () => {
    const q = new RunQueue(1);
    await expect(q.run({ taskId: 't', database: 'x' }, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await q.run({ taskId: 't', database: 'x' }, async () => 'ok')).toBe('ok');
    expect(q.stats).toEqual({ running: 0, waiting: 0 });
  });

  it('applies a raised limit at once', async () => {
    const q = new RunQueue(1);
    const c = controllable();
    for (const d of ['a', 'b', 'c']) void q.run({ taskId: 't', database: d }, c.job(d));
    await new Promise((r) => setImmediate(r));
    expect(c.running()).toEqual(['a']);
    q.setLimit(3);
    await new Promise((r) => setImmediate(r));
    expect(c.running()).toEqual(['a', 'b', 'c']);
  });
});
