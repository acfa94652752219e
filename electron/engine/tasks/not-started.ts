/**
 * A scheduled backup or test restore that could not start — the task's key or a password
 * could not be read (the keychain locked or unavailable, a key missing from it), its server
 * gone — is recorded in History as a failed run with that error and announced (run-failed /
 * test-restore-failed alert), so a missed run is never only a log line.
 *
 * Contract: writes one finished run (status failed, the error's code and message — secret-free
 * by the error contract), emits history.changed; returns the run id and the alert, which the
 * caller announces (to the window and the task's notification channels, index.ts announceFailedRun).
 */
import type { Alert, PointKind, RunTrigger, Task } from '../../shared/domain.ts';
import { toFailure } from '../../shared/result.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { HistoryTable } from '../store/index.ts';

export interface NotStartedDeps {
  history: HistoryTable;
  events: EventBus;
  now: () => Date;
}

export function recordNotStarted(deps: NotStartedDeps, what: 'backup' | 'test-restore', task: Task, kind: PointKind, trigger: RunTrigger, e: unknown): { runId: string; alert: Alert } {
  const f = toFailure(e);
  const at = deps.now().toISOString();
  const keyFingerprint = task.encryption.mode === 'key' ? task.encryption.fingerprint : null;
  const runId = deps.history.startRun({ taskId: task.id, taskName: task.name, trigger, requestedKind: kind, startedAt: at, keyFingerprint, ...(what === 'test-restore' ? { runKind: 'test-restore' as const } : {}) });
  deps.history.finishRun(runId, 'failed', at, { code: f.code, message: f.message });
  deps.events.emit('history.changed', { runId, taskId: task.id });
  const alert: Alert =
    what === 'backup'
      ? { kind: 'run-failed', taskId: task.id, message: `Backup task "${task.name}" could not start: ${f.message}`, databases: [] }
      : { kind: 'test-restore-failed', taskId: task.id, message: `Test restore of task "${task.name}" could not start: ${f.message}`, databases: [] };
  return { runId, alert };
}
