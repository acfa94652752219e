/**
 * Schedules over days and weeks, with real tasks over real SQLite folders and the real CLI;
 * only the clock is faked (Date, moving with real time, so node-schedule's timers fire):
 * - a slot that fires while the task's previous run still goes never starts a second run of
 *   that task, and is not lost: it runs once after (trigger catch-up); another task on the
 *   same server runs at that slot beside it and completes;
 * - `backstop backup` killed with SIGKILL mid-run: while it lives another process leaves its
 *   run alone, and the same task started again beside it is refused (CONFLICT); after, the next start closes it as failed (WORKER_CRASHED, saying why) instead
 *   of "running" forever, and the next incremental continues the chain;
 * - an incremental-only task whose destination was emptied starts a new full, saying why.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import type { Alert, Run } from '../../../electron/shared/domain.ts';
import { CLI_BIN, REPO_ROOT, runBackstop } from '../../fixtures/cli.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { MemorySecretStore } from '../../fixtures/memory-secret-store.ts';
import { data, runTask, waitForRun } from '../../fixtures/runs.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { until } from '../../fixtures/until.ts';

function makeDb(path: string, rows: number): void {
  const db = new Database(path);
  db.exec('CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, name TEXT)');
  const ins = db.prepare('INSERT INTO item (name) VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < rows; i++) ins.run(`item ${i}`);
  })();
  db.close();
}

/** A pre hook that writes `started` and then waits until `gate` exists (a run that takes as long as the test wants; it also ends once `dir` is removed). */
function gatedHook(dir: string) {
  const started = join(dir, 'started');
  const gate = join(dir, 'gate');
  return { started, gate, hooks: { pre: ['/bin/sh', '-c', `touch '${started}'; while [ ! -f '${gate}' ] && [ -d '${dir}' ]; do sleep 0.02; done`], timeoutSeconds: 120 } };
}


afterEach(() => vi.useRealTimers());

describe('schedules over time', () => {
  it('a slot firing while the task still runs waits and runs once after (never two runs at once); another task on the server runs at that slot', async () => {
    // 2026-05-04 10:59:59 UTC: the hourly slot comes in about a second of real time.
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-05-04T10:59:59.000Z'), shouldAdvanceTime: true });
    const folder = tempDir('backstop-sched-server-');
    makeDb(join(folder, 'shop.db'), 200);
    const work = tempDir('backstop-sched-work-');
    const gated = gatedHook(work);
    const engine = await testEngine({ secrets: new MemorySecretStore(), encoderWorkers: 0 });
    const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder }));
    const schedule = { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' };
    const slow = data(await engine.call('tasks.create', { name: 'slow', serverId: server.id, type: 'snapshot', schedule, destinations: [{ kind: 'local', path: tempDir() }], hooks: gated.hooks }));
    const other = data(await engine.call('tasks.create', { name: 'other', serverId: server.id, type: 'snapshot', schedule: { ...schedule, full: null }, destinations: [{ kind: 'local', path: tempDir() }] }));
    expect(engine.start('app')).toEqual({ scheduling: true });

    // A long full (held in its pre hook) is going when the 11:00 incremental slot fires.
    const { runId: fullId } = data(await engine.call('tasks.runNow', { id: slow.id, kind: 'full' }));
    await until('the full to start', () => existsSync(gated.started));
    const runsOf = async (taskId: string) => data(await engine.call('history.list', { taskId, limit: 100 }));
    // The other task on the same server runs at 11:00 beside the held full, and completes.
    const otherRun = await until('the other task to run at 11:00', async () => (await runsOf(other.id)).find((r) => r.trigger === 'schedule'));
    expect((await waitForRun(engine, otherRun.id)).status).toBe('success');
    expect(new Date(otherRun.startedAt).getTime()).toBeGreaterThanOrEqual(Date.parse('2026-05-04T11:00:00Z'));
    // The slow task: still its one run, nothing started beside it.
    expect((await runsOf(slow.id)).map((r) => [r.id, r.status])).toEqual([[fullId, 'running']]);
    expect(engine.runner.activeRuns().filter((r) => r.taskId === slow.id)).toHaveLength(1);

    writeFileSync(gated.gate, '');
    const full = await waitForRun(engine, fullId);
    expect(full.status).toBe('success');
    // The slot that fired meanwhile runs once, right after, as a catch-up incremental continuing the full's chain.
    const after = await until('the deferred run', async () => (await runsOf(slow.id)).find((r) => r.id !== fullId));
    const deferred = await waitForRun(engine, after.id);
    expect(deferred).toMatchObject({ trigger: 'catch-up', requestedKind: 'incremental', status: 'success' });
    expect(deferred.startedAt >= full.endedAt!).toBe(true);
    expect(deferred.databases.map((d) => [d.database, d.kind])).toEqual([['shop.db', 'incremental']]);
    expect(await runsOf(slow.id)).toHaveLength(2);
  }, 90_000);

  it('kill -9 of `backstop backup` mid-run: left alone while it lives (a second run of the task refused), closed as failed at the next start, and the next incremental continues the chain', async () => {
    const folder = tempDir('backstop-kill-server-');
    makeDb(join(folder, 'ledger.db'), 500);
    const backups = tempDir('backstop-kill-backups-');
    const dataDir = tempDir('backstop-kill-data-');
    const work = tempDir('backstop-kill-work-');
    const gated = gatedHook(work);
    const taskFile = join(work, 'task.json');
    writeFileSync(
      taskFile,
      JSON.stringify({ name: 'nightly', server: { kind: 'sqlite', folder }, type: 'snapshot', schedule: { full: '0 2 * * 0', incremental: '0 * * * *' }, destinations: [{ kind: 'local', path: backups }], hooks: gated.hooks }),
    );
    writeFileSync(gated.gate, ''); // the first full runs through
    const first = await runBackstop(['backup', '--config', taskFile, '--data-dir', dataDir, '--kind', 'full', '--json']);
    expect(first.code, first.stderr).toBe(0);
    rmSync(gated.gate);
    rmSync(gated.started);

    const child = spawn(process.execPath, [CLI_BIN, 'backup', '--config', taskFile, '--data-dir', dataDir, '--kind', 'incremental', '--json'], { cwd: REPO_ROOT, stdio: 'ignore' });
    const exited = new Promise((r) => child.on('exit', r));
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    try {
      await until('the run to start', () => existsSync(gated.started));
      const history = async () => JSON.parse((await runBackstop(['history', '--data-dir', dataDir, '--json'])).stdout) as Run[];
      // Another process starting meanwhile (here `backstop history`) leaves the live run alone.
      expect((await history()).map((r) => r.status)).toEqual(['running', 'success']);
      // The same task file started again meanwhile (an overlapping cron job) is refused, not run beside it.
      const second = await runBackstop(['backup', '--config', taskFile, '--data-dir', dataDir, '--kind', 'incremental', '--json']);
      expect(second.code).toBe(1);
      const refused = JSON.parse(second.stdout) as { error: { code: string; message: string } };
      expect(refused.error.code).toBe('CONFLICT');
      expect(refused.error.message).toMatch(new RegExp(`^Task "nightly" is already running in another Backstop process \\(pid ${child.pid} on .+, since .+\\); this run was not started`));
      expect((await history()).map((r) => r.status)).toEqual(['running', 'success']);
      child.kill('SIGKILL');
      await exited;
    } finally {
      writeFileSync(gated.gate, ''); // lets the orphaned hook shell end
    }
    const [killed, full] = await (async () => JSON.parse((await runBackstop(['history', '--data-dir', dataDir, '--json'])).stdout) as Run[])();
    expect(full!.status).toBe('success');
    expect(killed).toMatchObject({ status: 'failed', errorCode: 'WORKER_CRASHED' });
    expect(killed!.errorMessage).toContain('stopped before it finished (killed, crashed, or the machine lost power');
    expect(killed!.endedAt).not.toBeNull();
    expect(killed!.databases.filter((d) => d.status === 'running')).toEqual([]);
    // No half point: the one full only.
    const points = JSON.parse((await runBackstop(['points', join(backups, readdirSync(backups)[0]!), '--data-dir', dataDir, '--json'])).stdout) as { kind: string }[];
    expect(points.map((p) => p.kind)).toEqual(['full']);
    // The next incremental continues the full's chain.
    makeDb(join(folder, 'ledger.db'), 50);
    const next = await runBackstop(['backup', '--config', taskFile, '--data-dir', dataDir, '--kind', 'incremental', '--json']);
    expect(next.code, next.stderr).toBe(0);
    const [again] = JSON.parse((await runBackstop(['history', '--data-dir', dataDir, '--json'])).stdout) as Run[];
    expect(again).toMatchObject({ status: 'success' });
    expect(again!.databases.map((d) => [d.database, d.kind, d.kindReason])).toEqual([['ledger.db', 'incremental', null]]);
  }, 90_000);

  it('an incremental-only task whose destination was emptied starts a new full, saying why', async () => {
    const folder = tempDir('backstop-inc-server-');
    makeDb(join(folder, 'app.db'), 100);
    const backups = tempDir('backstop-inc-backups-');
    const engine = await testEngine({ secrets: new MemorySecretStore(), encoderWorkers: 0 });
    const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder }));
    const task = data(
      await engine.call('tasks.create', { name: 'hourly', serverId: server.id, type: 'snapshot', schedule: { full: null, incremental: '0 * * * *', timezone: 'UTC' }, destinations: [{ kind: 'local', path: backups }] }),
    );
    const first = await runTask(engine, task.id);
    expect(first.databases.map((d) => [d.kind, d.kindReason])).toEqual([['full', 'first backup at this destination']]);
    expect((await runTask(engine, task.id)).databases.map((d) => d.kind)).toEqual(['incremental']);
    // The destination is emptied (the disk replaced by a new empty one at the same path).
    rmSync(backups, { recursive: true });
    mkdirSync(backups);
    const next = await runTask(engine, task.id);
    expect(next.status).toBe('success');
    expect(next.databases.map((d) => d.kind)).toEqual(['full']);
    expect(next.databases[0]!.kindReason).toMatch(/^the earlier backups of "app\.db" at this destination are gone \(the newest was taken \d{4}-\d\d-\d\d \d\d:\d\d UTC; its folder was emptied, deleted or replaced by a new one\), so a new chain starts with this full$/);
  }, 60_000);

  it('a destination rolled back to an older copy: the next incremental continues from what is there, its History row names the newest missing point, one points-missing alert; no false alarm before or after', async () => {
    const folder = tempDir('backstop-rollback-server-');
    makeDb(join(folder, 'app.db'), 100);
    makeDb(join(folder, 'quiet.db'), 10);
    const backups = tempDir('backstop-rollback-backups-');
    const engine = await testEngine({ secrets: new MemorySecretStore(), encoderWorkers: 0 });
    const alerts: Alert[] = [];
    engine.events.on('alert', (a) => alerts.push(a));
    const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder }));
    const task = data(
      await engine.call('tasks.create', { name: 'nightly', serverId: server.id, type: 'snapshot', schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' }, destinations: [{ kind: 'local', path: backups }] }),
    );
    const app = (r: Run) => r.databases.find((d) => d.database === 'app.db')!;
    expect((await runTask(engine, task.id, 'full')).status).toBe('success');
    makeDb(join(folder, 'app.db'), 5);
    const kept = app(await runTask(engine, task.id, 'incremental'));
    // The NAS's snapshot of the destination, taken here.
    const snapshot = tempDir('backstop-rollback-snapshot-');
    cpSync(backups, snapshot, { recursive: true });
    const later: string[] = [];
    for (let i = 0; i < 2; i++) {
      makeDb(join(folder, 'app.db'), 5);
      const run = await runTask(engine, task.id, 'incremental');
      expect(run.databases.map((d) => [d.database, d.kind, d.kindReason])).toEqual([
        ['app.db', 'incremental', null],
        ['quiet.db', 'incremental', 'unchanged since the last point: nothing stored'],
      ]);
      later.push(app(run).pointId!);
    }
    expect(alerts.filter((a) => a.kind === 'points-missing')).toEqual([]);
    // The destination is restored from that snapshot: the two newer points are gone.
    rmSync(backups, { recursive: true });
    cpSync(snapshot, backups, { recursive: true });
    makeDb(join(folder, 'app.db'), 5);
    const after = await runTask(engine, task.id, 'incremental');
    expect(after.status).toBe('success');
    expect(app(after).kind).toBe('incremental');
    expect(app(after).kindReason).toMatch(
      new RegExp(
        `^2 newer restore points this task wrote here are gone from the folder \\(newest ${later[1]}, written \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC\\): the folder was rolled back to an older copy, or points were deleted outside this task's retention; this incremental continues from ${kept.pointId}$`,
      ),
    );
    // quiet.db never stored a point after its full, so nothing of it is missing.
    expect(after.databases.find((d) => d.database === 'quiet.db')!.kindReason).toBe('unchanged since the last point: nothing stored');
    await expect.poll(() => alerts.filter((a) => a.kind === 'points-missing')).toHaveLength(1);
    expect(alerts.find((a) => a.kind === 'points-missing')).toMatchObject({ taskId: task.id, databases: ['app.db'], message: expect.stringContaining('the destination was rolled back to an older copy') });
    // The chain goes on from here: the next run has nothing to say.
    makeDb(join(folder, 'app.db'), 5);
    expect(app(await runTask(engine, task.id, 'incremental')).kindReason).toBeNull();
    expect(alerts.filter((a) => a.kind === 'points-missing')).toHaveLength(1);
    await engine.close();
  }, 90_000);
});
