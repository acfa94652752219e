/**
 * Runs server-wide backup tasks: lists the server's databases live, backs each one up to
 * every destination (in worker threads, through the global fair queue), applies
 * retention, and records everything in history.
 *
 * Contract:
 * - One run per task at a time: starting a task that is running → CONFLICT, also when
 *   another live Backstop process on the data dir runs it (two `backstop backup` of one task
 *   file from an overlapping cron job).
 * - `only` (a per-database run: `backup --only`, the window's "back up now" for one
 *   database) backs up just the named databases and no server-level stream; a name that is
 *   not on the server, or that the task excludes, is VALIDATION (`checkOnly` says so before
 *   a run is recorded; the run re-checks against its own listing).
 * - Databases are listed at run time: new ones are included (and announced with an
 *   `alert` the first time; one Backstop itself restored is announced apart, as a restored
 *   copy, with `restored` set), excluded ones skipped. Server-level data (PostgreSQL globals,
 *   a cluster snapshot) goes to the reserved server folder.
 * - One database (or destination) failing never stops the others; each gets its own
 *   history row with the kind actually taken and why.
 * - The run's status: success (everything ok), partial (some failed), failed (nothing
 *   succeeded, or the server could not be reached), canceled.
 * - Secrets (password, key) are handed to the worker in memory only; history, events and
 *   logs carry codes and messages, which are secret-free by contract.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { ActiveRun, DatabaseProgress, PointKind, RunStatus, RunTrigger, Server, Task } from '../../shared/domain.ts';
import { BackstopError, toFailure, type ErrorCode } from '../../shared/result.ts';
import type { JobExecutor } from '../backup/worker-executor.ts';
import { outcomesFor } from '../backup/worker-executor.ts';
import type { BackupJobSpec } from '../backup/job-spec.ts';
import type { JobOutcome } from '../backup/run-job.ts';
import { COVERED_BY_LOG } from '../backup/log-coverage.ts';
import { FIRST_BACKUP_REASON } from '../backup/prepare-destination.ts';
import { keyFingerprint } from '../crypto/index.ts';
import { destinationId, placeText } from '../destinations/index.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { Logger } from '../logging/index.ts';
import { connectorFor, encodeDatabaseFolder, PG_BASEBACKUP_STREAM, SERVER_FOLDER, slotNameFor, type ToolPaths } from '../servers/index.ts';
import { knownToolVersions } from '../servers/tools.ts';
import type { SkippedDatabase } from '../servers/connector.ts';
import { newUploadBudget } from '../storage/index.ts';
import type { Credentials } from '../destinations/index.ts';
import { payload, type NotificationChannel, type NotificationDatabase, type Notifier } from '../notifications/index.ts';
import { runHook } from './hooks.ts';
import { HEARTBEAT_MS } from '../store/history-table.ts';
import type { DestinationSpaceTable, HistoryTable, HookRecord, RestoredDatabase, RestoredDatabasesTable, TaskDatabasesTable } from '../store/index.ts';
import { checkLocalRoots } from './destination-roots.ts';
import { sharedRetentionWarning } from './check-task-input.ts';
import { retentionHours } from '../retention/index.ts';
import type { RunQueue } from './run-queue.ts';
import { limiter } from '../runtime/map-limit.ts';

export interface ResolvedTask {
  task: Task;
  server: Server;
  password: string | null;
  key: Buffer | null;
  /** Stored in the app database (file-based CLI tasks are not). */
  persisted: boolean;
  /** The credentials of each destination of the task (null for those that need none), same order. */
  credentials: (Credentials | null)[];
  /** Client-tool folders for this run (a CLI task file's `tools`); default: the settings'. */
  toolPaths?: ToolPaths;
  /** Back up just these databases (no server-level streams); undefined = the whole server. */
  only?: string[];
  /** Where this run's notifications go (resolved, secrets in memory only); none when absent. */
  notifications?: NotificationChannel[];
  /** Test restores only: the named test server (a CLI task file's `testServer`); a saved task's `testRestore.serverId` is resolved by the test restore itself. */
  testServer?: { server: Server; password: string | null };
}

export interface DatabaseResult extends JobOutcome {
  database: string;
  /** A server-level stream (globals.sql, base.tar, the binary log), not a database. */
  serverStream?: boolean;
}

export interface RunSummary {
  runId: string;
  status: RunStatus;
  error: { code: string; message: string } | null;
  databases: DatabaseResult[];
  /** Databases on the server the run could not back up, with why (history rows with status "skipped"). */
  skipped: SkippedDatabase[];
  /** What the user should know about this run although it did not fail it. */
  warnings: string[];
  /** The pre/post hook commands the run ran (also in history). */
  hooks?: HookRecord[];
}

export interface TaskRunnerDeps {
  history: HistoryTable;
  /** Where a remote destination's free space measured by a job is kept (the disk warning reads it). */
  destinationSpace?: DestinationSpaceTable;
  taskDatabases: TaskDatabasesTable;
  /** Databases Backstop restored: a new database among them is announced as a restored copy. */
  restoredDatabases?: RestoredDatabasesTable;
  events: EventBus;
  logger: Logger;
  queue: RunQueue;
  now: () => Date;
  toolPaths: () => ToolPaths;
  executor: JobExecutor;
  /** Compression/encryption threads inside each job (undefined = repository default). */
  encoderWorkers?: number;
  /** Delivers run-succeeded / run-failed / database-failed to the task's channels, in the background. */
  notifier?: Notifier;
  /** Local chunk cache folder for S3 destinations (BackupJobSpec.chunkCacheDir); undefined = none. */
  chunkCacheDir?: string;
  /** Test-restore scratch databases Backstop created on a server (never backed up). */
  scratchNames?: (server: Server) => Set<string>;
  /** Where PostgreSQL snapshot tasks spool received WAL (one folder per slot, in Backstop's data dir). */
  walSpoolDir: string;
  /** The other tasks (saved before two tasks were refused one destination): a run sharing one skips retention. */
  otherTasks?: (taskId: string) => Task[];
  /** Called once a run is recorded as finished (test restores "after every full" start here). */
  onRunEnd?: (resolved: ResolvedTask, summary: RunSummary) => void;
  /** Cuts every secret the process knows out of a hook's output before history keeps it (the log redactor's scrub). */
  scrub?: (text: string) => string;
}

interface ActiveState {
  resolved: ResolvedTask;
  /** Warnings and hook-skipped databases gathered while the run goes; a hook failure under onFailure "fail". */
  warnings: string[];
  hookSkipped: SkippedDatabase[];
  hookFailure: { code: string; message: string } | null;
  /** Databases whose folder lacks newer points this task wrote (pointsGoneReason): one alert at the run's end. */
  pointsGone: string[];
  /** Upload limit (bytes/s) per destination id, shown in progress. */
  limits?: Map<string, number | null>;
  /** Destinations (by id) that refused the login to a job of this run: later jobs do not try again (BackupJobSpec.loginRefused). */
  loginRefused?: Map<string, { code: string; message: string }>;
  info: ActiveRun;
  controller: AbortController;
  done?: Promise<RunSummary>;
  /** The first write to History (the app database) that failed during the run: the run goes on, its stored backups are reported, this is its error. */
  historyError?: { code: ErrorCode; message: string };
}

export function defaultKind(task: Task): PointKind {
  return task.schedule.full ? 'full' : 'incremental';
}

export function serverIdentity(server: Server): string {
  if (server.kind === 'sqlite') return `sqlite:${server.folder}`;
  return `${server.kind}://${server.user}@${server.host}:${server.port}`;
}

const NAMES_SHOWN = 10;
/** Job threads a run starts ahead (executor.warm), at most the queue's capacity. */
const WARM_JOBS = 2;

/** The first NAMES_SHOWN names (each cut at 80 characters), quoted or not, "and N more": a message stays one line. */
function nameList(names: readonly string[], quote = true): string {
  const shown = names.slice(0, NAMES_SHOWN).map((n) => (n.length > 80 ? `${n.slice(0, 79)}…` : n)).map((n) => (quote ? `"${n}"` : n)).join(', ');
  return names.length > NAMES_SHOWN ? `${shown} and ${names.length - NAMES_SHOWN} more` : shown;
}

/**
 * What a run says, once, of databases the task backed up before that the server no longer has:
 * their folders stay as they are (retention prunes only the folders a run writes to), so the last
 * backups of a dropped database are never deleted by the task.
 */
function goneMessage(task: Task, gone: readonly string[]): string {
  const one = gone.length === 1;
  return (
    `Backup task "${task.name}": ${one ? 'the database' : `${gone.length} databases`} ${nameList(gone)} ${one ? 'is' : 'are'} no longer on the server (dropped or renamed), so ${one ? 'it is' : 'they are'} no longer backed up. ` +
    `${one ? 'Its' : 'Their'} backups stay at the task's destinations, restorable, and retention no longer deletes any of ${one ? 'its' : 'their'} points: delete ${one ? 'its folder' : 'their folders'} by hand once no longer needed. ` +
    `A database created again under ${one ? 'that name' : 'one of these names'} is backed up again into the same folder.`
  );
}

/** A per-database run asked of a task whose backup is taken once for the whole server (a cluster snapshot). */
function wholeServerOnly(task: Task): BackstopError {
  return new BackstopError('VALIDATION', `Task "${task.name}" takes a ${task.type} backup of the whole server, so it cannot back up single databases. Run it without a database list.`);
}

/** VALIDATION naming the databases of `only` that the server does not have or the task excludes. */
function unknownOnly(task: Task, only: readonly string[], onServer: readonly string[]): void {
  const present = new Set(onServer);
  const excluded = new Set(task.excludeDatabases);
  const missing = only.filter((d) => !present.has(d));
  if (missing.length) {
    const available = onServer.filter((d) => !excluded.has(d));
    throw new BackstopError(
      'VALIDATION',
      `The server of task "${task.name}" has no database ${nameList(missing)}. Its databases: ${available.length ? nameList(available) : '(none)'}. Names are case-sensitive; fix the database list.`,
    );
  }
  const skippedByTask = only.filter((d) => excluded.has(d));
  if (skippedByTask.length) {
    throw new BackstopError('VALIDATION', `Task "${task.name}" excludes ${nameList(skippedByTask)}. Remove ${skippedByTask.length === 1 ? 'it' : 'them'} from the database list, or from the task's excluded databases.`);
  }
}

/** The databases the log job found covered at every one of the task's `destinations` (none when it failed anywhere). */
function coveredEverywhere(logResults: readonly DatabaseResult[], destinations: number): Set<string> {
  if (logResults.length !== destinations || logResults.some((r) => r.status !== 'success' || !r.coveredDatabases)) return new Set();
  const [first, ...rest] = logResults.map((r) => new Set(r.coveredDatabases));
  return new Set([...(first ?? [])].filter((d) => rest.every((s) => s.has(d))));
}

export class TaskRunner {
  private readonly active = new Map<string, ActiveState>();
  private heartbeatTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: TaskRunnerDeps) {}

  activeRuns(): ActiveRun[] {
    return [...this.active.values()].map((s) => structuredClone(s.info));
  }

  isRunning(taskId: string): boolean {
    return this.active.has(taskId);
  }

  /** The notification channels of the task's running run (a CLI task file's), or null when it is not running. */
  runningChannels(taskId: string): { taskName: string; runId: string; channels: NotificationChannel[] } | null {
    const s = this.active.get(taskId);
    return s ? { taskName: s.resolved.task.name, runId: s.info.runId, channels: s.resolved.notifications ?? [] } : null;
  }

  /** Resolves when no run is active (after cancelling, before closing the app database). */
  async idle(): Promise<void> {
    while (this.active.size > 0) await Promise.allSettled([...this.active.values()].map((s) => s.done));
  }

  /** Marks the active runs alive in history every HEARTBEAT_MS while there are any (another host's Backstop judges them by it). */
  private heartbeat(): void {
    if (this.active.size === 0) {
      clearInterval(this.heartbeatTimer);
      this.heartbeatTimer = undefined;
      return;
    }
    this.heartbeatTimer ??= setInterval(() => {
      try {
        this.deps.history.touch([...this.active.values()].map((s) => s.info.runId), this.deps.now().toISOString());
      } catch (e) {
        // A timer's throw would end the process; the run reports History's failure at its end (historyError).
        this.deps.logger.warn({ err: e }, 'could not mark the running runs alive in History');
      }
    }, HEARTBEAT_MS);
    this.heartbeatTimer.unref();
  }

  /** Cancels the task's running run; false when it is not running. */
  cancel(taskId: string): boolean {
    const state = this.active.get(taskId);
    if (!state) return false;
    state.info.status = 'canceling';
    state.controller.abort();
    return true;
  }

  /**
   * Gets the job threads of a run started ahead (executor.warm): a run does it before its
   * connection test; a caller that knows a run is coming (the CLI, before it reads the task
   * file) may do it earlier. `jobs`: the threads wanted idle (at most WARM_JOBS and the
   * queue's capacity). Idle threads end on their own; never needed for correctness.
   */
  warm(jobs = WARM_JOBS): void {
    this.deps.executor.warm?.(Math.min(jobs, WARM_JOBS, this.deps.queue.capacity));
  }

  /**
   * VALIDATION unless every name in `only` is a database of the server the task backs up
   * (listed live) and not excluded by the task. Called before a per-database run starts, so
   * a typo is an error of the request, not a failed run in history.
   */
  async checkOnly(resolved: ResolvedTask, only: readonly string[], signal?: AbortSignal): Promise<void> {
    const { task, server } = resolved;
    const connector = connectorFor(server, { password: resolved.password, toolPaths: resolved.toolPaths ?? this.deps.toolPaths() });
    const support = connector.support(task.type);
    if (support.available && support.scope !== 'database') throw wholeServerOnly(task);
    unknownOnly(task, only, await connector.listDatabases(signal ? { signal } : {}));
  }

  /** Starts a run; resolves `done` with its summary. CONFLICT when the task is already running. */
  start(resolved: ResolvedTask, kind: PointKind, trigger: RunTrigger): { runId: string; done: Promise<RunSummary> } {
    const { task } = resolved;
    if (this.active.has(task.id)) {
      throw new BackstopError('CONFLICT', `Task "${task.name}" is already running; wait for it to finish or cancel it.`);
    }
    const elsewhere = this.deps.history.runningElsewhere(task.id, this.deps.now());
    if (elsewhere) {
      const { pid, host } = elsewhere.owner;
      throw new BackstopError(
        'CONFLICT',
        `Task "${task.name}" is already running in another Backstop process (pid ${pid} on ${host}, since ${elsewhere.startedAt}); this run was not started, so the two never write the same backups at once. Wait for that run to finish (backstop history shows it), or stop that process.`,
      );
    }
    const startedAt = this.deps.now().toISOString();
    const keyFp = resolved.key ? keyFingerprint(resolved.key) : null;
    const runId = this.deps.history.startRun({ taskId: task.id, taskName: task.name, trigger, requestedKind: kind, startedAt, keyFingerprint: keyFp }, randomUUID());
    const state: ActiveState = {
      resolved,
      warnings: [],
      hookSkipped: [],
      hookFailure: null,
      pointsGone: [],
      info: { runId, taskId: task.id, taskName: task.name, kind, startedAt, status: 'running', databases: [] },
      controller: new AbortController(),
    };
    this.active.set(task.id, state);
    this.heartbeat();
    this.deps.events.emit('history.changed', { runId, taskId: task.id });
    const log = this.deps.logger.child({ runId, taskId: task.id });
    log.info({ kind, trigger }, 'run started');
    const done = this.execute(resolved, kind, state, log)
      .catch((e: unknown): RunSummary => {
        const f = toFailure(e);
        if (f.code === 'INTERNAL') log.error({ err: e }, 'run failed unexpectedly');
        return { runId, status: state.controller.signal.aborted ? 'canceled' : 'failed', error: { code: f.code, message: f.message }, databases: [], skipped: [], warnings: [] };
      })
      .then((summary) => {
        const finishedAt = this.deps.now().toISOString();
        this.recording(state, log, () => this.deps.history.finishRun(runId, summary.status, finishedAt, summary.error ?? undefined));
        if (state.historyError) {
          const message = `History could not record this run: ${state.historyError.message} The backups listed in this run were stored at their destinations.`;
          if (summary.error) summary.warnings.push(message);
          else summary.error = { code: state.historyError.code, message };
        }
        this.recordRetention(task, trigger, summary, finishedAt, log);
        this.notifyRunEnd(resolved, summary, startedAt, finishedAt, log);
        this.active.delete(task.id);
        this.heartbeat();
        this.deps.events.emit('history.changed', { runId, taskId: task.id });
        log.info({ status: summary.status, error: summary.error?.code }, 'run finished');
        this.deps.onRunEnd?.(resolved, summary);
        if (state.pointsGone.length > 0) {
          const dbs = [...new Set(state.pointsGone)];
          this.deps.events.emit('alert', {
            kind: 'points-missing',
            taskId: task.id,
            message: `Backup task "${task.name}": newer restore points it wrote are gone from the folder of ${dbs.length} database${dbs.length === 1 ? '' : 's'} (${nameList(dbs, false)}): the destination was rolled back to an older copy, or points were deleted outside Backstop's retention. The run went on from what is there; History names the missing points.`,
            databases: dbs,
          });
        }
        if (summary.status === 'failed' || summary.status === 'partial') {
          const failedDbs = [...new Set(summary.databases.filter((d) => d.status === 'failed').map((d) => d.database))];
          this.deps.events.emit('alert', {
            kind: 'run-failed',
            taskId: task.id,
            message:
              summary.error && failedDbs.length === 0
                ? `Backup task "${task.name}" failed: ${summary.error.message}`
                : `Backup task "${task.name}": ${failedDbs.length} database${failedDbs.length === 1 ? '' : 's'} failed (${nameList(failedDbs, false)}).`,
            databases: failedDbs,
          });
        }
        return summary;
      });
    state.done = done;
    return { runId, done };
  }

  private async execute(resolved: ResolvedTask, kind: PointKind, state: ActiveState, log: Logger): Promise<RunSummary> {
    const { task, server } = resolved;
    const signal = state.controller.signal;
    const runId = state.info.runId;
    const toolPaths = resolved.toolPaths ?? this.deps.toolPaths();
    const connector = connectorFor(server, { password: resolved.password, toolPaths });
    const support = connector.support(task.type);
    if (!support.available) throw new BackstopError('VALIDATION', `A ${task.type} backup is not possible for this server: ${support.reason}`);
    // Job threads start (and load the engine) while the connection test waits on the server:
    // every run has at least one job, a server with server-level streams two — but a logical
    // run of a server with a change log (MySQL/MariaDB) starts with the log read and
    // grants.sql only, which share one thread (sharesThread); its databases come after the log.
    const logFirst = connector.logIncrementals !== undefined && task.type === 'logical';
    this.warm(logFirst ? 1 : WARM_JOBS);
    // A per-database task lists the databases next: a connector that can answers both in one round trip.
    const report = await connector.testConnection({ signal, listDatabases: support.scope === 'database' });
    const engineVersion = report.serverVersion;
    const dumpToolVersion = report.tools.map((t) => `${t.name} ${t.version}`).join(', ') || engineVersion;

    const jobs: { database: string; folder: string; serverStream: boolean }[] = [];
    const skipped: SkippedDatabase[] = [];
    const only = resolved.only ? new Set(resolved.only) : null;
    if (only && support.scope !== 'database') throw wholeServerOnly(task);
    if (support.scope === 'database') {
      const excluded = new Set(task.excludeDatabases);
      const all = report.databases ?? (await connector.listDatabases({ signal }));
      if (only) unknownOnly(task, [...only], all);
      const scratch = this.deps.scratchNames?.(server) ?? new Set<string>();
      const databases = all.filter((d) => !excluded.has(d) && !scratch.has(d));
      let gone: string[] = [];
      if (resolved.persisted) {
        const seen = this.deps.taskDatabases.observe(task.id, databases, this.deps.now().toISOString());
        const restoredByName = this.deps.restoredDatabases?.forServer(server.id) ?? new Map<string, RestoredDatabase>();
        const restored = seen.filter((d) => restoredByName.has(d)).map((d) => ({ database: d, restoredAt: restoredByName.get(d)!.restoredAt }));
        const fresh = seen.filter((d) => !restoredByName.has(d));
        if (fresh.length) {
          this.deps.events.emit('alert', {
            kind: 'new-databases',
            taskId: task.id,
            // A hosting panel may make hundreds at once: the message stays one line (all are in `databases`).
            message: `Backup task "${task.name}" picked up ${fresh.length} new database${fresh.length === 1 ? '' : 's'}: ${nameList(fresh, false)}.`,
            databases: fresh,
          });
        }
        // Said once, on the run that finds them gone: a History row each ("skipped") and an alert.
        gone = this.deps.taskDatabases.goneFrom(task.id, all, this.deps.now().toISOString()).filter((d) => !excluded.has(d));
        if (gone.length) {
          log.warn({ databases: gone }, 'databases gone from the server');
          this.deps.events.emit('alert', { kind: 'databases-gone', taskId: task.id, message: goneMessage(task, gone), databases: gone });
        }
        if (restored.length) {
          const which = restored.map((r) => `${r.database} was created by a Backstop restore on ${r.restoredAt.slice(0, 16).replace('T', ' ')} UTC`).join('; ');
          this.deps.events.emit('alert', {
            kind: 'new-databases',
            taskId: task.id,
            message: `Backup task "${task.name}" is now backing up restored cop${restored.length === 1 ? 'y' : 'ies'}: new database ${which}. If ${restored.length === 1 ? 'it is' : 'they are'} only for checking, exclude ${restored.length === 1 ? 'it' : 'them'} from the task.`,
            databases: restored.map((r) => r.database),
            restored,
          });
        }
      }
      for (const d of databases) if (!only || only.has(d)) jobs.push({ database: d, folder: encodeDatabaseFolder(d), serverStream: false });
      skipped.push(...(connector.skippedDatabases ? await connector.skippedDatabases({ signal }) : []).filter((d) => !excluded.has(d.database) && (!only || only.has(d.database))));
      skipped.push(...gone.map((d) => ({ database: d, reason: goneMessage(task, [d]) })));
      for (const s of skipped) log.warn({ database: s.database }, 'database skipped');
      this.recordNotRun(
        runId,
        skipped.flatMap((s) => task.destinations.map((d) => ({ database: s.database, destination: destinationId(d), status: 'skipped' as const, code: null, message: s.reason }))),
        log,
      );
    }
    for (const s of only ? [] : connector.serverStreams(task.type)) {
      jobs.push({ database: s.name, folder: `${SERVER_FOLDER}/${encodeDatabaseFolder(s.name)}`, serverStream: true });
    }
    // MySQL/MariaDB: the binary log since the last run, stored every run; incrementals use it (or say why they cannot).
    const changeLog = connector.logIncrementals && task.type === 'logical' ? await connector.logIncrementals({ signal }) : null;
    const logJob = changeLog?.available ? { database: changeLog.stream.name, folder: `${SERVER_FOLDER}/${encodeDatabaseFolder(changeLog.stream.name)}`, serverStream: true } : null;
    if (logJob) jobs.push(logJob);
    let incrementalSource: BackupJobSpec['incrementalSource'] =
      changeLog && kind === 'incremental' ? (changeLog.available ? { from: 'log' } : { from: 'dump', reason: changeLog.message }) : undefined;
    log.info({ databases: jobs.length }, 'databases listed');
    const roots = await checkLocalRoots(task.destinations, (id) => this.deps.history.wroteTo(task.id, id));
    // A destination another task also writes to (saved before that was refused): retention there could delete its points.
    const shared = retentionHours(task.retention) !== null ? sharedRetentionWarning(task, this.deps.otherTasks?.(task.id) ?? []) : null;
    if (shared) roots.warnings.push(shared);
    for (const w of roots.warnings) log.warn(w);
    if (roots.missing.size > 0) {
      const [first] = roots.missing.values();
      const rows = jobs.flatMap((j) =>
        task.destinations.map((d) => {
          const e = roots.missing.get(destinationId(d)) ?? first!;
          return {
            database: j.database,
            destination: destinationId(d),
            location: placeText(d, j.folder),
            status: 'failed' as const,
            code: e.code,
            message: roots.missing.has(destinationId(d)) ? e.message : `Nothing was written: ${e.message}`,
          };
        }),
      );
      this.recordNotRun(runId, rows, log);
      const databases = rows.map((r): DatabaseResult => ({
        database: r.database,
        destination: r.destination,
        location: r.location,
        status: 'failed',
        kind,
        kindReason: null,
        pointId: null,
        bytesRead: 0,
        bytesNew: 0,
        bytesStored: 0,
        error: { code: r.code, message: r.message },
      }));
      return { runId, status: 'failed', error: null, databases, skipped, warnings: roots.warnings };
    }
    // One budget per limited destination, shared by every job of this run (each in its own worker).
    const limits = task.destinations.map((d) => d.limits?.uploadBytesPerSecond ?? task.limits?.uploadBytesPerSecond ?? null);
    const uploadBudgets = limits.map((l) => (l ? newUploadBudget(l) : null));
    state.limits = new Map(task.destinations.map((d, i) => [destinationId(d), limits[i] ?? null]));
    // The read limit on the dump side: one budget for the whole run (its databases dump in parallel).
    const readLimit = task.limits?.readBytesPerSecond ?? null;
    const readBudget = readLimit ? newUploadBudget(readLimit) : null;
    state.info.databases = jobs.map((j) => ({ database: j.database, phase: 'queued', bytesRead: 0, expectedBytes: null, destinations: [], serverStream: j.serverStream }));

    // A database the log just stored covers at every destination gets no job (no worker, repository open or
    // connection): the log job says which (covered-databases.ts). Not with hooks: they run around each job.
    const coverable = incrementalSource?.from === 'log' && !task.hooks ? jobs.filter((j) => !j.serverStream) : [];
    // A user the server allows only so many sessions at once (a role's CONNECTION LIMIT): no more jobs at once than that,
    // each job's dump holding one, so none is refused for a session of this run's own.
    const maxSessions = report.maxSessions;
    if (maxSessions !== undefined && maxSessions < this.deps.queue.capacity) log.info({ maxSessions }, 'jobs at once kept to the sessions the server allows the user');
    const perServer = maxSessions !== undefined ? limiter(maxSessions) : <R>(fn: () => Promise<R>) => fn();
    const runOne = (job: (typeof jobs)[number]): Promise<DatabaseResult[]> => {
      const spec: BackupJobSpec = {
        server,
        password: resolved.password,
        toolPaths,
        database: job.database,
        serverStream: job.serverStream,
        folder: job.folder,
        backupType: task.type,
        // The binary log always continues its chain: a full run must not copy every retained log file again.
        requestedKind: job === logJob ? 'incremental' : kind,
        keyBase64: resolved.key ? resolved.key.toString('base64') : null,
        serverIdentity: serverIdentity(server),
        engineVersion,
        dumpToolVersion,
        toolVersions: knownToolVersions(),
        destinations: task.destinations,
        credentials: resolved.credentials,
        retention: shared ? { minAgeDays: 0, keepLast: null } : task.retention,
        ...(shared ? { retentionSkipped: shared } : {}),
        encoderWorkers: this.deps.encoderWorkers,
        ...(uploadBudgets.some(Boolean) ? { uploadBudgets } : {}),
        ...(readBudget ? { readBudget } : {}),
        ...(this.deps.chunkCacheDir ? { chunkCacheDir: this.deps.chunkCacheDir } : {}),
        ...(server.kind === 'postgres' && task.type === 'snapshot' && job.database === PG_BASEBACKUP_STREAM.name ? { wal: this.walJob(task.id) } : {}),
        ...(incrementalSource && !job.serverStream ? { incrementalSource } : {}),
        ...(job === logJob && coverable.length > 0 ? { coverDatabases: coverable.map((j) => j.database) } : {}),
        // A logical task's server-level streams (the log read, grants.sql) mostly wait on a client tool: one thread for them.
        ...(job.serverStream && task.type === 'logical' ? { sharesThread: true } : {}),
      };
      return perServer(() => this.deps.queue.run(
          { taskId: task.id, database: job.database },
          () => {
            const running = this.runJob(spec, state, resolved, log);
            // The log read has its thread now (grants.sql beside it): databases that run after it whatever it
            // covers (a full run, hooks) find one more thread ready when it ends.
            if (job === logJob && jobs.some((j) => !j.serverStream && !coverable.includes(j))) this.warm(1);
            return running;
          },
          signal,
        ))
        .catch((e: unknown) => {
          const f = toFailure(e);
          // The row says "Details are in the Backstop log": here they are (the job's stack, as its cause).
          if (f.code === 'INTERNAL') log.error({ err: e, database: job.database }, 'backup job failed unexpectedly');
          return outcomesFor(spec, f.code, f.message, f.code === 'CANCELED' ? 'canceled' : 'failed');
        })
        .then((outcomes: JobOutcome[]): DatabaseResult[] =>
          outcomes.map((o, i) => ({ ...o, database: job.database, location: o.location ?? placeText(task.destinations[i]!, job.folder), ...(job.serverStream ? { serverStream: true } : {}) })),
        );
    };
    // The binary log is read first: whether it covers a database's incremental is judged on what this run stored.
    // Other server-level streams (grants.sql) do not depend on it and start beside it — after it, so in the
    // thread they share the log job (the run's longer path) starts its first query first.
    const logRun = logJob ? runOne(logJob) : null;
    const beside = new Map(jobs.filter((j) => j.serverStream && j !== logJob).map((j) => [j, runOne(j)] as const));
    const logResults = logRun ? await logRun : [];
    const logFailure = logResults.find((r) => r.status !== 'success');
    if (logFailure && incrementalSource?.from === 'log') {
      incrementalSource = { from: 'dump', reason: `the binary log could not be stored this run (${logFailure.error?.message ?? logFailure.status})` };
    }
    const covered = coveredEverywhere(logResults, task.destinations.length);
    const results = [
      logResults,
      ...(await Promise.all(jobs.filter((j) => j !== logJob).map((j) => beside.get(j) ?? (coverable.includes(j) && covered.has(j.database) ? this.recordCovered(j, state, resolved, log) : runOne(j))))),
    ];
    const databases = results.flat();
    const ok = databases.filter((d) => d.status === 'success').length;
    let status: RunStatus;
    if (signal.aborted) status = 'canceled';
    else if (state.hookFailure) status = 'failed';
    else if (ok === databases.length) status = 'success';
    else status = ok === 0 ? 'failed' : 'partial';
    const hooks = task.hooks ? this.deps.history.hooks(runId) : undefined;
    return {
      runId,
      status,
      error: status === 'failed' ? state.hookFailure : null,
      databases,
      skipped: [...skipped, ...state.hookSkipped],
      warnings: [...roots.warnings, ...state.warnings],
      ...(hooks ? { hooks } : {}),
    };
  }

  /**
   * run-succeeded or run-failed (failed and partial runs), plus database-failed for each
   * database that failed, to the task's channels; a canceled run notifies nobody. Never
   * throws: notifications must not touch the run's outcome.
   */
  private notifyRunEnd(resolved: ResolvedTask, summary: RunSummary, startedAt: string, finishedAt: string, log: Logger): void {
    const { notifier } = this.deps;
    const channels = resolved.notifications ?? [];
    if (!notifier || channels.length === 0 || summary.status === 'canceled' || summary.status === 'running' || summary.status === 'canceling') return;
    try {
      const task = resolved.task;
      const databases: NotificationDatabase[] = [
        ...summary.databases.map((d) => ({ name: d.database, destination: d.destination, status: d.status === 'success' ? ('success' as const) : d.status === 'canceled' ? ('canceled' as const) : ('failed' as const), ...(d.error ? { error: d.error } : {}) })),
        ...summary.skipped.map((d) => ({ name: d.database, status: 'skipped' as const, error: { code: 'SKIPPED', message: d.reason } })),
      ];
      const failed = [...new Set(summary.databases.filter((d) => d.status === 'failed').map((d) => d.database))];
      const base = { task: task.name, taskId: task.id, runId: summary.runId, status: summary.status, databases, startedAt, finishedAt };
      if (summary.status === 'success') {
        const n = new Set(summary.databases.map((d) => d.database)).size;
        notifier.notify(channels, payload({ ...base, event: 'run-succeeded', message: `Backup task "${task.name}" succeeded: ${n} database${n === 1 ? '' : 's'} backed up.` }));
        return;
      }
      const message =
        summary.error && failed.length === 0
          ? `Backup task "${task.name}" failed: ${summary.error.message}`
          : `Backup task "${task.name}": ${failed.length} database${failed.length === 1 ? '' : 's'} failed (${nameList(failed, false)}).`;
      notifier.notify(channels, payload({ ...base, event: 'run-failed', message }));
      for (const name of failed) {
        const rows = databases.filter((d) => d.name === name && d.status === 'failed');
        const first = rows[0]?.error;
        notifier.notify(channels, payload({ ...base, event: 'database-failed', databases: rows, message: `Backup task "${task.name}": database ${name} failed${first ? ` (${first.code}: ${first.message})` : ''}.` }));
      }
    } catch (e) {
      log.error({ err: e }, 'run notifications could not be sent');
    }
  }

  private walJob(taskId: string): { slot: string; spoolDir: string } {
    const slot = slotNameFor(taskId);
    return { slot, spoolDir: join(this.deps.walSpoolDir, slot) };
  }

  /**
   * Retention as its own History run (kind 'retention', issue #24): one row per database and
   * destination where it deleted points (ids, times, kinds, bytes freed), kept points it would
   * have deleted because they were in use (`keptInUse`), or failed. Nothing is recorded when
   * retention did none of those (no no-op runs). Never throws.
   */
  private recordRetention(task: Task, trigger: RunTrigger, summary: RunSummary, at: string, log: Logger): void {
    const rows = summary.databases.filter((d) => d.retention && (d.retention.deleted.length > 0 || d.retention.keptInUse?.length || d.retention.error));
    if (rows.length === 0) return;
    try {
      const { history } = this.deps;
      const runId = history.startRun({ taskId: task.id, taskName: task.name, trigger, requestedKind: 'full', startedAt: at, runKind: 'retention' });
      for (const d of rows) {
        const r = d.retention!;
        const seq = history.startDatabase(runId, { database: d.database, destination: d.destination, kind: 'full', kindReason: null, startedAt: at, serverStream: d.serverStream ?? false });
        history.finishDatabase(runId, seq, {
          kind: 'full',
          kindReason: null,
          status: r.error ? 'failed' : 'success',
          pointId: null,
          bytesRead: 0,
          bytesStored: 0,
          endedAt: at,
          errorCode: r.error?.code ?? null,
          errorMessage: r.error?.message ?? null,
          deletedPoints: r.deletedPoints ?? r.deleted.map((id) => ({ id, createdAt: '', kind: 'full' as const })),
          bytesFreed: r.bytesFreed,
          ...(r.keptInUse?.length ? { keptInUse: r.keptInUse } : {}),
        });
      }
      const failed = rows.filter((d) => d.retention!.error).length;
      history.finishRun(runId, failed === 0 ? 'success' : failed === rows.length ? 'failed' : 'partial', at);
      this.deps.events.emit('history.changed', { runId, taskId: task.id });
      log.info({ retentionRunId: runId, rows: rows.length, failed }, 'retention recorded');
    } catch (e) {
      log.error({ err: e }, 'retention could not be recorded in history');
    }
  }

  /** History rows for databases a run did not back up (skipped, or stopped before anything was written), so history and the run detail show why. */
  private recordNotRun(runId: string, rows: { database: string; destination: string; status: 'skipped' | 'failed'; code: string | null; message: string }[], log: Logger): void {
    const at = this.deps.now().toISOString();
    for (const r of rows) {
      const seq = this.deps.history.startDatabase(runId, { database: r.database, destination: r.destination, kind: 'full', kindReason: null, startedAt: at });
      this.deps.history.finishDatabase(runId, seq, {
        kind: 'full',
        kindReason: null,
        status: r.status,
        pointId: null,
        bytesRead: 0,
        bytesStored: 0,
        endedAt: at,
        errorCode: r.code,
        errorMessage: r.message,
      });
    }
    if (rows.length) log.info({ rows: rows.length }, 'databases recorded without a backup');
  }

  /** History rows and results of a database the stored log covers at every destination: an incremental with no point and no job. */
  private recordCovered(job: { database: string; folder: string }, state: ActiveState, resolved: ResolvedTask, log: Logger): DatabaseResult[] {
    const { history, now } = this.deps;
    const at = now().toISOString();
    const results = resolved.task.destinations.map((d): DatabaseResult => {
      const destination = destinationId(d);
      const seq = history.startDatabase(state.info.runId, { database: job.database, destination, kind: 'incremental', kindReason: null, startedAt: at, serverStream: false });
      history.finishDatabase(state.info.runId, seq, { kind: 'incremental', kindReason: COVERED_BY_LOG, status: 'success', pointId: null, bytesRead: 0, bytesStored: 0, endedAt: at, errorCode: null, errorMessage: null });
      return { database: job.database, destination, location: placeText(d, job.folder), status: 'success', kind: 'incremental', kindReason: COVERED_BY_LOG, pointId: null, bytesRead: 0, bytesNew: 0, bytesStored: 0, error: null };
    });
    const i = state.info.databases.findIndex((p) => p.database === job.database);
    if (i >= 0) state.info.databases[i] = { ...state.info.databases[i]!, phase: 'done' };
    if (resolved.persisted) this.deps.taskDatabases.markSuccess(state.info.taskId, job.database, at);
    log.child({ database: job.database }).info({ kindReason: COVERED_BY_LOG }, 'database covered by the stored binary log: no job');
    return results;
  }

  /**
   * Runs one hook command of a database's backup and records it; returns what its failure
   * means under the task's onFailure ("none" when it succeeded).
   */
  private async hook(phase: 'pre' | 'post', spec: BackupJobSpec, state: ActiveState, extraEnv: Record<string, string>, log: Logger): Promise<{ action: HookRecord['action']; message: string }> {
    const hooks = state.resolved.task.hooks!;
    const argv = phase === 'pre' ? hooks.pre! : hooks.post!;
    const startedAt = this.deps.now().toISOString();
    const env = { BACKSTOP_TASK: state.resolved.task.name, BACKSTOP_RUN_ID: state.info.runId, BACKSTOP_DATABASE: spec.database, BACKSTOP_PHASE: phase, ...extraEnv };
    const o = await runHook(argv, env, hooks.timeoutSeconds * 1000, state.controller.signal);
    const action: HookRecord['action'] = o.status === 'ok' ? 'none' : hooks.onFailure;
    const message = `The ${phase} hook for ${spec.database}: ${o.message}`;
    try {
      this.deps.history.recordHook(state.info.runId, { phase, database: spec.database, argv: [...argv], status: o.status, exitCode: o.exitCode, action, output: this.deps.scrub ? this.deps.scrub(o.output) : o.output, startedAt, endedAt: this.deps.now().toISOString() });
    } catch (e) {
      log.error({ err: e }, 'hook could not be recorded');
    }
    if (o.status === 'ok') log.info({ phase, database: spec.database }, 'hook succeeded');
    else log.warn({ phase, database: spec.database, status: o.status, exitCode: o.exitCode, action }, 'hook failed');
    if (action === 'warn' || (phase === 'post' && action === 'skip')) state.warnings.push(message);
    if (action === 'fail' && !state.hookFailure) state.hookFailure = { code: 'HOOK_FAILED', message: `${message} The task's hooks say a failing hook fails the run.` };
    return { action, message };
  }

  private async runJob(spec: BackupJobSpec, state: ActiveState, resolved: ResolvedTask, log: Logger): Promise<JobOutcome[]> {
    const runId = state.info.runId;
    const hooks = resolved.task.hooks && !spec.serverStream ? resolved.task.hooks : null;
    if (hooks && state.hookFailure) {
      const message = `Not started: ${state.hookFailure.message}`;
      this.recordNotRun(runId, spec.destinations.map((d) => ({ database: spec.database, destination: destinationId(d), status: 'failed' as const, code: 'HOOK_FAILED', message })), log);
      return outcomesFor(spec, 'HOOK_FAILED', message);
    }
    if (hooks?.pre) {
      const pre = await this.hook('pre', spec, state, {}, log);
      if (pre.action === 'fail') {
        this.recordNotRun(runId, spec.destinations.map((d) => ({ database: spec.database, destination: destinationId(d), status: 'failed' as const, code: 'HOOK_FAILED', message: pre.message })), log);
        return outcomesFor(spec, 'HOOK_FAILED', pre.message);
      }
      if (pre.action === 'skip') {
        const reason = `${pre.message} Skipped, as the task's hooks say.`;
        this.recordNotRun(runId, spec.destinations.map((d) => ({ database: spec.database, destination: destinationId(d), status: 'skipped' as const, code: 'HOOK_FAILED', message: reason })), log);
        state.hookSkipped.push({ database: spec.database, reason });
        return [];
      }
    }
    const outcomes = await this.backUp(spec, state, resolved, log);
    if (hooks?.post) await this.hook('post', spec, state, { BACKSTOP_STATUS: outcomes.every((o) => o.status === 'success') ? 'success' : 'failed' }, log);
    return outcomes;
  }

  /**
   * A "first backup" where the task stored points of the database before: they are gone (the
   * folder emptied, deleted or replaced by a new one), which the history says, with the last one's time.
   */
  private chainGoneReason(taskId: string, database: string, o: JobOutcome, runId: string): string | null {
    if (o.kind !== 'full' || o.kindReason !== FIRST_BACKUP_REASON) return null;
    const last = this.deps.history.lastPointAt(taskId, database, o.destination, runId);
    if (!last) return null;
    return `the earlier backups of "${database}" at this destination are gone (the newest was taken ${last.slice(0, 16).replace('T', ' ')} UTC; its folder was emptied, deleted or replaced by a new one), so a new chain starts with this full`;
  }

  /**
   * An incremental (or an unchanged database) that continues a point older than the newest this task wrote at the
   * destination: the newer ones are gone from the folder (it was rolled back to an older copy, or they were deleted
   * outside this task's retention, which never deletes the newest). The run goes on from what is there; the row's
   * reason and an alert at the run's end say what is missing.
   */
  private pointsGoneReason(taskId: string, database: string, o: JobOutcome, runId: string): string | null {
    if (o.status !== 'success' || !o.builtOn) return null;
    const later = this.deps.history.writtenAfter(taskId, database, o.destination, o.builtOn, runId);
    const newest = later.points[0];
    if (!newest) return null;
    const what = later.count === 1 ? 'a newer restore point this task wrote here is' : `${later.count} newer restore points this task wrote here are`;
    const from = o.pointId ? `this incremental continues from ${o.builtOn}` : `the database was found unchanged since ${o.builtOn}`;
    return `${what} gone from the folder (newest ${newest.pointId}, written ${newest.at.slice(0, 16).replace('T', ' ')} UTC): the folder was rolled back to an older copy, or points were deleted outside this task's retention; ${from}`;
  }

  private async backUp(spec: BackupJobSpec, state: ActiveState, resolved: ResolvedTask, log: Logger): Promise<JobOutcome[]> {
    const { history, events, now } = this.deps;
    const runId = state.info.runId;
    const startedAt = now().toISOString();
    const rows = spec.destinations.map((_, i) => ({
      seq: history.startDatabase(runId, {
        database: spec.database,
        destination: destinationId(spec.destinations[i]!),
        kind: spec.requestedKind,
        kindReason: null,
        startedAt,
        serverStream: spec.serverStream,
      }),
    }));
    const dbLog = log.child({ database: spec.database });
    dbLog.info('database backup started');
    const onProgress = (reported: DatabaseProgress) => {
      const p: DatabaseProgress = {
        ...reported,
        destinations: reported.destinations.map((d) => ({ ...d, uploadBytesPerSecond: state.limits?.get(d.destination) ?? null })),
        serverStream: spec.serverStream,
        readBytesPerSecond: state.resolved.task.limits?.readBytesPerSecond ?? null,
      };
      const i = state.info.databases.findIndex((d) => d.database === spec.database);
      if (i >= 0) state.info.databases[i] = p;
      events.emit('run.progress', { runId, taskId: state.info.taskId, progress: p });
    };
    const refused = spec.destinations.map((d) => state.loginRefused?.get(destinationId(d)) ?? null);
    const job = refused.some((r) => r !== null) ? { ...spec, loginRefused: refused } : spec;
    const outcomes = await this.deps.executor(job, state.controller.signal, onProgress, (e) => dbLog.error({ err: e }, 'backup worker crashed'));
    for (const o of outcomes) {
      if (o.loginRefused && o.error && !state.loginRefused?.has(o.destination)) (state.loginRefused ??= new Map()).set(o.destination, o.error);
    }
    const endedAt = now().toISOString();
    // The backups are committed at their destinations by now: History failing (disk full, read-only) must not lose them from the run's result.
    this.recording(state, dbLog, () => this.recordOutcomes(spec, state, resolved, rows, outcomes, endedAt, dbLog));
    return outcomes;
  }

  /** Records a database's outcomes in History (and what follows from them: space, last success). */
  private recordOutcomes(spec: BackupJobSpec, state: ActiveState, resolved: ResolvedTask, rows: { seq: number }[], outcomes: JobOutcome[], endedAt: string, dbLog: Logger): void {
    const { history } = this.deps;
    const runId = state.info.runId;
    for (const o of outcomes) {
      o.kindReason = this.chainGoneReason(state.info.taskId, spec.database, o, runId) ?? o.kindReason;
      const gone = this.pointsGoneReason(state.info.taskId, spec.database, o, runId);
      if (!gone) continue;
      o.kindReason = o.kindReason ? `${o.kindReason}; ${gone}` : gone;
      state.pointsGone.push(spec.database);
      dbLog.warn({ destination: o.destination, builtOn: o.builtOn }, 'newer restore points are gone from the folder');
    }
    outcomes.forEach((o, i) => {
      history.finishDatabase(runId, rows[i]!.seq, {
        kind: o.kind,
        kindReason: o.kindReason,
        status: o.status,
        pointId: o.pointId,
        bytesRead: o.bytesRead,
        bytesStored: o.bytesStored,
        endedAt,
        errorCode: o.error?.code ?? null,
        errorMessage: o.error?.message ?? null,
        ...(o.warnings ? { warnings: o.warnings } : {}),
      });
      for (const w of o.warnings ?? []) dbLog.warn({ destination: o.destination }, w);
      dbLog.info(
        { destination: o.destination, status: o.status, kind: o.kind, kindReason: o.kindReason, bytesRead: o.bytesRead, bytesStored: o.bytesStored, error: o.error?.code, retention: o.retention },
        'database backup finished',
      );
    });
    if (resolved.persisted) {
      for (const o of outcomes) if (o.freeBytes !== undefined) this.deps.destinationSpace?.record(state.info.taskId, o.destination, o.freeBytes, endedAt);
    }
    if (resolved.persisted && !spec.serverStream && outcomes.some((o) => o.status === 'success')) {
      this.deps.taskDatabases.markSuccess(state.info.taskId, spec.database, endedAt);
    }
  }

  /** Runs a History write; a failure is logged and kept as the run's historyError (the first one) instead of ending the run. */
  private recording(state: ActiveState, log: Logger, write: () => void): void {
    try {
      write();
    } catch (e) {
      const f = toFailure(e);
      log.error({ err: e }, 'could not record in History');
      state.historyError ??= { code: f.code, message: f.message };
    }
  }
}
