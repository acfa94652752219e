import { describe, expect, it, vi } from 'vitest';
import type { MessageBoxOptions } from 'electron';
import type { ActiveRun } from '../../../electron/shared/domain.ts';
import { QUIT_BUTTONS, createQuitGuard } from '../../../electron/main/quit.ts';
import { fakeScheduler } from './fakes.ts';

vi.mock('electron', () => ({}));

const WAIT = 0;
const CANCEL = 1;
const KEEP = 2;

function setup(taskNames: string[]) {
  const active = new Map<string, ActiveRun>(
    taskNames.map((name) => [name, { runId: `r-${name}`, taskId: name, taskName: name, kind: 'full', startedAt: '', status: 'running', databases: [] }]),
  );
  let idleWaiters: (() => void)[] = [];
  const finish = (taskId: string) => {
    active.delete(taskId);
    if (active.size === 0) {
      for (const w of idleWaiters) w();
      idleWaiters = [];
    }
  };
  const runner = {
    activeRuns: vi.fn(() => [...active.values()]),
    cancel: vi.fn((taskId: string) => {
      const r = active.get(taskId);
      if (r) r.status = 'canceling';
      return r !== undefined;
    }),
    idle: vi.fn(() => (active.size === 0 ? Promise.resolve() : new Promise<void>((r) => idleWaiters.push(r)))),
  };
  const scheduler = fakeScheduler();
  const answers: number[] = [];
  const showMessageBox = vi.fn(async (_o: MessageBoxOptions) => ({ response: answers.shift() ?? KEEP }));
  const guard = createQuitGuard({ runner, scheduler, showMessageBox, log: { info: vi.fn() } });
  const settled = (p: Promise<boolean>) => {
    const box = { value: undefined as boolean | undefined };
    void p.then((v) => (box.value = v));
    return box;
  };
  return { guard, runner, scheduler, answers, showMessageBox, finish, settled };
}

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('quit while backups run', () => {
  it('quits at once, without asking, when nothing runs', async () => {
    const s = setup([]);
    await expect(s.guard.confirmQuit()).resolves.toBe(true);
    expect(s.showMessageBox).not.toHaveBeenCalled();
  });

  it('asks "N backups are running" with Wait / Cancel / Keep running; Esc means keep running', async () => {
    const s = setup(['nightly', 'weekly']);
    await expect(s.guard.confirmQuit()).resolves.toBe(false);
    const options = s.showMessageBox.mock.calls[0]![0];
    expect(options).toMatchObject({ message: '2 backups are running', buttons: [...QUIT_BUTTONS], defaultId: WAIT, cancelId: KEEP });
    expect(options.buttons).toEqual(['Wait for them', 'Cancel backups and quit', 'Keep running']);
    expect(options.detail).toContain('nightly, weekly');
    expect(s.runner.cancel).not.toHaveBeenCalled();
    expect(s.scheduler.pause).not.toHaveBeenCalled();
  });

  it('Wait: holds new scheduled runs and says yes only when the last backup finished', async () => {
    const s = setup(['nightly', 'weekly']);
    s.answers.push(WAIT);
    const result = s.settled(s.guard.confirmQuit());
    await tick();
    expect(s.scheduler.pause).toHaveBeenCalledTimes(1);
    s.finish('nightly');
    await tick();
    expect(result.value).toBeUndefined();
    s.finish('weekly');
    await tick();
    expect(result.value).toBe(true);
    expect(s.runner.cancel).not.toHaveBeenCalled();
  });

  it('Cancel: cancels every running backup, then says yes once they stopped', async () => {
    const s = setup(['nightly', 'weekly']);
    s.answers.push(CANCEL);
    const result = s.settled(s.guard.confirmQuit());
    await tick();
    expect(s.runner.cancel.mock.calls.map((c) => c[0]).sort()).toEqual(['nightly', 'weekly']);
    expect(result.value).toBeUndefined(); // not before the runs reached a safe point
    s.finish('nightly');
    s.finish('weekly');
    await tick();
    expect(result.value).toBe(true);
  });

  it('asked again while waiting: Keep running abandons the wait and undoes its pause', async () => {
    const s = setup(['nightly']);
    s.answers.push(WAIT, KEEP);
    const first = s.settled(s.guard.confirmQuit());
    await tick();
    await expect(s.guard.confirmQuit()).resolves.toBe(false);
    await tick();
    expect(first.value).toBe(false);
    expect(s.scheduler.resume).toHaveBeenCalledTimes(1);
    s.finish('nightly');
    await tick();
    expect(first.value).toBe(false); // finishing later does not quit after all
  });

  it('asked again while waiting: Cancel cancels and the first wait completes the quit', async () => {
    const s = setup(['nightly']);
    s.answers.push(WAIT, CANCEL);
    const first = s.settled(s.guard.confirmQuit());
    await tick();
    await expect(s.guard.confirmQuit()).resolves.toBe(false);
    expect(s.runner.cancel).toHaveBeenCalledExactlyOnceWith('nightly');
    s.finish('nightly');
    await tick();
    expect(first.value).toBe(true);
  });

  it('does not resume a scheduler the user had paused', async () => {
    const s = setup(['nightly']);
    s.scheduler.paused = true;
    s.answers.push(WAIT, KEEP);
    void s.guard.confirmQuit();
    await tick();
    await s.guard.confirmQuit();
    expect(s.scheduler.pause).not.toHaveBeenCalled();
    expect(s.scheduler.resume).not.toHaveBeenCalled();
  });
});
