/**
 * The timer-driven scheduler: arms one node-schedule timer per enabled task at the time
 * `nextRun` computes, and calls `onDue(task, kind, trigger)` when it fires.
 *
 * Contract:
 * - The slot is recorded as handled *before* `onDue` is called (at most once per slot,
 *   even across a crash).
 * - `catchUp(now)` (on start, on resume from sleep, on unlock) runs each enabled task
 *   whose slot passed while the app was not running exactly once — the full wins when
 *   both kinds were missed (`onDue` gets the missed range, for the log). A task never handled
 *   counts from its creation time, so a new task does not run for slots before it existed. It then re-arms every timer: timers
 *   count time that passes awake (a monotonic clock), so one armed before a sleep would
 *   fire late, after the next slot.
 * - A timer never runs a slot already handled (one that fires late, after a catch-up took
 *   its slot), unless the handled mark lies in the future (the clock was set back).
 * - The clock set back (NTP correcting a clock that was ahead, a VM resumed from a snapshot, a
 *   clock set by hand): node-schedule waits for the clock to show a timer's time, so the slot
 *   armed before would come only after the jump's length, and a handled mark in the future
 *   would make the slots the clock shows again count as done. While started, the scheduler
 *   compares the clock with the time that passed (every minute): when it went back more than
 *   SET_BACK_MS, each task whose handled mark now lies that far in the future counts from now
 *   (`onClockSetBack` says so, for the log) and every timer is re-armed — the next slot the
 *   clock shows runs, once; nothing runs at once, none twice in a burst.
 * - `pause()` disarms every timer and suppresses catch-up until `resume()`; slots that
 *   pass while paused are caught up on resume (once).
 * - `onDue` must not throw synchronously into the timer; its promise is not awaited here
 *   (the run queue decides when work starts).
 */
import { createRequire } from 'node:module';
import type * as NodeSchedule from 'node-schedule';
import type { PointKind, RunTrigger, Task } from '../../shared/domain.ts';
import type { ScheduleStateTable } from '../store/schedule-state-table.ts';
import { missedRun, nextRun } from './next-run.ts';

// node-schedule (CommonJS) is required when the first timer is armed, so an engine that
// never starts the scheduler (the CLI's one-shot commands) does not load it.
const requireCjs = createRequire(import.meta.url);
let nodeSchedule: typeof NodeSchedule | undefined;
const schedule = () => (nodeSchedule ??= requireCjs('node-schedule') as typeof NodeSchedule);

/** What a catch-up run takes: the slots after `since` (the last one handled, or the task's creation) up to `latest` (the newest missed slot of the kind that runs). */
export interface MissedSlots {
  since: Date;
  latest: Date;
}

export type DueHandler = (task: Task, kind: PointKind, trigger: RunTrigger, missed?: MissedSlots) => void;

export interface SchedulerDeps {
  tasks: () => Task[];
  state: ScheduleStateTable;
  onDue: DueHandler;
  now: () => Date;
  onError: (e: unknown, taskId: string) => void;
  /** The clock was set back behind the task's last handled slot: it counts from `now` (see the header). */
  onClockSetBack?: (task: Task, lastSlot: Date, now: Date) => void;
}

/** A clock set back by more than this counts as set back (NTP's small steps do not). */
export const SET_BACK_MS = 5 * 60_000;
const CLOCK_WATCH_MS = 60_000;

export class Scheduler {
  private readonly timers = new Map<string, NodeSchedule.Job>();
  private paused = false;
  private started = false;
  private clockWatch: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly deps: SchedulerDeps) {}

  /** Catches up, then arms timers for every enabled task. */
  start(): void {
    this.started = true;
    this.catchUp(); // arms the timers too
    this.watchClock();
  }

  stop(): void {
    this.started = false;
    if (this.clockWatch) clearInterval(this.clockWatch);
    this.clockWatch = null;
    for (const job of this.timers.values()) job.cancel();
    this.timers.clear();
  }

  /** Every minute: the clock behind the time that passed (performance.now counts it) by more than SET_BACK_MS → catch up (see the header). */
  private watchClock(): void {
    if (this.clockWatch) return;
    let clock = this.deps.now().getTime();
    let passed = performance.now();
    this.clockWatch = setInterval(() => {
      const nowClock = this.deps.now().getTime();
      const nowPassed = performance.now();
      const behind = clock + (nowPassed - passed) - nowClock;
      clock = nowClock;
      passed = nowPassed;
      if (behind > SET_BACK_MS && this.started) this.catchUp();
    }, CLOCK_WATCH_MS);
    this.clockWatch.unref?.();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    this.paused = true;
    for (const job of this.timers.values()) job.cancel();
    this.timers.clear();
  }

  resume(): void {
    this.paused = false;
    if (this.started) this.start();
  }

  /** Re-reads the tasks (after a create/update/delete/enable) and re-arms every timer. */
  rearmAll(): void {
    for (const job of this.timers.values()) job.cancel();
    this.timers.clear();
    if (this.paused || !this.started) return;
    for (const task of this.deps.tasks()) if (task.enabled) this.arm(task);
  }

  /** Runs each enabled task with a missed slot once. Returns what it started. */
  catchUp(): { taskId: string; kind: PointKind }[] {
    if (this.paused) return [];
    const now = this.deps.now();
    const started: { taskId: string; kind: PointKind }[] = [];
    for (const task of this.deps.tasks()) {
      if (!task.enabled) continue;
      const recorded = this.deps.state.lastSlot(task.id);
      if (recorded && recorded.getTime() > now.getTime() + SET_BACK_MS) {
        // The clock was set back behind the last slot handled: count from now, so the slots it shows
        // again run as they come (never all at once), instead of none until it reaches that mark.
        this.deps.state.setLastSlot(task.id, now);
        if (this.deps.onClockSetBack) safe(() => this.deps.onClockSetBack!(task, recorded, now), (e) => this.deps.onError(e, task.id));
        continue;
      }
      const last = recorded ?? new Date(task.createdAt);
      const missed = safe(() => missedRun(task.schedule, last, now), (e) => this.deps.onError(e, task.id));
      if (!missed) continue;
      // Every slot up to now is handled by this one run.
      this.deps.state.setLastSlot(task.id, now);
      started.push({ taskId: task.id, kind: missed.kind });
      this.fire(task, missed.kind, 'catch-up', { since: last, latest: missed.slot });
    }
    this.rearmAll();
    return started;
  }

  /** The tasks that have a timer armed now (a deleted or paused task has none). */
  armedTaskIds(): string[] {
    return [...this.timers.keys()];
  }

  /** When each enabled task fires next (for the UI). */
  nextRuns(): Map<string, ReturnType<typeof nextRun>> {
    const now = this.deps.now();
    const out = new Map<string, ReturnType<typeof nextRun>>();
    for (const task of this.deps.tasks()) if (task.enabled) out.set(task.id, nextRun(task.schedule, now));
    return out;
  }

  private arm(task: Task): void {
    const planned = safe(() => nextRun(task.schedule, this.deps.now()).next, (e) => this.deps.onError(e, task.id));
    if (!planned) return;
    const job = schedule().scheduleJob(planned.at, () => {
      this.timers.delete(task.id);
      const current = this.deps.tasks().find((t) => t.id === task.id);
      const last = this.deps.state.lastSlot(task.id)?.getTime() ?? -Infinity;
      const handled = last >= planned.at.getTime() && last <= this.deps.now().getTime();
      if (current?.enabled && !this.paused && !handled) {
        this.deps.state.setLastSlot(task.id, planned.at);
        this.fire(current, planned.kind, 'schedule');
      }
      if (current?.enabled && !this.paused && this.started) this.arm(current);
    });
    if (job) this.timers.set(task.id, job);
  }

  private fire(task: Task, kind: PointKind, trigger: RunTrigger, missed?: MissedSlots): void {
    try {
      this.deps.onDue(task, kind, trigger, missed);
    } catch (e) {
      this.deps.onError(e, task.id);
    }
  }
}

function safe<T>(fn: () => T, onError: (e: unknown) => void): T | null {
  try {
    return fn();
  } catch (e) {
    onError(e);
    return null;
  }
}
