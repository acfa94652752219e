/**
 * `databases.list` (issue #24 item 2, the Databases view) through the engine on real SQLite
 * files: one row per task and database with its server, last success, freshness against the
 * schedule (fresh → due → stale as the clock moves), stored bytes and runs from history, the
 * newest test restore and the next run; excluded databases left out; a per-database
 * "back up now" moves only that database's row.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testEngine } from '../../fixtures/engine.ts';
import { data, runTask, waitForRun } from '../../fixtures/runs.ts';
import { sqliteFolder, storedSqliteTask } from '../../fixtures/sqlite-files.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const HOUR = 3_600_000;

describe('databases.list', () => {
  it('lists every database of every task from recorded data, with freshness, size, test restore and next run', { timeout: 180_000 }, async () => {
    const dir = tempDir();
    const folder = sqliteFolder(['a.db', 'b.db', 'skip.db']);
    let ms = Date.parse('2026-03-02T10:00:00Z');
    const engine = await testEngine({ dataDir: join(dir, 'data'), encoderWorkers: 0, now: () => new Date(ms) });
    expect(data(await engine.call('databases.list', undefined))).toEqual([]);

    const task = await storedSqliteTask(engine, folder, join(dir, 'backups'), {
      name: 'daily files',
      schedule: { full: '0 2 * * *', incremental: null, timezone: 'UTC' },
      excludeDatabases: ['skip.db'],
    });
    expect((await runTask(engine, task.id, 'full')).status).toBe('success');

    const rows = data(await engine.call('databases.list', undefined));
    expect(rows.map((r) => r.database)).toEqual(['a.db', 'b.db']);
    for (const r of rows) {
      expect(r).toMatchObject({
        taskId: task.id,
        taskName: 'daily files',
        serverId: task.serverId,
        serverKind: 'sqlite',
        lastSuccessAt: expect.any(String),
        freshness: 'fresh',
        points: 1,
        lastTestRestore: null,
        nextRun: '2026-03-03T02:00:00.000Z',
      });
      expect(r.serverName).toMatch(/^files /);
      expect(r.storedBytes).toBeGreaterThan(0);
    }
    const [server] = data(await engine.call('servers.list', undefined));
    expect(rows[0]!.serverName).toBe(server!.name);

    // Daily schedule and no staleness setting: the threshold is 48 h, "due" past 24 h.
    ms += 30 * HOUR;
    expect(data(await engine.call('databases.list', undefined)).map((r) => r.freshness)).toEqual(['due', 'due']);
    ms += 20 * HOUR;
    expect(data(await engine.call('databases.list', undefined)).map((r) => r.freshness)).toEqual(['stale', 'stale']);

    // Back up just b.db: only its row becomes fresh and gains a run.
    const { runId } = data(await engine.call('tasks.runNow', { id: task.id, kind: 'full', databases: ['b.db'] }));
    expect((await waitForRun(engine, runId)).status).toBe('success');
    const after = data(await engine.call('databases.list', undefined));
    expect(after.map((r) => [r.database, r.freshness, r.points])).toEqual([
      ['a.db', 'stale', 1],
      ['b.db', 'fresh', 2],
    ]);
    expect(after[1]!.storedBytes).toBeGreaterThan(rows[1]!.storedBytes);

    // A paused task has no schedule to be late against.
    const saved = data(await engine.call('tasks.list', undefined))[0]!;
    const { id, createdAt: _c, updatedAt: _u, ...input } = saved;
    data(await engine.call('tasks.update', { id, task: { ...input, enabled: false } }));
    expect(data(await engine.call('databases.list', undefined)).map((r) => [r.freshness, r.nextRun])).toEqual([
      ['unscheduled', null],
      ['unscheduled', null],
    ]);
    await engine.close();
  });

  it('back up now of a database gone from the server fails with VALIDATION naming it, and its row keeps what was recorded', { timeout: 180_000 }, async () => {
    const dir = tempDir();
    const folder = sqliteFolder(['keep.db', 'gone.db']);
    const engine = await testEngine({ dataDir: join(dir, 'data'), encoderWorkers: 0 });
    const task = await storedSqliteTask(engine, folder, join(dir, 'backups'), { name: 'files' });
    expect((await runTask(engine, task.id, 'full')).status).toBe('success');
    const before = data(await engine.call('databases.list', undefined));
    rmSync(join(folder, 'gone.db'));

    const answer = await engine.call('tasks.runNow', { id: task.id, kind: 'full', databases: ['gone.db'] });
    expect(answer).toMatchObject({
      ok: false,
      code: 'VALIDATION',
      message: 'The server of task "files" has no database "gone.db". Its databases: "keep.db". Names are case-sensitive; fix the database list.',
    });
    expect(data(await engine.call('databases.list', undefined))).toEqual(before);
    expect(data(await engine.call('history.list', { limit: 10 }))).toHaveLength(1);
    await engine.close();
  });

  it('carries each database\'s newest test restore', { timeout: 180_000 }, async () => {
    const dir = tempDir();
    const folder = sqliteFolder(['one.db']);
    const engine = await testEngine({ dataDir: join(dir, 'data'), encoderWorkers: 0 });
    const task = await storedSqliteTask(engine, folder, join(dir, 'backups'), { testRestore: { afterFull: true } });
    expect((await runTask(engine, task.id, 'full')).status).toBe('success');
    for (let i = 0; i < 600; i++) {
      const [row] = data(await engine.call('databases.list', undefined));
      if (row?.lastTestRestore) {
        expect(row.lastTestRestore).toMatchObject({ database: 'one.db', ok: true, at: expect.any(String) });
        await engine.close();
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await engine.close();
    throw new Error('no test restore appeared in databases.list');
  });
});
