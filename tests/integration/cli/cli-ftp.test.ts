/**
 * The real `backstop` command against a real FTP(S) server (ftp-srv): a task file's FTP
 * destination (explicit TLS, pinned certificate, password from BACKSTOP_FTP_PASSWORD), the
 * ftp:// folders it prints read back by `points` and `verify`, and plain FTP only when the
 * task file chooses it, with the warning on stderr and one JSON document on stdout.
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { CHINOOK, oneJsonDocument, runBackstop, writeTaskFile } from '../../fixtures/cli.ts';
import { FTP_PASSWORD, FTP_USER, startFtpServer, type FtpServerHandle } from '../../fixtures/ftp-server.ts';
import { findSecrets } from '../../fixtures/reliability/secrets-scan.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

let ftps: FtpServerHandle;
let plain: FtpServerHandle;
beforeAll(async () => {
  ftps = await startFtpServer('explicit');
  plain = await startFtpServer('none');
}, 30_000);
afterAll(async () => {
  await ftps?.stop();
  await plain?.stop();
});

describe('backstop with an FTP destination', () => {
  it('backs up to FTPS and reads the printed ftp:// folder back with points and verify', async () => {
    const folder = tempDir();
    copyFileSync(CHINOOK, join(folder, 'chinook.sqlite'));
    const destination = { kind: 'ftp', host: ftps.host, port: ftps.port, user: FTP_USER, path: '/nightly', tls: 'explicit', certificateFingerprint: ftps.certificateFingerprint };
    const task = writeTaskFile(tempDir(), { name: 'ftp', server: { kind: 'sqlite', folder }, destinations: [destination] });
    const env = { BACKSTOP_FTP_PASSWORD: FTP_PASSWORD, BACKSTOP_FTP_CERT_FINGERPRINT: ftps.certificateFingerprint };
    const dataDir = tempDir();
    const backup = await runBackstop(['backup', '--config', task, '--data-dir', dataDir, '--json'], { env });
    expect(backup.code, backup.stdout + backup.stderr).toBe(0);
    expect(backup.stderr).toBe('');
    const doc = oneJsonDocument(backup.stdout) as { databases: { database: string; location: string; status: string }[] };
    const location = `ftp://${FTP_USER}@${ftps.host}:${ftps.port}/nightly/${encodeDatabaseFolder('chinook.sqlite')}`;
    expect(doc.databases).toMatchObject([{ database: 'chinook.sqlite', status: 'ok', location }]);
    const points = await runBackstop(['points', location, '--data-dir', dataDir, '--json'], { env });
    expect(points.stderr).toBe('');
    expect(oneJsonDocument(points.stdout)).toHaveLength(1);
    const verify = await runBackstop(['verify', location, '--data-dir', dataDir, '--json'], { env });
    expect(verify.code, verify.stdout).toBe(0);
    expect(oneJsonDocument(verify.stdout)).toMatchObject({ ok: true });
    const unpinned = await runBackstop(['points', location, '--data-dir', dataDir, '--json'], { env: { BACKSTOP_FTP_PASSWORD: FTP_PASSWORD } });
    expect(unpinned.code).toBe(1);
    expect(oneJsonDocument(unpinned.stdout)).toMatchObject({ error: { code: 'AUTH_FAILED', message: expect.stringContaining(ftps.certificateFingerprint) } });
    expect(findSecrets({ password: FTP_PASSWORD }, [dataDir], { backup: backup.stdout, points: points.stdout, verify: verify.stdout, unpinned: unpinned.stdout })).toEqual([]);
  }, 180_000);

  it('plain FTP only as the task file chooses it: a warning on stderr, one JSON document on stdout', async () => {
    const folder = tempDir();
    copyFileSync(CHINOOK, join(folder, 'chinook.sqlite'));
    const env = { BACKSTOP_FTP_PASSWORD: FTP_PASSWORD };
    const base = { kind: 'ftp', host: plain.host, port: plain.port, user: FTP_USER, path: '/plain' };
    const missing = await runBackstop(['backup', '--config', writeTaskFile(tempDir(), { name: 'p', server: { kind: 'sqlite', folder }, destinations: [base] }), '--data-dir', tempDir(), '--json'], { env });
    expect(missing.code).not.toBe(0);
    expect(JSON.stringify(oneJsonDocument(missing.stdout))).toContain('plain FTP sends the password in clear');
    const chosen = await runBackstop(['backup', '--config', writeTaskFile(tempDir(), { name: 'p', server: { kind: 'sqlite', folder }, destinations: [{ ...base, tls: 'none' }] }), '--data-dir', tempDir(), '--json'], { env });
    expect(chosen.code, chosen.stdout + chosen.stderr).toBe(0);
    expect(chosen.stderr).toContain(`warning: plain FTP to ${plain.host}: the password and the backups cross the network unencrypted`);
    expect(oneJsonDocument(chosen.stdout)).toMatchObject({ databases: [{ database: 'chinook.sqlite', status: 'ok' }] });
  }, 180_000);
});
