/**
 * Turns task health into `alert` events: a database that has gone stale, a task whose
 * encryption key has never been saved outside the keychain, and a destination whose disk has
 * less free space than the task's next run may need (`disk-warning`: less than the most one
 * backup run of the task has stored there, and never less than 1 GB) — a local folder as
 * measured now, an SFTP folder as its last backup job measured it (destination-space-table.ts;
 * object stores and FTP have no free space to measure), and a task whose last successful backup
 * is dated more than an hour after now (`clock-warning`: this computer's clock is behind —
 * set back, or wrong after a restart — or was ahead when that backup ran).
 *
 * Contract: each condition is announced once when it appears (not on every check) and
 * again only after it has cleared and come back; `check()` is cheap (app database and one
 * statfs per local destination; a destination folder that does not exist yet is measured at
 * its nearest existing parent, and one that cannot be measured is skipped) and is called
 * after every run and periodically while the scheduler runs.
 */
import type { Alert, Task } from '../../shared/domain.ts';
import { formatBytes } from '../../shared/format-bytes.ts';
import { destinationId, placeText } from '../../shared/location-text.ts';
import { freeBytesAt } from '../storage/index.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { KeyService } from '../keys/index.ts';
import type { DestinationSpaceTable, HistoryTable, MeasuredSpace, SettingsTable, TaskDatabasesTable, TasksTable } from '../store/index.ts';
import { staleDatabases } from './health.ts';

export interface HealthDeps {
  tasks: TasksTable;
  taskDatabases: TaskDatabasesTable;
  settings: SettingsTable;
  keys: KeyService;
  events: EventBus;
  now: () => Date;
  history: Pick<HistoryTable, 'largestRunStored'>;
  /** Free space last measured at remote destinations (SFTP); none: remote destinations are not checked. */
  destinationSpace?: Pick<DestinationSpaceTable, 'forTask'>;
}

/** Free space below this is always worth a warning, whatever the task has stored so far. */
export const DISK_WARN_FLOOR = 1e9;

/**
 * What to say when `free` bytes at a destination are less than its task's next run may need
 * (null when there is room); `measuredAt` (ISO) for a remote destination measured after its last backup.
 */
export function diskWarning(task: Pick<Task, 'name'>, path: string, free: number, largestRun: number, measuredAt?: string): string | null {
  if (free >= Math.max(largestRun, DISK_WARN_FLOOR)) return null;
  const why = largestRun >= DISK_WARN_FLOOR ? `one run of this task has stored up to ${formatBytes(largestRun)} there` : `less than ${formatBytes(DISK_WARN_FLOOR)}`;
  const at = measuredAt ? `was free at ${path} after its last backup there, at ${measuredAt.slice(0, 16).replace('T', ' ')} UTC` : `is free at ${path}`;
  return `Backup task "${task.name}": only ${formatBytes(free)} ${at} (${why}), so its next run may fill the disk and fail. Free space on that disk, lower the retention, or move the destination to a larger disk.`;
}

/** A backup dated more than this after now means the clock is wrong (the same hour retention and "latest" allow). */
export const CLOCK_BEHIND_MS = 3_600_000;

/** What to say when the task's newest successful backup (`last`, ISO) is dated more than CLOCK_BEHIND_MS after `now` (null otherwise). */
export function clockWarning(task: Pick<Task, 'name'>, last: string | null, now: Date): string | null {
  if (!last || Date.parse(last) <= now.getTime() + CLOCK_BEHIND_MS) return null;
  const hours = Math.round((Date.parse(last) - now.getTime()) / 3_600_000);
  const by = hours >= 48 ? `${Math.round(hours / 24)} days` : `${hours} hours`;
  const utc = (iso: string) => `${iso.slice(0, 16).replace('T', ' ')} UTC`;
  return (
    `Backup task "${task.name}": its last successful backup is dated ${utc(last)}, ${by} after this computer's clock (${utc(now.toISOString())}): ` +
    `the clock is behind (set back, or wrong after a restart), or was ahead when that backup ran. Until the clock passes it, retention keeps that point and does not delete by age across it, ` +
    `a database with no recent backup cannot be reported, and "latest" restores the newest point not dated ahead. Set this computer's clock right (turn on network time).`
  );
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
      const seen = taskDatabases.list(task.id);
      const newest = seen.reduce<string | null>((m, d) => (d.lastSuccessAt && (!m || d.lastSuccessAt > m) ? d.lastSuccessAt : m), null);
      const clock = clockWarning(task, newest, now());
      if (clock) {
        current.add(`clock:${task.id}`);
        if (!this.announced.has(`clock:${task.id}`)) alerts.push({ kind: 'clock-warning', taskId: task.id, message: clock, databases: [] });
      }
      const stale = staleDatabases(task, seen, settings.get().staleAfterHours, now());
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
      const measured = this.deps.destinationSpace?.forTask(task.id) ?? new Map<string, MeasuredSpace>();
      const stored = task.destinations.some((d) => d.kind === 'local' || measured.has(destinationId(d))) ? this.deps.history.largestRunStored(task.id) : new Map<string, number>();
      for (const d of task.destinations) {
        // A local folder is measured now; a remote one as its last job left it (SFTP; the others cannot tell).
        const remote = d.kind === 'local' ? null : measured.get(destinationId(d));
        const free = d.kind === 'local' ? freeBytesAt(d.path) : (remote?.freeBytes ?? null);
        const message = free === null ? null : diskWarning(task, d.kind === 'local' ? d.path : placeText(d), free, stored.get(destinationId(d)) ?? 0, remote?.measuredAt);
        if (!message) continue;
        const id = `disk:${task.id}:${destinationId(d)}`;
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
