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
}

export class Scheduler {
  private readonly timers = new Map<string, NodeSchedule.Job>();
  private paused = false;
  private started = false;

  constructor(private readonly deps: SchedulerDeps) {}

  /** Catches up, then arms timers for every enabled task. */
  start(): void {
    this.started = true;
    this.catchUp(); // arms the timers too
  }

  stop(): void {
    this.started = false;
    for (const job of this.timers.values()) job.cancel();
    this.timers.clear();
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
      const last = this.deps.state.lastSlot(task.id) ?? new Date(task.createdAt);
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
