import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Scheduler } from '../../../electron/engine/scheduler/index.ts';
import { openAppDatabase, ScheduleStateTable } from '../../../electron/engine/store/index.ts';
import type { PointKind, RunTrigger, Task } from '../../../electron/shared/domain.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

function makeTask(over: Partial<Task> = {}): Task {
  return {
    id: 't1',
    name: 'nightly',
    serverId: 's1',
    type: 'logical',
    schedule: { full: '0 2 * * *', incremental: '0 * * * *', timezone: 'UTC' },
    retention: { minAgeDays: 0, keepLast: null },
    encryption: { mode: 'none' },
    destinations: [{ kind: 'local', path: '/b' }],
    excludeDatabases: [],
    enabled: true,
    createdAt: '2026-05-01T00:30:00.000Z',
    updatedAt: '2026-05-01T00:30:00.000Z',
    ...over,
  };
}

function setup(tasks: Task[]) {
  const db = openAppDatabase(`${tempDir()}/backstop.db`);
  // The state table has a foreign key to tasks: insert matching rows.
  db.prepare("INSERT INTO servers (id, name, kind, config, created_at, updated_at) VALUES ('s1', 's', 'sqlite', '{}', 'x', 'x')").run();
  for (const t of tasks) db.prepare("INSERT INTO tasks (id, name, server_id, config, created_at, updated_at) VALUES (?, ?, 's1', '{}', 'x', 'x')").run(t.id, t.name);
  const state = new ScheduleStateTable(db);
  const due: { taskId: string; kind: PointKind; trigger: RunTrigger; at: string }[] = [];
  const errors: unknown[] = [];
  const scheduler = new Scheduler({
    tasks: () => tasks,
    state,
    onDue: (task, kind, trigger) => due.push({ taskId: task.id, kind, trigger, at: new Date().toISOString() }),
    now: () => new Date(),
    onError: (e) => errors.push(e),
  });
  return { scheduler, state, due, errors, db };
}

describe('Scheduler', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('fires at each slot, the full winning at 02:00', async () => {
    vi.setSystemTime(new Date('2026-05-01T00:30:00Z'));
    const { scheduler, due, state } = setup([makeTask()]);
    scheduler.start();
    expect(due).toEqual([]); // created at 00:30: nothing missed
    await vi.advanceTimersByTimeAsync(2 * 3600_000); // to 02:30
    expect(due).toEqual([
      { taskId: 't1', kind: 'incremental', trigger: 'schedule', at: '2026-05-01T01:00:00.000Z' },
      { taskId: 't1', kind: 'full', trigger: 'schedule', at: '2026-05-01T02:00:00.000Z' },
    ]);
    expect(state.lastSlot('t1')?.toISOString()).toBe('2026-05-01T02:00:00.000Z');
    scheduler.stop();
  });

  it('catches up a missed slot once on start, and the full wins', () => {
    vi.setSystemTime(new Date('2026-05-04T09:10:00Z'));
    const { scheduler, due, state } = setup([makeTask()]);
    state.setLastSlot('t1', new Date('2026-05-01T10:00:00Z')); // app closed for three days
    scheduler.start();
    expect(due).toEqual([{ taskId: 't1', kind: 'full', trigger: 'catch-up', at: '2026-05-04T09:10:00.000Z' }]);
    expect(state.lastSlot('t1')?.toISOString()).toBe('2026-05-04T09:10:00.000Z');
    // A second catch-up (e.g. resume right after start) finds nothing more to do.
    expect(scheduler.catchUp()).toEqual([]);
    expect(due).toHaveLength(1);
    scheduler.stop();
  });

  it('catches up after a simulated sleep once, then keeps the normal rhythm', async () => {
    vi.setSystemTime(new Date('2026-05-01T03:05:00Z'));
    const { scheduler, due, state } = setup([makeTask({ schedule: { full: null, incremental: '0 * * * *', timezone: 'UTC' } })]);
    state.setLastSlot('t1', new Date('2026-05-01T03:00:00Z'));
    scheduler.start();
    // The machine sleeps: timers do not fire while the clock jumps five hours.
    scheduler.stop();
    vi.setSystemTime(new Date('2026-05-01T08:20:00Z'));
    scheduler.start(); // what the powerMonitor resume handler does
    expect(due.map((d) => [d.kind, d.trigger])).toEqual([['incremental', 'catch-up']]);
    await vi.advanceTimersByTimeAsync(40 * 60_000); // 09:00 slot
    expect(due.map((d) => [d.kind, d.trigger, d.at])).toEqual([
      ['incremental', 'catch-up', '2026-05-01T08:20:00.000Z'],
      ['incremental', 'schedule', '2026-05-01T09:00:00.000Z'],
    ]);
    scheduler.stop();
  });

  it('never fires disabled tasks, and pause suppresses timers until resume catches up once', async () => {
    vi.setSystemTime(new Date('2026-05-01T00:30:00Z'));
    const tasks = [makeTask(), makeTask({ id: 't2', name: 'off', enabled: false })];
    const { scheduler, due } = setup(tasks);
    scheduler.start();
    scheduler.pause();
    await vi.advanceTimersByTimeAsync(3 * 3600_000); // 03:30, slots at 01, 02 (full), 03 passed while paused
    expect(due).toEqual([]);
    scheduler.resume();
    expect(due.map((d) => [d.taskId, d.kind, d.trigger])).toEqual([['t1', 'full', 'catch-up']]);
    await vi.advanceTimersByTimeAsync(3600_000);
    expect(due.map((d) => [d.taskId, d.kind, d.trigger])).toEqual([
      ['t1', 'full', 'catch-up'],
      ['t1', 'incremental', 'schedule'],
    ]);
    scheduler.stop();
  });

  it('reports a handler error without breaking the timer chain', async () => {
    vi.setSystemTime(new Date('2026-05-01T00:30:00Z'));
    const errors: unknown[] = [];
    const db = openAppDatabase(`${tempDir()}/backstop.db`);
    let calls = 0;
    const scheduler = new Scheduler({
      tasks: () => [makeTask({ schedule: { full: null, incremental: '0 * * * *', timezone: 'UTC' } })],
      state: new ScheduleStateTable(db),
      onDue: () => {
        calls++;
        throw new Error('boom');
      },
      now: () => new Date(),
      onError: (e) => errors.push(e),
    });
    // schedule_state has a foreign key to tasks; this test has no task rows, so disable it.
    db.exec('PRAGMA foreign_keys = OFF');
    scheduler.start();
    await vi.advanceTimersByTimeAsync(2 * 3600_000);
    expect(calls).toBe(2);
    expect(errors).toHaveLength(2);
    scheduler.stop();
  });
});
