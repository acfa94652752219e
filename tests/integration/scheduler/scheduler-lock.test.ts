/**
 * The data dir's scheduler lock (engine/scheduler/scheduler-lock.ts) and the engine's use of
 * it: a lock of a live process is respected, one of a dead process, an unreadable one or
 * one naming this pid that this process never took (a restarted container's pid 1) or one
 * taken before the machine last started (its pid reused), or whose pid another process took
 * within this boot (it started at another time), is stale; another host's lock is never taken over; an app-side engine that did not get the
 * lock retries and takes over when the holder is gone.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { acquireSchedulerLock, schedulerOwner } from '../../../electron/engine/scheduler/scheduler-lock.ts';
import { processStartTime, THIS_BOOT } from '../../../electron/engine/runtime/process-alive.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

/** A real process that stays alive until killed (its pid holds a lock). */
function liveProcess(): { pid: number; kill: () => Promise<void> } {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  onTestFinished(() => void child.kill('SIGKILL'));
  return { pid: child.pid!, kill: () => new Promise((r) => (child.once('exit', () => r()), child.kill('SIGKILL'))) };
}

const lockOf = (pid: number, host = hostname()) => JSON.stringify({ pid, who: 'agent', startedAt: '2026-12-01T00:00:00.000Z', host });

describe('scheduler lock', () => {
  it('respects a live holder, takes over a dead, unreadable or previous-incarnation lock, never another host’s', async () => {
    const dir = tempDir();
    const file = join(dir, 'scheduler.lock');
    const live = liveProcess();
    writeFileSync(file, lockOf(live.pid));
    expect(acquireSchedulerLock(dir, 'app')).toEqual({ heldBy: { pid: live.pid, who: 'agent', startedAt: '2026-12-01T00:00:00.000Z', host: hostname() } });
    expect(schedulerOwner(dir)).toMatchObject({ pid: live.pid });

    await live.kill();
    expect(schedulerOwner(dir)).toBeNull();
    const got = acquireSchedulerLock(dir, 'app');
    expect('lock' in got && got.lock.owner).toMatchObject({ pid: process.pid, who: 'app' });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ pid: process.pid, who: 'app' });
    // Held by this process now: a second acquire in it is refused, release frees it.
    expect(acquireSchedulerLock(dir, 'agent')).toMatchObject({ heldBy: { pid: process.pid, who: 'app' } });
    if ('lock' in got) got.lock.release();
    expect(schedulerOwner(dir)).toBeNull();

    for (const stale of ['not json', lockOf(process.pid)]) {
      writeFileSync(file, stale);
      const r = acquireSchedulerLock(dir, 'agent');
      expect('lock' in r).toBe(true);
      if ('lock' in r) r.lock.release();
    }

    // Taken before the machine last started (power lost, the pid now someone else's): stale though that pid runs.
    if (THIS_BOOT) {
      const reused = liveProcess();
      writeFileSync(file, JSON.stringify({ ...JSON.parse(lockOf(reused.pid)), boot: 'an-earlier-boot-id' }));
      expect(schedulerOwner(dir)).toBeNull();
      const r = acquireSchedulerLock(dir, 'app');
      expect('lock' in r && r.lock.owner).toMatchObject({ pid: process.pid, boot: THIS_BOOT });
      if ('lock' in r) r.lock.release();
      writeFileSync(file, JSON.stringify({ ...JSON.parse(lockOf(reused.pid)), boot: THIS_BOOT }));
      expect(acquireSchedulerLock(dir, 'app')).toMatchObject({ heldBy: { pid: reused.pid } });
    }

    // The pid taken by another process within this boot (the holder died, the pid was handed out again): the
    // process running under it started at another time, so the lock is stale though the pid runs.
    const started = processStartTime(process.pid);
    if (started !== undefined) {
      const other = liveProcess();
      const otherStarted = processStartTime(other.pid)!;
      writeFileSync(file, JSON.stringify({ ...JSON.parse(lockOf(other.pid)), ...(THIS_BOOT ? { boot: THIS_BOOT } : {}), started: otherStarted - 1 }));
      expect(schedulerOwner(dir)).toBeNull();
      const r = acquireSchedulerLock(dir, 'app');
      expect('lock' in r && r.lock.owner).toMatchObject({ pid: process.pid, started });
      if ('lock' in r) r.lock.release();
      // The same pid with its own start time is the holder, alive.
      writeFileSync(file, JSON.stringify({ ...JSON.parse(lockOf(other.pid)), ...(THIS_BOOT ? { boot: THIS_BOOT } : {}), started: otherStarted }));
      expect(acquireSchedulerLock(dir, 'app')).toMatchObject({ heldBy: { pid: other.pid, started: otherStarted } });
    }

    writeFileSync(file, lockOf(999_999_999, 'other-host'));
    expect(acquireSchedulerLock(dir, 'app')).toMatchObject({ heldBy: { host: 'other-host' } });
    expect(readFileSync(file, 'utf8')).toBe(lockOf(999_999_999, 'other-host'));
  });

  it('the app-side engine runs without scheduling while another process holds the lock, and takes over when it is gone', async () => {
    const engine = await testEngine();
    const live = liveProcess();
    writeFileSync(join(engine.dataDir, 'scheduler.lock'), lockOf(live.pid));
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      expect(engine.start('app', { retry: true })).toMatchObject({ scheduling: false, heldBy: { pid: live.pid, who: 'agent' } });
      vi.advanceTimersByTime(30_000);
      expect(await engine.command('scheduler.owner')).toMatchObject({ owner: { pid: live.pid }, self: false });
      await live.kill();
      vi.advanceTimersByTime(30_000);
      expect(await engine.command('scheduler.owner')).toMatchObject({ owner: { pid: process.pid, who: 'app' }, self: true });
    } finally {
      vi.useRealTimers();
    }
  });
});
