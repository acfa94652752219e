/**
 * Server-wide tasks over a real folder of SQLite databases, through the engine's contract,
 * with each database backed up in a real worker thread: every database is included
 * (new ones too, announced), exclusions are honoured, an incremental-only task starts
 * with a full, one broken database does not stop the others, the concurrency limit holds,
 * cancel leaves nothing half-written, and an app database that turns read-only mid-run loses
 * no stored backup from the run's result and leaves the task free.
 */
import { copyFileSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../../electron/engine/index.ts';
import { openRepository } from '../../../electron/engine/repository/index.ts';
import { UNCHANGED } from '../../../electron/engine/backup/unchanged-stream.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import type { Alert, TaskInput } from '../../../electron/shared/domain.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { MemorySecretStore } from '../../fixtures/memory-secret-store.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const CHINOOK = join(import.meta.dirname, '../../../../shared/fixtures/chinook/Chinook_Sqlite.sqlite');

function makeDb(path: string, rows: number): void {
  const db = new Database(path);
  db.exec('CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER)');
  const ins = db.prepare('INSERT INTO item (name, qty) VALUES (?, ?)');
  db.transaction(() => {
    for (let i = 0; i < rows; i++) ins.run(`item ${i} ${'x'.repeat(i % 50)}`, i);
  })();
  db.close();
}

async function setup(over: Partial<TaskInput> = {}) {
  const folder = tempDir('backstop-sqlite-server-');
  const backups = tempDir('backstop-backups-');
  copyFileSync(CHINOOK, join(folder, 'chinook.sqlite'));
  makeDb(join(folder, 'Sales Q1 ü.db'), 2000);
  makeDb(join(folder, 'scratch.db'), 10);
  writeFileSync(join(folder, 'notes.txt'), 'not a database');
  const engine = await testEngine({ secrets: new MemorySecretStore(), encoderWorkers: 0 });
  const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder }));
  const task = data(
    await engine.call('tasks.create', {
      name: 'all files',
      serverId: server.id,
      type: 'snapshot',
      schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' },
      excludeDatabases: ['scratch.db'],
      destinations: [{ kind: 'local', path: backups }],
      ...over,
    }),
  );
  const alerts: Alert[] = [];
  engine.events.on('alert', (a) => alerts.push(a));
  return { engine, folder, backups, task, alerts };
}

async function points(backups: string, database: string) {
  const repo = await openRepository(new LocalBackend(join(backups, encodeDatabaseFolder(database))));
  return repo.listPoints();
}

describe('server-wide task over a SQLite folder', () => {
  it('backs up every database but the excluded ones, each into its own folder', async () => {
    const { engine, backups, task } = await setup();
    const run = await runTask(engine, task.id, 'full');
    expect(run.status).toBe('success');
    expect(run.databases.map((d) => [d.database, d.status, d.kind]).sort()).toEqual([
      ['Sales Q1 ü.db', 'success', 'full'],
      ['chinook.sqlite', 'success', 'full'],
    ]);
    expect(readdirSync(backups).sort()).toEqual([encodeDatabaseFolder('Sales Q1 ü.db'), encodeDatabaseFolder('chinook.sqlite')].sort());
    const chinook = await points(backups, 'chinook.sqlite');
    expect(chinook).toHaveLength(1);
    expect(chinook[0]).toMatchObject({ database: 'chinook.sqlite', kind: 'full', backupType: 'snapshot' });
    expect(run.databases.every((d) => d.bytesRead > 0 && d.bytesStored > 0 && d.pointId)).toBe(true);
  });

  it('picks up a database created later, starting its chain with a full and saying why', async () => {
    const { engine, folder, backups, task, alerts } = await setup();
    await runTask(engine, task.id, 'full');
    makeDb(join(folder, 'new-app.sqlite3'), 500);
    const run = await runTask(engine, task.id, 'incremental');
    expect(run.status).toBe('success');
    const byDb = Object.fromEntries(run.databases.map((d) => [d.database, d]));
    expect(byDb['new-app.sqlite3']).toMatchObject({ status: 'success', kind: 'full', kindReason: 'first backup at this destination' });
    // An unchanged database's incremental stores nothing: no point (unchanged-incremental.test.ts).
    expect(byDb['chinook.sqlite']).toMatchObject({ status: 'success', kind: 'incremental', kindReason: UNCHANGED, pointId: null, bytesStored: 0 });
    expect(alerts).toContainEqual({ kind: 'new-databases', taskId: task.id, message: expect.stringContaining('new-app.sqlite3'), databases: ['new-app.sqlite3'] });
    expect((await points(backups, 'chinook.sqlite')).map((p) => p.kind)).toEqual(['full']);
  });

  it('many databases new at once (a hosting panel made a batch): one alert naming the first ten and how many more, all in its databases; each backed up', async () => {
    const { engine, folder, task, alerts } = await setup();
    await runTask(engine, task.id, 'full');
    const fresh = Array.from({ length: 25 }, (_, i) => `site${String(i + 1).padStart(2, '0')}.db`);
    for (const f of fresh) makeDb(join(folder, f), 1);
    const run = await runTask(engine, task.id, 'incremental');
    expect(run.databases.filter((d) => fresh.includes(d.database)).map((d) => [d.database, d.status, d.kind]).sort()).toEqual(fresh.map((f) => [f, 'success', 'full']));
    const alert = alerts.filter((a) => a.kind === 'new-databases');
    expect(alert).toEqual([{ kind: 'new-databases', taskId: task.id, message: `Backup task "all files" picked up 25 new databases: ${fresh.slice(0, 10).join(', ')} and 15 more.`, databases: fresh }]);
  });

  it('starts an incremental-only task with a full', async () => {
    const { engine, task } = await setup({ schedule: { full: null, incremental: '*/30 * * * *', timezone: 'UTC' } });
    const run = await runTask(engine, task.id); // default kind: incremental, as the task has no full schedule
    expect(run.requestedKind).toBe('incremental');
    expect(run.databases.every((d) => d.kind === 'full' && d.kindReason === 'first backup at this destination')).toBe(true);
  });

  it('keeps going when one database is broken, and records which one failed and why', async () => {
    const { engine, folder, backups, task, alerts } = await setup();
    // Valid SQLite header, garbage after it: discovered as a database, cannot be read.
    const broken = Buffer.alloc(8192, 0x5a);
    Buffer.from('SQLite format 3\0', 'latin1').copy(broken);
    writeFileSync(join(folder, 'broken.db'), broken);
    const run = await runTask(engine, task.id, 'full');
    expect(run.status).toBe('partial');
    const bad = run.databases.find((d) => d.database === 'broken.db')!;
    expect(bad.status).toBe('failed');
    expect(bad.errorCode).toMatch(/DUMP_FAILED|INTEGRITY/);
    expect(bad.errorMessage).toContain('broken.db');
    expect(run.databases.filter((d) => d.status === 'success').map((d) => d.database).sort()).toEqual(['Sales Q1 ü.db', 'chinook.sqlite']);
    expect(existsSync(join(backups, encodeDatabaseFolder('broken.db'), 'points')) ? readdirSync(join(backups, encodeDatabaseFolder('broken.db'), 'points')) : []).toEqual([]);
    expect(alerts.find((a) => a.kind === 'run-failed')).toMatchObject({ databases: ['broken.db'] });
  });

  it('never runs more databases at once than the global limit', async () => {
    const { engine, folder, task } = await setup();
    for (let i = 0; i < 4; i++) makeDb(join(folder, `extra-${i}.db`), 3000);
    data(await engine.call('settings.set', { maxConcurrentBackups: 1 }));
    const dumping = new Set<string>();
    let peak = 0;
    engine.events.on('run.progress', ({ progress }) => {
      if (progress.phase === 'done') dumping.delete(progress.database);
      else dumping.add(progress.database);
      peak = Math.max(peak, dumping.size);
    });
    const run = await runTask(engine, task.id, 'full');
    expect(run.status).toBe('success');
    expect(run.databases).toHaveLength(6);
    expect(peak).toBe(1);
  });

  it('refuses a second run of a running task, and cancels cleanly', async () => {
    const { engine, folder, backups, task } = await setup();
    makeDb(join(folder, 'big.db'), 400_000);
    data(await engine.call('settings.set', { maxConcurrentBackups: 1 }));
    const { runId } = data(await engine.call('tasks.runNow', { id: task.id, kind: 'full' }));
    expect(await engine.call('tasks.runNow', { id: task.id })).toMatchObject({ ok: false, code: 'CONFLICT', message: expect.stringContaining('already running') });
    expect(data(await engine.call('runs.active', undefined))).toMatchObject([{ runId, taskId: task.id, status: 'running' }]);
    expect(data(await engine.call('tasks.cancel', { id: task.id }))).toEqual({ canceled: true });
    const { waitForRun } = await import('../../fixtures/runs.ts');
    const run = await waitForRun(engine, runId);
    expect(run.status).toBe('canceled');
    // Whatever was cancelled left no restore point behind.
    for (const d of run.databases.filter((x) => x.status !== 'success')) {
      const dir = join(backups, encodeDatabaseFolder(d.database), 'points');
      expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
    }
    expect(data(await engine.call('runs.active', undefined))).toEqual([]);
    expect(data(await engine.call('tasks.cancel', { id: task.id }))).toEqual({ canceled: false });
  });

  it('applies retention after a run but keeps the newest point and the chain it needs', async () => {
    const { engine, folder, backups, task } = await setup({ retention: { minAgeDays: 1, keepLast: null } });
    await runTask(engine, task.id, 'full');
    const db = new Database(join(folder, 'chinook.sqlite'));
    db.exec("UPDATE Artist SET Name = Name || ' (live)' WHERE ArtistId = 1"); // a change, so the incremental makes a point
    db.close();
    await runTask(engine, task.id, 'incremental');
    // Nothing is older than a day: all kept.
    expect((await points(backups, 'chinook.sqlite')).length).toBe(2);
  });
  it('an app database that turns read-only during a run: the stored backup is kept and reported, History’s failure named, the task free again', async () => {
    const { engine, backups, task } = await setup();
    // Once the backup is under way, every write to the app database fails (SQLITE_READONLY from the real driver: a data folder remounted read-only).
    let turned = false;
    engine.events.on('run.progress', () => {
      if (!turned) engine.db.exec('PRAGMA query_only = ON');
      turned = true;
    });
    const { done } = engine.runner.start(await engine.resolveTask(task.id), 'full', 'cli');
    const summary = await done;
    expect(turned).toBe(true);
    expect(summary.databases.map((d) => [d.database, d.status, typeof d.pointId]).sort()).toEqual([
      ['Sales Q1 ü.db', 'success', 'string'],
      ['chinook.sqlite', 'success', 'string'],
    ]);
    const path = join(engine.dataDir, 'backstop.db');
    expect(summary.error).toEqual({
      code: 'STORAGE',
      message: expect.stringMatching(new RegExp(`^History could not record this run: Backstop could not write its app database ${path.replace(/[.]/g, '\\.')}: it is read-only \\(.+SQLITE_READONLY\\)\\. .+ The backups listed in this run were stored at their destinations\\.$`)),
    });
    expect(engine.runner.isRunning(task.id)).toBe(false);
    for (const d of summary.databases) expect((await points(backups, d.database)).map((p) => p.id)).toEqual([d.pointId]);
    // Writable again: the next run starts and is recorded.
    engine.db.exec('PRAGMA query_only = OFF');
    const next = await runTask(engine, task.id, 'full');
    expect(next.status).toBe('success');
  }, 60_000);

  it('History failing between two databases (one at a time): the first’s stored backup reported, the second fails naming the app database, no run error hidden', async () => {
    const { engine, backups, task } = await setup();
    data(await engine.call('settings.set', { maxConcurrentBackups: 1 }));
    let turned = false;
    engine.events.on('run.progress', () => {
      if (!turned) engine.db.exec('PRAGMA query_only = ON');
      turned = true;
    });
    const summary = await engine.runner.start(await engine.resolveTask(task.id), 'full', 'cli').done;
    const stored = summary.databases.filter((d) => d.status === 'success');
    const failed = summary.databases.filter((d) => d.status === 'failed');
    expect([stored.length, failed.length]).toEqual([1, 1]);
    expect((await points(backups, stored[0]!.database)).map((p) => p.id)).toEqual([stored[0]!.pointId]);
    expect(failed[0]!.error).toEqual({ code: 'STORAGE', message: expect.stringMatching(/^Backstop could not write its app database .+backstop\.db: it is read-only/) });
    expect(summary.error).toMatchObject({ code: 'STORAGE', message: expect.stringMatching(/^History could not record this run: /) });
    expect(engine.runner.isRunning(task.id)).toBe(false);
    engine.db.exec('PRAGMA query_only = OFF');
  }, 60_000);
});

export type { Engine };
