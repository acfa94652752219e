/**
 * Restore through the engine's contract from a task's real backup folders of SQLite
 * databases: inspect, restore a chosen point as a new file with identical content,
 * verify, and every error a user can reach (foreign folder, the common root, existing
 * target, encrypted folder without the key, wrong key, a tampered pack) — each with its
 * code and message, and nothing half-written.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { MemorySecretStore } from '../../fixtures/memory-secret-store.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const CHINOOK = join(import.meta.dirname, '../../../../shared/fixtures/chinook/Chinook_Sqlite.sqlite');

/** Per-table row count and content of a SQLite file, in rowid order. */
function content(path: string): Record<string, string> {
  const db = new Database(path, { readonly: true });
  const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];
  const out: Record<string, string> = {};
  for (const t of tables) out[t] = JSON.stringify(db.prepare(`SELECT * FROM "${t}"`).raw().all());
  db.close();
  return out;
}

async function setup(opts: { type?: 'snapshot' | 'logical'; encrypted?: boolean } = {}) {
  const secrets = new MemorySecretStore();
  const engine = await testEngine({ secrets, encoderWorkers: 0 });
  const folder = tempDir();
  const backups = tempDir();
  copyFileSync(CHINOOK, join(folder, 'chinook.sqlite'));
  const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder }));
  let encryption: { mode: 'none' } | { mode: 'key'; keyRef: string; fingerprint: string } = { mode: 'none' };
  let keyText: string | null = null;
  if (opts.encrypted) {
    const k = data(await engine.call('keys.generate', undefined));
    data(await engine.call('keys.markExported', { keyRef: k.keyRef, method: 'confirmed' }));
    keyText = data(await engine.call('keys.reveal', { keyRef: k.keyRef })).key;
    encryption = { mode: 'key', keyRef: k.keyRef, fingerprint: k.fingerprint };
  }
  const task = data(
    await engine.call('tasks.create', {
      name: 't',
      serverId: server.id,
      type: opts.type ?? 'snapshot',
      schedule: { full: '0 2 * * *', incremental: '0 * * * *', timezone: 'UTC' },
      encryption,
      destinations: [{ kind: 'local', path: backups }],
    }),
  );
  const dbFolder = join(backups, encodeDatabaseFolder('chinook.sqlite'));
  return { engine, secrets, folder, backups, server, task, dbFolder, keyText };
}

describe('restore from a SQLite task backup folder', () => {
  for (const type of ['snapshot', 'logical'] as const) {
    it(`restores the chosen ${type} point as a new file with the same content`, async () => {
      const { engine, folder, server, task, dbFolder } = await setup({ type });
      await runTask(engine, task.id, 'full');
      // Change the source, take an incremental: the restore of the first point must give the old data.
      const src = new Database(join(folder, 'chinook.sqlite'));
      const before = content(join(folder, 'chinook.sqlite'));
      src.exec("UPDATE Artist SET Name = Name || ' (remastered)' WHERE ArtistId <= 10");
      src.close();
      await runTask(engine, task.id, 'incremental');

      const info = data(await engine.call('restore.inspect', { location: { kind: 'local', path: dbFolder } }));
      expect(info).toMatchObject({ database: 'chinook.sqlite', serverKind: 'sqlite', encrypted: false, needsKey: false });
      expect(info.points.map((p) => [p.kind, p.backupType])).toEqual([
        ['full', type],
        ['incremental', type],
      ]);

      const result = await restoreAndWait(engine, {
        location: { kind: 'local', path: dbFolder },
        pointId: info.points[0]!.id,
        serverId: server.id,
        database: 'chinook-restored.sqlite',
      });
      expect(result).toMatchObject({ status: 'success', database: 'chinook-restored.sqlite', error: null });
      expect(result.path).toBe(join(folder, 'chinook-restored.sqlite'));
      expect(content(result.path!)).toEqual(before);

      const latest = await restoreAndWait(engine, { location: { kind: 'local', path: dbFolder }, pointId: 'latest', serverId: server.id, database: 'latest.sqlite' });
      expect(content(latest.path!)).toEqual(content(join(folder, 'chinook.sqlite')));
      expect(data(await engine.call('restore.verify', { location: { kind: 'local', path: dbFolder } }))).toMatchObject({ ok: true, pointsChecked: 2, problems: [] });
    });
  }

  it('refuses an existing target name and leaves that file untouched', async () => {
    const { engine, folder, server, task, dbFolder } = await setup();
    await runTask(engine, task.id, 'full');
    writeFileSync(join(folder, 'taken.sqlite'), 'precious');
    const r = await restoreAndWait(engine, { location: { kind: 'local', path: dbFolder }, pointId: 'latest', serverId: server.id, database: 'taken.sqlite' });
    expect(r).toMatchObject({ status: 'failed', error: { code: 'DATABASE_EXISTS' } });
    expect(readFileSync(join(folder, 'taken.sqlite'), 'utf8')).toBe('precious');
  });

  it('explains a foreign folder and the common root', async () => {
    const { engine, backups, task } = await setup();
    await runTask(engine, task.id, 'full');
    const foreign = tempDir();
    writeFileSync(join(foreign, 'dump.sql'), 'SELECT 1;');
    expect(await engine.call('restore.inspect', { location: { kind: 'local', path: foreign } })).toMatchObject({
      ok: false,
      code: 'NOT_A_BACKUP',
      message: expect.stringContaining('is not a Backstop backup folder'),
    });
    expect(await engine.call('restore.inspect', { location: { kind: 'local', path: backups } })).toMatchObject({
      ok: false,
      code: 'NOT_A_BACKUP',
      message: expect.stringContaining("common root of a task's backups"),
    });
  });

  it('lists a root\'s database folders and ~server streams as choices, each with the location to read it at', async () => {
    const { engine, backups, task, dbFolder } = await setup();
    await runTask(engine, task.id, 'full');
    // A server-level stream folder beside the database folder (a copy of a real repository), and a stray folder that is no backup.
    cpSync(dbFolder, join(backups, '~server', 'base.tar'), { recursive: true });
    mkdirSync(join(backups, 'not-a-backup'));
    const folder = encodeDatabaseFolder('chinook.sqlite');
    const choices = data(await engine.call('restore.folders', { destination: { kind: 'local', path: backups } }));
    expect(choices).toEqual([
      { folder, database: 'chinook.sqlite', serverStream: false, location: { kind: 'local', path: dbFolder } },
      { folder: '~server/base.tar', database: 'base.tar', serverStream: true, location: { kind: 'local', path: join(backups, '~server', 'base.tar') } },
    ]);
    // Each location is what restore.inspect reads.
    expect(data(await engine.call('restore.inspect', { location: choices[0]!.location })).database).toBe('chinook.sqlite');
    // The ~server folder itself lists its streams.
    expect(data(await engine.call('restore.folders', { destination: { kind: 'local', path: join(backups, '~server') } })).map((c) => [c.folder, c.serverStream])).toEqual([['base.tar', true]]);
    // Read directly, ~server says what it is (the CLI shows this; the window offers the choices above).
    expect(await engine.call('restore.inspect', { location: { kind: 'local', path: join(backups, '~server') } })).toEqual({
      ok: false,
      code: 'NOT_A_BACKUP',
      message: `${join(backups, '~server')} is a task's server-level folder; it holds ${join(backups, '~server', 'base.tar')} (the PostgreSQL cluster snapshot). Choose one of them.`,
      retryable: false,
    });
    // A root that does not exist is named, with what to check.
    const missing = join(backups, 'gone');
    expect(await engine.call('restore.folders', { destination: { kind: 'local', path: missing } })).toEqual({
      ok: false,
      code: 'NOT_A_BACKUP',
      message: `${missing} does not exist or cannot be read. If it is a task's destination, has the task run yet (and is its disk mounted)?`,
      retryable: false,
    });
  });

  it('says what each point added, to the byte, beside its time', async () => {
    const { engine, folder, task, dbFolder } = await setup({ type: 'logical' });
    const full = await runTask(engine, task.id, 'full');
    const src = new Database(join(folder, 'chinook.sqlite'));
    src.exec("UPDATE Artist SET Name = Name || ' (live)' WHERE ArtistId <= 3");
    src.close();
    const incr = await runTask(engine, task.id, 'incremental');
    const points = data(await engine.call('restore.inspect', { location: { kind: 'local', path: dbFolder } })).points;
    // The history's bytes stored per database are exactly what each point says it added.
    expect(points.map((p) => p.bytesAdded)).toEqual([full.databases[0]!.bytesStored, incr.databases[0]!.bytesStored]);
    expect(points[0]!.bytesAdded).toBeGreaterThan(0);
    expect(points[1]!.bytesAdded).toBeLessThan(points[0]!.bytesAdded);
    expect(points[0]!.createdAt).toMatch(/T\d{2}:\d{2}:\d{2}/);
  });

  it('asks for the key only when the keychain lacks it, and rejects a wrong key at once', async () => {
    const { engine, secrets, server, task, dbFolder, keyText } = await setup({ encrypted: true });
    const run = await runTask(engine, task.id, 'full');
    // History names the key the run encrypted with.
    expect(run.keyFingerprint).toBe(task.encryption.mode === 'key' ? task.encryption.fingerprint : 'none');
    // With the key in the keychain: no prompt.
    expect(data(await engine.call('restore.inspect', { location: { kind: 'local', path: dbFolder } }))).toMatchObject({ encrypted: true, needsKey: false });
    // Without it: needsKey with the fingerprint; then the user's key works; a wrong one is rejected.
    secrets.values.clear();
    const info = data(await engine.call('restore.inspect', { location: { kind: 'local', path: dbFolder } }));
    expect(info).toMatchObject({ encrypted: true, needsKey: true, points: [], keyFingerprint: task.encryption.mode === 'key' ? task.encryption.fingerprint : '' });
    expect(data(await engine.call('restore.inspect', { location: { kind: 'local', path: dbFolder }, key: keyText! })).points).toHaveLength(1);
    const wrong = randomBytes(32).toString('base64');
    const bad = await engine.call('restore.inspect', { location: { kind: 'local', path: dbFolder }, key: wrong });
    expect(bad).toMatchObject({ ok: false, code: 'KEY_MISMATCH', message: expect.stringContaining(info.keyFingerprint!) });
    expect(await engine.call('restore.start', { location: { kind: 'local', path: dbFolder }, pointId: 'latest', serverId: server.id, database: 'x.sqlite' })).toMatchObject({
      ok: false,
      code: 'KEY_REQUIRED',
    });
    const ok = await restoreAndWait(engine, { location: { kind: 'local', path: dbFolder }, pointId: 'latest', serverId: server.id, database: 'x.sqlite', key: keyText! });
    expect(ok.status).toBe('success');
  });

  it('when the task key changes, the next run starts a new chain beside the old one and history says why', async () => {
    const { engine, task, dbFolder } = await setup({ encrypted: true });
    await runTask(engine, task.id, 'full');
    const newKey = data(await engine.call('keys.generate', undefined));
    data(await engine.call('keys.markExported', { keyRef: newKey.keyRef, method: 'confirmed' }));
    const { id, createdAt: _c, updatedAt: _u, ...input } = task;
    data(await engine.call('tasks.update', { id, task: { ...input, retention: { minAgeDays: 30, keepLast: null }, encryption: { mode: 'key', keyRef: newKey.keyRef, fingerprint: newKey.fingerprint } } }));
    const run = await runTask(engine, task.id, 'incremental');
    expect(run.status).toBe('success');
    expect(run.keyFingerprint).toBe(newKey.fingerprint);
    expect(run.databases[0]).toMatchObject({ kind: 'full', kindReason: expect.stringContaining('the encryption key changed') });
    // The old chain is untouched and still opens with the old key from the keychain; the new one with the new key.
    expect(data(await engine.call('restore.inspect', { location: { kind: 'local', path: dbFolder } })).points).toHaveLength(1);
    const sibling = data(await engine.call('restore.inspect', { location: { kind: 'local', path: `${dbFolder}~key-${newKey.fingerprint}` } }));
    expect(sibling).toMatchObject({ database: 'chinook.sqlite', keyFingerprint: newKey.fingerprint, points: [{ kind: 'full' }] });
    const next = await runTask(engine, task.id, 'incremental');
    expect(next.databases[0]).toMatchObject({ status: 'success', kind: 'incremental' });
  });

  it('detects a tampered pack in verify and in restore, and restores nothing', async () => {
    const { engine, folder, server, task, dbFolder } = await setup();
    await runTask(engine, task.id, 'full');
    const packDir = join(dbFolder, 'packs');
    const packs = readdirSync(packDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    const pack = join(packs[0]!.parentPath, packs[0]!.name);
    const bytes = readFileSync(pack);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(pack, bytes);
    const report = data(await engine.call('restore.verify', { location: { kind: 'local', path: dbFolder } }));
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toMatchObject({ code: 'INTEGRITY', packId: expect.any(String) });
    const r = await restoreAndWait(engine, { location: { kind: 'local', path: dbFolder }, pointId: 'latest', serverId: server.id, database: 'tampered.sqlite' });
    expect(r).toMatchObject({ status: 'failed', error: { code: 'INTEGRITY' } });
    expect(existsSync(join(folder, 'tampered.sqlite'))).toBe(false);
  });

  it('sets up the sample databases and a ready task that backs them up', async () => {
    const engine = await testEngine({ secrets: new MemorySecretStore(), encoderWorkers: 0 });
    const demo = data(await engine.call('demo.setup', undefined));
    expect(readdirSync(demo.folder).sort()).toEqual(['blog.sqlite', 'inventory.db', 'shop.db']);
    expect(data(await engine.call('demo.setup', undefined))).toEqual(demo); // idempotent
    const run = await runTask(engine, demo.taskId, 'full');
    expect(run.status).toBe('success');
    expect(run.databases.map((d) => d.database).sort()).toEqual(['blog.sqlite', 'inventory.db', 'shop.db']);
  });
});
