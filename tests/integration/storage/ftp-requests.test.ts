/**
 * Requests an FTP destination costs (issue #23: objects per GB stored and reads per GB
 * restored ≤ 64), counted by a decorator over the real FTP backend, and retention + GC
 * deleting points and their packs on the FTP server.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey } from '../../../electron/engine/crypto/index.ts';
import { initRepository, openRepository } from '../../../electron/engine/repository/index.ts';
import { BackendDecorator, FtpBackend, type Backend, type ByteRange, type PutBody, type PutOptions } from '../../../electron/engine/storage/index.ts';
import { MemoryBackend } from '../../fixtures/storage/memory-backend.ts';
import { FTP_PASSWORD, FTP_USER, startFtpServer, type FtpServerHandle } from '../../fixtures/ftp-server.ts';
import { collect, FAST, pointOpts, sha256 } from '../../unit/repository/helpers.ts';

class Counting extends BackendDecorator {
  puts = 0;
  gets = 0;
  constructor(inner: Backend) {
    super(inner);
  }
  override put(key: string, body: PutBody, options?: PutOptions): Promise<void> {
    this.puts++;
    return super.put(key, body, options);
  }
  override get(key: string, range?: ByteRange): Promise<Buffer> {
    this.gets++;
    return super.get(key, range);
  }
}

let ftp: FtpServerHandle;
beforeAll(async () => {
  ftp = await startFtpServer('explicit');
});
afterAll(async () => {
  await ftp?.stop();
});

const backendAt = (root: string) =>
  new FtpBackend({ host: ftp.host, port: ftp.port, user: FTP_USER, password: FTP_PASSWORD, tls: 'explicit', certificateFingerprint: ftp.certificateFingerprint, root });

describe('FTP requests and retention', () => {
  it('stores 64 MiB in at most 64 pack objects per GB, and restores it with no reads beyond the repository\'s coalesced ranges', async () => {
    const key = generateKey();
    const data = randomBytes(64 * 1024 * 1024);
    const writer = new Counting(backendAt('/requests'));
    const repo = await initRepository(writer, { key, ...FAST });
    const p = await repo.writePoint((async function* () {
      for (let i = 0; i < data.length; i += 1024 * 1024) yield data.subarray(i, i + 1024 * 1024);
    })(), pointOpts());
    const gb = data.length / 1024 ** 3;
    const packs = (await writer.list('packs/')).length;
    expect(packs / gb).toBeLessThanOrEqual(64);
    // Besides the packs, only a fixed handful per repository and point (header, point, index, in-flight marker).
    expect(writer.puts).toBeLessThanOrEqual(packs + 6);
    const reader = new Counting(backendAt('/requests'));
    const again = await openRepository(reader, { key, ...FAST });
    reader.gets = 0;
    expect(sha256(await collect(await again.readPoint(p.id)))).toBe(sha256(data));
    await reader.close();
    // Reads are the repository's coalesced ranges (storage/coalesce.ts, shared with S3): FTP adds
    // none of its own — the same restore from an in-memory copy of the objects costs the same.
    const copy = new Counting(new MemoryBackend());
    for (const o of await writer.list('')) await copy.put(o.key, await writer.get(o.key));
    const fromMemory = await openRepository(copy, { key, ...FAST });
    copy.gets = 0;
    expect(sha256(await collect(await fromMemory.readPoint(p.id)))).toBe(sha256(data));
    expect(reader.gets).toBe(copy.gets);
    await writer.close();
  }, 240_000);

  it('retention deletes old points and GC removes their packs from the server', async () => {
    const backend = backendAt('/retention');
    const repo = await initRepository(backend, { key: null, ...FAST });
    const first = await repo.writePoint((async function* () {
      yield randomBytes(2 * 1024 * 1024);
    })(), pointOpts());
    const second = await repo.writePoint((async function* () {
      yield randomBytes(2 * 1024 * 1024);
    })(), pointOpts());
    const before = (await backend.list('packs/')).length;
    expect((await repo.deletePoints([first.id])).deleted).toEqual([first.id]);
    await repo.collectGarbage();
    const after = (await backend.list('packs/')).length;
    expect(after).toBeLessThan(before);
    expect((await repo.listPoints()).map((x) => x.id)).toEqual([second.id]);
    expect((await repo.verify()).ok).toBe(true);
    await backend.close();
  }, 120_000);
});
