/**
 * A server-wide task over months, on a real SQLite folder through the engine's contract, with
 * the clock (only `Date`) moved a day per run: a database dropped from the server is said once
 * (a "skipped" History row and a `databases-gone` alert, not on every run), is shown "gone" in
 * the Databases view rather than raised as stale forever, and its last points are never
 * deleted by the task's retention while the other databases' old points are; a database
 * created again under that name is backed up again (restoring its points gives the old and
 * the new content, each as it was); a renamed database leaves its old folder as it is, still
 * listed and restorable, and its new name starts with a full. A destination added to the task
 * starts its own chain with a full (never an incremental whose parent is only elsewhere); one
 * removed, or moved to a subfolder, keeps every point it holds, and each root lists its folders.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Alert } from '../../../electron/shared/domain.ts';
import { cliInProcess as cli } from '../../fixtures/cli.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { MemorySecretStore } from '../../fixtures/memory-secret-store.ts';
import { pointIds } from '../../fixtures/points.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { sqliteFolder, storedSqliteTask } from '../../fixtures/sqlite-files.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const DAY = 86_400_000;

afterEach(() => {
  vi.useRealTimers();
});

function rows(path: string): string[] {
  const db = new Database(path);
  const out = db.prepare('SELECT v FROM t ORDER BY id').all().map((r) => (r as { v: string }).v);
  db.close();
  return out;
}

describe('databases that come and go', () => {
  it('a dropped database is said once, shown gone (never stale), its last points kept by retention; a new one of that name and a renamed one are backed up anew', { timeout: 120_000 }, async () => {
    const t0 = Date.parse('2026-03-02T03:00:00Z');
    vi.useFakeTimers({ toFake: ['Date'], now: t0 });
    const folder = sqliteFolder(['keep.db', 'gone.db']);
    const backups = tempDir();
    const engine = await testEngine({ secrets: new MemorySecretStore(), encoderWorkers: 0, jobs: 'inline' });
    const alerts: Alert[] = [];
    engine.events.on('alert', (a) => alerts.push(a));
    const task = await storedSqliteTask(engine, folder, backups, {
      name: 'files',
      schedule: { full: '0 2 * * *', incremental: null, timezone: 'UTC' },
      retention: { minAgeDays: 2, keepLast: null },
    });
    const day = async (d: number) => {
      vi.setSystemTime(t0 + d * DAY);
      const run = await runTask(engine, task.id, 'full');
      expect(run.status, JSON.stringify(run)).toBe('success');
      return run;
    };
    await day(0);
    await day(1);
    const goneBefore = await pointIds(backups, 'gone.db');
    expect(goneBefore).toHaveLength(2);

    rmSync(join(folder, 'gone.db'));
    const dropped = await day(2);
    const said =
      'Backup task "files": the database "gone.db" is no longer on the server (dropped or renamed), so it is no longer backed up. ' +
      "Its backups stay at the task's destinations, restorable, and retention no longer deletes any of its points: delete its folder by hand once no longer needed. " +
      'A database created again under that name is backed up again into the same folder.';
    expect(dropped.databases.map((d) => [d.database, d.status, d.errorMessage])).toEqual([
      ['gone.db', 'skipped', said],
      ['keep.db', 'success', null],
    ]);
    for (let d = 3; d <= 5; d++) expect((await day(d)).databases.map((r) => [r.database, r.status])).toEqual([['keep.db', 'success']]);

    // Said once, never as "no successful backup for too long"; the Databases view says gone.
    expect(alerts.filter((a) => a.kind === 'databases-gone')).toEqual([{ kind: 'databases-gone', taskId: task.id, message: said, databases: ['gone.db'] }]);
    expect(alerts.filter((a) => a.kind === 'stale-database')).toEqual([]);
    expect(engine.health.check()).toEqual([]);
    expect(data(await engine.call('databases.list', undefined)).map((r) => [r.database, r.freshness])).toEqual([
      ['gone.db', 'gone'],
      ['keep.db', 'fresh'],
    ]);
    expect(data(await engine.call('tasks.status', undefined)).find((s) => s.taskId === task.id)?.staleDatabases).toEqual([]);

    // Retention deleted keep.db's points older than two days, never the dropped database's last ones.
    expect((await pointIds(backups, 'keep.db')).length).toBeLessThan(6);
    expect(await pointIds(backups, 'gone.db')).toEqual(goneBefore);

    // A new database under that name (other content) is backed up again, the old content still restorable.
    const db = new Database(join(folder, 'gone.db'));
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('new one')");
    db.close();
    const again = await day(6);
    expect(again.databases.map((d) => [d.database, d.status])).toEqual([
      ['gone.db', 'success'],
      ['keep.db', 'success'],
    ]);
    const goneNow = await pointIds(backups, 'gone.db');
    expect(goneNow.slice(0, 2)).toEqual(goneBefore);
    expect(goneNow).toHaveLength(3);
    expect(data(await engine.call('databases.list', undefined)).map((r) => [r.database, r.freshness])).toEqual([
      ['gone.db', 'fresh'],
      ['keep.db', 'fresh'],
    ]);
    const target = tempDir();
    const serverFile = join(tempDir(), 'server.json');
    writeFileSync(serverFile, JSON.stringify({ kind: 'sqlite', folder: target }));
    for (const [point, name] of [[goneBefore[1]!, 'old.db'], ['latest', 'new.db']] as const) {
      const r = await cli('restore', join(backups, 'gone.db'), '--point', point, '--server', serverFile, '--database', name, '--data-dir', tempDir(), '--json');
      expect(r.code, r.err || r.out).toBe(0);
    }
    expect(rows(join(target, 'old.db'))).toEqual(['x']);
    expect(rows(join(target, 'new.db'))).toEqual(['new one']);

    // Renamed: the new name starts with a full in its own folder; the old folder stays, listed and restorable.
    const keepBefore = await pointIds(backups, 'keep.db');
    renameSync(join(folder, 'keep.db'), join(folder, 'kept.db'));
    vi.setSystemTime(t0 + 7 * DAY);
    const renamed = await runTask(engine, task.id, 'incremental');
    expect(renamed.status).toBe('success');
    expect(renamed.databases.find((d) => d.database === 'kept.db')).toMatchObject({ kind: 'full', kindReason: 'first backup at this destination', status: 'success' });
    expect(renamed.databases.find((d) => d.database === 'keep.db')).toMatchObject({ status: 'skipped', errorMessage: expect.stringContaining('the database "keep.db" is no longer on the server (dropped or renamed)') });
    expect(await pointIds(backups, 'keep.db')).toEqual(keepBefore);
    const folders = data(await engine.call('restore.folders', { destination: { kind: 'local', path: backups } }));
    expect(folders.map((f) => f.database)).toEqual(['gone.db', 'keep.db', 'kept.db']);
    await engine.close();
  });

  it('a destination added gets a full, one removed or moved away keeps every point, and the restore browser lists each root as it is', { timeout: 120_000 }, async () => {
    const folder = sqliteFolder(['app.db']);
    const first = tempDir();
    const second = tempDir();
    const engine = await testEngine({ secrets: new MemorySecretStore(), encoderWorkers: 0, jobs: 'inline' });
    const task = await storedSqliteTask(engine, folder, first, { name: 'app', schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' } });
    const change = (v: string) => {
      const db = new Database(join(folder, 'app.db'));
      db.exec(`INSERT INTO t (v) VALUES ('${v}')`);
      db.close();
    };
    const update = async (destinations: { kind: 'local'; path: string }[]) => {
      const { id, createdAt: _c, updatedAt: _u, ...input } = data(await engine.call('tasks.list', undefined)).find((t) => t.id === task.id)!;
      data(await engine.call('tasks.update', { id, task: { ...input, destinations } }));
    };
    const rowsAt = (run: { databases: { destination: string; kind: string; kindReason: string | null; status: string }[] }) =>
      Object.fromEntries(run.databases.map((d) => [d.destination, [d.kind, d.kindReason, d.status]]));
    expect((await runTask(engine, task.id, 'full')).status).toBe('success');
    change('one');
    expect(rowsAt(await runTask(engine, task.id, 'incremental'))).toEqual({ [`local:${first}`]: ['incremental', null, 'success'] });
    const atFirst = await pointIds(first, 'app.db');
    expect(atFirst).toHaveLength(2);

    // Added: a full there (its chain starts there), the first destination's chain goes on.
    await update([{ kind: 'local', path: first }, { kind: 'local', path: second }]);
    change('two');
    expect(rowsAt(await runTask(engine, task.id, 'incremental'))).toEqual({
      [`local:${first}`]: ['incremental', null, 'success'],
      [`local:${second}`]: ['full', 'first backup at this destination', 'success'],
    });
    const firstKept = await pointIds(first, 'app.db');

    // Removed: nothing written to or deleted at it any more.
    await update([{ kind: 'local', path: second }]);
    change('three');
    expect(rowsAt(await runTask(engine, task.id, 'incremental'))).toEqual({ [`local:${second}`]: ['incremental', null, 'success'] });
    expect(await pointIds(first, 'app.db')).toEqual(firstKept);

    // Moved to a subfolder: a full there; the old root keeps its points.
    const sub = join(second, 'sub');
    const atSecond = await pointIds(second, 'app.db');
    await update([{ kind: 'local', path: sub }]);
    change('four');
    expect(rowsAt(await runTask(engine, task.id, 'incremental'))).toEqual({ [`local:${sub}`]: ['full', 'first backup at this destination', 'success'] });
    expect(await pointIds(second, 'app.db')).toEqual(atSecond);
    for (const root of [first, second, sub]) {
      expect(data(await engine.call('restore.folders', { destination: { kind: 'local', path: root } })).map((f) => f.database)).toEqual(['app.db']);
    }
    await engine.close();
  });
});
