/**
 * A running write's in-flight marker must not stay missing after a refresh that failed. On FTP a
 * server that refuses to rename over a file has the old marker deleted before the new one is
 * renamed onto its name (backend.ts, ReplacesWithGap): when that rename fails, no marker is left,
 * and garbage collection elsewhere would take the write's packs for unreferenced. The refresh is
 * tried again after REFRESH_RETRY_MS, not a heartbeat later. A real local folder; the fault (the
 * marker deleted, then the put failing) is injected by a decorator; only the timers are fake.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InflightWrite, REFRESH_RETRY_MS } from '../../../electron/engine/repository/inflight-marker.ts';
import { inflightKey } from '../../../electron/engine/repository/layout.ts';
import { BackendDecorator } from '../../../electron/engine/storage/backend-decorator.ts';
import type { PutBody, PutOptions } from '../../../electron/engine/storage/backend.ts';
import { LocalBackend } from '../../../electron/engine/storage/local-backend.ts';
import { BackstopError } from '../../../electron/shared/result.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const HEARTBEAT_MS = 5 * 60_000;

/** Fails the next `failing` marker puts as a refused rename would after its delete: the marker is gone. */
class GapOnFailure extends BackendDecorator {
  failing = 0;
  /** Puts that have finished (either way): counted once the caller could see the outcome. */
  puts = 0;
  override async put(key: string, body: PutBody, options?: PutOptions): Promise<void> {
    try {
      if (this.failing > 0 && key.startsWith('inflight/')) {
        this.failing--;
        await this.inner.delete(key);
        throw new BackstopError('STORAGE', 'upload of the marker failed: 421 Service not available (injected)');
      }
      await this.inner.put(key, body, options);
    } finally {
      this.puts++;
    }
  }
}

/** Lets real file-system work finish while the timers are fake: waits (real time) until `done()` or 5 s. */
async function settledIo(done: () => boolean | Promise<boolean>): Promise<void> {
  const until = Date.now() + 5_000;
  while (!(await done()) && Date.now() < until) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r)); // and the handlers of the put's outcome run
}

afterEach(() => {
  vi.useRealTimers();
});

describe('in-flight marker refresh', () => {
  it('a heartbeat refresh that failed and left no marker is tried again after REFRESH_RETRY_MS, long before the next heartbeat; none after release', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
    const backend = new GapOnFailure(new LocalBackend(tempDir()));
    const key = inflightKey('w1');
    const write = new InflightWrite(backend, 'w1', new Date(), [], HEARTBEAT_MS);
    await write.start();
    await write.namePack('0'.repeat(64));
    expect(await backend.stat(key)).not.toBeNull();

    backend.failing = 1;
    const before = backend.puts;
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    await settledIo(() => backend.puts === before + 1);
    expect(backend.puts).toBe(before + 1);
    expect(await backend.stat(key), 'the failed refresh left no marker (the FTP gap)').toBeNull();

    await vi.advanceTimersByTimeAsync(REFRESH_RETRY_MS);
    await settledIo(() => backend.puts === before + 2);
    expect(await backend.stat(key), 'the refresh was tried again').not.toBeNull();
    expect(backend.puts).toBe(before + 2);
    const marker = JSON.parse((await backend.get(key)).toString('utf8')) as { writeId: string; packs: string[] };
    expect(marker).toMatchObject({ writeId: 'w1', packs: ['0'.repeat(64)] });

    // Still failing: tried again each REFRESH_RETRY_MS, one retry at a time, until it lands.
    backend.failing = 2;
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS - REFRESH_RETRY_MS);
    await settledIo(() => backend.puts === before + 3);
    await vi.advanceTimersByTimeAsync(REFRESH_RETRY_MS);
    await settledIo(() => backend.puts === before + 4);
    await vi.advanceTimersByTimeAsync(REFRESH_RETRY_MS);
    await settledIo(() => backend.puts === before + 5);
    expect(backend.puts).toBe(before + 5);
    expect(await backend.stat(key)).not.toBeNull();

    // Released while a retry is pending: it never fires, the marker stays deleted.
    backend.failing = 1;
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS - 2 * REFRESH_RETRY_MS); // to the next heartbeat exactly
    await settledIo(() => backend.puts === before + 6);
    expect(backend.puts).toBe(before + 6);
    await write.release();
    const afterRelease = backend.puts;
    await vi.advanceTimersByTimeAsync(2 * HEARTBEAT_MS);
    await settledIo(() => true);
    expect(backend.puts).toBe(afterRelease);
    expect(await backend.stat(key)).toBeNull();
  });
});
