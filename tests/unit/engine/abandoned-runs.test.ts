/**
 * Runs a process that is gone left "running" (kill -9, a crash, power loss) are closed as
 * failed at the next start, with why; a live process's run is never touched (on another host:
 * one marked alive within the last ten minutes).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HistoryTable, openAppDatabase } from '../../../electron/engine/store/index.ts';
import { THIS_PROCESS } from '../../../electron/engine/runtime/process-alive.ts';
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
    const finished = start('finished');
    owner(finished, { ...THIS_PROCESS, pid: DEAD_PID, token: 'x' });
    history.finishRun(finished, 'success', '2026-05-01T02:10:00.000Z');

    const expected = [dead, deadRestore, previousIncarnation, old, foreignStale, ...(THIS_PROCESS.boot ? [beforeReboot] : [])];
    expect(history.closeAbandoned('2026-05-01T09:00:00.000Z').sort()).toEqual(expected.sort());
    const byId = new Map(history.list({ limit: 100 }).map((r) => [r.id, r]));
    const closed = byId.get(dead)!;
    expect(closed).toMatchObject({ status: 'failed', endedAt: '2026-05-01T09:00:00.000Z', errorCode: 'WORKER_CRASHED' });
    expect(closed.errorMessage).toMatch(/^The Backstop process running this backup run stopped before it finished \(killed, crashed, or the machine lost power or was shut down\)/);
    expect(closed.databases).toMatchObject([{ database: 'shop', status: 'failed', errorCode: 'WORKER_CRASHED', endedAt: '2026-05-01T09:00:00.000Z' }]);
    expect(closed.errorMessage).toMatch(/It is not re-run by itself: the task's next run \(its next scheduled slot, or Run now\) takes what it missed\.$/);
    expect(byId.get(deadRestore)!.errorMessage).toMatch(/running this restore stopped .* run the same restore again \(same backup, same new name\), which drops the copy it left first, or drop that database\.$/);
    expect(byId.get(live)!.status).toBe('running'); // this very process runs it
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
    owner(start('other'), { ...THIS_PROCESS, pid: process.ppid, token: 'the parent process' });
    owner(start('dead'), { ...THIS_PROCESS, pid: DEAD_PID, token: 'x' });
    expect(history.runningElsewhere('mine', now)).toBeNull();
    expect(history.runningElsewhere('other', now)).toEqual({ startedAt: '2026-05-01T02:59:00.000Z', owner: { ...THIS_PROCESS, pid: process.ppid, token: 'the parent process' } });
    owner(start('rebooted'), { ...THIS_PROCESS, pid: process.ppid, token: 'before the power loss', boot: 'an-earlier-boot-id' });
    if (THIS_PROCESS.boot) expect(history.runningElsewhere('rebooted', now)).toBeNull(); // a live pid, but of another boot
    expect(history.runningElsewhere('dead', now)).toBeNull();
    expect(history.runningElsewhere('none', now)).toBeNull();
    db.close();
  });
});
