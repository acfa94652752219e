/**
 * Destination secrets leave the real OS keychain when nothing needs them any more: the last
 * task using one is deleted, an edit drops the destination, or the task file that saved it
 * was refused, or it was saved for no task and nobody released it within a day (a window that
 * crashed) — and never while a task still names it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Destination } from '../../../electron/shared/domain.ts';
import { tasksAdd } from '../../../electron/cli/commands/config-files.ts';
import { KeychainSecretStore, type SecretStore } from '../../../electron/engine/secrets/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { data } from '../../fixtures/runs.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const keychain = new KeychainSecretStore();

const s3 = (credentialsRef: string, prefix: string): Destination => ({
  kind: 's3',
  bucket: 'vault',
  prefix,
  region: 'us-east-1',
  endpoint: 'http://127.0.0.1:9',
  forcePathStyle: true,
  checksumMode: 'WHEN_REQUIRED',
  storageClass: null,
  credentialsRef,
});
const ftp = (credentialsRef: string): Destination => ({ kind: 'ftp', host: '127.0.0.1', port: 2121, user: 'backup', path: '/team', tls: 'explicit', certificateFingerprint: null, credentialsRef });

async function setup(opts: Parameters<typeof testEngine>[0] = {}) {
  const engine = await testEngine(opts);
  const folder = tempDir();
  const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder }));
  const save = async (secret: Parameters<typeof engine.command<'destinations.saveCredentials'>>[1]['secret']) => data(await engine.call('destinations.saveCredentials', { secret })).credentialsRef;
  const task = (name: string, destinations: Destination[]) => ({ name, serverId: server.id, type: 'snapshot' as const, schedule: { full: '0 3 * * *', timezone: 'UTC' }, destinations });
  return { engine, server, save, task };
}

describe('destination secrets in the keychain follow the tasks that use them', () => {
  const refs: string[] = [];
  afterEach(async () => {
    for (const r of refs.splice(0)) await keychain.delete(r);
  });

  it('a deleted task takes the secrets only it used; a shared one stays until its last task drops it', async () => {
    const { engine, save, task } = await setup();
    const shared = await save({ kind: 's3', accessKeyId: 'AKIDSHARED', secretAccessKey: 'shared-secret-1' });
    const own = await save({ kind: 'ftp', password: 'ftp-secret-2' });
    refs.push(shared, own);
    const a = data(await engine.call('tasks.create', task('a', [s3(shared, 'a'), ftp(own)])));
    const b = data(await engine.call('tasks.create', task('b', [s3(shared, 'b'), { kind: 'local', path: tempDir() }])));

    data(await engine.call('tasks.delete', { id: a.id }));
    expect(await keychain.get(own)).toBeNull();
    expect(JSON.parse((await keychain.get(shared))!)).toMatchObject({ accessKeyId: 'AKIDSHARED' });

    // Editing b without a change to its S3 destination keeps the secret; dropping the destination removes it.
    const kept = data(await engine.call('tasks.update', { id: b.id, task: { ...task('b', b.destinations), enabled: false } }));
    expect(kept.enabled).toBe(false);
    expect(await keychain.get(shared)).not.toBeNull();
    data(await engine.call('tasks.update', { id: b.id, task: task('b', b.destinations.filter((d) => d.kind === 'local')) }));
    expect(await keychain.get(shared)).toBeNull();
  });

  it('forgetCredentials refuses a secret a task uses (it stays) and removes an unused one', async () => {
    const { engine, save, task } = await setup();
    const used = await save({ kind: 's3', accessKeyId: 'AKIDUSED', secretAccessKey: 'used-secret-3' });
    const browsed = await save({ kind: 'ftp', password: 'browse-secret-4' });
    refs.push(used, browsed);
    data(await engine.call('tasks.create', task('offsite', [s3(used, 'x')])));

    const refused = await engine.call('destinations.forgetCredentials', { credentialsRef: used });
    expect(refused).toMatchObject({ ok: false, code: 'CONFLICT', message: 'Task "offsite" still uses this destination secret; remove the destination from the task (or delete the task) and it goes with it.' });
    expect(await keychain.get(used)).not.toBeNull();

    expect(data(await engine.call('destinations.forgetCredentials', { credentialsRef: browsed }))).toEqual({ credentialsRef: browsed });
    expect(await keychain.get(browsed)).toBeNull();
    // Not a destination reference (a server password's, say): refused by the contract, nothing deleted.
    const other = await engine.call('destinations.forgetCredentials', { credentialsRef: 'server.x.password' });
    expect(other).toMatchObject({ ok: false, code: 'MALFORMED_REQUEST' });
  });

  it('a task file refused by the engine leaves no secret behind in the keychain', async () => {
    const saved: string[] = [];
    const recording: SecretStore = {
      set: async (ref, value) => {
        saved.push(ref);
        await keychain.set(ref, value);
      },
      get: (ref) => keychain.get(ref),
      delete: (ref) => keychain.delete(ref),
    };
    const engine = await testEngine({ secrets: recording });
    const dir = tempDir();
    mkdirSync(join(dir, 'files'));
    const file = join(dir, 'task.json');
    writeFileSync(
      file,
      JSON.stringify({
        name: 'offsite',
        server: { kind: 'sqlite', folder: 'files' },
        type: 'snapshot',
        schedule: { full: '61 3 * * *' },
        destinations: [{ kind: 's3', bucket: 'vault', prefix: 'db1', endpoint: 'http://127.0.0.1:9', accessKeyIdEnv: 'LIFECYCLE_KEY_ID', secretAccessKeyEnv: 'LIFECYCLE_SECRET' }],
      }),
    );
    process.env.LIFECYCLE_KEY_ID = 'AKIDREFUSED';
    process.env.LIFECYCLE_SECRET = 'refused-secret-5';
    try {
      await expect(tasksAdd(engine, file)).rejects.toMatchObject({ code: 'VALIDATION' });
    } finally {
      delete process.env.LIFECYCLE_KEY_ID;
      delete process.env.LIFECYCLE_SECRET;
    }
    refs.push(...saved);
    expect(saved).toHaveLength(1);
    expect(await keychain.get(saved[0]!)).toBeNull();
    expect(data(await engine.call('tasks.list', undefined))).toEqual([]);
    expect(data(await engine.call('servers.list', undefined))).toEqual([]);
  });
  it('a secret saved for no task that nobody released (a crashed window) leaves the keychain a day later, when the app starts; a task\'s and a younger one stay', async () => {
    let clock = new Date('2026-03-01T08:00:00Z');
    const now = () => clock;
    const dataDir = tempDir('backstop-data-');
    const first = await setup({ dataDir, now });
    // A remote folder browsed to restore from, then the window crashed: never forgotten.
    const browsed = await first.save({ kind: 'ftp', password: 'browsed-secret-1' });
    // Saved by a Test connection, then the task was saved with it.
    const claimed = await first.save({ kind: 's3', accessKeyId: 'AKIDCLAIMED', secretAccessKey: 'claimed-secret-2' });
    refs.push(browsed, claimed);
    // Disabled: the app started below must not also run it (its start catches up missed runs).
    data(await first.engine.call('tasks.create', { ...first.task('kept', [s3(claimed, 'kept')]), enabled: false }));
    clock = new Date('2026-03-02T07:00:00Z');
    const young = await first.save({ kind: 'ftp', password: 'young-secret-3' });
    refs.push(young);
    await first.engine.close();

    // A day and an hour after the first two were saved, the app starts on the same data folder.
    clock = new Date('2026-03-02T09:00:00Z');
    const app = await testEngine({ dataDir, now });
    app.start('app');
    await app.close(); // waits for the release
    expect(await keychain.get(browsed)).toBeNull();
    expect(JSON.parse((await keychain.get(claimed))!)).toMatchObject({ accessKeyId: 'AKIDCLAIMED' });
    expect(JSON.parse((await keychain.get(young))!)).toMatchObject({ password: 'young-secret-3' });
    // Only a long-running process's start releases: a one-shot command a day later does not.
    clock = new Date('2026-03-03T09:00:00Z');
    const oneShot = await testEngine({ dataDir, now });
    data(await oneShot.call('tasks.list', undefined));
    await oneShot.close();
    expect(await keychain.get(young)).not.toBeNull();
    // The next start, a day after the younger one was saved: it goes; the task's stays for good.
    const later = await testEngine({ dataDir, now });
    later.start('app');
    await later.close();
    expect(await keychain.get(young)).toBeNull();
    expect(await keychain.get(claimed)).not.toBeNull();
  });
});
