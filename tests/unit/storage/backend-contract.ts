/**
 * The contract every storage Backend must pass (after restic's backend test suite).
 * Call `runBackendContract(name, factory)` inside a test file; `factory` returns a fresh,
 * empty backend and a cleanup function. The S3 backend must pass this unchanged.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { innermost, type Backend } from '../../../electron/engine/storage/index.ts';

export interface BackendFixture {
  backend: Backend;
  cleanup?: () => Promise<void>;
}

async function* slowStream(parts: Buffer[], failAfter?: number): AsyncGenerator<Buffer> {
  let i = 0;
  for (const p of parts) {
    if (failAfter !== undefined && i++ === failAfter) throw new Error('producer failed');
    await new Promise((r) => setImmediate(r));
    yield p;
  }
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return (e as { code?: string }).code ?? (e as Error).message;
  }
}

export function runBackendContract(name: string, factory: () => Promise<BackendFixture>): void {
  describe(`backend contract: ${name}`, () => {
    let fx: BackendFixture;
    let b: Backend;
    beforeEach(async () => {
      fx = await factory();
      b = fx.backend;
    });
    afterEach(async () => {
      await fx.cleanup?.();
    });

    it('stores and returns a buffer, with stat', async () => {
      const data = Buffer.from('0123456789abcdef');
      await b.put('a/b/obj.bin', data);
      expect((await b.get('a/b/obj.bin')).equals(data)).toBe(true);
      const st = await b.stat('a/b/obj.bin');
      expect(st?.size).toBe(16);
      expect(st?.key).toBe('a/b/obj.bin');
      expect(st!.modifiedMs).toBeGreaterThan(Date.now() - 600_000);
    });

    it('a create-only put (ifAbsent) refuses an existing key with CONFLICT, leaves it unchanged and no temp file; an absent key is created', async () => {
      await b.put('hdr/backstop.repo', Buffer.from('first'), { ifAbsent: true });
      await expect(b.put('hdr/backstop.repo', Buffer.from('second'), { ifAbsent: true })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('already exists') });
      expect((await b.get('hdr/backstop.repo')).toString()).toBe('first');
      expect((await b.list('hdr/')).map((o) => o.key)).toEqual(['hdr/backstop.repo']);
    });

    it('stores an array of buffers and a stream', async () => {
      await b.put('x/arr', [Buffer.from('ab'), Buffer.from('cd')]);
      expect((await b.get('x/arr')).toString()).toBe('abcd');
      const parts = Array.from({ length: 20 }, (_, i) => Buffer.alloc(1000, i));
      await b.put('x/stream', slowStream(parts));
      expect((await b.get('x/stream')).equals(Buffer.concat(parts))).toBe(true);
    });

    it('serves ranged reads, short at the end and empty past it', async () => {
      await b.put('r', Buffer.from('0123456789'));
      expect((await b.get('r', { offset: 2, length: 3 })).toString()).toBe('234');
      expect((await b.get('r', { offset: 8, length: 10 })).toString()).toBe('89');
      expect((await b.get('r', { offset: 50, length: 10 })).length).toBe(0);
      expect((await b.get('r', { offset: 0, length: 0 })).length).toBe(0);
    });

    it('reports a missing object as NOT_FOUND and stat null', async () => {
      expect(await code(b.get('nope'))).toBe('NOT_FOUND');
      expect(await code(b.get('nope/deeper', { offset: 0, length: 1 }))).toBe('NOT_FOUND');
      expect(await b.stat('nope')).toBeNull();
    });

    it('lists by plain string prefix', async () => {
      for (const k of ['packs/aa/1.pack', 'packs/ab/2.pack', 'points/p1.point', 'top']) await b.put(k, Buffer.from(k));
      const keys = async (p: string) => (await b.list(p)).map((o) => o.key).sort();
      expect(await keys('packs/')).toEqual(['packs/aa/1.pack', 'packs/ab/2.pack']);
      expect(await keys('packs/a')).toEqual(['packs/aa/1.pack', 'packs/ab/2.pack']);
      expect(await keys('packs/ab')).toEqual(['packs/ab/2.pack']);
      expect(await keys('')).toEqual(['packs/aa/1.pack', 'packs/ab/2.pack', 'points/p1.point', 'top']);
      expect(await keys('missing/')).toEqual([]);
      const sizes = (await b.list('points/')).map((o) => o.size);
      expect(sizes).toEqual([15]);
    });

    it('replaces atomically and deletes idempotently', async () => {
      await b.put('k', Buffer.from('one'));
      await b.put('k', Buffer.from('two!'));
      expect((await b.get('k')).toString()).toBe('two!');
      await b.delete('k');
      await b.delete('k');
      expect(await b.stat('k')).toBeNull();
      expect((await b.list('')).map((o) => o.key)).toEqual([]);
    });

    it('a failing body stream leaves no object behind (atomic put)', async () => {
      const parts = Array.from({ length: 10 }, () => Buffer.alloc(4096, 1));
      await expect(b.put('atomic/obj', slowStream(parts, 5))).rejects.toThrow();
      expect(await b.stat('atomic/obj')).toBeNull();
      expect(await b.list('atomic/')).toEqual([]);
      await b.put('atomic/obj', Buffer.from('ok'));
      expect((await b.get('atomic/obj')).toString()).toBe('ok');
    });

    it('a failing replacement keeps the old object', async () => {
      await b.put('keep', Buffer.from('original'));
      await expect(b.put('keep', slowStream([Buffer.from('new'), Buffer.from('x')], 1))).rejects.toThrow();
      expect((await b.get('keep')).toString()).toBe('original');
    });

    it('an aborted put leaves nothing', async () => {
      const ac = new AbortController();
      async function* body() {
        yield Buffer.alloc(100);
        ac.abort();
        yield Buffer.alloc(100);
      }
      await expect(b.put('aborted', body(), { signal: ac.signal })).rejects.toThrow();
      expect(await b.stat('aborted')).toBeNull();
    });

    it('rejects invalid keys', async () => {
      for (const k of ['', '../x', 'a/../b', '/abs', 'a//b', '.hidden', 'a/.tmp']) {
        await expect(b.put(k, Buffer.from('x')), k).rejects.toThrow(/invalid storage key/);
      }
    });

    it('handles concurrent puts and a 5 MiB object', async () => {
      const big = Buffer.alloc(5 * 1024 * 1024, 9);
      await Promise.all([b.put('c/big', big), ...Array.from({ length: 8 }, (_, i) => b.put(`c/${i}`, Buffer.from(String(i))))]);
      expect((await b.list('c/')).length).toBe(9);
      expect((await b.get('c/big', { offset: 5 * 1024 * 1024 - 4, length: 8 })).length).toBe(4);
    });

    it('lists the folders directly under its root, sorted, and none when it holds nothing', async () => {
      expect(await b.listFolders()).toEqual([]);
      await b.put('top.bin', Buffer.from('x'));
      await b.put('sales/header', Buffer.from('x'));
      await b.put('billing/packs/p1', Buffer.from('x'));
      await b.put('billing/header', Buffer.from('x'));
      expect(await b.listFolders()).toEqual(['billing', 'sales']);
    });

    it('unwraps to the backend at the bottom of its decorators, and closes more than once', async () => {
      const bottom = innermost(b);
      expect(bottom.unwrap()).toBeNull();
      if (b.unwrap() === null) expect(bottom).toBe(b);
      else expect(bottom).not.toBe(b);
      await b.put('before-close', Buffer.from('x'));
      await b.close();
      await b.close();
    });
  });
}
