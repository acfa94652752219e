/**
 * Browsing a remote destination for restore (the restore dialog's folder list, `restore.folders`)
 * when it holds many databases: what it costs the server. A plain TCP proxy in front of the
 * real server counts the connections Backstop holds open at once.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADER_KEY } from '../../../electron/engine/repository/layout.ts';
import { initRepository } from '../../../electron/engine/repository/index.ts';
import { inspectBackupFolder, listBackupFolders } from '../../../electron/engine/restore/backup-folder.ts';
import { createS3Backend } from '../../../electron/engine/storage/index.ts';
import type { Destination } from '../../../electron/shared/domain.ts';
import { startTcpFaultProxy, type TcpFaultProxy } from '../../fixtures/reliability/tcp-fault-proxy.ts';
import { S3RVER_CREDENTIALS, s3rverBackendOptions, startS3rver, type S3rverHandle } from '../../fixtures/s3rver.ts';
import { startSshd, type SshdHandle } from '../../fixtures/sshd.ts';

let sshd: SshdHandle;
let proxy: TcpFaultProxy;
let s3: S3rverHandle;

beforeAll(async () => {
  [sshd, s3] = await Promise.all([startSshd(), startS3rver(['work'])]);
  proxy = await startTcpFaultProxy({ host: sshd.host, port: sshd.port }, { rate: 0, seed: 1 });
});
afterAll(async () => {
  await proxy?.close();
  await Promise.all([sshd?.stop(), s3?.stop()]);
});

describe('browsing a remote destination that holds many databases', () => {
  it('SFTP: lists 30 database folders over one SSH connection, plus a few at a time for names no key can hold (an OpenSSH server drops logins beyond MaxStartups 10)', async () => {
    const base = join(sshd.data, 'many');
    const plain = Array.from({ length: 24 }, (_, i) => `db${String(i).padStart(2, '0')}`);
    // Folders of names that are not all lower case or hold spaces (servers/database-folder.ts).
    const odd = Array.from({ length: 6 }, (_, i) => `Sales ${i}~~${'0'.repeat(31)}${i}`);
    for (const n of [...plain, ...odd]) {
      mkdirSync(join(base, n), { recursive: true });
      writeFileSync(join(base, n, HEADER_KEY), 'x');
    }
    mkdirSync(join(base, 'not-a-backup'));
    const dest: Destination = { kind: 'sftp', host: proxy.host, port: proxy.port, user: sshd.user, path: base, hostKey: sshd.hostKey(), privateKeyFile: sshd.clientKey, credentialsRef: null };
    const before = proxy.stats.clean;
    const found = await listBackupFolders(dest, null);
    expect(found.map((f) => f.folder).sort()).toEqual([...plain, ...odd].sort());
    // The root's connection, and one per odd name (never one per database).
    expect(proxy.stats.clean - before).toBeLessThanOrEqual(1 + odd.length);
    expect(proxy.peakOpen()).toBeLessThanOrEqual(5);
    // The root chosen instead of one database's folder: the error names what it holds, looked into the same way.
    const atRoot = proxy.stats.clean;
    const root = { kind: 'sftp', host: proxy.host, port: proxy.port, user: sshd.user, path: base, hostKey: sshd.hostKey(), privateKeyFile: sshd.clientKey, credentialsRef: null } as const;
    await expect(inspectBackupFolder(root, null, () => Promise.resolve(null), null)).rejects.toMatchObject({
      code: 'NOT_A_BACKUP',
      message: expect.stringContaining(`is the common root of a task's backups: it holds 30 database folders (`),
    });
    expect(proxy.stats.clean - atRoot).toBeLessThanOrEqual(2 + odd.length);
    expect(proxy.peakOpen()).toBeLessThanOrEqual(5);
  });

  it('S3: a folder of 60 points lists them with the manifests read several at a time, not one round trip after another', async () => {
    const backend = createS3Backend(s3rverBackendOptions(s3, { prefix: 'points60' }));
    const repo = await initRepository(backend, { workers: 0 });
    const opts = { kind: 'full', backupType: 'logical', database: 'sales', serverIdentity: 'test', engineVersion: '1', dumpToolVersion: '1' } as const;
    for (let i = 0; i < 60; i++) await repo.writePoint((async function* () { yield Buffer.from(`point ${i}`); })(), opts);
    await backend.close();
    const s3proxy = await startTcpFaultProxy({ host: '127.0.0.1', port: s3.port }, { rate: 0, seed: 2 });
    try {
      const location = { kind: 's3', bucket: 'work', prefix: 'points60', region: 'us-east-1', endpoint: `http://127.0.0.1:${s3proxy.port}`, forcePathStyle: true, checksumMode: 'WHEN_REQUIRED', credentialsRef: null } as const;
      const info = await inspectBackupFolder(location, null, () => Promise.resolve(null), { ...S3RVER_CREDENTIALS });
      expect(info.points).toHaveLength(60);
      expect(info.points.map((p) => p.createdAt)).toEqual(info.points.map((p) => p.createdAt).sort());
      // Sequential reads go over one kept-alive connection; reads in parallel need several (bounded).
      expect(s3proxy.peakOpen()).toBeGreaterThan(1);
      expect(s3proxy.peakOpen()).toBeLessThanOrEqual(16);
    } finally {
      await s3proxy.close();
    }
  });
});
