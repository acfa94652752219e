/**
 * An encryption key over a backup's life, against the real OS keychain (a D-Bus session and GNOME keyring
 * of this file's own, tests/fixtures/private-keychain.ts, since it locks it and replaces its daemon):
 * - the keychain locked while a scheduled backup and test restore are due: both are in History
 *   as failed runs with KEYCHAIN_LOCKED (and run-failed / test-restore-failed alerts), nothing is written, no key byte lands in
 *   the data dir or the logs, and the next run after unlocking works;
 * - a new workstation (the key not in its keychain): points/verify/restore say which key
 *   and the commands to bring it over; every export form imports; a wrong key is
 *   KEY_MISMATCH naming both fingerprints, and nothing is created on the target;
 * - encryption switched on, to another key and off again: each change starts a full in the
 *   folder for that key (the plain chain continues when switched back), each folder restores
 *   with its key, and retention only prunes the folder a run wrote to.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../../electron/engine/index.ts';
import { keyFingerprint } from '../../../electron/engine/crypto/index.ts';
import { KeychainSecretStore } from '../../../electron/engine/secrets/index.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import type { Alert, Run } from '../../../electron/shared/domain.ts';
import { CHINOOK, oneJsonDocument, runBackstop, writeTaskFile } from '../../fixtures/cli.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { privateKeychain, type PrivateKeychain } from '../../fixtures/private-keychain.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const SECRETS = ['--session', '--dest', 'org.freedesktop.secrets'];

// This file locks its keychain and replaces its daemon: a keychain of its own, so the files running meanwhile keep theirs.
let keychain: PrivateKeychain;
beforeAll(async () => {
  keychain = await privateKeychain();
});
afterAll(async () => {
  await keychain?.stop();
});

function collectionLocked(): boolean {
  const path = /'([^']+)'/.exec(execFileSync('gdbus', ['call', ...SECRETS, '--object-path', '/org/freedesktop/secrets', '--method', 'org.freedesktop.Secret.Service.ReadAlias', 'default'], { encoding: 'utf8' }))![1]!;
  const props = execFileSync('gdbus', ['introspect', ...SECRETS, '--object-path', path, '--only-properties'], { encoding: 'utf8' });
  return /Locked = true/.test(props);
}

/** Locks the session's default keychain collection (what a screen lock or a timeout does). */
function lockKeychain(): void {
  execFileSync('gdbus', ['call', ...SECRETS, '--object-path', '/org/freedesktop/secrets', '--method', 'org.freedesktop.Secret.Service.Lock', "['/org/freedesktop/secrets/aliases/default']"]);
  expect(collectionLocked()).toBe(true);
}

/** Unlocks it with the `kr` wrapper's password (a new daemon takes over the collection, as at login). */
function unlockKeychain(): void {
  const r = spawnSync('gnome-keyring-daemon', ['--replace', '--unlock', '--components=secrets'], { input: 'backstop-test', env: keychain.daemonEnv, encoding: 'utf8', timeout: 30_000 });
  expect(r.status, r.stderr).toBe(0);
  const deadline = Date.now() + 20_000;
  while (collectionLocked()) {
    if (Date.now() > deadline) throw new Error('the keychain did not unlock');
    spawnSync('sleep', ['0.1']);
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

/** The next `n` runs recorded as failed (rejects after 30 s: not that many in History). */
function failedRuns(engine: Engine, n: number): Promise<Run[]> {
  return new Promise((resolve, reject) => {
    const seen = new Map<string, Run>();
    const timer = setTimeout(() => (off(), reject(new Error(`${seen.size} of ${n} failed runs were recorded in History`))), 30_000);
    const off = engine.events.on('history.changed', ({ runId }) => {
      void engine.call('history.list', { limit: 50 }).then((res) => {
        const run = data(res).find((r) => r.id === runId && r.status === 'failed');
        if (run) seen.set(run.id, run);
        if (seen.size === n) {
          clearTimeout(timer);
          off();
          resolve([...seen.values()]);
        }
      });
    });
  });
}

describe('an encryption key over a backup’s life', () => {
  it('keychain locked when a scheduled backup and test restore are due: failed runs in History naming the keychain, nothing written, the next run after unlock works', { timeout: 120_000 }, async () => {
    const dir = tempDir();
    const folder = join(dir, 'server');
    mkdirSync(folder);
    const db = new Database(join(folder, 'ledger.db'));
    db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1), (2);');
    db.close();
    let clock = new Date('2026-03-02T10:00:00Z');
    const dataDir = join(dir, 'data');
    const backups = join(dir, 'backups');
    const engine = await testEngine({ dataDir, now: () => clock, encoderWorkers: 0 });
    const keyBytes = randomBytes(32);
    const key = data(await engine.call('keys.import', { key: keyBytes.toString('base64') }));
    const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder }));
    const task = data(
      await engine.call('tasks.create', {
        name: 'ledger',
        serverId: server.id,
        type: 'snapshot',
        schedule: { full: '0 2 * * *', timezone: 'UTC' },
        encryption: { mode: 'key', keyRef: key.keyRef, fingerprint: key.fingerprint },
        destinations: [{ kind: 'local', path: backups }],
        testRestore: { schedule: '0 4 * * 0' },
      }),
    );
    expect((await runTask(engine, task.id, 'full')).status).toBe('success');
    const pointsDir = join(backups, encodeDatabaseFolder('ledger.db'), 'points');
    const before = readdirSync(pointsDir);
    expect(before).toHaveLength(1);

    const alerts: Alert[] = [];
    engine.events.on('alert', (a) => alerts.push(a));
    lockKeychain();
    try {
      // The nightly 02:00 and Sunday's 04:00 test restore passed: the scheduler's catch-up fires both while the keychain is locked.
      clock = new Date('2026-03-08T09:00:00Z');
      const failed = failedRuns(engine, 2);
      engine.start();
      const runs = await failed;
      const backupRun = runs.find((r) => r.runKind === undefined || r.runKind === 'backup');
      const testRun = runs.find((r) => r.runKind === 'test-restore');
      for (const run of [backupRun, testRun]) {
        expect(run).toMatchObject({ taskId: task.id, trigger: 'catch-up', status: 'failed', errorCode: 'KEYCHAIN_LOCKED', errorMessage: expect.stringContaining('keychain is locked'), keyFingerprint: key.fingerprint });
        expect(run!.errorMessage).toContain('unlock it');
      }
      expect(alerts).toContainEqual({ kind: 'run-failed', taskId: task.id, message: `Backup task "ledger" could not start: ${backupRun!.errorMessage}`, databases: [] });
      expect(alerts).toContainEqual({ kind: 'test-restore-failed', taskId: task.id, message: `Test restore of task "ledger" could not start: ${testRun!.errorMessage}`, databases: [] });
      expect(readdirSync(pointsDir)).toEqual(before);
      expect(filesUnder(join(backups, encodeDatabaseFolder('ledger.db'))).filter((f) => f.includes('inflight') || f.endsWith('.tmp'))).toEqual([]);
    } finally {
      unlockKeychain();
    }
    const again = await runTask(engine, task.id, 'full');
    expect(again.status, again.errorMessage ?? '').toBe('success');
    expect(readdirSync(pointsDir)).toHaveLength(2);

    // The key never reached the data dir or the logs, in any of its forms.
    await engine.close();
    const forms = [keyBytes, Buffer.from(keyBytes.toString('base64')), Buffer.from(keyBytes.toString('hex'))];
    for (const f of filesUnder(dataDir)) {
      const bytes = readFileSync(f);
      for (const form of forms) expect(bytes.includes(form), f).toBe(false);
    }
  });

  it('a new workstation: points/verify/restore name the missing key and how to bring it; every export form imports; a wrong key is KEY_MISMATCH and creates nothing', { timeout: 120_000 }, async () => {
    // The old machine: a key in its keychain (saved to a file), an encrypted backup.
    const oldData = tempDir();
    const keyFile = join(tempDir(), 'nightly.key');
    const gen = await runBackstop(['keys', 'generate', '--name', 'nightly', '--out', keyFile, '--data-dir', oldData, '--json']);
    expect(gen.code, gen.stdout).toBe(0);
    const fp = (oneJsonDocument(gen.stdout) as { fingerprint: string }).fingerprint;
    const folder = tempDir();
    copyFileSync(CHINOOK, join(folder, 'chinook.sqlite'));
    const backups = tempDir();
    const task = writeTaskFile(tempDir(), { name: 'nightly', server: { kind: 'sqlite', folder }, destinations: [{ kind: 'local', path: backups }], encryption: { mode: 'key', keyFile } });
    const b = await runBackstop(['backup', '--config', task, '--data-dir', oldData, '--json']);
    expect(b.code, b.stdout).toBe(0);
    // Every form the key leaves the old machine in.
    const printed = (await runBackstop(['keys', 'export', fp, '--out', '-', '--data-dir', oldData])).stdout.trim();
    const old = await testEngine({ dataDir: oldData });
    const sheet = data(await old.call('keys.recoverySheet', { keyRef: `key.${fp}`, taskName: 'nightly' })).html;
    await old.close();
    const sheetGroups = /<p class="key">([^<]+)<\/p>/.exec(sheet)![1]!; // as typed from paper: groups of four
    const forms: [string, string][] = [
      ['the key file as saved', readFileSync(keyFile, 'utf8')],
      ['the printed key line', printed],
      ['the recovery sheet, typed in its groups', sheetGroups],
      ['hex', Buffer.from(printed, 'base64').toString('hex')],
    ];
    expect(sheetGroups).toContain(' ');

    // The new workstation: its own data dir, the key not in its keychain.
    await new KeychainSecretStore().delete(`key.${fp}`);
    const newData = tempDir();
    const location = join(backups, encodeDatabaseFolder('chinook.sqlite'));
    const serverFile = join(tempDir(), 'server.json');
    writeFileSync(serverFile, JSON.stringify({ kind: 'sqlite', folder }));
    const restore = (name: string, ...extra: string[]) => runBackstop(['restore', location, '--point', 'latest', '--server', serverFile, '--database', name, '--data-dir', newData, '--json', ...extra]);
    const howTo = `backstop keys export ${fp} --out FILE", then here "backstop keys import FILE"`;
    for (const argv of [['points', location], ['verify', location]]) {
      const r = await runBackstop([...argv, '--data-dir', newData, '--json']);
      expect(r.code, argv[0]).toBe(1);
      expect(oneJsonDocument(r.stdout), argv[0]).toMatchObject({ error: { code: 'KEY_REQUIRED', message: expect.stringContaining(`encrypted with key ${fp}`) } });
      expect(oneJsonDocument(r.stdout), argv[0]).toMatchObject({ error: { message: expect.stringContaining(howTo) } });
    }
    const noKey = await restore('nokey.sqlite');
    expect(oneJsonDocument(noKey.stdout)).toMatchObject({ error: { code: 'KEY_REQUIRED', message: expect.stringContaining(howTo) } });
    expect(existsSync(join(folder, 'nokey.sqlite'))).toBe(false);

    // A wrong key: named as the wrong one, with the one needed; nothing created on the target.
    const wrong = randomBytes(32);
    const wrongFile = join(tempDir(), 'wrong.key');
    writeFileSync(wrongFile, wrong.toString('base64'));
    const mismatch = await restore('wrong.sqlite', '--key-file', wrongFile);
    expect(mismatch.code).toBe(1);
    expect(oneJsonDocument(mismatch.stdout)).toMatchObject({ error: { code: 'KEY_MISMATCH', message: expect.stringContaining(`The key ${keyFingerprint(wrong)} does not open`) } });
    expect(oneJsonDocument(mismatch.stdout)).toMatchObject({ error: { message: expect.stringContaining(`Use the key with fingerprint ${fp}`) } });
    expect(readdirSync(folder).sort()).toEqual(['chinook.sqlite']);

    // Every export form imports as the same key; then the restore finds it in the keychain.
    const engine = await testEngine({ dataDir: newData });
    for (const [label, text] of forms) {
      const res = await engine.call('keys.import', { key: text });
      expect(res, label).toMatchObject({ ok: true, data: { fingerprint: fp, origin: 'imported' } });
    }
    await engine.close();
    const ok = await restore('restored.sqlite');
    expect(ok.code, ok.stdout).toBe(0);
    const a = new Database(join(folder, 'chinook.sqlite'), { readonly: true });
    const c = new Database(join(folder, 'restored.sqlite'), { readonly: true });
    const count = (d: Database.Database) => (d.prepare('SELECT count(*) AS n FROM Track').get() as { n: number }).n;
    expect(count(c)).toBe(count(a));
    a.close();
    c.close();
  });

  it('encryption changed on a task (off → on, a new key, back off): each change starts a full in its own folder, each folder’s points restore with its own key, retention prunes only the folder it wrote to', { timeout: 120_000 }, async () => {
    const folder = tempDir();
    copyFileSync(CHINOOK, join(folder, 'chinook.sqlite'));
    const backups = tempDir();
    const dataDir = tempDir();
    const keyA = randomBytes(32);
    const keyB = randomBytes(32);
    const fileA = join(tempDir(), 'a.key');
    const fileB = join(tempDir(), 'b.key');
    writeFileSync(fileA, keyA.toString('base64'));
    writeFileSync(fileB, keyB.toString('hex'));
    const dir = tempDir();
    const run = async (encryption: Record<string, unknown>, kind: 'full' | 'incremental') => {
      const task = writeTaskFile(dir, { name: 'chinook', server: { kind: 'sqlite', folder }, destinations: [{ kind: 'local', path: backups }], encryption, retention: { keepLast: 1 } });
      const r = await runBackstop(['backup', '--config', task, '--data-dir', dataDir, '--kind', kind, '--json']);
      expect(r.code, r.stdout).toBe(0);
      return (oneJsonDocument(r.stdout) as { databases: { kind: string; kindReason: string | null; location: string; point: string }[] }).databases[0]!;
    };
    const base = join(backups, encodeDatabaseFolder('chinook.sqlite'));
    const plain1 = await run({ mode: 'none' }, 'full');
    const a = await run({ mode: 'key', keyFile: fileA }, 'incremental');
    expect(a).toMatchObject({ kind: 'full', location: `${base}~key-${keyFingerprint(keyA)}`, kindReason: expect.stringContaining('the encryption key changed') });
    const a2 = await run({ mode: 'key', keyFile: fileA }, 'full');
    const b = await run({ mode: 'key', keyFile: fileB }, 'incremental');
    expect(b).toMatchObject({ kind: 'full', location: `${base}~key-${keyFingerprint(keyB)}` });
    // Back off: the plain chain in the database's own folder continues.
    const db = new Database(join(folder, 'chinook.sqlite'));
    db.exec("UPDATE Track SET Name = Name || ' (live)' WHERE TrackId % 5 = 0");
    db.close();
    const plain2 = await run({ mode: 'none' }, 'incremental');
    expect(plain2).toMatchObject({ kind: 'incremental', location: base });

    const points = async (location: string, env: NodeJS.ProcessEnv = {}) => (oneJsonDocument((await runBackstop(['points', location, '--data-dir', dataDir, '--json'], { env })).stdout) as { id: string }[]).map((p) => p.id);
    // Retention (keep last 1) ran in each run's own folder only: key A's folder kept its newest full; the plain folder
    // its newest point and the full that point builds on.
    expect(await points(base)).toEqual([plain1.point, plain2.point]);
    expect(await points(a.location, { BACKSTOP_KEY: keyA.toString('base64') })).toEqual([a2.point]);
    expect(await points(b.location, { BACKSTOP_KEY: keyB.toString('base64') })).toEqual([b.point]);
    // Every folder's point restores with its own key; the wrong one is KEY_MISMATCH.
    const serverFile = join(tempDir(), 'server.json');
    writeFileSync(serverFile, JSON.stringify({ kind: 'sqlite', folder }));
    for (const [location, key, name] of [[a.location, fileA, 'from-a.sqlite'], [b.location, fileB, 'from-b.sqlite']] as const) {
      const r = await runBackstop(['restore', location, '--point', 'latest', '--server', serverFile, '--database', name, '--key-file', key, '--data-dir', dataDir, '--json']);
      expect(r.code, r.stdout).toBe(0);
    }
    const wrong = await runBackstop(['restore', a.location, '--point', 'latest', '--server', serverFile, '--database', 'x.sqlite', '--key-file', fileB, '--data-dir', dataDir, '--json']);
    expect(oneJsonDocument(wrong.stdout)).toMatchObject({ error: { code: 'KEY_MISMATCH', message: expect.stringContaining(`Use the key with fingerprint ${keyFingerprint(keyA)}`) } });
    expect(existsSync(join(folder, 'x.sqlite'))).toBe(false);
  });
});
