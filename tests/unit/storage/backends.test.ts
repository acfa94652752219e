import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBackend, RetryBackend } from '../../../electron/engine/storage/index.ts';
import { sweepLeftovers } from '../../../electron/engine/storage/backend.ts';
import { MemoryBackend } from '../../fixtures/storage/memory-backend.ts';
import { FaultyBackend, SimulatedCrash } from '../../fixtures/storage/faulty-backend.ts';
import { runBackendContract } from './backend-contract.ts';

runBackendContract('memory', async () => ({ backend: new MemoryBackend() }));

runBackendContract('local', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'backstop-local-'));
  return { backend: new LocalBackend(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

runBackendContract('retry(faulty(memory)) with transient failures', async () => {
  const faulty = new FaultyBackend(new MemoryBackend()).inject({ op: ['get', 'list', 'stat', 'delete'], error: 'ECONNRESET', times: 3 });
  return { backend: new RetryBackend(faulty, { sleep: async () => {} }) };
});

describe('LocalBackend specifics', () => {
  let dir = '';
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('never lists temp files and sweeps old ones', async () => {
    dir = await mkdtemp(join(tmpdir(), 'backstop-local-'));
    const b = new LocalBackend(dir);
    await b.put('packs/aa/x.pack', Buffer.from('x'));
    const tmp = join(dir, 'packs', 'aa', '.y.pack.tmp-0123456789ab');
    await writeFile(tmp, 'partial');
    expect((await b.list('')).map((o) => o.key)).toEqual(['packs/aa/x.pack']);
    expect(await b.sweepTempFiles(60_000)).toEqual({ removed: 0, bytes: 0 });
    const old = new Date(Date.now() - 3_600_000);
    await utimes(tmp, old, old);
    // A dotfile that is not a put's temporary file is not ours: it stays.
    await writeFile(join(dir, 'packs', '.keep'), 'x');
    await utimes(join(dir, 'packs', '.keep'), old, old);
    expect(await sweepLeftovers(new RetryBackend(b), 60_000)).toEqual({ removed: 1, bytes: 'partial'.length });
    expect(await readdir(join(dir, 'packs', 'aa'))).toEqual(['x.pack']);
    expect(await readdir(join(dir, 'packs'))).toEqual(['.keep', 'aa']);
    expect((await b.get('packs/aa/x.pack')).toString()).toBe('x');
  });

  it('a failed stream put removes its temp file', async () => {
    dir = await mkdtemp(join(tmpdir(), 'backstop-local-'));
    const b = new LocalBackend(dir);
    async function* bad() {
      yield Buffer.from('abc');
      throw new Error('boom');
    }
    await expect(b.put('d/obj', bad())).rejects.toMatchObject({ code: 'STORAGE' });
    expect(await readdir(join(dir, 'd'))).toEqual([]);
  });

  it('maps a missing root to an empty listing', async () => {
    const b = new LocalBackend(join(tmpdir(), 'backstop-does-not-exist-' + process.pid));
    expect(await b.list('')).toEqual([]);
    expect(await b.stat('x')).toBeNull();
  });
});

describe('FaultyBackend', () => {
  it('maps injected ENOSPC to DISK_FULL and EIO to STORAGE', async () => {
    const f = new FaultyBackend(new MemoryBackend()).inject({ op: 'put', keyPrefix: 'packs/', error: 'ENOSPC' }).inject({ op: 'get', error: 'EIO', times: 1 });
    await expect(f.put('packs/a', Buffer.from('x'))).rejects.toMatchObject({ code: 'DISK_FULL', message: expect.stringMatching(/no space left/) });
    await f.put('other', Buffer.from('x'));
    await expect(f.get('other')).rejects.toMatchObject({ code: 'STORAGE', retryable: true });
    expect((await f.get('other')).toString()).toBe('x');
    expect(await f.inner.stat('packs/a')).toBeNull();
  });

  it('honours after/times', async () => {
    const f = new FaultyBackend(new MemoryBackend()).inject({ op: 'put', after: 2, times: 1, error: 'EIO' });
    await f.put('a', Buffer.from('1'));
    await f.put('b', Buffer.from('2'));
    await expect(f.put('c', Buffer.from('3'))).rejects.toMatchObject({ code: 'STORAGE' });
    await f.put('d', Buffer.from('4'));
    expect((await f.inner.list('')).map((o) => o.key).sort()).toEqual(['a', 'b', 'd']);
  });

  it('leaves a torn object for partialBytes', async () => {
    const f = new FaultyBackend(new MemoryBackend()).inject({ op: 'put', error: 'EIO', partialBytes: 3 });
    await expect(f.put('t', Buffer.from('abcdef'))).rejects.toMatchObject({ code: 'STORAGE' });
    expect((await f.inner.get('t')).toString()).toBe('abc');
  });

  it('crashAfter lets n mutations through, then nothing reaches storage', async () => {
    const f = new FaultyBackend(new MemoryBackend()).crashAfter(2);
    await f.put('a', Buffer.from('1'));
    await f.delete('a');
    await expect(f.put('b', Buffer.from('2'))).rejects.toBeInstanceOf(SimulatedCrash);
    await expect(f.get('a')).rejects.toBeInstanceOf(SimulatedCrash);
    expect(f.crashed).toBe(true);
    expect(await f.inner.list('')).toEqual([]);
  });
});

describe('RetryBackend', () => {
  it('retries transient failures and gives up after the attempt limit', async () => {
    const inner = new FaultyBackend(new MemoryBackend()).inject({ op: 'put', error: 'ECONNRESET', times: 2 });
    const retries: number[] = [];
    const r = new RetryBackend(inner, { attempts: 3, sleep: async () => {}, onRetry: (i) => retries.push(i.attempt) });
    await r.put('k', Buffer.from('v'));
    expect(retries).toEqual([1, 2]);
    const always = new RetryBackend(new FaultyBackend(new MemoryBackend()).inject({ op: 'get', error: 'EIO' }), { attempts: 3, sleep: async () => {} });
    await expect(always.get('k')).rejects.toMatchObject({ code: 'STORAGE' });
  });

  it('does not retry DISK_FULL, NOT_FOUND, or one-shot stream bodies', async () => {
    let calls = 0;
    const inner = new FaultyBackend(new MemoryBackend()).inject({ op: 'put', error: 'ENOSPC' });
    const r = new RetryBackend(inner, { sleep: async () => {}, onRetry: () => calls++ });
    await expect(r.put('k', Buffer.from('v'))).rejects.toMatchObject({ code: 'DISK_FULL' });
    await expect(r.get('missing')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const flaky = new RetryBackend(new FaultyBackend(new MemoryBackend()).inject({ op: 'put', error: 'EIO', times: 1 }), { sleep: async () => {}, onRetry: () => calls++ });
    async function* body() {
      yield Buffer.from('x');
    }
    await expect(flaky.put('s', body())).rejects.toMatchObject({ code: 'STORAGE' });
    expect(calls).toBe(0);
  });
});
