/**
 * A database that Backstop itself restored into a server is recognised by the server-wide
 * task's next run (issue 17 §13): the restore service records it, the run announces it
 * apart from plain new databases, the task status names it with the restore's time, and
 * excluding it through the existing task update stops it being backed up. Also the counting
 * and progress contract of issue 17 §5 on a real SQLite snapshot run: progress items carry
 * their expected size (exact for an SQLite snapshot), history rows say which are databases.
 * Real SQLite files, real worker threads.
 */
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import type { Alert, DatabaseProgress } from '../../../electron/shared/domain.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { MemorySecretStore } from '../../fixtures/memory-secret-store.ts';
import { restoreAndWait, restoreLocalPoint } from '../../fixtures/restores.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const CHINOOK = join(import.meta.dirname, '../../../../shared/fixtures/chinook/Chinook_Sqlite.sqlite');

async function setup() {
  const engine = await testEngine({ secrets: new MemorySecretStore(), encoderWorkers: 0 });
  const folder = tempDir();
  const backups = tempDir();
  copyFileSync(CHINOOK, join(folder, 'shop.sqlite'));
  copyFileSync(CHINOOK, join(folder, 'crm.sqlite'));
  const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder }));
  const task = data(
    await engine.call('tasks.create', {
      name: 'all files',
      serverId: server.id,
      type: 'snapshot',
      schedule: { full: '0 2 * * *', incremental: '0 * * * *', timezone: 'UTC' },
      destinations: [{ kind: 'local', path: backups }],
    }),
  );
  const alerts: Alert[] = [];
  engine.events.on('alert', (a) => alerts.push(a));
  return { engine, folder, backups, server, task, alerts };
}

describe('restored copies and the server-wide task', () => {
  it('names a database Backstop restored as a restored copy at the next run, and excluding it stops its backups', async () => {
    const { engine, folder, backups, server, task, alerts } = await setup();
    await runTask(engine, task.id, 'full');

    const restored = await restoreAndWait(engine, {
      location: { kind: 'local', path: join(backups, encodeDatabaseFolder('shop.sqlite')) },
      pointId: 'latest',
      serverId: server.id,
      database: 'shop2.sqlite',
    });
    expect(restored).toMatchObject({ status: 'success', database: 'shop2.sqlite' });
    expect(existsSync(join(folder, 'shop2.sqlite'))).toBe(true);
    // A plain new database appears as well: it must stay plain news.
    copyFileSync(CHINOOK, join(folder, 'plain-new.sqlite'));

    const second = await runTask(engine, task.id, 'incremental');
    expect(second.status).toBe('success');
    expect(second.databases.map((d) => d.database).sort()).toEqual(['crm.sqlite', 'plain-new.sqlite', 'shop.sqlite', 'shop2.sqlite']);

    const restoredAlert = alerts.find((a) => a.restored?.length);
    expect(restoredAlert).toMatchObject({ kind: 'new-databases', taskId: task.id, databases: ['shop2.sqlite'], restored: [{ database: 'shop2.sqlite', restoredAt: expect.any(String) }] });
    expect(restoredAlert!.message).toMatch(/new database shop2\.sqlite was created by a Backstop restore on \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    expect(alerts.filter((a) => a.kind === 'new-databases' && !a.restored)).toEqual([
      { kind: 'new-databases', taskId: task.id, message: expect.stringContaining('plain-new.sqlite'), databases: ['plain-new.sqlite'] },
    ]);

    const status = data(await engine.call('tasks.status', undefined)).find((s) => s.taskId === task.id)!;
    expect(status.newDatabases).toEqual([
      { database: 'plain-new.sqlite', restoredAt: null },
      { database: 'shop2.sqlite', restoredAt: restoredAlert!.restored![0]!.restoredAt },
    ]);

    // "Exclude from this task": the existing update command with the database added.
    const { id: _id, createdAt: _c, updatedAt: _u, ...input } = task;
    const saved = data(await engine.call('tasks.update', { id: task.id, task: { ...input, excludeDatabases: ['shop2.sqlite'] } }));
    expect(saved.excludeDatabases).toEqual(['shop2.sqlite']);
    const after = data(await engine.call('tasks.status', undefined)).find((s) => s.taskId === task.id)!;
    expect(after.newDatabases).toEqual([{ database: 'plain-new.sqlite', restoredAt: null }]);
    const third = await runTask(engine, task.id, 'incremental');
    expect(third.databases.map((d) => d.database).sort()).toEqual(['crm.sqlite', 'plain-new.sqlite', 'shop.sqlite']);
    // Its backups so far are kept.
    expect(existsSync(join(backups, encodeDatabaseFolder('shop2.sqlite')))).toBe(true);
    await engine.close();
  });

  it('does not record a restore into another folder: that copy is not on the server', async () => {
    const { engine, backups, server, task, alerts, folder } = await setup();
    await runTask(engine, task.id, 'full');
    const elsewhere = tempDir();
    const r = await restoreLocalPoint(engine, { backups, source: 'shop.sqlite', serverId: server.id, as: 'shop2.sqlite', folder: elsewhere });
    expect(r.status).toBe('success');
    // The same name appearing later on the server is a plain new database.
    copyFileSync(CHINOOK, join(folder, 'shop2.sqlite'));
    await runTask(engine, task.id, 'incremental');
    expect(alerts.some((a) => a.restored?.length)).toBe(false);
    expect(alerts).toContainEqual(expect.objectContaining({ kind: 'new-databases', databases: ['shop2.sqlite'] }));
    await engine.close();
  });

  it('reports each SQLite snapshot with its exact size while it runs, and marks no row as a server stream', async () => {
    const { engine, task } = await setup();
    const progress: DatabaseProgress[] = [];
    engine.events.on('run.progress', ({ progress: p }) => progress.push(p));
    const run = await runTask(engine, task.id, 'full');
    const dumping = progress.filter((p) => p.database === 'shop.sqlite' && p.phase === 'dumping');
    expect(dumping.length).toBeGreaterThan(0);
    const size = run.databases.find((d) => d.database === 'shop.sqlite')!.bytesRead;
    expect(dumping.every((p) => p.expectedBytes === size)).toBe(true);
    expect(progress.every((p) => p.serverStream === false)).toBe(true);
    expect(run.databases.every((d) => d.serverStream === false)).toBe(true);
    const status = data(await engine.call('tasks.status', undefined)).find((s) => s.taskId === task.id)!;
    expect(status.lastRun).toMatchObject({ databasesOk: 2, databasesFailed: 0, serverStreams: [] });
    await engine.close();
  });
});
