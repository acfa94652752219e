/**
 * Turns task health into `alert` events: a database that has gone stale, and a task whose
 * encryption key has never been saved outside the keychain.
 *
 * Contract: each condition is announced once when it appears (not on every check) and
 * again only after it has cleared and come back; `check()` is cheap (app database only)
 * and is called after every run and periodically while the scheduler runs.
 */
import type { Alert } from '../../shared/domain.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { KeyService } from '../keys/index.ts';
import type { SettingsTable, TaskDatabasesTable, TasksTable } from '../store/index.ts';
import { staleDatabases } from './health.ts';

export interface HealthDeps {
  tasks: TasksTable;
  taskDatabases: TaskDatabasesTable;
  settings: SettingsTable;
  keys: KeyService;
  events: EventBus;
  now: () => Date;
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
