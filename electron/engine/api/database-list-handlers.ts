/**
 * `databases.list`: every database of every task, for the Databases view. Built only from
 * what the engine recorded (task_databases, history, settings, schedules), never by
 * connecting to a server, so it stays fast with hundreds of databases: a constant number
 * of queries per task, none per database.
 *
 * Contract: one row per (task, database the task has seen), excluded databases left out,
 * sorted by database name then task name. Freshness uses the same threshold as
 * `staleDatabases` (stale past it, due past half of it); a paused task or one without a
 * threshold is `unscheduled`; one a run found gone from the server is `gone` (whatever the
 * schedule: it is no longer backed up, and that was said once, when the run found it).
 */
import type { DatabaseOverview, Server, Task } from '../../shared/domain.ts';
import { nextRun } from '../scheduler/index.ts';
import type { HistoryTable, ServersTable, SettingsTable, TaskDatabasesTable, TasksTable } from '../store/index.ts';
import { staleDatabases, staleThresholdMs } from '../tasks/health.ts';
import type { Handlers } from './dispatch.ts';

export interface DatabaseListDeps {
  tasks: TasksTable;
  servers: ServersTable;
  history: HistoryTable;
  taskDatabases: TaskDatabasesTable;
  settings: SettingsTable;
  now: () => Date;
}

export function listDatabases(deps: DatabaseListDeps): DatabaseOverview[] {
  const now = deps.now();
  const staleAfterHours = deps.settings.get().staleAfterHours;
  const servers = new Map<string, Server>(deps.servers.list().map((s) => [s.id, s]));
  const stored = new Map(deps.history.storedByDatabase().map((r) => [`${r.taskId}\u0000${r.database}`, r]));
  const out: DatabaseOverview[] = [];
  for (const task of deps.tasks.list()) out.push(...taskRows(task, servers.get(task.serverId), stored, staleAfterHours, now, deps));
  return out.sort((a, b) => a.database.localeCompare(b.database) || a.taskName.localeCompare(b.taskName));
}

function taskRows(
  task: Task,
  server: Server | undefined,
  stored: Map<string, { bytes: number; points: number }>,
  staleAfterHours: number | null,
  now: Date,
  deps: DatabaseListDeps,
): DatabaseOverview[] {
  const seen = deps.taskDatabases.list(task.id);
  const excluded = new Set(task.excludeDatabases);
  const stale = new Set(staleDatabases(task, seen, staleAfterHours, now));
  const threshold = task.enabled ? staleThresholdMs(task, staleAfterHours, now) : null;
  const tests = new Map(deps.history.lastTestRestores(task.id).map((t) => [t.database, t]));
  const nextAt = task.enabled ? (nextRun(task.schedule, now).next?.at.toISOString() ?? null) : null;
  return seen
    .filter((d) => !excluded.has(d.database))
    .map((d) => {
      const age = now.getTime() - Date.parse(d.lastSuccessAt ?? d.firstSeenAt);
      const freshness: DatabaseOverview['freshness'] =
        d.goneAt ? 'gone' : threshold === null ? 'unscheduled' : stale.has(d.database) ? 'stale' : age > threshold / 2 ? 'due' : 'fresh';
      const s = stored.get(`${task.id}\u0000${d.database}`);
      return {
        database: d.database,
        taskId: task.id,
        taskName: task.name,
        serverId: task.serverId,
        serverName: server?.name ?? task.serverId,
        serverKind: server?.kind ?? 'sqlite',
        firstSeenAt: d.firstSeenAt,
        lastSuccessAt: d.lastSuccessAt,
        freshness,
        storedBytes: s?.bytes ?? 0,
        points: s?.points ?? 0,
        lastTestRestore: tests.get(d.database) ?? null,
        nextRun: nextAt,
      };
    });
}

export function createDatabaseListHandlers(deps: DatabaseListDeps): Pick<Handlers, 'databases.list'> {
  return { 'databases.list': () => listDatabases(deps) };
}
