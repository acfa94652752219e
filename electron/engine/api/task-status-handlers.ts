/**
 * Contract commands that describe tasks without changing them: status for the task list,
 * schedule previews for the editor, and the retention preview (exactly what retention
 * would delete now, and why).
 */
import type { RetentionPreview, RunDatabase, Task, TaskStatus } from '../../shared/domain.ts';
import { errorInfo } from '../../shared/result.ts';
import { destinationId, Location } from '../destinations/index.ts';
import type { SecretStore } from '../secrets/index.ts';
import type { KeyService } from '../keys/index.ts';
import { openRepository } from '../repository/index.ts';
import { planRetention, retentionPointsOf } from '../retention/index.ts';
import { nextRun, upcomingRuns } from '../scheduler/index.ts';
import { assertCron, assertTimeZone } from '../scheduler/cron.ts';
import { databaseNameOf, SERVER_FOLDER } from '../servers/index.ts';
import type { HistoryTable, RestoredDatabasesTable, SettingsTable, TaskDatabasesTable, TasksTable } from '../store/index.ts';
import { staleDatabases } from '../tasks/health.ts';
import { REDUMPED } from '../backup/log-coverage.ts';
import type { TaskRunner } from '../tasks/task-runner.ts';
import type { Handlers } from './dispatch.ts';

type StatusHandlers = Pick<Handlers, 'tasks.status' | 'schedule.preview' | 'retention.preview'>;

export interface StatusDeps {
  tasks: TasksTable;
  history: HistoryTable;
  taskDatabases: TaskDatabasesTable;
  restoredDatabases?: RestoredDatabasesTable;
  settings: SettingsTable;
  keys: KeyService;
  runner: TaskRunner;
  secrets: SecretStore;
  now: () => Date;
  /** Slot care of PostgreSQL snapshot tasks (tasks/slot-watch.ts); absent = not reported. */
  slots?: { hold(taskId: string): TaskStatus['slot'] };
}

/** Databases the run starting at `runStartedAt` saw first (none on a task's very first run), and which Backstop restored. */
function newDatabases(task: Task, runStartedAt: string, deps: StatusDeps): NonNullable<TaskStatus['newDatabases']> {
  const known = deps.taskDatabases.list(task.id);
  if (!known.some((d) => d.firstSeenAt < runStartedAt)) return [];
  const excluded = new Set(task.excludeDatabases);
  const restored = deps.restoredDatabases?.forServer(task.serverId);
  return known
    .filter((d) => d.firstSeenAt >= runStartedAt && !excluded.has(d.database))
    .map((d) => ({ database: d.database, restoredAt: restored?.get(d.database)?.restoredAt ?? null }));
}

/** A run's server-level streams, one per name (a failure at any destination wins). */
function serverStreamsOf(rows: readonly RunDatabase[]): { name: string; status: RunDatabase['status'] }[] {
  const byName = new Map<string, RunDatabase['status']>();
  for (const d of rows) {
    if (!d.serverStream) continue;
    const prev = byName.get(d.database);
    if (prev === undefined || (prev !== 'failed' && d.status !== 'success')) byName.set(d.database, d.status);
  }
  return [...byName].map(([name, status]) => ({ name, status }));
}

export function taskStatus(task: Task, deps: StatusDeps): TaskStatus {
  const now = deps.now();
  const next = task.enabled ? nextRun(task.schedule, now) : null;
  const last = deps.history.list({ taskId: task.id, limit: 1, notKinds: ['retention'] })[0];
  const keyNotExported = task.encryption.mode === 'key' && deps.keys.list().some((k) => k.keyRef === (task.encryption as { keyRef: string }).keyRef && k.exportedAt === null);
  return {
    taskId: task.id,
    nextFull: next?.full?.toISOString() ?? null,
    nextIncremental: next?.incremental?.toISOString() ?? null,
    running: deps.runner.isRunning(task.id),
    lastRun: last
      ? {
          runId: last.id,
          status: last.status,
          startedAt: last.startedAt,
          endedAt: last.endedAt,
          databasesOk: new Set(last.databases.filter((d) => !d.serverStream && d.status === 'success').map((d) => d.database)).size,
          databasesFailed: new Set(last.databases.filter((d) => !d.serverStream && d.status === 'failed').map((d) => d.database)).size,
          serverStreams: serverStreamsOf(last.databases),
        }
      : null,
    storedBytes: deps.history.storedBytes(task.id),
    staleDatabases: staleDatabases(task, deps.taskDatabases.list(task.id), deps.settings.get().staleAfterHours, now),
    keyNotExported,
    newDatabases: last ? newDatabases(task, last.startedAt, deps) : [],
    proven: proven(task, deps),
    ...(deps.slots?.hold(task.id) ? { slot: deps.slots.hold(task.id) } : {}),
    logFallback: logFallbackOf(last?.databases ?? []),
  };
}

/** Why the last run's incrementals re-dumped: the text after REDUMPED (which an unchanged dump's reason carries after UNCHANGED). */
function logFallbackOf(databases: readonly { kind: string; kindReason: string | null }[]): string | null {
  const reason = databases.find((d) => d.kind === 'incremental' && d.kindReason?.includes(REDUMPED))?.kindReason;
  return reason ? reason.slice(reason.indexOf(REDUMPED) + REDUMPED.length) : null;
}

/** Each database's newest test restore, the backed-up databases none has tried, the newest proof when all tested are ok, and a newest test restore that failed before testing any database. */
function proven(task: Task, deps: StatusDeps): NonNullable<TaskStatus['proven']> {
  const databases = deps.history.lastTestRestores(task.id);
  const tested = new Set(databases.map((d) => d.database));
  const excluded = new Set(task.excludeDatabases);
  const untested = deps.taskDatabases
    .list(task.id)
    .filter((d) => d.lastSuccessAt !== null)
    .map((d) => d.database)
    .filter((d) => !tested.has(d) && !excluded.has(d))
    .sort();
  const allOkAt = databases.length > 0 && databases.every((d) => d.ok) ? databases[0]!.at : null;
  const lastRunFailed = deps.history.lastTestRestoreRunFailure(task.id);
  return { databases, untested, allOkAt, ...(lastRunFailed ? { lastRunFailed } : {}) };
}

export function createStatusHandlers(deps: StatusDeps): StatusHandlers {
  return {
    'tasks.status': () => deps.tasks.list().map((t) => taskStatus(t, deps)),
    'schedule.preview': ({ schedule, count }) => {
      assertTimeZone(schedule.timezone, 'schedule.timezone');
      if (schedule.full) assertCron(schedule.full, schedule.timezone, 'schedule.full');
      if (schedule.incremental) assertCron(schedule.incremental, schedule.timezone, 'schedule.incremental');
      return upcomingRuns(schedule, deps.now(), count).map((r) => ({ at: r.at.toISOString(), kind: r.kind }));
    },
    'retention.preview': async ({ taskId, retention }) => {
      const task = deps.tasks.get(taskId);
      const policy = retention ?? task.retention;
      const key = task.encryption.mode === 'key' ? await deps.keys.key(task.encryption.keyRef) : null;
      const out: RetentionPreview[] = [];
      for (const dest of task.destinations) {
        let root: Location;
        let folders: string[];
        try {
          root = await Location.load(dest, deps.secrets);
          folders = (await root.use((r) => r.listFolders())).filter((f) => f !== SERVER_FOLDER);
        } catch (e) {
          out.push({ destination: destinationId(dest), database: '', decisions: [], error: errorInfo(e) });
          continue;
        }
        for (const folder of folders) {
          const database = databaseNameOf(folder) ?? folder;
          try {
            const points = await root.child(folder).use(async (l) => (await openRepository(l.backend(), { key, workers: 0 })).listPoints({ skipDamaged: true }));
            const byId = new Map(points.map((p) => [p.id, p]));
            const plan = planRetention(retentionPointsOf(points), policy, deps.now());
            out.push({
              destination: root.id,
              database: points.at(-1)?.database ?? database,
              decisions: plan.map((d) => ({ ...d, createdAt: byId.get(d.id)!.createdAt, kind: byId.get(d.id)!.kind })),
              error: null,
            });
          } catch (e) {
            out.push({ destination: root.id, database, decisions: [], error: errorInfo(e) });
          }
        }
      }
      return out;
    },
  };
}
