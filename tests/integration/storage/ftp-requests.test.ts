/**
 * Retention + GC deleting points and their packs on an FTP server. (Objects per GB stored
 * and reads per GB restored, for FTP as for every kind: requests-per-gb.test.ts.)
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initRepository } from '../../../electron/engine/repository/index.ts';
import { FtpBackend } from '../../../electron/engine/storage/index.ts';
import { FTP_PASSWORD, FTP_USER, startFtpServer, type FtpServerHandle } from '../../fixtures/ftp-server.ts';
import { FAST, pointOpts } from '../../unit/repository/helpers.ts';

let ftp: FtpServerHandle;
beforeAll(async () => {
  ftp = await startFtpServer('explicit');
});
afterAll(async () => {
  await ftp?.stop();
});

const backendAt = (root: string) =>
  new FtpBackend({ host: ftp.host, port: ftp.port, user: FTP_USER, password: FTP_PASSWORD, tls: 'explicit', certificateFingerprint: ftp.certificateFingerprint, root });

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
