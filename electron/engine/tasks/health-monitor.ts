/**
 * Turns task health into `alert` events: a database that has gone stale, a task whose
 * encryption key has never been saved outside the keychain, and a local destination whose
 * disk has less free space than the task's next run may need (`disk-warning`: less than the
 * most one backup run of the task has stored there, and never less than 1 GB).
 *
 * Contract: each condition is announced once when it appears (not on every check) and
 * again only after it has cleared and come back; `check()` is cheap (app database and one
 * statfs per local destination; a destination folder that does not exist yet is measured at
 * its nearest existing parent, and one that cannot be measured is skipped) and is called
 * after every run and periodically while the scheduler runs.
 */
import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Alert, Task } from '../../shared/domain.ts';
import { formatBytes } from '../../shared/format-bytes.ts';
import { destinationId } from '../../shared/location-text.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { KeyService } from '../keys/index.ts';
import type { HistoryTable, SettingsTable, TaskDatabasesTable, TasksTable } from '../store/index.ts';
import { staleDatabases } from './health.ts';

export interface HealthDeps {
  tasks: TasksTable;
  taskDatabases: TaskDatabasesTable;
  settings: SettingsTable;
  keys: KeyService;
  events: EventBus;
  now: () => Date;
  history: Pick<HistoryTable, 'largestRunStored'>;
}

/** Free space below this is always worth a warning, whatever the task has stored so far. */
export const DISK_WARN_FLOOR = 1e9;

/** What to say when `free` bytes at a local destination are less than its task's next run may need (null when there is room). */
export function diskWarning(task: Pick<Task, 'name'>, path: string, free: number, largestRun: number): string | null {
  if (free >= Math.max(largestRun, DISK_WARN_FLOOR)) return null;
  const why = largestRun >= DISK_WARN_FLOOR ? `one run of this task has stored up to ${formatBytes(largestRun)} there` : `less than ${formatBytes(DISK_WARN_FLOOR)}`;
  return `Backup task "${task.name}": only ${formatBytes(free)} is free at ${path} (${why}), so its next run may fill the disk and fail. Free space on that disk, lower the retention, or move the destination to a larger disk.`;
}

/** Bytes free to an unprivileged writer at `path` (or its nearest existing parent); null when it cannot be measured. */
export function freeBytesAt(path: string): number | null {
  for (let p = path; ; p = dirname(p)) {
    try {
      const s = statfsSync(p);
      return s.bavail * s.bsize;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(p) === p) return null;
    }
  }
}

export class HealthMonitor {
  private announced = new Set<string>();

  constructor(private readonly deps: HealthDeps) {}

  check(): Alert[] {
    const { tasks, taskDatabases, settings, keys, events, now } = this.deps;
    const current = new Set<string>();
    const alerts: Alert[] = [];
    const unexported = new Set(keys.list().filter((k) => k.exportedAt === null).map((k) => k.keyRef));
    for (const task of tasks.list()) {
      const stale = staleDatabases(task, taskDatabases.list(task.id), settings.get().staleAfterHours, now());
      const fresh = stale.filter((d) => !this.announced.has(`stale:${task.id}:${d}`));
      for (const d of stale) current.add(`stale:${task.id}:${d}`);
      if (fresh.length) {
        alerts.push({
          kind: 'stale-database',
          taskId: task.id,
          message: `Backup task "${task.name}": ${fresh.join(', ')} ${fresh.length === 1 ? 'has' : 'have'} had no successful backup for too long.`,
          databases: fresh,
        });
      }
      const stored = task.destinations.some((d) => d.kind === 'local') ? this.deps.history.largestRunStored(task.id) : new Map<string, number>();
      for (const d of task.destinations) {
        if (d.kind !== 'local') continue;
        const free = freeBytesAt(d.path);
        const message = free === null ? null : diskWarning(task, d.path, free, stored.get(destinationId(d)) ?? 0);
        if (!message) continue;
        const id = `disk:${task.id}:${d.path}`;
        current.add(id);
        if (!this.announced.has(id)) alerts.push({ kind: 'disk-warning', taskId: task.id, message, databases: [] });
      }
      if (task.encryption.mode === 'key' && unexported.has(task.encryption.keyRef)) {
        const id = `key:${task.id}`;
        current.add(id);
        if (!this.announced.has(id)) {
          alerts.push({
            kind: 'key-not-exported',
            taskId: task.id,
            message: `The encryption key ${task.encryption.fingerprint} of task "${task.name}" has never been saved outside this computer's keychain. Save it now, or its backups cannot be restored if this computer is lost.`,
            databases: [],
          });
        }
      }
    }
    this.announced = current;
    for (const a of alerts) events.emit('alert', a);
    return alerts;
  }
}
