/**
 * Retention + GC deleting points and their packs on an FTP server. (Objects per GB stored
 * and reads per GB restored, for FTP as for every kind: requests-per-gb.test.ts.) And the
 * local manifest cache on a server that cannot say when a file changed (no MLSD, no MDTM).
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initRepository, LocalChunkCache, openRepository } from '../../../electron/engine/repository/index.ts';
import { FtpBackend } from '../../../electron/engine/storage/index.ts';
import { FTP_NO_MDTM_USER, FTP_PASSWORD, FTP_USER, startFtpServer, type FtpServerHandle } from '../../fixtures/ftp-server.ts';
import { FAST, pointOpts, tempDir } from '../../unit/repository/helpers.ts';

let ftp: FtpServerHandle;
beforeAll(async () => {
  ftp = await startFtpServer('explicit');
});
afterAll(async () => {
  await ftp?.stop();
});

const backendAt = (root: string, user = FTP_USER) =>
  new FtpBackend({ host: ftp.host, port: ftp.port, user, password: FTP_PASSWORD, tls: 'explicit', certificateFingerprint: ftp.certificateFingerprint, root });

describe('FTP retention', () => {
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

describe('FTP: the local manifest cache on a server without MDTM', () => {
  it('a listing that cannot give a time caches no manifest (every listing used to add a copy of each, never read again)', async () => {
    const backend = backendAt('/no-mdtm', FTP_NO_MDTM_USER);
    const repo = await initRepository(backend, { key: null, ...FAST });
    const written = [];
    for (let i = 0; i < 2; i++) written.push((await repo.writePoint((async function* () {
      yield randomBytes(64 * 1024);
    })(), pointOpts({ kind: i === 0 ? 'full' : 'incremental' }))).id);
    const dir = await tempDir();
    const cache = new LocalChunkCache(dir.path);
    const cachedManifests = () => readdirSync(dir.path).flatMap((r) => readdirSync(join(dir.path, r, 'points')).filter((n) => !n.startsWith('.')));
    try {
      // Three runs' looks at the folder, each a new open as a run's is: all list both points.
      for (let run = 0; run < 3; run++) {
        const opened = await openRepository(backend, { ...FAST, manifestCache: cache });
        expect((await opened.listPoints()).map((p) => p.id)).toEqual(written);
      }
      // The time of an unknown-time file is the time it was listed: it names no version, so
      // nothing could ever be read back; before, each look stored 2 more copies (6 here).
      expect(cachedManifests()).toEqual([]);
    } finally {
      await dir.cleanup();
      await backend.close();
    }
  }, 120_000);
});
