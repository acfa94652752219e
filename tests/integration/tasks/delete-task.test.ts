/**
 * Deleting a task through the contract, against a real engine and a real folder of SQLite
 * databases: a running task is refused (CONFLICT, nothing changed); once idle, deleting it
 * disarms its schedule, keeps its backups on disk byte for byte (still restorable) and its
 * history, and frees its server for deletion.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSampleDatabases } from '../../../electron/engine/demo/sample-databases.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { fileTree } from '../../fixtures/file-tree.ts';
import { MemorySecretStore } from '../../fixtures/memory-secret-store.ts';
import { data, waitForRun } from '../../fixtures/runs.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

describe('deleting a task', () => {
  it('is refused while it runs; afterwards its schedule stops, its backups and history stay, and its server can go', async () => {
    const folder = tempDir('backstop-delete-server-');
    const backups = tempDir('backstop-delete-backups-');
    createSampleDatabases(folder);
    const engine = await testEngine({ secrets: new MemorySecretStore(), encoderWorkers: 0 });
    const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder }));
    const task = data(
      await engine.call('tasks.create', {
        name: 'every minute',
        serverId: server.id,
        type: 'logical',
        schedule: { full: '* * * * *', incremental: null, timezone: 'UTC' },
        destinations: [{ kind: 'local', path: backups }],
      }),
    );
    engine.start();
    expect(engine.scheduler.armedTaskIds()).toEqual([task.id]);

    // While it runs: CONFLICT, and the task is still there.
    const { runId } = data(await engine.call('tasks.runNow', { id: task.id }));
    const refused = await engine.call('tasks.delete', { id: task.id });
    expect(refused).toMatchObject({
      ok: false,
      code: 'CONFLICT',
      message: 'Task "every minute" is running; cancel the run (or wait for it to finish), then delete the task.',
    });
    expect(data(await engine.call('tasks.list', undefined)).map((t) => t.id)).toEqual([task.id]);
    const run = await waitForRun(engine, runId);
    expect(run.status).toBe('success');

    // The server is in use while the task exists.
    expect(await engine.call('servers.delete', { id: server.id })).toMatchObject({ ok: false, code: 'CONFLICT' });

    const before = fileTree(backups);
    expect(Object.keys(before).length).toBeGreaterThan(0);
    expect(data(await engine.call('tasks.delete', { id: task.id }))).toEqual({ id: task.id });

    expect(engine.scheduler.armedTaskIds()).toEqual([]);
    expect(engine.scheduler.nextRuns().has(task.id)).toBe(false);
    expect(data(await engine.call('tasks.list', undefined))).toEqual([]);
    expect(fileTree(backups)).toEqual(before);
    // History is kept, under the task's name.
    expect(data(await engine.call('history.list', { limit: 10 })).map((r) => [r.id, r.taskName])).toEqual([[runId, 'every minute']]);
    // The backups still restore: the folder reads as a backup with its point.
    const dbFolder = readdirSync(backups).find((f) => f.startsWith('shop'))!;
    const inspected = data(await engine.call('restore.inspect', { location: { kind: 'local', path: join(backups, dbFolder) } }));
    expect(inspected.points).toHaveLength(1);

    expect(data(await engine.call('servers.delete', { id: server.id }))).toEqual({ id: server.id });
    // Deleting it again: NOT_FOUND.
    expect(await engine.call('tasks.delete', { id: task.id })).toMatchObject({ ok: false, code: 'NOT_FOUND', message: `No task with id ${task.id}.` });
  });
});
