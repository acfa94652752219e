import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { Scheduler, upcomingRuns } from '../../../electron/engine/scheduler/index.ts';
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
  const missedRanges: { since: string; latest: string }[] = [];
  const errors: unknown[] = [];
  const setBacks: { taskId: string; lastSlot: string; now: string }[] = [];
  const scheduler = new Scheduler({
    tasks: () => tasks,
    state,
    onDue: (task, kind, trigger, missed) => {
      due.push({ taskId: task.id, kind, trigger, at: new Date().toISOString() });
      if (missed) missedRanges.push({ since: missed.since.toISOString(), latest: missed.latest.toISOString() });
    },
    now: () => new Date(),
    onError: (e) => errors.push(e),
    onClockSetBack: (task, lastSlot, now) => setBacks.push({ taskId: task.id, lastSlot: lastSlot.toISOString(), now: now.toISOString() }),
  });
  // node-schedule keeps one process-wide timer list: a job left armed by a failing test would hold up the next tests' jobs.
  onTestFinished(() => scheduler.stop());
  return { scheduler, state, due, errors, db, missedRanges, setBacks };
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
    const { scheduler, due, state, missedRanges } = setup([makeTask()]);
    state.setLastSlot('t1', new Date('2026-05-01T10:00:00Z')); // app closed for three days
    scheduler.start();
    expect(due).toEqual([{ taskId: 't1', kind: 'full', trigger: 'catch-up', at: '2026-05-04T09:10:00.000Z' }]);
    // What was missed, for the log: from the last slot handled to the latest full missed.
    expect(missedRanges).toEqual([{ since: '2026-05-01T10:00:00.000Z', latest: '2026-05-04T02:00:00.000Z' }]);
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

  it('after a sleep (timers count awake time only), a resume catch-up runs once and the next slot fires on time, not the stale timer late', async () => {
    vi.setSystemTime(new Date('2026-05-01T00:30:00Z'));
    const { scheduler, due, state } = setup([makeTask()]);
    scheduler.start();
    await vi.advanceTimersByTimeAsync(10 * 60_000); // 00:40: the 01:00 timer has 20 minutes to go
    // The laptop sleeps until 08:50: the wall clock jumps, the timers' clock does not.
    vi.setSystemTime(new Date('2026-05-01T08:50:00Z'));
    expect(scheduler.catchUp()).toEqual([{ taskId: 't1', kind: 'full' }]); // what power.ts does on resume
    await vi.advanceTimersByTimeAsync(30 * 60_000); // to 09:20; the stale 01:00 timer would have fired at 09:10
    expect(due.map((d) => [d.kind, d.trigger, d.at])).toEqual([
      ['full', 'catch-up', '2026-05-01T08:50:00.000Z'],
      ['incremental', 'schedule', '2026-05-01T09:00:00.000Z'],
    ]);
    expect(state.lastSlot('t1')?.toISOString()).toBe('2026-05-01T09:00:00.000Z');
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

  it.each([
    ['spring forward (02:30 does not exist: once, at 03:30 CEST)', '2026-03-27T12:00:00Z', ['2026-03-28T01:30:00.000Z', '2026-03-29T01:30:00.000Z', '2026-03-30T00:30:00.000Z']],
    ['fall back (02:30 happens twice: once, the first)', '2026-10-23T12:00:00Z', ['2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']],
  ])('runs "30 2 * * *" in Europe/Berlin exactly once a day across %s, when the editor preview said', async (_, from, expected) => {
    vi.setSystemTime(new Date(from));
    const schedule = { full: '30 2 * * *', incremental: null, timezone: 'Europe/Berlin' };
    const { scheduler, due } = setup([makeTask({ schedule, createdAt: from })]);
    const preview = upcomingRuns(schedule, new Date(from), 3).map((r) => r.at.toISOString()); // what the editor's schedule.preview shows
    scheduler.start();
    await vi.advanceTimersByTimeAsync(3 * 86_400_000);
    expect(due.map((d) => d.at)).toEqual(expected);
    expect(preview).toEqual(expected);
    const localDays = due.map((d) => new Date(d.at).toLocaleDateString('en-CA', { timeZone: 'Europe/Berlin' }));
    expect(new Set(localDays).size).toBe(3);
    scheduler.stop();
  });

  it('the clock set back a day while running (NTP fixing a clock that was ahead): the next slot runs when the clock shows it, once — not a day late, not in a burst — and it is said', async () => {
    vi.setSystemTime(new Date('2026-05-02T01:00:00Z'));
    const { scheduler, due, state, setBacks } = setup([makeTask({ schedule: { full: '0 2 * * *', incremental: null, timezone: 'UTC' }, createdAt: '2026-05-02T01:00:00.000Z' })]);
    scheduler.start();
    await vi.advanceTimersByTimeAsync(17 * 3600_000); // 18:00: the 02:00 full ran, the next timer waits for 03 May 02:00
    expect(due.map((d) => d.at)).toEqual(['2026-05-02T02:00:00.000Z']);
    // The clock was a day ahead: it is set back to 01 May 18:00 (the timers' own clock does not move).
    vi.setSystemTime(new Date('2026-05-01T18:00:00Z'));
    await vi.advanceTimersByTimeAsync(10 * 3600_000); // to 02 May 04:00 by the clock, 10 hours later
    expect(setBacks).toEqual([{ taskId: 't1', lastSlot: '2026-05-02T02:00:00.000Z', now: '2026-05-01T18:01:00.000Z' }]);
    expect(due.map((d) => [d.kind, d.trigger, d.at])).toEqual([
      ['full', 'schedule', '2026-05-02T02:00:00.000Z'],
      ['full', 'schedule', '2026-05-02T02:00:00.000Z'], // 24 hours after the first: the 02:00 the clock shows again
    ]);
    await vi.advanceTimersByTimeAsync(24 * 3600_000);
    expect(due.map((d) => d.at).slice(2)).toEqual(['2026-05-03T02:00:00.000Z']);
    expect(state.lastSlot('t1')?.toISOString()).toBe('2026-05-03T02:00:00.000Z');
    scheduler.stop();
  });

  it('the clock set back while Backstop was closed: the start counts from now (nothing runs at once), and a few seconds back is not a set-back', async () => {
    vi.setSystemTime(new Date('2026-05-01T10:30:00Z'));
    const { scheduler, due, state, setBacks } = setup([makeTask({ schedule: { full: null, incremental: '0 * * * *', timezone: 'UTC' } })]);
    state.setLastSlot('t1', new Date('2026-05-01T15:00:00Z')); // handled while the clock was five hours ahead
    scheduler.start();
    expect(due).toEqual([]);
    expect(setBacks).toEqual([{ taskId: 't1', lastSlot: '2026-05-01T15:00:00.000Z', now: '2026-05-01T10:30:00.000Z' }]);
    await vi.advanceTimersByTimeAsync(60 * 60_000); // 11:30: the 11:00 slot ran, once
    expect(due.map((d) => [d.trigger, d.at])).toEqual([['schedule', '2026-05-01T11:00:00.000Z']]);
    // A step of a few seconds back (NTP) right after a slot: that slot does not run again.
    await vi.advanceTimersByTimeAsync(30 * 60_000); // 12:00:00 fires
    vi.setSystemTime(new Date(Date.now() - 3_000));
    await vi.advanceTimersByTimeAsync(2 * 60_000);
    expect(due.map((d) => d.at)).toEqual(['2026-05-01T11:00:00.000Z', '2026-05-01T12:00:00.000Z']);
    expect(setBacks).toHaveLength(1);
    scheduler.stop();
  });

  it('the clock set back a day while paused: nothing runs while paused, the resume counts from now (nothing at once), then each slot runs once as the clock shows it', async () => {
    vi.setSystemTime(new Date('2026-05-02T10:30:00Z'));
    const { scheduler, due, state, setBacks } = setup([makeTask({ schedule: { full: null, incremental: '0 * * * *', timezone: 'UTC' }, createdAt: '2026-05-02T10:30:00.000Z' })]);
    scheduler.start();
    await vi.advanceTimersByTimeAsync(60 * 60_000); // 11:30: the 11:00 slot ran
    expect(due.map((d) => d.at)).toEqual(['2026-05-02T11:00:00.000Z']);
    scheduler.pause();
    vi.setSystemTime(new Date('2026-05-01T11:30:00Z')); // a day back
    await vi.advanceTimersByTimeAsync(3 * 60_000); // the clock watch sees it while paused: nothing runs
    expect(due).toHaveLength(1);
    expect(state.lastSlot('t1')?.toISOString()).toBe('2026-05-02T11:00:00.000Z');
    scheduler.resume(); // 11:33 on 01 May
    expect(due).toHaveLength(1);
    expect(setBacks).toEqual([{ taskId: 't1', lastSlot: '2026-05-02T11:00:00.000Z', now: '2026-05-01T11:33:00.000Z' }]);
    await vi.advanceTimersByTimeAsync(2 * 3600_000); // to 13:33
    expect(due.map((d) => [d.trigger, d.at]).slice(1)).toEqual([
      ['schedule', '2026-05-01T12:00:00.000Z'],
      ['schedule', '2026-05-01T13:00:00.000Z'],
    ]);
    expect(setBacks).toHaveLength(1);
    scheduler.stop();
  });

  it('a daylight-saving change is no clock jump: the task\'s local schedule goes on across it, nothing counts as set back (local zone of the process moved too)', async () => {
    const zone = process.env.TZ;
    process.env.TZ = 'Europe/Berlin';
    onTestFinished(() => {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    });
    // 25 October 2026, 03:00 CEST → 02:00 CET at 01:00 UTC; 29 March 2026 the other way, at 01:00 UTC.
    for (const start of ['2026-10-24T22:30:00Z', '2026-03-28T22:30:00Z']) {
      vi.setSystemTime(new Date(start));
      const { scheduler, due, setBacks, errors } = setup([makeTask({ schedule: { full: null, incremental: '0 * * * *', timezone: 'Europe/Berlin' }, createdAt: start })]);
      scheduler.start();
      await vi.advanceTimersByTimeAsync(5 * 3600_000);
      const hours = [1, 2, 3, 4, 5].map((h) => new Date(Date.parse(start) + h * 3600_000 - 30 * 60_000).toISOString());
      expect(due.map((d) => d.at), start).toEqual(hours);
      expect(setBacks, start).toEqual([]);
      expect(errors, start).toEqual([]);
      scheduler.stop();
    }
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
