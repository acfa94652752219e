/**
 * Schedule slots that fire while their task is still running (the hourly incremental comes
 * during a long full): never a second run of the task at once, and never lost silently.
 *
 * Contract: `defer(taskId, kind)` remembers that a slot fired while the task ran; however many
 * fire meanwhile, `take(taskId)` returns one kind (a full among them wins) and forgets it, so
 * the caller starts exactly one run once the running one ended (trigger 'catch-up'). In
 * memory only: a slot deferred when Backstop stops is not run at the next start (the run that
 * was going took its changes up to its start; the next slot takes the rest).
 */
import type { PointKind } from '../../shared/domain.ts';

export class DeferredRuns {
  private readonly waiting = new Map<string, PointKind>();

  /** Returns the kind that will run once the task's current run ends. */
  defer(taskId: string, kind: PointKind): PointKind {
    const merged = this.waiting.get(taskId) === 'full' ? 'full' : kind;
    this.waiting.set(taskId, merged);
    return merged;
  }

  take(taskId: string): PointKind | null {
    const kind = this.waiting.get(taskId) ?? null;
    this.waiting.delete(taskId);
    return kind;
  }
}
