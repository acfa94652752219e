/**
 * The real `backstop` command with an SFTP destination on a throwaway OpenSSH server: a
 * backup of a SQLite folder (hostile file names included) to SFTP beside a local folder,
 * `points`, `verify` and `extract` from the sftp:// location (--identity, --host-key), a
 * flipped byte in a pack on the server named by `verify`, a
 * task file without a host key or with another one refused naming the server's
 * fingerprint, and (as root) a password login whose password never lands in the data dir
 * or the output.
 */
import { copyFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { CHINOOK, oneJsonDocument, runBackstop, writeTaskFile } from '../../fixtures/cli.ts';
import { findSecrets } from '../../fixtures/reliability/secrets-scan.ts';
import { SFTP_PASSWORD, passwordUser, startSshd, type SshdHandle } from '../../fixtures/sshd.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

let sshd: SshdHandle;
beforeAll(async () => {
  sshd = await startSshd();
}, 30_000);
afterAll(async () => {
  await sshd?.stop();
});

function walkFull(d: string): string[] {
  return readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walkFull(join(d, e.name)) : [join(d, e.name)]));
}

const HOSTILE = "we'ird $(name) ;.sqlite";

describe('backstop with an SFTP destination', () => {
  it('backs up to SFTP beside a local folder, then lists, verifies and extracts from the sftp:// folder', async () => {
    const folder = tempDir();
    copyFileSync(CHINOOK, join(folder, 'chinook.sqlite'));
    copyFileSync(CHINOOK, join(folder, HOSTILE));
    const local = tempDir();
    const base = join(sshd.data, 'nightly');
    const dest = { kind: 'sftp', host: sshd.host, port: sshd.port, user: sshd.user, path: base, privateKeyFile: sshd.clientKey, hostKey: sshd.hostKey() };
    // The base folder must exist (a mistyped one is never created): first without it.
    const task = writeTaskFile(tempDir(), { name: 'sftp', server: { kind: 'sqlite', folder }, destinations: [{ kind: 'local', path: local }, dest] });
    const dataDir = tempDir();
    const missing = await runBackstop(['backup', '--config', task, '--data-dir', dataDir, '--json'], {});
    expect(missing.code).not.toBe(0);
    expect(missing.stdout).toContain(`The folder ${base} does not exist on the SFTP server 127.0.0.1:${sshd.port}. Create it there, or correct the destination's path.`);
    expect(existsSync(base)).toBe(false);

    (await import('node:fs')).mkdirSync(base);
    const backup = await runBackstop(['backup', '--config', task, '--data-dir', dataDir, '--json'], {});
    expect(backup.code, backup.stdout + backup.stderr).toBe(0);
    expect(backup.stderr).toBe('');
    const doc = oneJsonDocument(backup.stdout) as { databases: { database: string; location: string; status: string }[] };
    const sftpFolder = (db: string) => `sftp://${sshd.user}@127.0.0.1:${sshd.port}${base}/${encodeDatabaseFolder(db)}`;
    const locations = doc.databases.map((d) => d.location);
    expect(locations).toContain(sftpFolder('chinook.sqlite'));
    expect(locations).toContain(sftpFolder(HOSTILE));
    expect(doc.databases.every((d) => d.status === 'ok')).toBe(true);
    expect(readdirSync(base).sort()).toEqual([encodeDatabaseFolder('chinook.sqlite'), encodeDatabaseFolder(HOSTILE)].sort());
    // No temp file left anywhere on the server.
    const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [e.name]));
    expect(walk(base).filter((n) => n.startsWith('.'))).toEqual([]);

    const flags = ['--identity', sshd.clientKey, '--host-key', sshd.hostKey(), '--data-dir', dataDir, '--json'];
    for (const db of ['chinook.sqlite', HOSTILE]) {
      const points = await runBackstop(['points', sftpFolder(db), ...flags]);
      expect(points.code, points.stdout + points.stderr).toBe(0);
      expect(oneJsonDocument(points.stdout)).toHaveLength(1);
      const verify = await runBackstop(['verify', sftpFolder(db), ...flags]);
      expect(verify.code, verify.stdout).toBe(0);
    }
    const out = join(tempDir(), 'restored.sqlite');
    const extract = await runBackstop(['extract', sftpFolder(HOSTILE), '--point', 'latest', '--out', out, ...flags]);
    expect(extract.code, extract.stdout + extract.stderr).toBe(0);
    expect(readFileSync(out).subarray(0, 16).toString('latin1')).toBe('SQLite format 3\0');
    expect(readFileSync(out).length).toBe(readFileSync(CHINOOK).length);

    // Tamper on the server: one flipped byte in a pack is named by verify.
    const packsDir = join(base, encodeDatabaseFolder('chinook.sqlite'), 'packs');
    const packFile = walkFull(packsDir).find((f) => f.endsWith('.pack'))!;
    const bytes = readFileSync(packFile);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(packFile, bytes);
    const tampered = await runBackstop(['verify', sftpFolder('chinook.sqlite'), ...flags]);
    expect(tampered.code).toBe(1);
    const report = oneJsonDocument(tampered.stdout) as { ok: boolean; problems: { packId: string | null; code: string }[] };
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.packId)).toContain(packFile.split('/').pop()!.replace(/\.pack$/, ''));
  }, 300_000);

  it('refuses a task file without a host key or with another one, naming the server’s fingerprint; nothing written', async () => {
    const folder = tempDir();
    copyFileSync(CHINOOK, join(folder, 'chinook.sqlite'));
    const base = join(sshd.data, `pin${Date.now()}`);
    (await import('node:fs')).mkdirSync(base);
    const dataDir = tempDir();
    const dest = { kind: 'sftp', host: sshd.host, port: sshd.port, user: sshd.user, path: base, privateKeyFile: sshd.clientKey };
    const none = await runBackstop(['backup', '--config', writeTaskFile(tempDir(), { name: 'nokey', server: { kind: 'sqlite', folder }, destinations: [dest] }), '--data-dir', dataDir, '--json']);
    expect(none.code).not.toBe(0);
    expect(none.stdout).toContain(`presents host key ${sshd.hostKey()}, and no host key is pinned`);
    const other = 'SHA256:' + 'A'.repeat(43);
    const changed = await runBackstop(['backup', '--config', writeTaskFile(tempDir(), { name: 'other', server: { kind: 'sqlite', folder }, destinations: [{ ...dest, hostKey: other }] }), '--data-dir', dataDir, '--json']);
    expect(changed.code).not.toBe(0);
    expect(changed.stdout).toContain(`has changed: pinned ${other}, the server now presents ${sshd.hostKey()}`);
    expect(readdirSync(base)).toEqual([]);
    const url = `sftp://${sshd.user}@127.0.0.1:${sshd.port}${base}/x`;
    const bad = await runBackstop(['points', url, '--identity', sshd.clientKey, '--host-key', 'SHA256:short', '--data-dir', dataDir, '--json']);
    expect(oneJsonDocument(bad.stdout)).toMatchObject({ error: { code: 'MALFORMED_REQUEST', message: expect.stringContaining('--host-key must be a fingerprint like SHA256:') } });
  }, 120_000);

  it('logs in with BACKSTOP_SFTP_PASSWORD / passwordEnv; the password never reaches the data dir or the output', async () => {
    const user = passwordUser();
    if (!user) return; // a password login needs a user with a password: only as root (CI runs as root)
    const folder = tempDir();
    copyFileSync(CHINOOK, join(folder, 'chinook.sqlite'));
    const base = join(sshd.data, `pw${Date.now()}`);
    const fs = await import('node:fs');
    fs.mkdirSync(base);
    fs.chmodSync(base, 0o777);
    const dataDir = tempDir();
    const task = writeTaskFile(tempDir(), { name: 'pw', server: { kind: 'sqlite', folder }, destinations: [{ kind: 'sftp', host: sshd.host, port: sshd.port, user, path: base, passwordEnv: 'MY_SFTP_PW', hostKey: sshd.hostKey() }] });
    const noEnv = await runBackstop(['backup', '--config', task, '--data-dir', dataDir, '--json'], { env: { MY_SFTP_PW: '' } });
    expect(oneJsonDocument(noEnv.stdout)).toMatchObject({ error: { code: 'AUTH_FAILED', message: 'SFTP server 127.0.0.1: the environment variable MY_SFTP_PW is not set.' } });
    const backup = await runBackstop(['backup', '--config', task, '--data-dir', dataDir, '--json'], { env: { MY_SFTP_PW: SFTP_PASSWORD } });
    expect(backup.code, backup.stdout + backup.stderr).toBe(0);
    const url = `sftp://${user}@127.0.0.1:${sshd.port}${base}/${encodeDatabaseFolder('chinook.sqlite')}`;
    const points = await runBackstop(['points', url, '--host-key', sshd.hostKey(), '--data-dir', dataDir, '--json'], { env: { BACKSTOP_SFTP_PASSWORD: SFTP_PASSWORD } });
    expect(points.code, points.stdout).toBe(0);
    expect(oneJsonDocument(points.stdout)).toHaveLength(1);
    const wrong = await runBackstop(['points', url, '--host-key', sshd.hostKey(), '--data-dir', dataDir, '--json'], { env: { BACKSTOP_SFTP_PASSWORD: 'not-the-password' } });
    expect(oneJsonDocument(wrong.stdout)).toMatchObject({ error: { code: 'AUTH_FAILED', message: expect.stringContaining(`refused the login of user "${user}" (password rejected)`) } });
    expect(findSecrets({ password: SFTP_PASSWORD }, [dataDir], { backup: backup.stdout + backup.stderr, points: points.stdout + points.stderr, wrong: wrong.stdout + wrong.stderr })).toEqual([]);
  }, 180_000);
});
