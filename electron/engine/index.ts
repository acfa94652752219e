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
import { join } from 'node:path';
import { walSpoolRoot } from './tasks/task-slot.ts';
import pkg from '../../package.json' with { type: 'json' };
import { appInfo, engineFolders } from './app-info.ts';
import { createHandlers } from './api/handlers.ts';
import { dispatch, type Handlers } from './api/dispatch.ts';
import type { CommandArgs, CommandName, CommandResponse, CommandResult } from '../shared/ipc/index.ts';
import { EventBus } from './events/event-bus.ts';
import { createLogger, Redactor, type Logger } from './logging/index.ts';
import { KeychainSecretStore, type SecretStore } from './secrets/index.ts';
import { KeyService } from './keys/index.ts';
import { DeferredRuns, Scheduler } from './scheduler/index.ts';
import { acquireSchedulerLock, schedulerOwner, type SchedulerLock, type SchedulerOwner, type SchedulerWho } from './scheduler/scheduler-lock.ts';
import { RunQueue } from './tasks/run-queue.ts';
import { TaskRunner, defaultKind, type ResolvedTask, type RunSummary } from './tasks/task-runner.ts';
import { HealthMonitor } from './tasks/health-monitor.ts';
import { recordNotStarted } from './tasks/not-started.ts';
import { closeAbandonedRuns, type AbandonedAnnouncement } from './tasks/abandoned-runs.ts';
import { SLOT_CHECK_MS, SlotWatch } from './tasks/slot-watch.ts';
import { backupJobWorkers, workerExecutor, type JobExecutor } from './backup/worker-executor.ts';
import { runBackupJob } from './backup/run-job.ts';
import { LocalChunkCache, localCacheDir } from './repository/index.ts';
import { RestoreService } from './restore/restore-service.ts';
import { ServerRestoreService } from './restore/server-restore-service.ts';
import { credentialsOf, loadCredentials, releaseUnclaimed } from './destinations/index.ts';
import { TestRestoreService, scratchTarget, sqliteScratchDir, type TestRestoreJobResult } from './test-restore/index.ts';
import { runWorkerJob } from './runtime/worker-job.ts';
import { useWorkFolder } from './runtime/work-folder.ts';
import { serverPassword } from './servers/index.ts';
import { BackstopError, hasCode } from '../shared/result.ts';
import type { Alert, PointKind, RunOrigin, RunTrigger, Task } from '../shared/domain.ts';
import { RestoreHistory } from './restore/restore-history.ts';
import { OwnLeftovers } from './restore/own-leftovers.ts';
import { categoryOf, Notifier, ONE_SHOT_RETRY, payload, type FailingChannel, type NotificationChannel, type OwedChannel, type RetryPolicy } from './notifications/index.ts';
import { channelsForTask } from './notifications/app-channels.ts';
import { fileOwed, forFile, forSettings, settingsOwed } from './notifications/owed.ts';
import { notDelivered } from '../shared/delivery-outcome.ts';
import {
  HistoryTable,
  KeysTable,
  NotificationDeliveriesTable,
  NotificationOutboxTable,
  RestoredDatabasesTable,
  ScheduleStateTable,
  ScratchTargetsTable,
  UnclaimedSecretsTable,
  DestinationSpaceTable,
  ServerRestoresTable,
  TaskDatabasesTable,
  openAppDatabase,
  ServersTable,
  SettingsTable,
  TasksTable,
  type Db,
  type OutboxEntry,
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
  /** Runs every backup job instead (tests count the jobs a run starts); default: by `jobs`. */
  executor?: JobExecutor;
  /** Compression/encryption threads inside each backup job (default: the repository's). */
  encoderWorkers?: number;
  /** Notification retries (tests shorten the backoff); the CLI's one-shot commands default to `ONE_SHOT_RETRY`. */
  notifyRetry?: Partial<RetryPolicy>;
  /** The notifier's waits between attempts (tests pass a fake clock's); default: a timer. */
  notifySleep?: (ms: number) => Promise<void>;
  /** Which kind of process runs this engine, recorded on restores in History: the window (default), the CLI, or `serve` / `agent`. */
  origin?: RunOrigin;
}

export interface Engine {
  dataDir: string;
  logsDir: string;
  handlers: Handlers;
  /** Dispatches one command through the contract (parse → handler → Result), logging internal errors. */
  call<K extends CommandName>(name: K, payload: unknown): Promise<CommandResponse<K>>;
  /**
   * The typed call for in-process shells (the CLI): the input is checked by the compiler
   * against the command's contract entry (and parsed by its schema, as in `call`); resolves
   * to the data, or throws the failure as a BackstopError with its code and message.
   */
  command<K extends CommandName>(name: K, ...input: CommandArgs<K>): Promise<CommandResult<K>>;
  events: EventBus;
  logger: Logger;
  redactor: Redactor;
  /** For tests and maintenance tools: the open app database. */
  db: Db;
  runner: TaskRunner;
  scheduler: Scheduler;
  keys: KeyService;
  /** Test restores of tasks (issue #22). */
  testRestores: TestRestoreService;
  /** Arms each task's test-restore cron (started and stopped with the engine). */
  testRestoreScheduler: Scheduler;
  /** Whole-server restores' progress per target database (a re-run skips what is done). */
  serverRestores: ServerRestoresTable;
  /** Records restores as History runs (the CLI hands its restores to it; the window's go through the restore services). */
  restoreHistory: RestoreHistory;
  /** This process's one local cache of remote destinations' chunks and manifests (`<data dir>/chunk-cache`): what a restore's look at a remote folder reads through. */
  localCache: LocalChunkCache;
  /** Loads a stored task with its server and secrets, ready to run. */
  resolveTask(taskId: string): Promise<ResolvedTask>;
  /**
   * Starts the scheduler (catch-up first) and periodic health alerts — when this process
   * gets the data dir's scheduler lock (one scheduler per data dir). Otherwise it returns
   * who schedules; with `retry`, it keeps trying (every 30 s) and starts scheduling when that
   * process is gone (the app does this; `backstop agent` refuses instead). Whoever schedules,
   * it also removes day-old destination secrets no task claimed (destinations/unclaimed-secrets.ts).
   * The app, `backstop agent` and `backstop serve` call this; tests may not.
   */
  start(who?: SchedulerWho, opts?: { retry?: boolean }): { scheduling: true } | { scheduling: false; heldBy: SchedulerOwner };
  health: HealthMonitor;
  /** Slot care of PostgreSQL snapshot tasks (WAL held back on the server); checked by `start()` every 15 min and after runs. */
  slots: SlotWatch;
  /** Webhooks, heartbeats and e-mail, delivered in the background; `flush` before a short-lived process exits. */
  notifier: Notifier;
  /**
   * Announces (once) the runs of a task file's task (`taskId`) that this engine's start closed
   * as abandoned (a killed `backstop backup --config`) to that file's channels; returns how many.
   * A stored task's are announced at start, to its own channels.
   */
  announceAbandoned(taskId: string, taskName: string, channels: NotificationChannel[]): number;
  /**
   * Carries on, to a task file's channels (`taskId`'s), the deliveries a `backstop backup --config`
   * of that file that stopped still owed (the file's URLs are only in its command's environment);
   * returns how many. The app, serve and agent carry on Settings channels' at their start.
   */
  resumeOwedOf(taskId: string, channels: NotificationChannel[]): number;
  /**
   * The alerts of the task files' runs this engine's start closed as abandoned that no
   * `announceAbandoned` claimed (this command does not read their file): the CLI tells its
   * user on stderr, the only one who can still hear of them.
   */
  abandonedUntold(): Alert[];
  deliveries: NotificationDeliveriesTable;
  /**
   * Cancels every backup run, restore, whole-server restore and test restore this engine is
   * running (each ends as its own cancel does: nothing half-written kept, history says
   * canceled); the engine stays open. The CLI calls it on SIGINT/SIGTERM; close() calls it.
   */
  cancelAll(): void;
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

/** How long close() waits for the alerts of runs a stopped process left unfinished (a one-shot CLI command's engine closes right after). */
const ABANDONED_FLUSH_MS = 30_000;
/** How long close() waits for notification attempts in flight (one that answers is recorded, not resumed and sent again). */
const NOTIFY_STOP_MS = 5_000;
/** How often a started engine looks for deliveries owed by a process that stopped meanwhile. */
const OWED_CHECK_MS = 5 * 60_000;

export async function createEngine(opts: EngineOptions): Promise<Engine> {
  const { dataDir, logsDir } = engineFolders(opts.dataDir);
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new BackstopError('STORAGE', `The data folder ${dataDir} cannot be used: a file is there, not a folder. Give a folder (--data-dir or BACKSTOP_DATA_DIR; it is created if missing).`);
    throw new BackstopError('STORAGE', `The data folder ${dataDir} cannot be created (${code ?? (e as Error).message}). Give a folder this user may write to (--data-dir or BACKSTOP_DATA_DIR).`);
  }
  // Work copies (SQLite snapshot copies, log copies, temporary clusters) go to <dataDir>/work unless TMPDIR is set.
  const releaseWorkFolder = useWorkFolder(dataDir);
  const redactor = new Redactor();
  const { logger, close: closeLog } = createLogger({ logsDir, redactor, level: opts.logLevel });
  // The AWS SDK's own notice about this is kept off stderr (storage/s3-backend.ts); the log keeps the fact.
  if (Number(process.versions.node.split('.')[0]) < 22) logger.warn({ node: process.version }, 'Node older than 22: AWS SDK releases after early January 2027 require Node 22');
  let db: Db;
  try {
    db = openAppDatabase(join(dataDir, 'backstop.db'));
  } catch (e) {
    logger.error({ err: e }, 'cannot open app database');
    releaseWorkFolder();
    closeLog();
    throw e;
  }
  const events = new EventBus((e) => logger.error({ err: e }, 'event listener failed'));
  const secrets = redacting(opts.secrets ?? new KeychainSecretStore(), redactor);
  const now = opts.now ?? (() => new Date());
  const info = () => appInfo(dataDir);
  const servers = new ServersTable(db);
  const tasks = new TasksTable(db);
  const settings = new SettingsTable(db);
  const history = new HistoryTable(db);
  const scheduleState = new ScheduleStateTable(db);
  // Runs a killed or crashed Backstop left "running" are closed as failed, saying why (a live process's are left alone),
  // announced below once the channels can be read, and a killed scheduled full is caught up (tasks/abandoned-runs.ts).
  const abandoned = closeAbandonedRuns({ history, tasks: () => tasks.list(), scheduleState, now });
  if (abandoned.length > 0) logger.warn({ runIds: abandoned.map((a) => a.run.id) }, 'runs left unfinished by a Backstop process that stopped were closed as failed');
  const keys = new KeyService(secrets, new KeysTable(db), now);
  const queue = new RunQueue(settings.get().maxConcurrentBackups);
  const executor: JobExecutor = opts.executor ?? (opts.jobs === 'inline' ? (spec, signal, onProgress) => runBackupJob(spec, signal, onProgress) : workerExecutor);
  const taskDatabases = new TaskDatabasesTable(db);
  const restoredDatabases = new RestoredDatabasesTable(db);
  const deliveries = new NotificationDeliveriesTable(db);
  // A channel that starts failing is said in the window and on the desktop (not through the channels: it may be the one failing).
  const onFailing = (f: FailingChannel): void => {
    const name = f.channelId ? settings.get().notificationChannels.find((c) => c.id === f.channelId)?.name : undefined;
    const which = `${name ? `"${name}" (${f.channel}, ${f.target})` : `${f.channel} ${f.target}`}`;
    events.emit('alert', {
      kind: 'notification-failed',
      taskId: null,
      message: `Notifications to ${which} are failing: "${f.event}" was ${notDelivered(f.attempts)} (${f.error}). Alerts sent there are lost until it works again: check the channel in Settings › Notifications and use Send test.`,
      databases: [],
    });
  };
  // A one-shot command waits a minute for its deliveries: a schedule that ends within it (the window, serve and agent outlast a greylist).
  const retry = opts.notifyRetry ?? (opts.origin === 'cli' ? ONE_SHOT_RETRY : undefined);
  const outbox = new NotificationOutboxTable(db, deliveries);
  const notifier = new Notifier({ logger, deliveries, outbox, now, onFailing, ...(retry ? { retry } : {}), ...(opts.notifySleep ? { sleep: opts.notifySleep } : {}) });
  // Deliveries a Backstop process that stopped (closed, killed, the machine rebooted) still owed: the app, serve and agent
  // take them now — ahead of any alert this process sends to the same receiver — and go on with them once start()
  // runs (its alerts are heard by then). A one-shot command does not: the next of those does.
  let openOwed: () => void = () => {};
  const owedGate = new Promise<void>((r) => (openOwed = r));
  if ((opts.origin ?? 'app') !== 'cli') {
    resumeOwed(forSettings(now()), settingsResolver, owedGate);
  }
  function settingsResolver(e: OutboxEntry): Promise<OwedChannel> {
    return settingsOwed(e, settings.get(), secrets, dataDir, now());
  }
  function resumeOwed(which: (e: OutboxEntry) => boolean, resolve: (e: OutboxEntry) => Promise<OwedChannel>, gate?: Promise<void>): number {
    try {
      const owed = outbox.claimAbandoned(which);
      if (owed.length > 0) {
        logger.info({ count: owed.length }, 'resuming notifications a Backstop process that stopped was still delivering');
        notifier.resume(owed, resolve, gate);
      }
      return owed.length;
    } catch (e) {
      logger.error({ err: e }, 'notifications a stopped process still owed could not be read');
      return 0;
    }
  }
  const scratchTargets = new ScratchTargetsTable(db);
  const unclaimed = new UnclaimedSecretsTable(db);
  const destinationSpace = new DestinationSpaceTable(db);
  const warnSecret = (ref: string, err: unknown) => logger.warn({ ref, err }, 'a destination secret no task uses could not be removed from the keychain');
  // The start-up release of destination secrets nobody claimed (start(); close() waits for it).
  let secretsReleased: Promise<unknown> = Promise.resolve();
  const runner = new TaskRunner({
    otherTasks: (id) => tasks.list().filter((t) => t.id !== id),
    notifier,
    history,
    destinationSpace,
    taskDatabases,
    restoredDatabases,
    events,
    logger,
    queue,
    now,
    toolPaths: () => settings.get().toolPaths,
    executor,
    encoderWorkers: opts.encoderWorkers,
    chunkCacheDir: localCacheDir(dataDir),
    scratchNames: (server) => new Set(scratchTargets.list(scratchTarget(server, sqliteScratchDir(dataDir)))),
    walSpoolDir: walSpoolRoot(dataDir),
    onRunEnd: (resolved, summary) => {
      afterFull(resolved, summary);
      startDeferred(resolved);
    },
    scrub: (text) => redactor.scrub(text),
  });

  async function resolveTask(taskId: string): Promise<ResolvedTask> {
    const task = tasks.get(taskId);
    const { server, password } = await resolveServer(task.serverId);
    const key = task.encryption.mode === 'key' ? await keys.key(task.encryption.keyRef) : null;
    const notifications = await channelsForTask(task, settings.get(), secrets, dataDir, (c) => logger.warn({ taskId, channel: c.id }, 'notification channel left out: its URL or the SMTP server is missing'));
    return { task, server, password, key, credentials: await loadCredentials(secrets, task.destinations), persisted: true, notifications };
  }

  async function resolveServer(id: string) {
    const server = servers.get(id);
    return { server, password: await serverPassword(secrets, server) };
  }
  const findKey = (fingerprint: string) => keys.findByFingerprint(fingerprint);
  const serverRestores = new ServerRestoresTable(db);
  const restoreHistory = new RestoreHistory({ history, events, logger, now, origin: opts.origin ?? 'app', leftovers: new OwnLeftovers(serverRestores, now) });
  const restores = new RestoreService({
    restoreHistory,
    events,
    logger,
    findKey,
    resolveServer,
    toolPaths: () => settings.get().toolPaths,
    credentials: (place) => credentialsOf(secrets, place),
    restoredDatabases,
    now,
  });

  const testRestores = new TestRestoreService({
    history,
    scratch: scratchTargets,
    events,
    logger,
    now,
    toolPaths: () => settings.get().toolPaths,
    sqliteScratchDir: sqliteScratchDir(dataDir),
    resolveServer,
    runJob: (spec, signal) => runWorkerJob<TestRestoreJobResult>('repository-job', spec, { label: `the test restore of ${spec.database}`, signal }),
  });
  // One local cache of chunks and manifests for what this process reads from remote destinations (repository/chunk-cache.ts).
  const localCache = new LocalChunkCache(localCacheDir(dataDir));
  const serverRestoreService = new ServerRestoreService({ events, logger, restores, findKey, manifestCache: localCache, resolveServer, toolPaths: () => settings.get().toolPaths, journal: serverRestores, history, now, restoreHistory });

  /** `databases`: a per-database run (checked against the server's live list before it starts). */
  async function runNow(taskId: string, kind: PointKind | undefined, trigger: RunTrigger, databases?: string[]): Promise<{ runId: string }> {
    const resolved: ResolvedTask = await resolveTask(taskId);
    if (databases) {
      const only = [...new Set(databases)];
      await runner.checkOnly(resolved, only);
      resolved.only = only;
    }
    const { runId } = runner.start(resolved, kind ?? defaultKind(resolved.task), trigger);
    return { runId };
  }

  // A slot that fires while its task still runs waits for that run and then starts once (deferred-runs.ts).
  const deferred = new DeferredRuns();
  const deferRun = (task: Task, kind: PointKind) => {
    const waits = deferred.defer(task.id, kind);
    logger.info({ taskId: task.id, kind, waits }, 'scheduled run deferred: the previous run of this task is still going; it starts once that run ends');
  };
  function startScheduled(taskId: string, kind: PointKind, trigger: RunTrigger): void {
    runNow(taskId, kind, trigger).catch((e: unknown) => {
      const task = tasks.list().find((t) => t.id === taskId);
      if (hasCode(e, 'CONFLICT') && task && runner.isRunning(taskId)) deferRun(task, kind);
      else if (task) notStarted('backup', task, kind, trigger, e);
      else logger.error({ err: e, taskId }, 'scheduled run could not start');
    });
  }
  /** The run a slot deferred while this one went, once it ended (an enabled saved task only). */
  function startDeferred(resolved: ResolvedTask): void {
    if (!resolved.persisted) return;
    const kind = deferred.take(resolved.task.id);
    if (!kind || closed || !tasks.list().some((t) => t.id === resolved.task.id && t.enabled)) return;
    startScheduled(resolved.task.id, kind, 'catch-up');
  }
  const scheduler = new Scheduler({
    tasks: () => tasks.list(),
    state: scheduleState,
    now,
    onDue: (task, kind, trigger, missed) => {
      if (missed) {
        logger.info(
          { taskId: task.id, kind, missedSince: missed.since.toISOString(), latestMissed: missed.latest.toISOString() },
          'schedule slots missed while Backstop was not running or the machine slept: one catch-up run takes them',
        );
      }
      if (runner.isRunning(task.id)) deferRun(task, kind);
      else startScheduled(task.id, kind, trigger);
    },
    onError: (e, taskId) => logger.error({ err: e, taskId }, 'scheduler error'),
    onClockSetBack: (task, lastSlot, at) =>
      logger.warn(
        { taskId: task.id, lastSlot: lastSlot.toISOString(), now: at.toISOString() },
        'the clock was set back behind the last schedule slot handled: the schedule counts from now (its next slot runs as the clock shows it)',
      ),
  });
  events.on('tasks.changed', () => scheduler.rearmAll());
  // Test restores have their own cron per task (task.testRestore.schedule), in the task's time zone.
  const testRestoreScheduler = new Scheduler({
    tasks: () =>
      tasks
        .list()
        .filter((t) => t.testRestore?.schedule)
        .map((t) => ({ ...t, schedule: { full: t.testRestore!.schedule, incremental: null, timezone: t.schedule.timezone } })),
    state: new ScheduleStateTable(db, 'test_restore_schedule_state'),
    now,
    onDue: (task, _kind, trigger) => {
      resolveTask(task.id)
        .then((resolved) => testRestores.run(resolved, trigger))
        .catch((e: unknown) => {
          if (hasCode(e, 'CONFLICT')) logger.warn({ taskId: task.id }, 'scheduled test restore skipped: the previous one is still going');
          else notStarted('test-restore', task, 'full', trigger, e);
        });
    },
    onError: (e, taskId) => logger.error({ err: e, taskId }, 'test-restore scheduler error'),
    onClockSetBack: (task, lastSlot, at) =>
      logger.warn({ taskId: task.id, lastSlot: lastSlot.toISOString(), now: at.toISOString() }, 'the clock was set back behind the last test-restore slot handled: its schedule counts from now'),
  });
  events.on('tasks.changed', () => testRestoreScheduler.rearmAll());
  /** A task with `testRestore.afterFull` proves a successful full backup right after it (a saved task; never a CLI task file's run). */
  function afterFull(resolved: ResolvedTask, summary: RunSummary): void {
    if (!resolved.persisted || !resolved.task.testRestore?.afterFull || closed) return;
    if (!summary.databases.some((d) => d.kind === 'full' && d.status === 'success')) return;
    resolveTask(resolved.task.id)
      .then((fresh) => (closed ? null : testRestores.run(fresh, 'schedule')))
      .catch((e: unknown) => {
        if (hasCode(e, 'CONFLICT')) logger.warn({ taskId: resolved.task.id }, 'test restore after the full skipped: one is still going');
        else notStarted('test-restore', resolved.task, 'full', 'schedule', e);
      });
  }
  /**
   * A scheduled backup or test restore that could not start: a failed run in History and an alert,
   * sent to the task's channels (the run's own run-failed notification never comes).
   */
  function notStarted(what: 'backup' | 'test-restore', task: Task, kind: PointKind, trigger: RunTrigger, e: unknown): void {
    logger.error({ err: e, taskId: task.id }, `scheduled ${what} could not start`);
    // A task deleted (or the engine closed) as its slot came: nothing was missed.
    if (closed || !tasks.list().some((t) => t.id === task.id)) return;
    let recorded: ReturnType<typeof recordNotStarted>;
    try {
      recorded = recordNotStarted({ history, events, now }, what, task, kind, trigger, e);
    } catch (err) {
      logger.error({ err, taskId: task.id }, 'the run that could not start could not be recorded');
      return;
    }
    announceFailedRun(task, recorded.alert, recorded.runId);
  }
  /**
   * A failed run that never reached the runner's own run-failed notification (one that could not
   * start, one a stopped process left unfinished): its alert to the window and to the task's channels,
   * naming the run. The one path for both; `announced` lets close() (a short-lived CLI) wait for it.
   */
  const directAlerts = new WeakSet<Alert>();
  const announcing = new Set<Promise<unknown>>();
  function announceFailedRun(task: Task, alert: Alert, runId: string): void {
    directAlerts.add(alert); // the 'alert' listener below leaves it to this path (sent once, with its run)
    events.emit('alert', alert);
    const job: Promise<unknown> = channelsOf(task.id)
      .then(
        (target) => target && target.channels.length > 0 && notifyAlert(alert, { ...target, runId }),
        (err: unknown) => logger.error({ err }, 'alert notification channels could not be read'),
      )
      .finally(() => announcing.delete(job));
    announcing.add(job);
  }
  const health = new HealthMonitor({ tasks, taskDatabases, settings, keys, events, now, history, destinationSpace });
  let healthTimer: NodeJS.Timeout | undefined;
  let schedulerLock: SchedulerLock | null = null;
  let lockRetry: NodeJS.Timeout | undefined;
  const slots = new SlotWatch({ tasks, servers, settings, secrets, events, dataDir, now, logger });
  let slotTimer: NodeJS.Timeout | undefined;
  let owedTimer: NodeJS.Timeout | undefined;
  events.on('history.changed', ({ runId }) => {
    if (!runner.activeRuns().some((r) => r.runId === runId)) {
      health.check();
      void slots.check();
    }
  });
  events.on('settings.changed', (s) => queue.setLimit(s.maxConcurrentBackups));
  // Every alert is a notification event of the same name (the runner sends run-failed itself,
  // with each database's error), to the channels of the task's running run.
  // A stored task that is not running (stale databases, a key never saved): its Settings channels.
  const channelsOf = async (taskId: string): Promise<{ taskName: string; runId: string | null; channels: NotificationChannel[] } | null> => {
    const running = runner.runningChannels(taskId);
    if (running) return running;
    const task = tasks.list().find((t) => t.id === taskId);
    if (!task) return null;
    return { taskName: task.name, runId: null, channels: await channelsForTask(task, settings.get(), secrets, dataDir, () => {}) };
  };
  events.on('alert', (a: Alert) => {
    if (a.kind === 'run-failed' || a.taskId === null || directAlerts.has(a)) return;
    void channelsOf(a.taskId).then(
      (target) => target && target.channels.length > 0 && notifyAlert(a, target),
      (e: unknown) => logger.error({ err: e }, 'alert notification channels could not be read'),
    );
  });
  // A stored task's abandoned run goes to its channels now; a task file's waits for `announceAbandoned` (its channels are in the file).
  const fileRuns = new Map<string, AbandonedAnnouncement[]>();
  for (const a of abandoned) {
    if (a.task) announceFailedRun(a.task, a.alert, a.run.id);
    else fileRuns.set(a.run.taskId, [...(fileRuns.get(a.run.taskId) ?? []), a]);
  }
  function announceAbandoned(taskId: string, taskName: string, channels: NotificationChannel[]): number {
    const runs = fileRuns.get(taskId) ?? [];
    fileRuns.delete(taskId);
    for (const a of runs) {
      events.emit('alert', a.alert);
      if (channels.length > 0) notifyAlert(a.alert, { taskName, runId: a.run.id, channels });
    }
    return runs.length;
  }
  function notifyAlert(a: Alert, target: { taskName: string; runId: string | null; channels: NotificationChannel[] }): void {
    const at = now().toISOString();
    const status = categoryOf(a.kind) === 'failure' ? 'failed' : 'warning';
    notifier.notify(
      target.channels,
      payload({
        event: a.kind,
        task: target.taskName,
        taskId: a.taskId ?? '',
        runId: target.runId,
        status,
        message: a.message,
        databases: a.databases.map((name) => ({ name, status })),
        startedAt: at,
        finishedAt: at,
      }),
    );
  }

  const handlers = createHandlers({
    info,
    scheduler,
    servers,
    tasks,
    settings,
    history,
    secrets,
    keys,
    events,
    now,
    runNow: (id, kind, databases) => runNow(id, kind, 'manual', databases),
    runner,
    status: { taskDatabases, restoredDatabases, slots },
    restore: { restores, serverRestores: serverRestoreService, findKey, dataDir, manifestCache: localCache },
    destinations: { secrets, tasks, warn: warnSecret, unclaimed, now },
    notifications: { settings, secrets, notifier, deliveries, events, dataDir, now },
    schedulerOwner: () => {
      const owner = schedulerOwner(dataDir);
      return { owner, self: schedulerLock !== null && owner !== null && owner.pid === schedulerLock.owner.pid && owner.startedAt === schedulerLock.owner.startedAt };
    },
  });
  logger.info({ dataDir, version: pkg.version }, 'engine started');

  function cancelAll(): void {
    for (const r of runner.activeRuns()) runner.cancel(r.taskId);
    restores.cancelAll();
    serverRestoreService.cancelAll();
    testRestores.cancelAll();
  }

  let closed = false;
  const call: Engine['call'] = (name, payload) => dispatch(handlers, name, payload, (err, command) => logger.error({ err, command }, 'command failed unexpectedly'));
  return {
    dataDir,
    logsDir,
    handlers,
    call,
    async command(name, ...input) {
      const res = await call(name, input[0]);
      if (!res.ok) throw new BackstopError(res.code, res.message, { retryable: res.retryable });
      return res.data;
    },
    events,
    logger,
    redactor,
    db,
    runner,
    scheduler,
    keys,
    testRestores,
    testRestoreScheduler,
    serverRestores,
    restoreHistory,
    localCache,
    resolveTask,
    start(who = 'app', opts = {}) {
      openOwed();
      // What a process that stops while this one runs (a killed agent, a CLI) still owed is carried on within minutes.
      owedTimer = setInterval(() => void resumeOwed(forSettings(now()), settingsResolver), OWED_CHECK_MS);
      owedTimer.unref();
      secretsReleased = releaseUnclaimed({ secrets, tasks, unclaimed, now, warn: warnSecret }).then(
        (refs) => refs.length > 0 && logger.info({ refs }, 'removed destination secrets saved over a day ago that no task uses (a window that saved them never released them)'),
        (err: unknown) => logger.warn({ err }, 'the destination secrets no task uses could not be checked'),
      );
      // Slot care is every process's (the window shows it whoever schedules).
      void slots.check();
      slotTimer = setInterval(() => void slots.check(), SLOT_CHECK_MS);
      slotTimer.unref();
      const startScheduling = () => {
        scheduler.start();
        testRestoreScheduler.start();
        health.check();
        healthTimer = setInterval(() => health.check(), 30 * 60_000);
        healthTimer.unref();
        logger.info({ who }, 'scheduling this data dir\'s tasks (scheduler lock taken)');
      };
      const got = acquireSchedulerLock(dataDir, who, now);
      if ('lock' in got) {
        schedulerLock = got.lock;
        startScheduling();
        return { scheduling: true };
      }
      logger.warn({ heldBy: got.heldBy }, 'another process schedules this data dir\'s tasks; not scheduling');
      if (opts.retry) {
        lockRetry = setInterval(() => {
          if (closed) return;
          const again = acquireSchedulerLock(dataDir, who, now);
          if (!('lock' in again)) return;
          clearInterval(lockRetry);
          schedulerLock = again.lock;
          startScheduling();
        }, 30_000);
        lockRetry.unref();
      }
      return { scheduling: false, heldBy: got.heldBy };
    },
    health,
    slots,
    notifier,
    announceAbandoned,
    resumeOwedOf: (taskId, channels) => resumeOwed(forFile(taskId), (e) => Promise.resolve(fileOwed(e, channels, now()))),
    abandonedUntold: () => [...fileRuns.values()].flat().map((a) => a.alert),
    deliveries,
    cancelAll,
    async close() {
      if (closed) return;
      closed = true;
      scheduler.stop();
      testRestoreScheduler.stop();
      clearInterval(healthTimer);
      clearInterval(lockRetry);
      clearInterval(slotTimer);
      clearInterval(owedTimer);
      cancelAll();
      await Promise.all([runner.idle(), restores.idle(), serverRestoreService.idle(), testRestores.idle()]);
      // The process's idle backup job workers end now rather than 10 s later (the pool stays usable).
      await backupJobWorkers.close();
      await slots.stop();
      await secretsReleased;
      // The alerts of runs a stopped process left unfinished reach their channels before a short-lived process (the CLI) exits.
      await Promise.all([...announcing]);
      // (Owed deliveries taken at the engine's creation go on now if start() never ran, so the wait is not spent on them held.)
      openOwed();
      if (abandoned.length > 0) await notifier.flush(ABANDONED_FLUSH_MS);
      // Retries still going stay owed (the next start of the app, serve or agent resumes them); an attempt in flight may end first.
      await notifier.stop(NOTIFY_STOP_MS);
      outbox.release();
      logger.info('engine stopped');
      db.close();
      schedulerLock?.release();
      releaseWorkFolder();
      closeLog();
    },
  };
}
