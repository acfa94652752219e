/**
 * A task writing to a local folder and an SFTP server at once, as the window sets it up: the
 * password in the real OS keychain (destinations.saveCredentials), the host key accepted from
 * "Test connection"'s report, a run, the restore browser listing the SFTP folders, and a
 * database restored from SFTP; the password never reaches the app database, logs or events.
 * A password login needs a user with a password: the test runs as root (as CI does).
 */
import { copyFileSync, mkdirSync, chmodSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import type { Destination } from '../../../electron/shared/domain.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { findSecrets } from '../../fixtures/reliability/secrets-scan.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { SFTP_PASSWORD, passwordUser, startSshd, type SshdHandle } from '../../fixtures/sshd.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { startTcpFaultProxy } from '../../fixtures/reliability/tcp-fault-proxy.ts';

const CHINOOK = join(import.meta.dirname, '../../../../shared/fixtures/chinook/Chinook_Sqlite.sqlite');
let sshd: SshdHandle;

beforeAll(async () => {
  sshd = await startSshd();
});
afterAll(async () => {
  await sshd?.stop();
});

describe('task with a local and an SFTP destination (window flow)', () => {
  it.runIf(process.getuid?.() === 0)('accepts the host key from Test connection, backs up to both, lists and restores from SFTP; no password in the data dir or events', async () => {
    const user = passwordUser()!;
    const dataDir = tempDir();
    const engine = await testEngine({ encoderWorkers: 0, dataDir });
    const events: string[] = [];
    for (const name of ['run.progress', 'alert', 'restore.progress', 'restore.finished', 'history.changed'] as const) engine.events.on(name, (e: unknown) => events.push(JSON.stringify(e)));
    const folder = tempDir();
    copyFileSync(CHINOOK, join(folder, 'chinook.sqlite'));
    const db = new Database(join(folder, 'notes.db'));
    db.exec("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO note (body) VALUES ('remember the milk')");
    db.close();
    const base = join(sshd.data, `window${Date.now()}`);
    mkdirSync(base);
    chmodSync(base, 0o777);
    const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder }));
    const { credentialsRef } = data(await engine.call('destinations.saveCredentials', { secret: { kind: 'sftp', password: SFTP_PASSWORD } }));
    expect(credentialsRef).toMatch(/^sftp\./);
    const unpinned: Destination = { kind: 'sftp', host: sshd.host, port: sshd.port, user, path: base, hostKey: null, privateKeyFile: null, credentialsRef };
    // First use: the test fails and shows the server's fingerprint, which the user accepts.
    const first = data(await engine.call('destinations.test', { destination: unpinned }));
    expect(first).toMatchObject({ ok: false, hostKey: sshd.hostKey(), hint: expect.stringMatching(/not accepted yet/) });
    const dest: Destination = { ...unpinned, hostKey: first.hostKey! };
    expect(data(await engine.call('destinations.test', { destination: dest }))).toMatchObject({ ok: true });

    const local = tempDir();
    const task = data(
      await engine.call('tasks.create', { name: 'both', serverId: server.id, type: 'snapshot', schedule: { full: '0 2 * * *', timezone: 'UTC' }, destinations: [{ kind: 'local', path: local }, dest] }),
    );
    const run = await runTask(engine, task.id, 'full');
    expect(run.status).toBe('success');

    const choices = data(await engine.call('restore.folders', { destination: dest })).filter((f) => !f.serverStream);
    expect(choices.map((c) => c.folder)).toEqual([encodeDatabaseFolder('chinook.sqlite'), encodeDatabaseFolder('notes.db')]);
    const notes = choices.find((c) => c.database === 'notes.db')!;
    expect(notes.location).toEqual({ kind: 'sftp', host: sshd.host, port: sshd.port, user, path: `${base}/${encodeDatabaseFolder('notes.db')}`, hostKey: dest.hostKey, privateKeyFile: null, credentialsRef });
    const restored = await restoreAndWait(engine, { location: notes.location, pointId: 'latest', serverId: server.id, database: 'notes-from-sftp.db' });
    expect(restored).toMatchObject({ status: 'success', path: join(folder, 'notes-from-sftp.db') });
    const back = new Database(restored.path!, { readonly: true });
    expect(back.prepare('SELECT body FROM note').pluck().all()).toEqual(['remember the milk']);
    back.close();
    await engine.close();
    expect(findSecrets({ password: SFTP_PASSWORD }, [dataDir], { events: events.join('\n') })).toEqual([]);
  }, 240_000);

  it.runIf(process.getuid?.() === 0)('a password changed on the server: the run tries the refused login once or twice, not once per database (fail2ban / pam_faillock lock the account); each SFTP row says why; the next run with the new password continues', async () => {
    const user = passwordUser()!;
    const proxy = await startTcpFaultProxy({ host: sshd.host, port: sshd.port }, { rate: 0, seed: 3 });
    const engine = await testEngine({ encoderWorkers: 0, dataDir: tempDir() });
    try {
      const folder = tempDir();
      const names = ['a', 'b', 'c', 'd', 'e', 'f'];
      for (const n of names) {
        const db = new Database(join(folder, `${n}.db`));
        db.exec(`CREATE TABLE t (x); INSERT INTO t VALUES ('${n}')`);
        db.close();
      }
      const base = join(sshd.data, `pw${Date.now()}`);
      mkdirSync(base);
      chmodSync(base, 0o777);
      const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder }));
      const { credentialsRef } = data(await engine.call('destinations.saveCredentials', { secret: { kind: 'sftp', password: SFTP_PASSWORD } }));
      const dest: Destination = { kind: 'sftp', host: proxy.host, port: proxy.port, user, path: base, hostKey: sshd.hostKey(), privateKeyFile: null, credentialsRef };
      const task = data(await engine.call('tasks.create', { name: 'pw', serverId: server.id, type: 'snapshot', schedule: { full: '0 2 * * *', timezone: 'UTC' }, destinations: [{ kind: 'local', path: tempDir() }, dest] }));
      expect((await runTask(engine, task.id, 'full')).status).toBe('success');
      const committed = readdirSync(base, { recursive: true }).map(String).sort();
      const logins = proxy.stats.clean;
      const old = 'the-old-password-1';
      data(await engine.call('destinations.saveCredentials', { secret: { kind: 'sftp', password: old }, credentialsRef }));
      const run = await runTask(engine, task.id, 'incremental');
      expect(run.status).toBe('partial');
      const onSftp = run.databases.filter((d) => d.destination.startsWith('sftp:'));
      expect(onSftp).toHaveLength(names.length);
      for (const d of onSftp) {
        expect(d).toMatchObject({ status: 'failed', errorCode: 'AUTH_FAILED', pointId: null });
        expect(d.errorMessage).toMatch(new RegExp(`SFTP server at 127\\.0\\.0\\.1:${proxy.port} refused the login of user "${user}" \\(password rejected\\)\\. Check the user name and the password or key\\.`));
      }
      // A job or two may try at once; the rest are not sent to a server that refused this run.
      expect(proxy.stats.clean - logins).toBeLessThanOrEqual(2);
      expect(onSftp.filter((d) => /^Nothing was written: not tried/.test(d.errorMessage ?? '')).length).toBeGreaterThanOrEqual(names.length - 2);
      expect(run.databases.filter((d) => d.destination.startsWith('local:')).every((d) => d.status === 'success')).toBe(true);
      expect(JSON.stringify(run)).not.toContain(old);
      expect(readdirSync(base, { recursive: true }).map(String).sort()).toEqual(committed);
      data(await engine.call('destinations.saveCredentials', { secret: { kind: 'sftp', password: SFTP_PASSWORD }, credentialsRef }));
      expect((await runTask(engine, task.id, 'incremental')).status).toBe('success');
    } finally {
      await engine.close();
      await proxy.close();
    }
  }, 120_000);
});
