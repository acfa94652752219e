/**
 * Runs a process that is gone left "running" (kill -9, a crash, power loss) are closed as
 * failed at the next start, with why; a live process's run is never touched (on another host:
 * one marked alive within the last ten minutes).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HistoryTable, openAppDatabase, ScheduleStateTable } from '../../../electron/engine/store/index.ts';
import { closeAbandonedRuns } from '../../../electron/engine/tasks/abandoned-runs.ts';
import type { RunTrigger, Task } from '../../../electron/shared/domain.ts';
import { processStartTime, THIS_PROCESS } from '../../../electron/engine/runtime/process-alive.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

/** A pid that runs no process (the highest one the kernel hands out is below 2^22). */
const DEAD_PID = 4_194_303 + 1_000;

describe('HistoryTable.closeAbandoned', () => {
  it('closes the runs of a gone process (and their unfinished rows) as WORKER_CRASHED; leaves a live or foreign one', () => {
    const db = openAppDatabase(join(tempDir(), 'backstop.db'));
    const history = new HistoryTable(db);
    const start = (taskId: string, runKind?: 'restore') => history.startRun({ taskId, taskName: taskId, trigger: 'schedule', requestedKind: 'full', startedAt: '2026-05-01T02:00:00.000Z', ...(runKind ? { runKind } : {}) });
    const dead = start('dead');
    history.startDatabase(dead, { database: 'shop', destination: 'local:/b', kind: 'full', kindReason: null, startedAt: '2026-05-01T02:00:01.000Z', serverStream: false });
    const deadRestore = start('restore', 'restore');
    const live = start('live');
    const foreign = start('foreign');
    const foreignStale = start('foreign-stale');
    const previousIncarnation = start('pid-reused');
    const old = start('before-schema-13');
    const beforeReboot = start('before-reboot');
    const owner = (id: string, o: unknown) => db.prepare('UPDATE runs SET owner = ? WHERE id = ?').run(o === null ? null : JSON.stringify(o), id);
    owner(dead, { ...THIS_PROCESS, pid: DEAD_PID, token: 'x' });
    owner(deadRestore, { ...THIS_PROCESS, pid: DEAD_PID, token: 'x' });
    owner(foreign, { pid: DEAD_PID, host: `${THIS_PROCESS.host}-elsewhere`, token: 'y' });
    history.touch([foreign], '2026-05-01T08:55:00.000Z'); // its process marked it alive 5 minutes ago
    owner(foreignStale, { pid: process.pid, host: 'a-container-that-is-gone', token: 'z' }); // not marked alive since 02:00
    owner(previousIncarnation, { ...THIS_PROCESS, token: 'an earlier process with this pid' });
    owner(old, null);
    // Power lost, machine started again: the pid now belongs to a live process (the test's parent), but the run is from the earlier boot.
    owner(beforeReboot, { ...THIS_PROCESS, pid: process.ppid, token: 'before the power loss', boot: 'an-earlier-boot-id' });
    // The pid taken by another process within this boot (the parent test process here): it started at another time.
    const reusedInBoot = start('pid-reused-in-boot');
    const parentStarted = processStartTime(process.ppid);
    owner(reusedInBoot, { ...THIS_PROCESS, pid: process.ppid, token: 'an earlier process', ...(parentStarted !== undefined ? { started: parentStarted - 1 } : {}) });
    const liveParent = start('live-parent');
    owner(liveParent, { ...THIS_PROCESS, pid: process.ppid, token: 'the parent', ...(parentStarted !== undefined ? { started: parentStarted } : {}) });
    const finished = start('finished');
    owner(finished, { ...THIS_PROCESS, pid: DEAD_PID, token: 'x' });
    history.finishRun(finished, 'success', '2026-05-01T02:10:00.000Z');

    const expected = [dead, deadRestore, previousIncarnation, old, foreignStale, ...(THIS_PROCESS.boot ? [beforeReboot] : []), ...(parentStarted !== undefined ? [reusedInBoot] : [])];
    expect(history.closeAbandoned('2026-05-01T09:00:00.000Z').map((r) => r.id).sort()).toEqual(expected.sort());
    const byId = new Map(history.list({ limit: 100 }).map((r) => [r.id, r]));
    const closed = byId.get(dead)!;
    expect(closed).toMatchObject({ status: 'failed', endedAt: '2026-05-01T09:00:00.000Z', errorCode: 'WORKER_CRASHED' });
    expect(closed.errorMessage).toMatch(/^The Backstop process running this backup run stopped before it finished \(killed, crashed, or the machine lost power or was shut down\)/);
    expect(closed.databases).toMatchObject([{ database: 'shop', status: 'failed', errorCode: 'WORKER_CRASHED', endedAt: '2026-05-01T09:00:00.000Z' }]);
    expect(closed.errorMessage).toMatch(/It is not re-run by itself: the task's next run \(its next scheduled slot, or Run now\) takes what it missed\.$/);
    expect(byId.get(deadRestore)!.errorMessage).toMatch(/running this restore stopped .* run the same restore again \(same backup, same new name\), which drops the copy it left first, or drop that database\.$/);
    expect(byId.get(live)!.status).toBe('running'); // this very process runs it
    expect(byId.get(liveParent)!.status).toBe('running'); // its pid runs, started when recorded
    expect(byId.get(foreign)!.status).toBe('running'); // another host's process, alive a moment ago
    expect(byId.get(foreignStale)).toMatchObject({ status: 'failed', errorCode: 'WORKER_CRASHED' });
    expect(byId.get(finished)).toMatchObject({ status: 'success', errorCode: null });
    // A second start finds nothing more to close.
    expect(history.closeAbandoned('2026-05-01T09:01:00.000Z')).toEqual([]);
    db.close();
  });

  it('runningElsewhere names another live process running the task, never this one or a gone one', () => {
    const db = openAppDatabase(join(tempDir(), 'backstop.db'));
    const history = new HistoryTable(db);
    const now = new Date('2026-05-01T03:00:00.000Z');
    const start = (taskId: string) => history.startRun({ taskId, taskName: taskId, trigger: 'cli', requestedKind: 'full', startedAt: '2026-05-01T02:59:00.000Z' });
    const owner = (id: string, o: unknown) => db.prepare('UPDATE runs SET owner = ? WHERE id = ?').run(JSON.stringify(o), id);
    start('mine');
    const parent = { ...THIS_PROCESS, pid: process.ppid, token: 'the parent process', started: processStartTime(process.ppid) };
    owner(start('other'), parent);
    owner(start('dead'), { ...THIS_PROCESS, pid: DEAD_PID, token: 'x' });
    expect(history.runningElsewhere('mine', now)).toBeNull();
    expect(history.runningElsewhere('other', now)).toEqual({ startedAt: '2026-05-01T02:59:00.000Z', owner: JSON.parse(JSON.stringify(parent)) });
    // Its pid taken over by another process within this boot (one started at another time): not running it.
    if (parent.started !== undefined) owner(start('pid-reused'), { ...parent, started: parent.started + 1 });
    expect(history.runningElsewhere('pid-reused', now)).toBeNull();
    owner(start('rebooted'), { ...THIS_PROCESS, pid: process.ppid, token: 'before the power loss', boot: 'an-earlier-boot-id' });
    if (THIS_PROCESS.boot) expect(history.runningElsewhere('rebooted', now)).toBeNull(); // a live pid, but of another boot
    expect(history.runningElsewhere('dead', now)).toBeNull();
    expect(history.runningElsewhere('none', now)).toBeNull();
    db.close();
  });

  it('closeAbandonedRuns: only a killed scheduled full is caught up (its slot set back, once), and each closed run of a stored task is announced once', () => {
    const db = openAppDatabase(join(tempDir(), 'backstop.db'));
    const history = new HistoryTable(db);
    db.exec('PRAGMA foreign_keys = OFF'); // the tasks here are plain objects, not rows of the tasks table
    const scheduleState = new ScheduleStateTable(db);
    const schedule = { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' };
    const task = (id: string, over: Partial<Task> = {}) => ({ id, name: id, enabled: true, schedule, ...over }) as Task;
    const tasks = [task('full'), task('catch-up'), task('incremental'), task('manual'), task('disabled', { enabled: false })];
    const killed = (taskId: string, trigger: RunTrigger, kind: 'full' | 'incremental', startedAt: string) => {
      const id = history.startRun({ taskId, taskName: taskId, trigger, requestedKind: kind, startedAt });
      db.prepare('UPDATE runs SET owner = ? WHERE id = ?').run(JSON.stringify({ ...THIS_PROCESS, pid: DEAD_PID, token: 'x' }), id);
      return id;
    };
    // Sunday 2026-05-03 02:00 UTC is the weekly full's slot; the hourly slot at 03:00 fired (deferred) while it ran.
    killed('full', 'schedule', 'full', '2026-05-03T02:00:01.000Z');
    scheduleState.setLastSlot('full', new Date('2026-05-03T03:00:00.000Z'));
    killed('catch-up', 'catch-up', 'full', '2026-05-03T02:00:01.000Z');
    scheduleState.setLastSlot('catch-up', new Date('2026-05-03T02:00:00.000Z'));
    killed('incremental', 'schedule', 'incremental', '2026-05-03T05:00:01.000Z');
    scheduleState.setLastSlot('incremental', new Date('2026-05-03T05:00:00.000Z'));
    killed('manual', 'manual', 'full', '2026-05-03T02:00:01.000Z');
    killed('disabled', 'schedule', 'full', '2026-05-03T02:00:01.000Z');
    const gone = killed('a-task-file', 'cli', 'full', '2026-05-03T02:00:01.000Z');

    const out = closeAbandonedRuns({ history, tasks: () => tasks, scheduleState, now: () => new Date('2026-05-03T09:00:00.000Z') });
    expect(scheduleState.lastSlot('full')).toEqual(new Date('2026-05-03T01:59:59.999Z'));
    expect(scheduleState.lastSlot('catch-up')).toEqual(new Date('2026-05-03T02:00:00.000Z')); // a killed catch-up is not caught up again
    expect(scheduleState.lastSlot('incremental')).toEqual(new Date('2026-05-03T05:00:00.000Z'));
    expect(scheduleState.lastSlot('manual')).toBeNull();
    expect(scheduleState.lastSlot('disabled')).toBeNull();
    // Every closed backup is announced: a stored task's with its task, a task file's without (its channels are in the file).
    expect(out.map((a) => [a.run.taskId, a.task?.id ?? null, a.alert.kind]).sort()).toEqual([
      ['a-task-file', null, 'run-failed'],
      ['catch-up', 'catch-up', 'run-failed'],
      ['disabled', 'disabled', 'run-failed'],
      ['full', 'full', 'run-failed'],
      ['incremental', 'incremental', 'run-failed'],
      ['manual', 'manual', 'run-failed'],
    ]);
    expect(out.find((a) => a.run.id === gone)!.alert).toMatchObject({ taskId: 'a-task-file', message: expect.stringMatching(/^Backup task "a-task-file" did not finish/) });
    const full = out.find((a) => a.run.taskId === 'full')!;
    expect(full.run.message).toMatch(/Its full is caught up once: the scheduler runs one full \(trigger catch-up\) when it next starts/);
    expect(full.alert.message).toBe(`Backup task "full" did not finish (run started 2026-05-03T02:00:01.000Z): ${full.run.message}`);
    expect(out.find((a) => a.run.taskId === 'catch-up')!.run.message).toMatch(/It is not re-run by itself: the task's next run \(its next scheduled slot, or Run now\) takes what it missed\.$/);
    expect(history.list({ limit: 10 }).find((r) => r.id === gone)).toMatchObject({ status: 'failed', errorCode: 'WORKER_CRASHED' });
    // The next start closes nothing and announces nothing.
    expect(closeAbandonedRuns({ history, tasks: () => tasks, scheduleState, now: () => new Date('2026-05-03T09:05:00.000Z') })).toEqual([]);
    db.close();
  });
});
