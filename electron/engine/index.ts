/**
 * The Backstop engine: everything the app does, as a plain Node library. The Electron
 * main process, the `backstop` CLI and the e2e harness are thin shells over this.
 *
 * Contract: `createEngine` opens (and migrates) `<dataDir>/backstop.db`, starts logging
 * to `<dataDir>/logs`, and returns the handler table for every contract command plus the
 * event bus. One engine per data dir per process. `close()` is idempotent and must be
 * awaited before the process exits. Never imports electron.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { walSpoolRoot } from './tasks/task-slot.ts';
import pkg from '../../package.json' with { type: 'json' };
import type { AppInfo } from '../shared/domain.ts';
import { createHandlers } from './api/handlers.ts';
import { dispatch, type Handlers } from './api/dispatch.ts';
import type { CommandName, CommandResponse } from '../shared/ipc/index.ts';
import { EventBus } from './events/event-bus.ts';
import { createLogger, Redactor, type Logger } from './logging/index.ts';
import { KeychainSecretStore, type SecretStore } from './secrets/index.ts';
import { KeyService } from './keys/index.ts';
import { Scheduler } from './scheduler/index.ts';
import { RunQueue } from './tasks/run-queue.ts';
import { TaskRunner, defaultKind, type ResolvedTask } from './tasks/task-runner.ts';
import { HealthMonitor } from './tasks/health-monitor.ts';
import { workerExecutor, type JobExecutor } from './backup/worker-executor.ts';
import { runBackupJob } from './backup/run-job.ts';
import { RestoreService } from './restore/restore-service.ts';
import { loadS3Credentials } from './destinations/index.ts';
import { serverPassword } from './servers/index.ts';
import { hasCode } from '../shared/result.ts';
import type { PointKind, RunTrigger } from '../shared/domain.ts';
import {
  HistoryTable,
  KeysTable,
  RestoredDatabasesTable,
  ScheduleStateTable,
  TaskDatabasesTable,
  openAppDatabase,
  SCHEMA_VERSION,
  ServersTable,
  SettingsTable,
  TasksTable,
  type Db,
} from './store/index.ts';

export { dispatch, type Handlers } from './api/dispatch.ts';
export type { EventBus } from './events/event-bus.ts';

export interface EngineOptions {
  dataDir: string;
  /** Defaults to the OS keychain. */
  secrets?: SecretStore;
  /** Injected clock (tests). */
  now?: () => Date;
  logLevel?: string;
  /** Where database backups run: worker threads (default) or inline (tests of the orchestration). */
  jobs?: 'worker' | 'inline';
  /** Compression/encryption threads inside each backup job (default: the repository's). */
  encoderWorkers?: number;
}

export interface Engine {
  dataDir: string;
  logsDir: string;
  handlers: Handlers;
  /** Dispatches one command through the contract (parse → handler → Result), logging internal errors. */
  call<K extends CommandName>(name: K, payload: unknown): Promise<CommandResponse<K>>;
  events: EventBus;
  logger: Logger;
  redactor: Redactor;
  /** For tests and maintenance tools: the open app database. */
  db: Db;
  runner: TaskRunner;
  scheduler: Scheduler;
  keys: KeyService;
  /** Loads a stored task with its server and secrets, ready to run. */
  resolveTask(taskId: string): Promise<ResolvedTask>;
  /** Starts the scheduler (catch-up first) and periodic health alerts. The app and `backstop agent` call this; tests may not. */
  start(): void;
  health: HealthMonitor;
  close(): Promise<void>;
}

export { APP_VERSION } from './app-version.ts';

/** Wraps a secret store so every value it sees is registered with the log redactor. */
function redacting(store: SecretStore, redactor: Redactor): SecretStore {
  return {
    async set(account, value) {
      redactor.register(value);
      await store.set(account, value);
    },
    async get(account) {
      const v = await store.get(account);
      if (v !== null) redactor.register(v);
      return v;
    },
    delete: (account) => store.delete(account),
  };
}

export async function createEngine(opts: EngineOptions): Promise<Engine> {
  const dataDir = resolve(opts.dataDir);
  const logsDir = join(dataDir, 'logs');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const redactor = new Redactor();
  const { logger, close: closeLog } = createLogger({ logsDir, redactor, level: opts.logLevel });
  // The AWS SDK's own notice about this is kept off stderr (storage/s3-backend.ts); the log keeps the fact.
  if (Number(process.versions.node.split('.')[0]) < 22) logger.warn({ node: process.version }, 'Node older than 22: AWS SDK releases after early January 2027 require Node 22');
  let db: Db;
  try {
    db = openAppDatabase(join(dataDir, 'backstop.db'));
  } catch (e) {
    logger.error({ err: e }, 'cannot open app database');
    closeLog();
    throw e;
  }
  const events = new EventBus((e) => logger.error({ err: e }, 'event listener failed'));
  const secrets = redacting(opts.secrets ?? new KeychainSecretStore(), redactor);
  const now = opts.now ?? (() => new Date());
  const info = (): AppInfo => ({
    name: pkg.productName,
    version: pkg.version,
    platform: process.platform,
    dataDir,
    logsDir,
    schemaVersion: SCHEMA_VERSION,
  });
  const servers = new ServersTable(db);
  const tasks = new TasksTable(db);
  const settings = new SettingsTable(db);
  const history = new HistoryTable(db);
  const keys = new KeyService(secrets, new KeysTable(db), now);
  const queue = new RunQueue(settings.get().maxConcurrentBackups);
  const executor: JobExecutor = opts.jobs === 'inline' ? runBackupJob : workerExecutor;
  const taskDatabases = new TaskDatabasesTable(db);
  const restoredDatabases = new RestoredDatabasesTable(db);
  const runner = new TaskRunner({
    history,
    taskDatabases,
    restoredDatabases,
    events,
    logger,
    queue,
    now,
    toolPaths: () => settings.get().toolPaths,
    executor,
    encoderWorkers: opts.encoderWorkers,
    walSpoolDir: walSpoolRoot(dataDir),
  });

  async function resolveTask(taskId: string): Promise<ResolvedTask> {
    const task = tasks.get(taskId);
    const { server, password } = await resolveServer(task.serverId);
    const key = task.encryption.mode === 'key' ? await keys.key(task.encryption.keyRef) : null;
    const s3Credentials = await Promise.all(task.destinations.map((d) => (d.kind === 's3' ? loadS3Credentials(secrets, d.credentialsRef) : null)));
    return { task, server, password, key, s3Credentials, persisted: true };
  }

  async function resolveServer(id: string) {
    const server = servers.get(id);
    return { server, password: await serverPassword(secrets, server) };
  }
  const findKey = (fingerprint: string) => keys.findByFingerprint(fingerprint);
  const restores = new RestoreService({
    events,
    logger,
    findKey,
    resolveServer,
    toolPaths: () => settings.get().toolPaths,
    s3Credentials: (ref) => loadS3Credentials(secrets, ref),
    restoredDatabases,
    now,
  });

  async function runNow(taskId: string, kind: PointKind | undefined, trigger: RunTrigger): Promise<{ runId: string }> {
    const resolved = await resolveTask(taskId);
    const { runId } = runner.start(resolved, kind ?? defaultKind(resolved.task), trigger);
    return { runId };
  }

  const scheduler = new Scheduler({
    tasks: () => tasks.list(),
    state: new ScheduleStateTable(db),
    now,
    onDue: (task, kind, trigger) => {
      runNow(task.id, kind, trigger).catch((e: unknown) => {
        if (hasCode(e, 'CONFLICT')) logger.warn({ taskId: task.id, kind }, 'scheduled run skipped: the previous run is still going');
        else logger.error({ err: e, taskId: task.id }, 'scheduled run could not start');
      });
    },
    onError: (e, taskId) => logger.error({ err: e, taskId }, 'scheduler error'),
  });
  events.on('tasks.changed', () => scheduler.rearmAll());
  const health = new HealthMonitor({ tasks, taskDatabases, settings, keys, events, now });
  let healthTimer: NodeJS.Timeout | undefined;
  events.on('history.changed', ({ runId }) => {
    if (!runner.activeRuns().some((r) => r.runId === runId)) health.check();
  });
  events.on('settings.changed', (s) => queue.setLimit(s.maxConcurrentBackups));

  const handlers = createHandlers({
    info,
    servers,
    tasks,
    settings,
    history,
    secrets,
    keys,
    events,
    now,
    runNow: (id, kind) => runNow(id, kind, 'manual'),
    runner,
    status: { taskDatabases, restoredDatabases },
    restore: { restores, findKey, dataDir },
    s3: { secrets },
  });
  logger.info({ dataDir, version: pkg.version }, 'engine started');

  let closed = false;
  return {
    dataDir,
    logsDir,
    handlers,
    call: (name, payload) => dispatch(handlers, name, payload, (err, command) => logger.error({ err, command }, 'command failed unexpectedly')),
    events,
    logger,
    redactor,
    db,
    runner,
    scheduler,
    keys,
    resolveTask,
    start: () => {
      scheduler.start();
      health.check();
      healthTimer = setInterval(() => health.check(), 30 * 60_000);
      healthTimer.unref();
    },
    health,
    async close() {
      if (closed) return;
      closed = true;
      scheduler.stop();
      clearInterval(healthTimer);
      for (const r of runner.activeRuns()) runner.cancel(r.taskId);
      restores.cancelAll();
      await Promise.all([runner.idle(), restores.idle()]);
      logger.info('engine stopped');
      db.close();
      closeLog();
    },
  };
}
