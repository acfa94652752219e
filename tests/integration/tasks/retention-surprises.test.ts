/**
 * Retention never deletes a restore point a DBA did not expect to lose, on real backups of a
 * real SQLite folder through the engine's contract: a second task at the same destination
 * (whose retention would delete the first task's points in the shared database folders) is
 * refused, on create and on update, and tasks that already share one skip retention with a
 * CONFLICT in History; a run with the clock a year ahead (only `Date` is moved) keeps the
 * points from before the jump, and so does the run after the clock comes back, and a restore of
 * "latest" then takes the last backup written, not the point dated a year ahead; with the clock
 * a year ahead and no new point (an unchanged database's incremental, `backstop prune`) nothing
 * is deleted by that clock; a stricter
 * policy is previewed and each deletion recorded with its reason; a damaged point is kept and
 * named; a week of failing runs prunes nothing.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Engine } from '../../../electron/engine/index.ts';
import { openRepository } from '../../../electron/engine/repository/index.ts';
import { pointKey } from '../../../electron/engine/repository/layout.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import type { TaskInput } from '../../../electron/shared/domain.ts';
import { cliInProcess as cli } from '../../fixtures/cli.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { MemorySecretStore } from '../../fixtures/memory-secret-store.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

let engine: Engine;
let serverId: string;
let source: string;

/** One engine per test (testEngine closes it when the test ends) over one small SQLite folder; jobs inline, so a moved `Date` dates the points and retention alike. */
async function start(): Promise<void> {
  const folder = (source = tempDir('backstop-retention-src-'));
  const db = new Database(join(folder, 'ledger.db'));
  db.exec('CREATE TABLE entry (id INTEGER PRIMARY KEY, amount INTEGER); INSERT INTO entry (amount) VALUES (1), (2), (3)');
  db.close();
  writeFileSync(join(folder, 'notes.txt'), 'not a database');
  engine = await testEngine({ secrets: new MemorySecretStore(), encoderWorkers: 0, jobs: 'inline' });
  serverId = data(await engine.call('servers.create', { kind: 'sqlite', name: 'ledger files', folder })).id;
}

afterEach(() => {
  vi.useRealTimers();
});

const task = (name: string, path: string, retention: TaskInput['retention']): TaskInput => ({
  name,
  serverId,
  type: 'snapshot',
  schedule: { full: '0 2 * * *', incremental: null, timezone: 'UTC' },
  retention,
  destinations: [{ kind: 'local', path }],
});

async function pointIds(backups: string): Promise<string[]> {
  const repo = await openRepository(new LocalBackend(join(backups, encodeDatabaseFolder('ledger.db'))));
  return (await repo.listPoints()).map((p) => p.id);
}

describe('retention surprises', () => {
  it('refuses a second task of the same server at the same destination (its retention would delete the first task\'s points), on create and on update; a subfolder is fine', async () => {
    await start();
    const backups = tempDir('backstop-shared-root-');
    const daily = data(await engine.call('tasks.create', task('daily 30 days', backups, { minAgeDays: 30, keepLast: null })));
    expect((await runTask(engine, daily.id, 'full')).status).toBe('success');
    const before = await pointIds(backups);
    expect(before).toHaveLength(1);

    const hourly = await engine.call('tasks.create', task('hourly 2 days', `${backups}/`, { minAgeDays: 2, keepLast: null }));
    expect(hourly).toMatchObject({
      ok: false,
      code: 'VALIDATION',
      message: `destinations.0: task "daily 30 days" already backs up this server to ${backups}. Two tasks in one folder share its database folders, so one task's retention would delete the other's restore points. Choose another folder (a subfolder such as ${join(backups, 'hourly')} is fine), or change the retention of task "daily 30 days" instead.`,
    });
    expect(data(await engine.call('tasks.list', undefined)).map((t) => t.name)).toEqual(['daily 30 days']);

    // In a subfolder it is its own set of database folders: accepted, and it runs beside the daily one.
    const sub = join(backups, 'hourly');
    mkdirSync(sub);
    const own = data(await engine.call('tasks.create', task('hourly 2 days', sub, { minAgeDays: 2, keepLast: null })));
    expect((await runTask(engine, own.id, 'full')).status).toBe('success');
    // Moving it onto the daily task's folder in the editor is refused the same way.
    const moved = await engine.call('tasks.update', { id: own.id, task: task('hourly 2 days', backups, { minAgeDays: 2, keepLast: null }) });
    expect(moved).toMatchObject({ ok: false, code: 'VALIDATION', message: expect.stringContaining('task "daily 30 days" already backs up this server to') });
    expect(data(await engine.call('tasks.list', undefined)).find((t) => t.id === own.id)?.destinations).toEqual([{ kind: 'local', path: sub }]);
    // The daily task's point is untouched, and its own edits still save.
    expect(await pointIds(backups)).toEqual(before);
    expect(data(await engine.call('tasks.update', { id: daily.id, task: task('daily 30 days', backups, { minAgeDays: 31, keepLast: null }) })).retention).toMatchObject({ minAgeDays: 31 });
    expect(readdirSync(backups).sort()).toEqual([encodeDatabaseFolder('ledger.db'), 'hourly'].sort());
  });

  it('a run with the clock a year ahead keeps the points from before the jump, and a run after the clock comes back deletes nothing either', async () => {
    await start();
    const backups = tempDir('backstop-clock-jump-');
    const t = data(await engine.call('tasks.create', task('clock', backups, { minAgeDays: 2, keepLast: null })));
    for (let i = 0; i < 3; i++) expect((await runTask(engine, t.id, 'full')).status).toBe('success');
    const before = await pointIds(backups);
    expect(before).toHaveLength(3);

    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 365 * 86_400_000 });
    const run = await runTask(engine, t.id, 'full');
    expect(run.status).toBe('success');
    const after = await pointIds(backups);
    expect(after).toHaveLength(4);
    expect(after.slice(0, 3)).toEqual(before);
    // The clock comes back: the point from the future is kept (younger than any age), and so is the rest.
    vi.useRealTimers();
    expect((await runTask(engine, t.id, 'full')).status).toBe('success');
    const back = await pointIds(backups);
    expect(back).toHaveLength(5);
    expect(back).toEqual(expect.arrayContaining(after));
    // A new row, then a backup: "latest" is that backup (the last one written), not the point dated a year ahead.
    const db = new Database(join(source, 'ledger.db'));
    db.exec('INSERT INTO entry (amount) VALUES (42)');
    db.close();
    const newest = await runTask(engine, t.id, 'incremental');
    expect(newest.status).toBe('success');
    const folder = join(backups, encodeDatabaseFolder('ledger.db'));
    const serverFile = join(tempDir(), 'server.json');
    const target = tempDir('backstop-clock-restore-');
    writeFileSync(serverFile, JSON.stringify({ kind: 'sqlite', folder: target }));
    const restored = await cli('restore', folder, '--point', 'latest', '--server', serverFile, '--database', 'latest.db', '--data-dir', tempDir(), '--json');
    expect(restored.code, restored.err || restored.out).toBe(0);
    const copy = new Database(join(target, 'latest.db'));
    expect(copy.prepare('SELECT amount FROM entry ORDER BY id').all().map((r) => (r as { amount: number }).amount)).toEqual([1, 2, 3, 42]);
    copy.close();
  });

  it('with the clock a year ahead and no new point (an unchanged database, or `backstop prune`), nothing is deleted by that clock; the plan says why', async () => {
    await start();
    const backups = tempDir('backstop-clock-no-point-');
    const t = data(await engine.call('tasks.create', { ...task('clock', backups, { minAgeDays: 2, keepLast: null }), schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' } }));
    const hour = 3_600_000;
    const t0 = Date.now();
    // Three fulls over the last 30 hours, each of changed data: all younger than the 2 days kept.
    for (const [i, h] of [30, 20, 10].entries()) {
      vi.useFakeTimers({ toFake: ['Date'], now: t0 - h * hour });
      const db = new Database(join(source, 'ledger.db'));
      db.exec(`INSERT INTO entry (amount) VALUES (${10 + i})`);
      db.close();
      expect((await runTask(engine, t.id, 'full')).status).toBe('success');
    }
    const before = await pointIds(backups);
    expect(before).toHaveLength(3);

    // The clock set a year ahead by mistake; the database has not changed: the incremental stores no point, then retention runs.
    vi.useFakeTimers({ toFake: ['Date'], now: t0 + 365 * 24 * hour });
    const run = await runTask(engine, t.id, 'incremental');
    expect(run.status).toBe('success');
    expect(run.databases.map((d) => [d.kind, d.pointId])).toEqual([['incremental', null]]);
    expect(await pointIds(backups)).toEqual(before);
    expect(data(await engine.call('history.list', { taskId: t.id, runKind: 'retention', limit: 10 }))).toEqual([]);
    // `backstop prune` under that clock deletes nothing either, and says why.
    const folder = join(backups, encodeDatabaseFolder('ledger.db'));
    const pruned = await cli('prune', folder, '--min-age', '2d', '--data-dir', tempDir(), '--json');
    expect(pruned.code, pruned.err).toBe(0);
    const result = JSON.parse(pruned.out) as { plan: { id: string; action: string; reason: string }[]; deleted: string[] };
    expect(result.deleted).toEqual([]);
    expect(result.plan.map((d) => d.action)).toEqual(['keep', 'keep', 'keep']);
    expect(result.plan[1]!.reason).toBe(
      'the newest point is 365 days older than now (the clock jumped forward, or no backup stored a point since): nothing is deleted by age until newer points span 2 days',
    );
    expect(await pointIds(backups)).toEqual(before);
    // The clock back: the policy applies as before (nothing is old enough yet).
    vi.useRealTimers();
    expect((await runTask(engine, t.id, 'incremental')).status).toBe('success');
    expect(await pointIds(backups)).toEqual(before);
  });

  it('a stricter policy saved in the editor: the preview names what the next run deletes, the run\'s history lists each deleted point with why, and a point retention cannot read is never deleted and is named', async () => {
    await start();
    const backups = tempDir('backstop-stricter-');
    const t = data(await engine.call('tasks.create', task('stricter', backups, { minAgeDays: 30, keepLast: null })));
    for (let i = 0; i < 4; i++) expect((await runTask(engine, t.id, 'full')).status).toBe('success');
    const [oldest, damaged, third] = await pointIds(backups);
    const folder = join(backups, encodeDatabaseFolder('ledger.db'));
    writeFileSync(join(folder, pointKey(damaged!)), 'not a manifest');

    // Before saving: the preview of the stricter policy lists what goes, with why.
    const stricter = { minAgeDays: 0, minAgeHours: 0, keepLast: 2 };
    const [preview] = data(await engine.call('retention.preview', { taskId: t.id, retention: stricter }));
    expect(preview!.decisions.filter((d) => d.action === 'delete').map((d) => [d.id, d.reason])).toEqual([[oldest, 'not one of the newest 2']]);

    const saved = data(await engine.call('tasks.update', { id: t.id, task: task('stricter', backups, stricter) }));
    expect(saved.retention).toMatchObject({ keepLast: 2 });
    expect((await runTask(engine, t.id, 'full')).status).toBe('success');
    const [row] = data(await engine.call('history.list', { taskId: t.id, runKind: 'retention', limit: 10 }));
    const deletedRows = row!.databases.flatMap((d) => d.deletedPoints ?? []);
    expect(deletedRows.map((p) => [p.id, p.kind, p.reason])).toEqual([
      [third, 'full', 'not one of the newest 2'],
      [oldest, 'full', 'not one of the newest 2'],
    ]);
    // The damaged point is still there, and `backstop prune` names it with the fix.
    expect(existsSync(join(folder, pointKey(damaged!)))).toBe(true);
    const plan = await cli('prune', folder, '--min-age', '0d', '--keep-last', '1', '--dry-run', '--data-dir', tempDir(), '--json');
    expect(plan.code).toBe(0);
    expect(JSON.parse(plan.out).plan.at(-1)).toEqual({ id: damaged, action: 'keep', reason: 'cannot be read (INTEGRITY: its manifest is damaged): never deleted by retention; run verify on this folder' });
  });

  it('a week of failing runs (server unreachable) prunes nothing, and the first good run after it keeps the last good points', async () => {
    await start();
    const backups = tempDir('backstop-failing-week-');
    const t = data(await engine.call('tasks.create', task('failing', backups, { minAgeDays: 2, keepLast: 2 })));
    for (let i = 0; i < 3; i++) expect((await runTask(engine, t.id, 'full')).status).toBe('success');
    const good = await pointIds(backups);
    expect(good).toHaveLength(3); // all younger than 2 days

    const day = 86_400_000;
    const start0 = Date.now();
    renameSync(source, `${source}.gone`);
    for (let d = 1; d <= 7; d++) {
      vi.useFakeTimers({ toFake: ['Date'], now: start0 + d * day });
      expect((await runTask(engine, t.id, 'full')).status).toBe('failed');
      expect(await pointIds(backups)).toEqual(good);
    }
    renameSync(`${source}.gone`, source);
    vi.useFakeTimers({ toFake: ['Date'], now: start0 + 8 * day });
    expect((await runTask(engine, t.id, 'full')).status).toBe('success');
    const after = await pointIds(backups);
    expect(after.slice(0, 3)).toEqual(good);
    expect(after).toHaveLength(4);
  });

  it('two tasks that already share a destination (saved before that was refused): their runs skip retention and History says why, deleting nothing', async () => {
    await start();
    const backups = tempDir('backstop-shared-before-');
    const daily = data(await engine.call('tasks.create', task('daily 30 days', backups, { minAgeDays: 30, keepLast: null })));
    for (let i = 0; i < 2; i++) expect((await runTask(engine, daily.id, 'full')).status).toBe('success');
    const before = await pointIds(backups);
    const hourly = data(await engine.call('tasks.create', task('hourly newest 1', join(backups, 'hourly'), { minAgeDays: 0, minAgeHours: 0, keepLast: 1 })));
    // What an older Backstop let a DBA save: the hourly task writing into the daily task's folder.
    engine.db.prepare("UPDATE tasks SET config = json_set(config, '$.destinations[0].path', ?) WHERE id = ?").run(backups, hourly.id);
    expect((await runTask(engine, hourly.id, 'full')).status).toBe('success');
    const after = await pointIds(backups);
    expect(after).toHaveLength(3);
    expect(after.slice(0, 2)).toEqual(before);
    const [skipped] = data(await engine.call('history.list', { taskId: hourly.id, runKind: 'retention', limit: 10 }));
    expect(skipped).toMatchObject({ status: 'failed' });
    expect(skipped!.databases[0]).toMatchObject({
      errorCode: 'CONFLICT',
      errorMessage: `Retention skipped: task "daily 30 days" also writes to ${backups}, so its restore points and this task's share folders and retention could delete the other task's. Move one of the tasks to a subfolder (its next run starts a new chain there).`,
    });
  });
});
