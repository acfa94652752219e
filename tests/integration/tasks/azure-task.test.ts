/**
 * A task writing to a local folder and an Azure container at once (Azurite, the account
 * key in the real OS keychain): Test connection passes, both destinations get every
 * database, the restore browser lists the Azure folders, a database restores from Azure,
 * packs go to the chosen tier, verify names a flipped byte and a deleted pack, retention
 * deletes old points there, an unreachable Azure endpoint never costs the local backup,
 * and the key lives only in the keychain.
 */
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { KeychainSecretStore } from '../../../electron/engine/secrets/index.ts';
import type { Destination, Task, TaskInput } from '../../../electron/shared/domain.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, type AzuriteHandle } from '../../fixtures/azurite.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const CHINOOK = join(import.meta.dirname, '../../../../shared/fixtures/chinook/Chinook_Sqlite.sqlite');
let az: AzuriteHandle;

beforeAll(async () => {
  az = await startAzurite(['backstop']);
}, 60_000);
afterAll(async () => {
  await az?.stop();
});

async function setup() {
  const dataDir = tempDir();
  const engine = await testEngine({ encoderWorkers: 0, dataDir });
  const folder = tempDir();
  const local = tempDir();
  copyFileSync(CHINOOK, join(folder, 'chinook.sqlite'));
  const db = new Database(join(folder, 'notes.db'));
  db.exec("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO note (body) VALUES ('remember the milk')");
  db.close();
  const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder }));
  const { credentialsRef } = data(await engine.call('destinations.saveCredentials', { secret: { kind: 'azure', accountKey: AZURITE_KEY } }));
  const azdest: Destination = { kind: 'azure', accountName: AZURITE_ACCOUNT, container: 'backstop', prefix: `team/${Date.now()}`, endpoint: az.endpoint, accessTier: 'Cool', credentialsRef };
  const task = data(
    await engine.call('tasks.create', {
      name: 'both',
      serverId: server.id,
      type: 'snapshot',
      schedule: { full: '0 2 * * *', timezone: 'UTC' },
      destinations: [{ kind: 'local', path: local }, azdest],
    }),
  );
  return { engine, folder, local, server, task, azdest, credentialsRef, dataDir };
}

describe('task with a local and an Azure destination', () => {
  it('writes every database to both, lists the Azure folders and restores from Azure', async () => {
    const { engine, folder, server, task, azdest } = await setup();
    expect(data(await engine.call('destinations.test', { destination: azdest }))).toMatchObject({ ok: true });
    const run = await runTask(engine, task.id, 'full');
    expect(run.status).toBe('success');
    expect(run.databases.map((d) => [d.database, d.destination.split(':')[0], d.status]).sort()).toEqual([
      ['chinook.sqlite', 'azure', 'success'],
      ['chinook.sqlite', 'local', 'success'],
      ['notes.db', 'azure', 'success'],
      ['notes.db', 'local', 'success'],
    ]);
    const choices = data(await engine.call('restore.folders', { destination: azdest })).filter((f) => !f.serverStream);
    expect(choices.map((c) => [c.folder, c.database])).toEqual([
      [encodeDatabaseFolder('chinook.sqlite'), 'chinook.sqlite'],
      [encodeDatabaseFolder('notes.db'), 'notes.db'],
    ]);
    const prefix = azdest.kind === 'azure' ? azdest.prefix : '';
    const location = choices[1]!.location;
    expect(location).toEqual({ kind: 'azure', accountName: AZURITE_ACCOUNT, container: 'backstop', prefix: `${prefix}/${encodeDatabaseFolder('notes.db')}`, endpoint: az.endpoint, credentialsRef: azdest.credentialsRef });
    const info = data(await engine.call('restore.inspect', { location }));
    expect(info).toMatchObject({ database: 'notes.db', serverKind: 'sqlite', points: [{ kind: 'full', backupType: 'snapshot' }] });
    const restored = await restoreAndWait(engine, { location, pointId: 'latest', serverId: server.id, database: 'notes-from-azure.db' });
    expect(restored).toMatchObject({ status: 'success', path: join(folder, 'notes-from-azure.db') });
    const db = new Database(restored.path!, { readonly: true });
    expect(db.prepare('SELECT body FROM note').pluck().all()).toEqual(['remember the milk']);
    db.close();
    // Packs are in the Cool tier; the repository's small objects stay in the account default.
    const container = az.service().getContainerClient('backstop');
    const tiers = new Map<string, string | undefined>();
    for await (const b of container.listBlobsFlat({ prefix: `${prefix}/` })) tiers.set(b.name, b.properties.accessTier);
    const packs = [...tiers].filter(([n]) => n.includes('/packs/'));
    expect(packs.length).toBeGreaterThan(0);
    for (const [, t] of packs) expect(t).toBe('Cool');
    expect([...tiers].filter(([n]) => !n.includes('/packs/')).every(([, t]) => t !== 'Cool')).toBe(true);
  });

  it('keeps the local backup when Azure is unreachable, and says which destination failed', async () => {
    const { engine, local, task, azdest } = await setup();
    const down = { ...azdest, endpoint: `http://127.0.0.1:9/${AZURITE_ACCOUNT}` } as Destination;
    data(await engine.call('tasks.update', { id: task.id, task: taskInput({ ...task, destinations: [task.destinations[0]!, down] }) }));
    const run = await runTask(engine, task.id, 'full');
    expect(run.status).toBe('partial');
    for (const d of run.databases) {
      if (d.destination.startsWith('local:')) expect(d.status).toBe('success');
      else expect(d).toMatchObject({ status: 'failed', errorCode: 'STORAGE' });
    }
    expect(run.databases.find((d) => d.destination.startsWith('azure:'))!.errorMessage).toMatch(/127\.0\.0\.1:9/);
    expect(existsSync(join(local, encodeDatabaseFolder('notes.db'), 'backstop.repo'))).toBe(true);
    const probe = data(await engine.call('destinations.test', { destination: down }));
    expect(probe.ok).toBe(false);
    expect(probe.hint).toMatch(/^Could not reach http:\/\/127\.0\.0\.1:9\. Check the endpoint URL and port/);
  });

  it('verify names a flipped byte and a deleted pack in Azure; retention deletes old points there', async () => {
    const { engine, task, azdest } = await setup();
    data(await engine.call('tasks.update', { id: task.id, task: taskInput({ ...task, retention: { minAgeDays: 0, minAgeHours: 0, keepLast: 1 } }) }));
    expect((await runTask(engine, task.id, 'full')).status).toBe('success');
    expect((await runTask(engine, task.id, 'full')).status).toBe('success');
    const folder = data(await engine.call('restore.folders', { destination: azdest })).find((f) => f.database === 'chinook.sqlite')!;
    expect(data(await engine.call('restore.inspect', { location: folder.location })).points).toHaveLength(1);
    expect(data(await engine.call('restore.verify', { location: folder.location }))).toMatchObject({ ok: true, problems: [] });

    const container = az.service().getContainerClient('backstop');
    const prefix = folder.location.kind === 'azure' ? folder.location.prefix : '';
    const packs: string[] = [];
    for await (const b of container.listBlobsFlat({ prefix: `${prefix}/packs/` })) packs.push(b.name);
    expect(packs.length).toBeGreaterThan(0);
    const ids = packs.map((n) => n.split('/').at(-1)!.replace(/\.pack$/, ''));
    for (const name of packs) {
      const blob = container.getBlockBlobClient(name);
      const bytes = await blob.downloadToBuffer();
      bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
      await blob.upload(bytes, bytes.length);
    }
    const flipped = data(await engine.call('restore.verify', { location: folder.location }));
    expect(flipped.ok).toBe(false);
    expect(flipped.problems[0]).toMatchObject({ code: 'INTEGRITY' });
    expect(ids.some((id) => flipped.problems[0]!.message.includes(id))).toBe(true);

    for (const name of packs) await container.getBlobClient(name).delete();
    const deleted = data(await engine.call('restore.verify', { location: folder.location }));
    expect(deleted.ok).toBe(false);
    expect(ids.some((id) => deleted.problems[0]!.message.includes(id))).toBe(true);
  });

  it('keeps the account key only in the keychain (not in tasks, history or events)', async () => {
    const { engine, task, credentialsRef } = await setup();
    await runTask(engine, task.id, 'full');
    expect(JSON.parse((await new KeychainSecretStore().get(credentialsRef))!)).toEqual({ accountKey: AZURITE_KEY });
    const tables = engine.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[];
    for (const t of tables) {
      const rows = engine.db.prepare(`SELECT * FROM "${t}"`).all() as Record<string, unknown>[];
      expect(JSON.stringify(rows)).not.toContain(AZURITE_KEY.slice(0, 40));
    }
    expect(JSON.stringify(engine.db.prepare('SELECT config FROM tasks').pluck().all())).toContain(credentialsRef);
  });
});

function taskInput(t: Task): TaskInput {
  const { name, serverId, type, schedule, retention, encryption, destinations, excludeDatabases, enabled } = t;
  return { name, serverId, type, schedule, retention, encryption, destinations, excludeDatabases, enabled };
}
