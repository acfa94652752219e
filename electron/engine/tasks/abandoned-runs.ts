/**
 * Runs that a Backstop process which stopped (kill -9, a crash, power loss) left "running":
 * at the next engine start they are closed as failed (WORKER_CRASHED, store/history-table.ts
 * closeAbandoned), announced, and a killed scheduled full is caught up.
 *
 * Contract:
 * - `closeAbandonedRuns` closes them and returns, for each closed backup or test restore, the
 *   alert to announce (run-failed / test-restore-failed), naming what happens next, with its
 *   stored task (null for a task file's run: `backstop backup --config` announces it to the
 *   file's channels when it next runs that file in this process). A run is closed exactly once
 *   (a later start finds it failed), so it is announced at most once.
 * - A scheduled full (trigger `schedule`) of an enabled stored task whose schedule has a full
 *   is caught up: the task's handled slot is set back to just before the killed slot, so the
 *   scheduler's catch-up at its next start (scheduler.ts catchUp, in the app or the agent —
 *   whichever holds the scheduler lock) runs one full for it, trigger `catch-up`, like a slot
 *   missed while Backstop was off. Once only: a killed catch-up is not caught up again (its
 *   next slot takes it), so a full that kills its process never runs in a loop. A killed
 *   incremental, manual or CLI run is not re-run: the next slot (or Run now) takes its changes.
 */
import type { Alert, Task } from '../../shared/domain.ts';
import type { ClosedRun, HistoryTable, AbandonedRun, ScheduleStateTable } from '../store/index.ts';
import { missedRun } from '../scheduler/next-run.ts';

export interface AbandonedRunsDeps {
  history: HistoryTable;
  tasks: () => Task[];
  scheduleState: ScheduleStateTable;
  now: () => Date;
}

export interface AbandonedAnnouncement {
  run: ClosedRun;
  /** The stored task; null for a task file's run (or a task deleted since). */
  task: Task | null;
  alert: Alert;
}

/** How far back the killed full's slot is looked for (a yearly full still has one). */
const SLOT_LOOKBACK_MS = 400 * 24 * 3_600_000;

/** The slot of the task's full schedule that started `run` (the newest one at or before its start), or null. */
function killedFullSlot(task: Task, run: AbandonedRun): Date | null {
  if (run.runKind !== 'backup' || run.trigger !== 'schedule' || run.requestedKind !== 'full' || !task.enabled || !task.schedule.full) return null;
  const started = Date.parse(run.startedAt);
  return missedRun({ full: task.schedule.full, incremental: null, timezone: task.schedule.timezone }, new Date(started - SLOT_LOOKBACK_MS), new Date(started))?.slot ?? null;
}

export function closeAbandonedRuns(deps: AbandonedRunsDeps): AbandonedAnnouncement[] {
  const byId = new Map(deps.tasks().map((t) => [t.id, t]));
  const catchUp = new Map<string, Date>();
  const closed = deps.history.closeAbandoned(deps.now().toISOString(), (run) => {
    const task = byId.get(run.taskId);
    const slot = task ? killedFullSlot(task, run) : null;
    if (!slot) return null;
    catchUp.set(run.id, slot);
    return "Its full is caught up once: the scheduler runs one full (trigger catch-up) when it next starts — now, if this is the app or the agent that schedules — instead of waiting for the next full slot.";
  });
  for (const run of closed) {
    const slot = catchUp.get(run.id);
    if (!slot) continue;
    const before = new Date(slot.getTime() - 1);
    const last = deps.scheduleState.lastSlot(run.taskId);
    if (!last || last.getTime() > before.getTime()) deps.scheduleState.setLastSlot(run.taskId, before);
  }
  const out: AbandonedAnnouncement[] = [];
  for (const run of closed) {
    if (run.runKind !== 'backup' && run.runKind !== 'test-restore') continue;
    const task = byId.get(run.taskId) ?? null;
    const name = task?.name ?? run.taskName;
    const alert: Alert =
      run.runKind === 'backup'
        ? { kind: 'run-failed', taskId: run.taskId, message: `Backup task "${name}" did not finish (run started ${run.startedAt}): ${run.message}`, databases: [] }
        : { kind: 'test-restore-failed', taskId: run.taskId, message: `Test restore of task "${name}" did not finish (started ${run.startedAt}): ${run.message}`, databases: [] };
    out.push({ run, task, alert });
  }
  return out;
}
