/**
 * Test restores after every full, under a time cap, and "proven restorable" in the task
 * status (issue #22), through the engine on real SQLite files: a successful full starts a
 * test restore by itself (an incremental does not); with `maxMinutes` a run stops starting
 * databases once the cap is reached and the next run takes the ones tested longest ago
 * first, so every database is proven in turn; tasks.status says which databases are
 * proven, untested or failing; `backstop test-restore` names the databases it left for next time.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Run } from '../../../electron/shared/domain.ts';
import type { Engine } from '../../../electron/engine/index.ts';
import { cliInProcess, writeTaskFile } from '../../fixtures/cli.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

async function testRestoreRuns(engine: Engine): Promise<Run[]> {
  return data(await engine.call('history.list', { limit: 50 })).filter((r) => r.runKind === 'test-restore');
}

async function waitForTestRestores(engine: Engine, count: number): Promise<Run[]> {
  for (let i = 0; i < 600; i++) {
    const runs = await testRestoreRuns(engine);
    if (runs.length >= count && runs.every((r) => r.status !== 'running')) return runs;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`fewer than ${count} test restores finished`);
}

function sqliteServer(dir: string, names: string[]): string {
  const folder = join(dir, 'server');
  mkdirSync(folder);
  for (const n of names) {
    const db = new Database(join(folder, n));
    db.exec(`CREATE TABLE t (x); INSERT INTO t VALUES (1), (2), (3);`);
    db.close();
  }
  return folder;
}

/** A clock that moves on by `stepMs` at every reading (Date.now() and new Date()), from `startMs`. */
function steppingClock(startMs: number, stepMs: number): void {
  const Real = Date;
  let ms = startMs;
  class Stepping extends Real {
    constructor(...args: unknown[]) {
      if (args.length === 0) super((ms += stepMs));
      else super(...(args as [string]));
    }
    static override now(): number {
      return (ms += stepMs);
    }
  }
  vi.stubGlobal('Date', Stepping);
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('test restores after every full and under a time cap', () => {
  it('a successful full starts a test restore by itself; an incremental does not', { timeout: 180_000 }, async () => {
    const dir = tempDir();
    const folder = sqliteServer(dir, ['a.db', 'b.db']);
    const engine = await testEngine({ dataDir: join(dir, 'data'), encoderWorkers: 0 });
    const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder }));
    const base = { name: 'files', serverId: server.id, type: 'snapshot', schedule: { full: '0 2 * * *', timezone: 'UTC' }, destinations: [{ kind: 'local', path: join(dir, 'backups') }] };
    const refused = await engine.call('tasks.create', { ...base, testRestore: { afterFull: false } });
    expect(refused).toMatchObject({ ok: false, code: 'MALFORMED_REQUEST', message: 'Invalid request for tasks.create: testRestore.schedule: needs a schedule, or afterFull: true' });
    const task = data(await engine.call('tasks.create', { ...base, testRestore: { afterFull: true } }));
    expect(task.testRestore).toEqual({ schedule: null, afterFull: true, maxMinutes: null });

    expect((await runTask(engine, task.id, 'full')).status).toBe('success');
    const [proof] = await waitForTestRestores(engine, 1);
    expect(proof).toMatchObject({ status: 'success', runKind: 'test-restore' });
    expect(proof!.databases.map((d) => [d.database, d.status]).sort()).toEqual([['a.db', 'success'], ['b.db', 'success']]);

    expect((await runTask(engine, task.id, 'incremental')).status).toBe('success');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await testRestoreRuns(engine)).toHaveLength(1);

    let [status] = data(await engine.call('tasks.status', undefined));
    expect(status!.proven).toMatchObject({ untested: [], allOkAt: expect.any(String) });
    expect(status!.proven!.databases.map((d) => [d.database, d.ok]).sort()).toEqual([['a.db', true], ['b.db', true]]);
    expect(status!.proven!.lastRunFailed).toBeUndefined();

    // The next test restore cannot test anything (the destination lost its backups): the older proofs no longer speak for the task.
    rmSync(join(dir, 'backups'), { recursive: true });
    mkdirSync(join(dir, 'backups'));
    const blind = await engine.testRestores.run(await engine.resolveTask(task.id), 'manual');
    expect(blind.error?.code).toBe('NOT_FOUND');
    [status] = data(await engine.call('tasks.status', undefined));
    expect(status!.proven!.lastRunFailed).toEqual({ at: expect.any(String), code: 'NOT_FOUND', message: blind.error!.message });
    expect(status!.proven!.databases.map((d) => [d.database, d.ok]).sort()).toEqual([['a.db', true], ['b.db', true]]);
    await engine.close();
  });

  it('with maxMinutes, a run stops starting databases at the cap and the next one takes those tested longest ago', { timeout: 180_000 }, async () => {
    const dir = tempDir();
    const folder = sqliteServer(dir, ['a.db', 'b.db', 'c.db']);
    // Every reading of the clock moves it on by 40 s: one database's restore spans more than the 1-minute cap.
    let ms = Date.parse('2026-03-02T10:00:00Z');
    const engine = await testEngine({ dataDir: join(dir, 'data'), encoderWorkers: 0, now: () => new Date((ms += 40_000)) });
    const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder }));
    const task = data(
      await engine.call('tasks.create', {
        name: 'files',
        serverId: server.id,
        type: 'snapshot',
        schedule: { full: '0 2 * * *', timezone: 'UTC' },
        destinations: [{ kind: 'local', path: join(dir, 'backups') }],
        testRestore: { schedule: '0 4 * * 0', maxMinutes: 1 },
      }),
    );
    expect((await runTask(engine, task.id, 'full')).status).toBe('success');
    const resolved = await engine.resolveTask(task.id);

    const first = await engine.testRestores.run(resolved, 'manual');
    expect(first.status).toBe('success');
    expect(first.databases.map((d) => d.database)).toEqual(['a.db']);
    expect(first.deferred).toEqual(['b.db', 'c.db']);
    let [status] = data(await engine.call('tasks.status', undefined));
    expect(status!.proven).toMatchObject({ untested: ['b.db', 'c.db'], databases: [{ database: 'a.db', ok: true }] });

    const second = await engine.testRestores.run(await engine.resolveTask(task.id), 'manual');
    expect(second.databases.map((d) => d.database)).toEqual(['b.db']);
    const third = await engine.testRestores.run(await engine.resolveTask(task.id), 'manual');
    expect(third.databases.map((d) => d.database)).toEqual(['c.db']);
    // All three proven once: the oldest proof (a.db) comes first again.
    const fourth = await engine.testRestores.run(await engine.resolveTask(task.id), 'manual');
    expect(fourth.databases.map((d) => d.database)).toEqual(['a.db']);
    [status] = data(await engine.call('tasks.status', undefined));
    expect(status!.proven!.untested).toEqual([]);
    expect(status!.proven!.databases.map((d) => d.database)).toEqual(['a.db', 'c.db', 'b.db']);
    expect(status!.proven!.allOkAt).toBe(status!.proven!.databases[0]!.at);
    await engine.close();
  });

  it('backstop test-restore with maxMinutes: --json lists the databases left for the next run under "deferred", and the text says so', { timeout: 180_000 }, async () => {
    const dir = tempDir();
    const folder = sqliteServer(dir, ['a.db', 'b.db', 'c.db']);
    const dataDir = join(dir, 'data');
    const task = writeTaskFile(dir, { server: { kind: 'sqlite', folder }, destinations: [{ kind: 'local', path: join(dir, 'backups') }], testRestore: { schedule: '0 4 * * 0', maxMinutes: 1 } });
    expect((await cliInProcess('backup', '--config', task, '--data-dir', dataDir, '--json')).code).toBe(0);
    // Every reading of the clock moves it on by 40 s: the first database's test restore spans the 1-minute cap.
    steppingClock(Date.parse('2026-03-02T10:00:00Z'), 40_000);
    const json = await cliInProcess('test-restore', '--config', task, '--data-dir', dataDir, '--json');
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.out) as { status: string; databases: { database: string; status: string }[]; deferred?: string[] };
    expect(doc.status).toBe('success');
    expect(doc.databases.map((d) => [d.database, d.status])).toEqual([['a.db', 'ok']]);
    expect(doc.deferred).toEqual(['b.db', 'c.db']);
    // The next run takes the two left over first (tested longest ago: never); the text names the one it left.
    const text = await cliInProcess('test-restore', '--config', task, '--data-dir', dataDir);
    expect(text.code).toBe(0);
    expect(text.out).toContain('ok     b.db');
    expect(text.out).toContain("not tested this time (the task's maxMinutes was reached; they come first next time): c.db");
  });
});
