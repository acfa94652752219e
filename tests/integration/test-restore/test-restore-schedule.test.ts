/**
 * A task's test-restore cron (`testRestore.schedule`, issue #22) through the engine: saved
 * with the task (a bad cron is VALIDATION naming the field), and a slot missed while the
 * app was not running runs one test restore when the engine starts — recorded in history
 * as a test-restore run with its checks, scratch folder removed.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import type { Run } from '../../../electron/shared/domain.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

describe('scheduled test restores', () => {
  it('a missed test-restore slot runs once when the engine starts; a bad cron is refused', { timeout: 180_000 }, async () => {
    const dir = tempDir();
    const folder = join(dir, 'server');
    mkdirSync(folder);
    const db = new Database(join(folder, 'a.db'));
    db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1), (2);');
    db.close();
    let clock = new Date('2026-03-02T10:00:00Z');
    const dataDir = join(dir, 'data');
    const engine = await testEngine({ dataDir, now: () => clock, encoderWorkers: 0 });
    const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder }));
    const input = { name: 'files', serverId: server.id, type: 'snapshot', schedule: { full: '0 2 * * *', timezone: 'UTC' }, destinations: [{ kind: 'local', path: join(dir, 'backups') }] };
    const bad = await engine.call('tasks.create', { ...input, testRestore: { schedule: '61 4 * * 0' } });
    expect(bad).toMatchObject({ ok: false, code: 'VALIDATION', message: expect.stringContaining('testRestore.schedule') });
    const task = data(await engine.call('tasks.create', { ...input, testRestore: { schedule: '0 4 * * 0' } }));
    expect(task.testRestore).toEqual({ schedule: '0 4 * * 0', afterFull: false, maxMinutes: null });
    expect((await runTask(engine, task.id, 'full')).status).toBe('success');

    // Sunday 04:00 passed while the app was closed: one test restore on start.
    clock = new Date('2026-03-09T12:00:00Z');
    engine.start();
    let run: Run | undefined;
    for (let i = 0; i < 600 && !run; i++) {
      await new Promise((r) => setTimeout(r, 100));
      run = data(await engine.call('history.list', { limit: 10 })).find((r) => r.runKind === 'test-restore' && r.status !== 'running');
    }
    expect(run).toMatchObject({ trigger: 'catch-up', status: 'success', runKind: 'test-restore' });
    expect(run!.databases).toEqual([expect.objectContaining({ database: 'a.db', status: 'success', checks: expect.arrayContaining([{ name: 'row counts', ok: true, detail: '2 rows in 1 table, as recorded at backup time' }]) })]);
    expect(readdirSync(join(dataDir, 'test-restores'))).toEqual([]);
  });
});
