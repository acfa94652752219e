import { describe, expect, it } from 'vitest';
import { broadcast } from '../../../electron/engine/backup/broadcast.ts';

async function* chunks(n: number, log?: string[], failAt?: number) {
  for (let i = 0; i < n; i++) {
    if (i === failAt) throw new Error('dump tool died');
    log?.push(`pull ${i}`);
    yield Buffer.from([i]);
  }
}

async function collect(it: AsyncIterable<Uint8Array>, opts: { delayMs?: number; stopAfter?: number } = {}): Promise<number[]> {
  const out: number[] = [];
  for await (const c of it) {
    out.push(c[0]!);
    if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
    if (opts.stopAfter !== undefined && out.length >= opts.stopAfter) break;
  }
  return out;
}

describe('broadcast', () => {
  it('gives every consumer every chunk in order', async () => {
    const [a, b, c] = broadcast(chunks(50), 3);
    const results = await Promise.all([collect(a!), collect(b!, { delayMs: 1 }), collect(c!)]);
    const expected = Array.from({ length: 50 }, (_, i) => i);
    expect(results).toEqual([expected, expected, expected]);
  });

  it('pulls the source only as fast as the slowest consumer (one chunk in flight)', async () => {
    const log: string[] = [];
    const [fast, slow] = broadcast(chunks(5, log), 2);
    const seen: string[] = [];
    const fastDone = (async () => {
      for await (const c of fast!) seen.push(`fast ${c[0]} after ${log.length} pulls`);
    })();
    const slowDone = (async () => {
      for await (const c of slow!) {
        await new Promise((r) => setTimeout(r, 5));
        seen.push(`slow ${c[0]}`);
      }
    })();
    await Promise.all([fastDone, slowDone]);
    // The fast consumer never got more than one chunk ahead of the slow one.
    for (let i = 0; i < 5; i++) expect(seen).toContain(`fast ${i} after ${i + 1} pulls`);
  });

  it('keeps feeding the others when one consumer stops early', async () => {
    const [quitter, stayer] = broadcast(chunks(20), 2);
    const [q, s] = await Promise.all([collect(quitter!, { stopAfter: 3 }), collect(stayer!)]);
    expect(q).toEqual([0, 1, 2]);
    expect(s).toHaveLength(20);
  });

  it('closes the source when every consumer has stopped', async () => {
    let closed = false;
    async function* endless() {
      try {
        for (let i = 0; ; i++) yield Buffer.from([i % 256]);
      } finally {
        closed = true;
      }
    }
    const [a, b] = broadcast(endless(), 2);
    await Promise.all([collect(a!, { stopAfter: 2 }), collect(b!, { stopAfter: 4 })]);
    await new Promise((r) => setTimeout(r, 5));
    expect(closed).toBe(true);
  });

  it('makes every consumer fail with the source error', async () => {
    const [a, b] = broadcast(chunks(10, undefined, 4), 2);
    const results = await Promise.allSettled([collect(a!), collect(b!)]);
    for (const r of results) expect(r).toMatchObject({ status: 'rejected', reason: { message: 'dump tool died' } });
  });
});

describe('broadcast detach', () => {
  it('lets the others continue when a consumer stops reading without returning', async () => {
    const [stuck, ok] = broadcast(chunks(10), 2);
    const it = stuck![Symbol.asyncIterator]();
    await it.next(); // reads one chunk, then never again
    setTimeout(() => stuck!.detach(), 10);
    expect(await collect(ok!)).toHaveLength(10);
  });
});
