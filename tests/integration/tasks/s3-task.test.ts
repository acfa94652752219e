/**
 * A task writing to a local folder and an S3-compatible bucket at once (real S3 protocol
 * server, credentials in the real OS keychain): both get their points and separate
 * results; S3 failing never costs the local backup; Test connection and the S3 restore
 * browser work; a database restores from S3.
 */
import { copyFileSync, existsSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Location } from '../../../electron/engine/destinations/index.ts';
import { encodeDatabaseFolder, legacyDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { KeychainSecretStore } from '../../../electron/engine/secrets/index.ts';
import type { Destination, Task, TaskInput } from '../../../electron/shared/domain.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { S3RVER_CREDENTIALS, S3RVER_NO_DELETE_CREDENTIALS, S3RVER_NO_LIST_CREDENTIALS, startS3rver, type S3rverHandle } from '../../fixtures/s3rver.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const CHINOOK = join(import.meta.dirname, '../../../../shared/fixtures/chinook/Chinook_Sqlite.sqlite');
let s3: S3rverHandle;

beforeAll(async () => {
  s3 = await startS3rver(['backstop']);
});
afterAll(async () => {
  await s3?.stop();
});

/** Every key in the S3 folders of the two databases (what a refused run must leave as it was). */
function s3Keys(s3dest: Destination): Promise<string[][]> {
  return Promise.all(['chinook.sqlite', 'notes.db'].map((n) => Location.of(s3dest, { ...S3RVER_CREDENTIALS }, n).use(async (l) => (await l.backend().list('')).map((o) => o.key).sort())));
}

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
  const { credentialsRef } = data(await engine.call('destinations.saveCredentials', { secret: { kind: 's3', ...S3RVER_CREDENTIALS } }));
  const s3dest: Destination = {
    kind: 's3',
    bucket: 'backstop',
    prefix: `team/${Date.now()}`,
    region: 'us-east-1',
    endpoint: s3.endpoint,
    forcePathStyle: true,
    storageClass: null,
    checksumMode: 'WHEN_REQUIRED',
    credentialsRef,
  };
  const task = data(
    await engine.call('tasks.create', {
      name: 'both',
      serverId: server.id,
      type: 'snapshot',
      schedule: { full: '0 2 * * *', timezone: 'UTC' },
      destinations: [{ kind: 'local', path: local }, s3dest],
    }),
  );
  return { engine, folder, local, server, task, s3dest, credentialsRef, dataDir };
}

describe('task with a local and an S3 destination', () => {
  it('names folders readably, and keeps using a folder written with the earlier encoding at both destinations', async () => {
    const { engine, folder, local, task, s3dest } = await setup();
    copyFileSync(CHINOOK, join(folder, 'Chinook.sqlite'));
    const readable = encodeDatabaseFolder('Chinook.sqlite');
    const legacy = legacyDatabaseFolder('Chinook.sqlite');
    expect(readable).toMatch(/^Chinook\.sqlite~[g-v]{8}$/);
    expect(legacy).toBe('~43hinook.sqlite');
    const first = await runTask(engine, task.id, 'full');
    expect(first.status).toBe('success');
    expect(readdirSync(local).sort()).toEqual([readable, encodeDatabaseFolder('chinook.sqlite'), encodeDatabaseFolder('notes.db')].sort());
    // Make both destinations look as an earlier Backstop left them: Chinook.sqlite's repository in "~43hinook.sqlite".
    renameSync(join(local, readable), join(local, legacy));
    const from = Location.of(s3dest, { ...S3RVER_CREDENTIALS }, readable);
    const to = Location.of(s3dest, { ...S3RVER_CREDENTIALS }, legacy);
    const objects = await from.backend().list('');
    expect(objects.length).toBeGreaterThan(2);
    for (const o of objects) {
      await to.backend().put(o.key, await from.backend().get(o.key));
      await from.backend().delete(o.key);
    }
    await from.close();
    await to.close();

    // The next incremental continues the old chain in the old folder; no second folder appears.
    // (A change, so it makes a point: an unchanged database's incremental makes none.)
    const chinook_ = new Database(join(folder, 'Chinook.sqlite'));
    chinook_.exec("UPDATE Artist SET Name = Name || ' (live)' WHERE ArtistId = 1");
    chinook_.close();
    const next = await runTask(engine, task.id, 'incremental');
    expect(next.status).toBe('success');
    const chinook = next.databases.filter((d) => d.database === 'Chinook.sqlite');
    expect(chinook.map((d) => [d.destination.split(':')[0], d.status, d.kind, d.kindReason])).toEqual([
      ['local', 'success', 'incremental', null],
      ['s3', 'success', 'incremental', null],
    ]);
    expect(existsSync(join(local, readable))).toBe(false);
    const info = data(await engine.call('restore.inspect', { location: { kind: 'local', path: join(local, legacy) } }));
    expect(info.points.map((p) => p.kind)).toEqual(['full', 'incremental']);
    const listed = data(await engine.call('restore.folders', { destination: s3dest })).filter((f) => !f.serverStream);
    expect(listed.map((f) => [f.folder, f.database])).toEqual([
      [encodeDatabaseFolder('chinook.sqlite'), 'chinook.sqlite'],
      [encodeDatabaseFolder('notes.db'), 'notes.db'],
      [legacy, 'Chinook.sqlite'],
    ]);
    const inS3 = data(await engine.call('restore.folders', { destination: s3dest })).find((c) => c.folder === legacy)!;
    expect(data(await engine.call('restore.inspect', { location: inS3.location })).points.map((p) => p.kind)).toEqual(['full', 'incremental']);
  });

  it('writes every database to both, records each destination, and restores from S3', async () => {
    const { engine, folder, server, task, s3dest } = await setup();
    expect(data(await engine.call('destinations.test', { destination: s3dest }))).toMatchObject({ ok: true });
    const run = await runTask(engine, task.id, 'full');
    expect(run.status).toBe('success');
    expect(run.databases.map((d) => [d.database, d.destination.split(':')[0], d.status]).sort()).toEqual([
      ['chinook.sqlite', 'local', 'success'],
      ['chinook.sqlite', 's3', 'success'],
      ['notes.db', 'local', 'success'],
      ['notes.db', 's3', 'success'],
    ]);
    const folders = data(await engine.call('restore.folders', { destination: s3dest })).filter((f) => !f.serverStream);
    expect(folders.map((f) => [f.folder, f.database])).toEqual([
      [encodeDatabaseFolder('chinook.sqlite'), 'chinook.sqlite'],
      [encodeDatabaseFolder('notes.db'), 'notes.db'],
    ]);
    const location = {
      kind: 's3' as const,
      bucket: s3dest.kind === 's3' ? s3dest.bucket : '',
      prefix: `${s3dest.kind === 's3' ? s3dest.prefix : ''}/${encodeDatabaseFolder('notes.db')}`,
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      checksumMode: 'WHEN_REQUIRED' as const,
      credentialsRef: s3dest.kind === 's3' ? s3dest.credentialsRef : null,
    };
    // The window's task → database browser lists the same folders, each with the location to read it at.
    const choices = data(await engine.call('restore.folders', { destination: s3dest }));
    expect(choices.map((c) => [c.folder, c.database, c.serverStream])).toEqual([
      [encodeDatabaseFolder('chinook.sqlite'), 'chinook.sqlite', false],
      [encodeDatabaseFolder('notes.db'), 'notes.db', false],
    ]);
    expect(choices[1]!.location).toEqual(location);
    const info = data(await engine.call('restore.inspect', { location }));
    expect(info).toMatchObject({ database: 'notes.db', serverKind: 'sqlite', points: [{ kind: 'full', backupType: 'snapshot' }] });
    const restored = await restoreAndWait(engine, { location, pointId: 'latest', serverId: server.id, database: 'notes-from-s3.db' });
    expect(restored).toMatchObject({ status: 'success', path: join(folder, 'notes-from-s3.db') });
    const db = new Database(restored.path!, { readonly: true });
    expect(db.prepare('SELECT body FROM note').pluck().all()).toEqual(['remember the milk']);
    db.close();
  });

  it('keeps the chunks it stored to S3 in the local chunk cache (one folder per S3 repository, none for the local ones), and an incremental after a change succeeds', async () => {
    const { engine, folder, task, dataDir } = await setup();
    expect((await runTask(engine, task.id, 'full')).status).toBe('success');
    const cache = join(dataDir, 'chunk-cache');
    const repos = readdirSync(cache);
    expect(repos).toHaveLength(2); // chinook.sqlite and notes.db on S3; the local destination is not cached
    for (const r of repos) expect(readdirSync(join(cache, r)).length).toBeGreaterThan(0);
    const db = new Database(join(folder, 'notes.db'));
    db.exec("UPDATE note SET body = 'remember the eggs'");
    db.close();
    const inc = await runTask(engine, task.id, 'incremental');
    expect(inc.status).toBe('success');
    expect(inc.databases.every((d) => d.status === 'success' && d.kind === 'incremental')).toBe(true);
  });

  it('keeps the local backup when S3 is unreachable, and says which destination failed', async () => {
    const { engine, folder, local, task, s3dest } = await setup();
    // A mixed-case name makes the run look for an earlier-encoded folder first: unreachable S3 fails that lookup alone.
    copyFileSync(CHINOOK, join(folder, 'Chinook.sqlite'));
    const down = { ...s3dest, endpoint: 'http://127.0.0.1:9' } as Destination; // nothing listens on the discard port
    data(await engine.call('tasks.update', { id: task.id, task: taskInput({ ...task, destinations: [task.destinations[0]!, down] }) }));
    const run = await runTask(engine, task.id, 'full');
    expect(run.status).toBe('partial');
    expect(run.databases).toHaveLength(6);
    for (const d of run.databases) {
      if (d.destination.startsWith('local:')) expect(d.status).toBe('success');
      else expect(d).toMatchObject({ status: 'failed', errorCode: 'STORAGE' });
    }
    const lookup = run.databases.find((d) => d.database === 'Chinook.sqlite' && d.destination.startsWith('s3:'))!;
    expect(lookup.errorMessage).toMatch(/^Nothing was written: .*127\.0\.0\.1:9/);
    expect(lookup.pointId).toBeNull();
    expect(existsSync(join(local, encodeDatabaseFolder('Chinook.sqlite'), 'backstop.repo'))).toBe(true);
    expect(data(await engine.call('destinations.test', { destination: down }))).toMatchObject({ ok: false });
  });

  it('a secret rotated at the provider: the S3 half fails naming the destination and how to enter the new secret (never the secret), nothing half-written; with the new secret stored, the next run continues the chain', async () => {
    const { engine, task, credentialsRef, s3dest } = await setup();
    const first = await runTask(engine, task.id, 'full');
    expect(first.status).toBe('success');
    const keys = () => s3Keys(s3dest);
    const committed = await keys();
    expect(committed.every((k) => k.some((x) => x.startsWith('points/')))).toBe(true);
    const stale = 'STALE-secret-from-last-year-9f3';
    data(await engine.call('destinations.saveCredentials', { secret: { kind: 's3', accessKeyId: S3RVER_CREDENTIALS.accessKeyId, secretAccessKey: stale }, credentialsRef }));
    const run = await runTask(engine, task.id, 'incremental');
    expect(run.status).toBe('partial');
    const onS3 = run.databases.filter((d) => d.destination.startsWith('s3:'));
    expect(onS3).toHaveLength(2);
    for (const d of onS3) {
      // The first request of a run is a HEAD, whose 403 has no body to say why: not "may these credentials stat objects".
      expect(d).toMatchObject({ status: 'failed', errorCode: 'PERMISSION_DENIED', pointId: null });
      expect(d.errorMessage).toContain(`S3 bucket backstop/${(s3dest as Extract<Destination, { kind: 's3' }>).prefix}/`);
      expect(d.errorMessage).toMatch(/SignatureDoesNotMatch.*secret access key is probably wrong; re-enter it/);
    }
    expect(JSON.stringify(run)).not.toContain(stale);
    // The refused run left nothing in the S3 folders (no marker, pack or point).
    expect(await keys()).toEqual(committed);
    data(await engine.call('destinations.saveCredentials', { secret: { kind: 's3', ...S3RVER_CREDENTIALS }, credentialsRef }));
    const next = await runTask(engine, task.id, 'incremental');
    expect(next.status).toBe('success');
    expect(next.databases.every((d) => d.status === 'success')).toBe(true);
  });

  it('a key that may write but not list the bucket: the S3 half fails naming the destination and the missing permission, and adds nothing', async () => {
    const { engine, task, credentialsRef, s3dest } = await setup();
    expect((await runTask(engine, task.id, 'full')).status).toBe('success');
    const keys = () => s3Keys(s3dest);
    const committed = await keys();
    data(await engine.call('destinations.saveCredentials', { secret: { kind: 's3', ...S3RVER_NO_LIST_CREDENTIALS }, credentialsRef }));
    const run = await runTask(engine, task.id, 'incremental');
    expect(run.status).toBe('partial');
    const onS3 = run.databases.filter((d) => d.destination.startsWith('s3:'));
    expect(onS3).toHaveLength(2);
    for (const d of onS3) {
      expect(d).toMatchObject({ status: 'failed', errorCode: 'PERMISSION_DENIED', pointId: null });
      expect(d.errorMessage).toMatch(/^list of "points\/" in S3 bucket backstop\/team\/\d+\/[a-z.]+\/ at http:\/\/127\.0\.0\.1:\d+ failed: access denied \(AccessDenied\)\. Check that these credentials may list objects in bucket "backstop"\.$/);
    }
    expect(await keys()).toEqual(committed);
  });

  it('a key that may not delete: retention cannot prune, the backups still succeed, and History records the refused retention naming the permission', async () => {
    const { engine, task, credentialsRef } = await setup();
    data(await engine.call('destinations.saveCredentials', { secret: { kind: 's3', ...S3RVER_NO_DELETE_CREDENTIALS }, credentialsRef }));
    data(await engine.call('tasks.update', { id: task.id, task: taskInput({ ...task, retention: { minAgeDays: 0, minAgeHours: 0, keepLast: 1 } }) }));
    expect((await runTask(engine, task.id, 'full')).status).toBe('success');
    const second = await runTask(engine, task.id, 'full');
    expect(second.status).toBe('success');
    const retention = data(await engine.call('history.list', { limit: 20 })).find((r) => r.runKind === 'retention')!;
    expect(retention.status).toBe('partial');
    const refused = retention.databases.filter((d) => d.destination.startsWith('s3:'));
    expect(refused).toHaveLength(2);
    for (const d of refused) {
      expect(d).toMatchObject({ status: 'failed', errorCode: 'PERMISSION_DENIED' });
      expect(d.errorMessage).toMatch(/^delete of "points\/.+\.point" in S3 bucket backstop\/.+ failed: access denied \(AccessDenied\)\. Check that these credentials may delete objects in bucket "backstop"\.$/);
    }
    // The local half pruned as asked.
    expect(retention.databases.filter((d) => d.destination.startsWith('local:')).every((d) => d.status === 'success' && (d.deletedPoints ?? []).length === 1)).toBe(true);
  });

  it('keeps the S3 secret only in the keychain', async () => {
    const { engine, credentialsRef } = await setup();
    expect(JSON.parse((await new KeychainSecretStore().get(credentialsRef))!)).toEqual(S3RVER_CREDENTIALS);
    const rows = engine.db.prepare("SELECT config FROM tasks").pluck().all() as string[];
    for (const r of rows) expect(r).not.toContain(S3RVER_CREDENTIALS.secretAccessKey + '"');
    expect(rows.join('')).toContain(credentialsRef);
  });
});

/** The editable fields of a stored task (what tasks.update takes). */
function taskInput(t: Task): TaskInput {
  const { name, serverId, type, schedule, retention, encryption, destinations, excludeDatabases, enabled } = t;
  return { name, serverId, type, schedule, retention, encryption, destinations, excludeDatabases, enabled };
}
