/**
 * The SFTP backend over a slow uplink: the real OpenSSH server behind the TCP fault proxy
 * (tests/fixtures/reliability/tcp-fault-proxy.ts) limiting what the client sends to a link-wide
 * rate. An upload that takes longer than the stall timeout but keeps moving completes: the
 * stall bound counts silence from the server, and the server acknowledges each write as it lands.
 * Scaled down: 1.5 MiB at 512 KiB/s (~3 s) against a 1.5 s stall timeout. The put reports each
 * acknowledged write (PutOptions.onProgress), so a backup's progress moves while it runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SftpBackend } from '../../../electron/engine/storage/sftp-backend.ts';
import { startSshd, type SshdHandle } from '../../fixtures/sshd.ts';
import { startTcpFaultProxy, type TcpFaultProxy } from '../../fixtures/reliability/tcp-fault-proxy.ts';

let sshd: SshdHandle;
let slow: TcpFaultProxy;

beforeAll(async () => {
  sshd = await startSshd();
  slow = await startTcpFaultProxy({ host: sshd.host, port: sshd.port }, { rate: 0, seed: 1, bytesPerSecond: 512 * 1024 });
});
afterAll(async () => {
  await slow?.close();
  await sshd?.stop();
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('SFTP over a slow uplink', () => {
  it('an upload longer than the stall timeout that keeps moving completes whole', async () => {
    const root = join(sshd.data, 'slow');
    mkdirSync(root, { mode: 0o777 });
    chmodSync(root, 0o777);
    const o = { host: sshd.host, user: sshd.user, root, hostKey: sshd.hostKey(), privateKeyFile: sshd.clientKey };
    const b = new SftpBackend({ ...o, port: slow.port, stallTimeoutMs: 1_500 });
    const data = randomBytes(1536 * 1024);
    try {
      const started = Date.now();
      const landed: number[] = [];
      await b.put('slow/x', data, { onProgress: (n) => landed.push(n) });
      expect(Date.now() - started).toBeGreaterThan(2_000);
      // Each 32 KiB write is reported as the server acknowledges it (what a backup's progress shows on a slow link).
      expect(landed).toHaveLength(48);
      expect(landed.reduce((a, n) => a + n, 0)).toBe(data.length);
    } finally {
      await b.close();
    }
    const direct = new SftpBackend({ ...o, port: sshd.port });
    try {
      expect(sha(await direct.get('slow/x'))).toBe(sha(data));
    } finally {
      await direct.close();
    }
  }, 30_000);
});
