/**
 * Whole-server restore through the contract (`restore.serverPlan`, `restore.serverStart`), as
 * the window drives it, on SQLite folders: the plan names each database's point, its target
 * name, the names already taken on the target and a duration estimated from the task's test
 * restores; the restore reports each database as it runs and one summary; a name that exists
 * is never overwritten; a second run skips what the first made; and the errors a DBA can hit
 * (an --only name with no backup, a root with no backups) come back with their code and
 * message and create nothing; "as of a moment" takes each database's latest point at or
 * before it and keeps a database that cannot reach it in the plan (OUT_OF_RANGE), uncreated;
 * `restore.serverActive` lists a running one (with each database's state) until it ends.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../../electron/engine/index.ts';
import { estimateTotal } from '../../../electron/engine/restore/server-restore-service.ts';
import type { ServerRestoreFinished, ServerRestoreProgress } from '../../../electron/shared/server-restore.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { storedSqliteTask } from '../../fixtures/sqlite-files.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const write = (file: string, sql: string) => {
  const db = new Database(file);
  db.exec(sql);
  db.close();
};
const values = (file: string): string[] => {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT v FROM t ORDER BY v').all() as { v: string }[]).map((r) => r.v);
  } finally {
    db.close();
  }
};

async function startAndWait(engine: Engine, input: Parameters<Engine['call']>[1]): Promise<{ finished: ServerRestoreFinished; progress: ServerRestoreProgress[] }> {
  const progress: ServerRestoreProgress[] = [];
  let finished: ServerRestoreFinished | null = null;
  const offP = engine.events.on('restore.serverProgress', (p) => progress.push(p));
  const offF = engine.events.on('restore.serverFinished', (f) => (finished = f));
  try {
    const { serverRestoreId } = data(await engine.call('restore.serverStart', input));
    const deadline = Date.now() + 120_000;
    while (finished === null) {
      if (Date.now() > deadline) throw new Error('whole-server restore did not finish');
      await new Promise((r) => setTimeout(r, 50));
    }
    const f = finished as ServerRestoreFinished;
    expect(f.serverRestoreId).toBe(serverRestoreId);
    return { finished: f, progress: progress.filter((p) => p.serverRestoreId === serverRestoreId) };
  } finally {
    offP();
    offF();
  }
}

describe('whole-server restore from the window (restore.serverPlan / restore.serverStart)', () => {
  it('plans, restores every database under its original name but never over an existing one, reports progress and a summary, and skips on a re-run', { timeout: 180_000 }, async () => {
    const engine = await testEngine();
    const source = tempDir();
    const names = ['sales.db', "o'hara; drop.db", 'taken.db'];
    for (const n of names) write(join(source, n), `CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('${n.replace(/'/g, "''")}');`);
    const backups = join(tempDir(), 'backups');
    const task = await storedSqliteTask(engine, source, backups);
    expect((await runTask(engine, task.id)).status).toBe('success');
    // Measured restore times: a real test restore of the task.
    const tested = await engine.testRestores.run(await engine.resolveTask(task.id), 'manual');
    expect(tested.databases.every((d) => d.status === 'ok')).toBe(true);

    const target = tempDir();
    write(join(target, 'taken.db'), "CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('theirs');");
    const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'target', folder: target }));
    const input = { destination: { kind: 'local' as const, path: backups }, taskId: task.id, serverId: server.id, naming: { original: true as const } };

    const plan = data(await engine.call('restore.serverPlan', input));
    const byName = Object.fromEntries(plan.databases.map((d) => [d.database, d]));
    expect(Object.keys(byName).sort()).toEqual([...names].sort());
    expect(byName['sales.db']).toMatchObject({ restoredAs: 'sales.db', status: 'ready', error: null });
    expect(byName['sales.db']!.point!.bytes).toBeGreaterThan(0);
    expect(byName['sales.db']!.estimatedMs).toBeGreaterThanOrEqual(0);
    expect(byName['taken.db']).toMatchObject({ status: 'exists', error: { code: 'DATABASE_EXISTS' } });
    expect(byName['taken.db']!.error!.message).toBe('Database "taken.db" already exists on the target server; a restore never overwrites a database. Choose a prefix or suffix, or leave it out.');
    expect(plan.totalBytes).toBe(byName['sales.db']!.point!.bytes + byName["o'hara; drop.db"]!.point!.bytes);
    expect(plan.unestimated).toBe(0);
    expect(plan.estimatedMs).toBe(estimateTotal([byName['sales.db']!.estimatedMs!, byName["o'hara; drop.db"]!.estimatedMs!], 2));
    expect(readdirSync(target)).toEqual(['taken.db']); // the plan touched nothing

    const { finished, progress } = await startAndWait(engine, input);
    expect(finished.error).toBeNull();
    const result = Object.fromEntries(finished.databases.map((d) => [d.database, d]));
    expect(result['sales.db']).toMatchObject({ restoredAs: 'sales.db', status: 'ok' });
    expect(result["o'hara; drop.db"]).toMatchObject({ status: 'ok' });
    expect(result['taken.db']).toMatchObject({ status: 'failed', error: { code: 'DATABASE_EXISTS' } });
    expect(values(join(target, 'sales.db'))).toEqual(['sales.db']);
    expect(values(join(target, "o'hara; drop.db"))).toEqual(["o'hara; drop.db"]);
    expect(values(join(target, 'taken.db'))).toEqual(['theirs']); // never overwritten
    expect(progress.filter((p) => p.database.database === 'sales.db').map((p) => p.database.status)).toEqual(['running', 'ok']);
    expect(progress.filter((p) => p.database.database === 'taken.db').map((p) => p.database.status)).toEqual(['failed']);

    // The plan now says done; a re-run skips them.
    const again = data(await engine.call('restore.serverPlan', { ...input, only: ['sales.db'] }));
    expect(again.databases).toMatchObject([{ database: 'sales.db', status: 'done' }]);
    const rerun = await startAndWait(engine, { ...input, only: ['sales.db', "o'hara; drop.db"] });
    expect(rerun.finished.databases.map((d) => d.status)).toEqual(['skipped', 'skipped']);
  });

  it('a prefix restores a subset under new names; a name with no backup and a root with no backups are refused with their code and message, creating nothing', { timeout: 120_000 }, async () => {
    const engine = await testEngine();
    const source = tempDir();
    for (const n of ['a.db', 'b.db']) write(join(source, n), `CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('${n}');`);
    const backups = join(tempDir(), 'backups');
    const task = await storedSqliteTask(engine, source, backups);
    expect((await runTask(engine, task.id)).status).toBe('success');
    const target = tempDir();
    const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'target', folder: target }));
    const input = { destination: { kind: 'local' as const, path: backups }, serverId: server.id, naming: { prefix: 'copy-' } };

    const plan = data(await engine.call('restore.serverPlan', { ...input, only: ['b.db'] }));
    expect(plan.databases).toMatchObject([{ database: 'b.db', restoredAs: 'copy-b.db', status: 'ready', estimatedMs: null }]);
    expect(plan.estimatedMs).toBeNull();
    expect(plan.unestimated).toBe(1);
    const { finished } = await startAndWait(engine, { ...input, only: ['b.db'] });
    expect(finished.databases).toEqual([{ database: 'b.db', restoredAs: 'copy-b.db', status: 'ok' }]);
    expect(readdirSync(target)).toEqual(['copy-b.db']);

    const unknown = await engine.call('restore.serverPlan', { ...input, only: ['nope.db'] });
    expect(unknown).toMatchObject({ ok: false, code: 'VALIDATION' });
    expect(!unknown.ok && unknown.message).toBe(`--only names "nope.db", which ${backups} holds no backup of; nothing was restored.`);

    const empty = join(tempDir(), 'empty');
    mkdirSync(empty);
    const none = await engine.call('restore.serverPlan', { ...input, destination: { kind: 'local', path: empty } });
    expect(none).toMatchObject({ ok: false, code: 'NOT_FOUND' });
    const started = await startAndWait(engine, { ...input, destination: { kind: 'local', path: empty } });
    expect(started.finished.error?.code).toBe('NOT_FOUND');
    expect(started.finished.error?.message).toMatch(/holds no database backups\. Give the destination root of a task/);
    expect(readdirSync(target)).toEqual(['copy-b.db']);
    expect(existsSync(join(target, 'copy-a.db'))).toBe(false);
  });

  it('restore.serverCancel stops a whole-server restore: nothing is left on the target and a re-run restores everything', { timeout: 120_000 }, async () => {
    const engine = await testEngine();
    const source = tempDir();
    for (const n of ['a.db', 'b.db', 'c.db']) write(join(source, n), `CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('${n}');`);
    const backups = join(tempDir(), 'backups');
    const task = await storedSqliteTask(engine, source, backups);
    expect((await runTask(engine, task.id)).status).toBe('success');
    const target = tempDir();
    const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'target', folder: target }));
    const input = { destination: { kind: 'local' as const, path: backups }, serverId: server.id, naming: { suffix: '.bak' }, jobs: 1 };

    let finished: ServerRestoreFinished | null = null;
    const off = engine.events.on('restore.serverFinished', (f) => (finished = f));
    const { serverRestoreId } = data(await engine.call('restore.serverStart', input));
    expect(data(await engine.call('restore.serverCancel', { serverRestoreId }))).toEqual({ canceled: true });
    while (finished === null) await new Promise((r) => setTimeout(r, 50));
    off();
    const f = finished as ServerRestoreFinished;
    expect(f.databases).toHaveLength(3);
    for (const d of f.databases) {
      expect(d.status).toBe('failed');
      expect(d.error?.code).toBe('CANCELED');
    }
    // Canceled while it was still planning: no database was started.
    expect(f.databases.map((d) => d.error!.message)).toEqual(['a.db', 'b.db', 'c.db'].map((n) => `"${n}" was not restored: the restore was canceled before it started. Run the same restore again to complete it.`));
    expect(readdirSync(target)).toEqual([]);
    expect(data(await engine.call('restore.serverCancel', { serverRestoreId }))).toEqual({ canceled: false });

    const plan = data(await engine.call('restore.serverPlan', input));
    expect(plan.databases.map((d) => d.status)).toEqual(['ready', 'ready', 'ready']);
    const { finished: rerun } = await startAndWait(engine, input);
    expect(rerun.databases.map((d) => d.status)).toEqual(['ok', 'ok', 'ok']);
    expect(readdirSync(target).sort()).toEqual(['a.db.bak', 'b.db.bak', 'c.db.bak']);
  });

  it('restore.serverActive lists a running whole-server restore with each database\'s latest state until it ends (a reloaded window finds it, and cancels it by that id); restore.active stays one-database only', { timeout: 120_000 }, async () => {
    const engine = await testEngine();
    const source = tempDir();
    for (const n of ['a.db', 'b.db', 'c.db']) write(join(source, n), `CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('${n}');`);
    const backups = join(tempDir(), 'backups');
    const task = await storedSqliteTask(engine, source, backups);
    expect((await runTask(engine, task.id)).status).toBe('success');
    const target = tempDir();
    const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'target', folder: target }));
    const input = { destination: { kind: 'local' as const, path: backups }, serverId: server.id, naming: { suffix: '.bak' }, jobs: 1, only: ['a.db', 'b.db'] };

    // What a window asking at each progress event sees (the command answers synchronously, at the event).
    const seen: Promise<unknown>[] = [];
    const offP = engine.events.on('restore.serverProgress', (p) => seen.push(engine.call('restore.serverActive', undefined).then((r) => ({ event: p.database, active: data(r) }))));
    const { finished } = await startAndWait(engine, input);
    offP();
    expect(finished.databases.map((d) => d.status)).toEqual(['ok', 'ok']);
    const snapshots = (await Promise.all(seen)) as { event: { database: string; status: string }; active: { serverRestoreId: string; serverId: string; total: number | null; startedAt: string; databases: { database: string; restoredAs: string; status: string }[] }[] }[];
    expect(snapshots.map((s) => `${s.event.database}:${s.event.status}`)).toEqual(['a.db:running', 'a.db:ok', 'b.db:running', 'b.db:ok']);
    for (const s of snapshots) {
      expect(s.active).toHaveLength(1);
      expect(s.active[0]).toMatchObject({ serverRestoreId: finished.serverRestoreId, serverId: server.id, total: 2, startedAt: expect.any(String) });
    }
    // Each answer holds every database started so far, with its latest state.
    expect(snapshots[1]!.active[0]!.databases).toEqual([{ database: 'a.db', restoredAs: 'a.db.bak', status: 'ok' }]);
    expect(snapshots[2]!.active[0]!.databases).toEqual([
      { database: 'a.db', restoredAs: 'a.db.bak', status: 'ok' },
      { database: 'b.db', restoredAs: 'b.db.bak', status: 'running' },
    ]);
    // Ended: no longer listed. One-database restores (restore.active) never list it.
    expect(data(await engine.call('restore.serverActive', undefined))).toEqual([]);
    expect(data(await engine.call('restore.active', undefined))).toEqual([]);

    // A window reloaded mid-restore finds it and cancels it by the listed id (the engine cancels it; nothing left on the target).
    let canceled: ServerRestoreFinished | null = null;
    const offF = engine.events.on('restore.serverFinished', (f) => (canceled = f));
    const rerun = { ...input, only: ['c.db'], naming: { suffix: '.again' } };
    const { serverRestoreId } = data(await engine.call('restore.serverStart', rerun));
    const listed = data(await engine.call('restore.serverActive', undefined));
    expect(listed).toEqual([{ serverRestoreId, serverId: server.id, startedAt: expect.any(String), total: 1, databases: [] }]);
    expect(data(await engine.call('restore.serverCancel', { serverRestoreId: listed[0]!.serverRestoreId }))).toEqual({ canceled: true });
    while (canceled === null) await new Promise((r) => setTimeout(r, 50));
    offF();
    expect((canceled as ServerRestoreFinished).databases.map((d) => d.error?.code)).toEqual(['CANCELED']);
    expect(data(await engine.call('restore.serverActive', undefined))).toEqual([]);
    expect(readdirSync(target).sort()).toEqual(['a.db.bak', 'b.db.bak']);
  });

  it('as of a moment (the window\'s asOf): each database from its latest point at or before it; one that cannot reach it is in the plan with OUT_OF_RANGE and is not created', { timeout: 120_000 }, async () => {
    const engine = await testEngine();
    const source = tempDir();
    write(join(source, 'a.db'), "CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('before');");
    const backups = join(tempDir(), 'backups');
    const task = await storedSqliteTask(engine, source, backups);
    expect((await runTask(engine, task.id, 'full')).status).toBe('success');
    await new Promise((r) => setTimeout(r, 20));
    const moment = new Date();
    await new Promise((r) => setTimeout(r, 20));
    write(join(source, 'a.db'), "UPDATE t SET v = 'after';");
    write(join(source, 'b.db'), "CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('new');");
    expect((await runTask(engine, task.id, 'full')).status).toBe('success');

    const target = tempDir();
    const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'target', folder: target }));
    const input = { destination: { kind: 'local' as const, path: backups }, serverId: server.id, naming: { suffix: '.then' }, asOf: moment.toISOString() };
    const plan = data(await engine.call('restore.serverPlan', input));
    const byName = Object.fromEntries(plan.databases.map((d) => [d.database, d]));
    expect(byName['a.db']).toMatchObject({ status: 'ready', error: null });
    expect(Date.parse(byName['a.db']!.point!.createdAt)).toBeLessThanOrEqual(moment.getTime());
    expect(Date.parse(byName['a.db']!.range!.from)).toBeLessThanOrEqual(moment.getTime());
    expect(Date.parse(byName['a.db']!.range!.to)).toBeGreaterThan(moment.getTime());
    const bFrom = byName['b.db']!.range!.from;
    expect(byName['b.db']).toMatchObject({
      status: 'failed',
      point: null,
      error: { code: 'OUT_OF_RANGE', message: `"b.db" has no restore point at or before ${moment.toISOString()}: its points range from ${bFrom} to ${bFrom}.` },
    });
    expect(plan.notes).toContain(`As of ${moment.toISOString()}: each database is restored from its latest restore point at or before that moment (restore points only; no log replay).`);

    const { finished } = await startAndWait(engine, input);
    const result = Object.fromEntries(finished.databases.map((d) => [d.database, d]));
    expect(result['a.db']).toMatchObject({ restoredAs: 'a.db.then', status: 'ok' });
    expect(result['b.db']).toMatchObject({ status: 'failed', error: { code: 'OUT_OF_RANGE' } });
    expect(values(join(target, 'a.db.then'))).toEqual(['before']);
    expect(readdirSync(target)).toEqual(['a.db.then']);

    // As of a moment again after that, with another name made from the latest: the plan shows the name as taken, naming both points.
    const latest = { destination: input.destination, serverId: server.id, naming: { suffix: '.now' } };
    expect((await startAndWait(engine, { ...latest, only: ['a.db'] })).finished.databases).toMatchObject([{ restoredAs: 'a.db.now', status: 'ok' }]);
    const thenPlan = data(await engine.call('restore.serverPlan', { ...latest, asOf: moment.toISOString(), only: ['a.db'] }));
    expect(thenPlan.databases).toMatchObject([{ restoredAs: 'a.db.now', status: 'exists', error: { code: 'DATABASE_EXISTS', message: expect.stringMatching(/^"a\.db\.now" was restored by an earlier run from restore point \S+, not from the one this restore asks for \(\S+, the latest at or before /) } }]);
    expect(values(join(target, 'a.db.now'))).toEqual(['after']);
  });
});
