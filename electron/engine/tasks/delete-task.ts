/**
 * Deleting a task: what happens to everything it touched.
 *
 * Contract:
 * - A task that is running (or waiting for a backup slot) is refused with CONFLICT: the
 *   user cancels the run first (deleting mid-run would leave a half-written point behind
 *   the user's back). Nothing is changed.
 * - Backups at the destinations are KEPT: nothing at a local folder or S3 prefix is read,
 *   moved or deleted; they stay restorable with Restore (and the task's key, which stays
 *   in the keychain).
 * - Run history is KEPT (runs carry the task's name); the task's schedule state and seen
 *   databases go with it (ON DELETE CASCADE); the `tasks.changed` event makes the
 *   scheduler re-arm without it, so no slot fires for it again.
 * - What the task owns on the server is released first, by `releaseServerResources`;
 *   if that fails, the task is not deleted (the user can retry). A PostgreSQL snapshot
 *   task's replication slot is dropped there (tasks/task-slot.ts, wired by the handlers).
 * - Afterwards its server can be deleted (if no other task uses it). The handler then
 *   removes the destination secrets no other task names from the keychain
 *   (destinations/forget-secrets.ts).
 */
import type { Task } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { TasksTable } from '../store/index.ts';

export interface DeleteTaskDeps {
  tasks: TasksTable;
  isRunning: (taskId: string) => boolean;
  events: EventBus;
  /** Drops what the task holds on its server. Default: nothing (no task owns server objects yet). */
  releaseServerResources?: (task: Task) => Promise<void>;
}

export async function deleteTask(deps: DeleteTaskDeps, id: string): Promise<{ id: string }> {
  const task = deps.tasks.get(id);
  if (deps.isRunning(id)) {
    throw new BackstopError('CONFLICT', `Task "${task.name}" is running; cancel the run (or wait for it to finish), then delete the task.`);
  }
  await (deps.releaseServerResources ?? releaseServerResources)(task);
  deps.tasks.delete(id);
  deps.events.emit('tasks.changed', { ids: [id] });
  return { id };
}

/**
 * The hook for anything a task creates on its server and must remove when it goes
 * (e.g. a replication slot, which would otherwise make the server keep WAL forever).
 * Today no task owns anything on the server.
 */
export async function releaseServerResources(_task: Task): Promise<void> {}
