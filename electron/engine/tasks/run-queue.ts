/**
 * The global limit on database backups running at once, with a fair queue.
 *
 * Contract:
 * - At most `limit` jobs run at once (the limit can change; a lower limit takes effect
 *   as running jobs finish).
 * - Fair between tasks: free slots go round-robin over tasks with waiting jobs, so one
 *   task with many databases cannot starve another; within a task, FIFO.
 * - Never two jobs with the same (taskId, database) at once: a second one waits.
 * - A waiting job whose AbortSignal fires leaves the queue and rejects with CANCELED;
 *   a running job is cancelled by its own code observing the same signal.
 */
import { BackstopError } from '../../shared/result.ts';

export interface JobKey {
  taskId: string;
  database: string;
}

interface Waiting {
  key: JobKey;
  start: () => void;
  cancel: () => void;
}

export class RunQueue {
  private running = 0;
  private readonly busyKeys = new Set<string>();
  private readonly waiting = new Map<string, Waiting[]>(); // taskId → FIFO
  private readonly lastServed = new Map<string, number>(); // taskId → serial of its last start
  private serial = 0;

  constructor(private limit: number) {}

  setLimit(limit: number): void {
    this.limit = Math.max(1, limit);
    this.pump();
  }

  /** How many jobs may run at once. */
  get capacity(): number {
    return this.limit;
  }

  get stats(): { running: number; waiting: number } {
    let waiting = 0;
    for (const q of this.waiting.values()) waiting += q.length;
    return { running: this.running, waiting };
  }

  run<T>(key: JobKey, job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) return reject(new BackstopError('CANCELED', `The backup of ${key.database} was cancelled before it started.`));
      const entry: Waiting = {
        key,
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          job()
            .finally(() => this.release(key))
            .then(resolve, reject);
        },
        cancel: () => reject(new BackstopError('CANCELED', `The backup of ${key.database} was cancelled before it started.`)),
      };
      const onAbort = () => {
        const q = this.waiting.get(key.taskId);
        const i = q?.indexOf(entry) ?? -1;
        if (q && i >= 0) {
          q.splice(i, 1);
          entry.cancel();
        }
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const q = this.waiting.get(key.taskId);
      if (q) q.push(entry);
      else this.waiting.set(key.taskId, [entry]);
      this.pump();
    });
  }

  private release(key: JobKey): void {
    this.running--;
    this.busyKeys.delete(keyOf(key));
    this.pump();
  }

  private pump(): void {
    while (this.running < this.limit) {
      const next = this.takeNext();
      if (!next) return;
      this.running++;
      this.busyKeys.add(keyOf(next.key));
      next.start();
    }
  }

  /** The first startable job of the task served least recently (round-robin over tasks). */
  private takeNext(): Waiting | undefined {
    let best: { taskId: string; idx: number; served: number } | undefined;
    for (const [taskId, q] of this.waiting) {
      const idx = q.findIndex((w) => !this.busyKeys.has(keyOf(w.key)));
      if (idx < 0) continue;
      const served = this.lastServed.get(taskId) ?? -1;
      if (!best || served < best.served) best = { taskId, idx, served };
    }
    if (!best) return undefined;
    const q = this.waiting.get(best.taskId)!;
    const [job] = q.splice(best.idx, 1);
    if (q.length === 0) this.waiting.delete(best.taskId);
    this.lastServed.set(best.taskId, this.serial++);
    return job;
  }
}

function keyOf(k: JobKey): string {
  return JSON.stringify([k.taskId, k.database]);
}
