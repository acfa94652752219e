/**
 * Runs server-wide backup tasks: lists the server's databases live, backs each one up to
 * every destination (in worker threads, through the global fair queue), applies
 * retention, and records everything in history.
 *
 * Contract:
 * - One run per task at a time: starting a task that is running → CONFLICT.
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
import { BackstopError, toFailure } from '../../shared/result.ts';
import type { JobExecutor } from '../backup/worker-executor.ts';
import { outcomesFor } from '../backup/worker-executor.ts';
import type { BackupJobSpec } from '../backup/job-spec.ts';
import type { JobOutcome } from '../backup/run-job.ts';
import { keyFingerprint } from '../crypto/index.ts';
import { destinationId, folderLocation } from '../destinations/index.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { Logger } from '../logging/index.ts';
import { connectorFor, encodeDatabaseFolder, SERVER_FOLDER, type ToolPaths } from '../servers/index.ts';
import type { SkippedDatabase } from '../servers/connector.ts';
import type { S3Credentials } from '../storage/index.ts';
import type { HistoryTable, RestoredDatabase, RestoredDatabasesTable, TaskDatabasesTable } from '../store/index.ts';
import { checkLocalRoots } from './destination-roots.ts';
import type { RunQueue } from './run-queue.ts';

export interface ResolvedTask {
  task: Task;
  server: Server;
  password: string | null;
  key: Buffer | null;
  /** Stored in the app database (file-based CLI tasks are not). */
  persisted: boolean;
  /** S3 credentials for each destination of the task (null for local ones), same order. */
  s3Credentials: (S3Credentials | null)[];
  /** Client-tool folders for this run (a CLI task file's `tools`); default: the settings'. */
  toolPaths?: ToolPaths;
}

export interface DatabaseResult extends JobOutcome {
  database: string;
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
}

export interface TaskRunnerDeps {
  history: HistoryTable;
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
}

interface ActiveState {
  info: ActiveRun;
  controller: AbortController;
  done?: Promise<RunSummary>;
}

export function defaultKind(task: Task): PointKind {
  return task.schedule.full ? 'full' : 'incremental';
}

export function serverIdentity(server: Server): string {
  if (server.kind === 'sqlite') return `sqlite:${server.folder}`;
  return `${server.kind}://${server.user}@${server.host}:${server.port}`;
}

export class TaskRunner {
  private readonly active = new Map<string, ActiveState>();

  constructor(private readonly deps: TaskRunnerDeps) {}

  activeRuns(): ActiveRun[] {
    return [...this.active.values()].map((s) => structuredClone(s.info));
  }

  isRunning(taskId: string): boolean {
    return this.active.has(taskId);
  }

  /** Resolves when no run is active (after cancelling, before closing the app database). */
  async idle(): Promise<void> {
    while (this.active.size > 0) await Promise.allSettled([...this.active.values()].map((s) => s.done));
  }

  /** Cancels the task's running run; false when it is not running. */
  cancel(taskId: string): boolean {
    const state = this.active.get(taskId);
    if (!state) return false;
    state.info.status = 'canceling';
    state.controller.abort();
    return true;
  }

  /** Starts a run; resolves `done` with its summary. CONFLICT when the task is already running. */
  start(resolved: ResolvedTask, kind: PointKind, trigger: RunTrigger): { runId: string; done: Promise<RunSummary> } {
    const { task } = resolved;
    if (this.active.has(task.id)) {
      throw new BackstopError('CONFLICT', `Task "${task.name}" is already running; wait for it to finish or cancel it.`);
    }
    const startedAt = this.deps.now().toISOString();
    const keyFp = resolved.key ? keyFingerprint(resolved.key) : null;
    const runId = this.deps.history.startRun({ taskId: task.id, taskName: task.name, trigger, requestedKind: kind, startedAt, keyFingerprint: keyFp }, randomUUID());
    const state: ActiveState = {
      info: { runId, taskId: task.id, taskName: task.name, kind, startedAt, status: 'running', databases: [] },
      controller: new AbortController(),
    };
    this.active.set(task.id, state);
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
        this.deps.history.finishRun(runId, summary.status, this.deps.now().toISOString(), summary.error ?? undefined);
        this.active.delete(task.id);
        this.deps.events.emit('history.changed', { runId, taskId: task.id });
        log.info({ status: summary.status, error: summary.error?.code }, 'run finished');
        if (summary.status === 'failed' || summary.status === 'partial') {
          const failedDbs = [...new Set(summary.databases.filter((d) => d.status === 'failed').map((d) => d.database))];
          this.deps.events.emit('alert', {
            kind: 'run-failed',
            taskId: task.id,
            message:
              summary.error && failedDbs.length === 0
                ? `Backup task "${task.name}" failed: ${summary.error.message}`
                : `Backup task "${task.name}": ${failedDbs.length} database${failedDbs.length === 1 ? '' : 's'} failed (${failedDbs.join(', ')}).`,
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
    const report = await connector.testConnection({ signal });
    const engineVersion = report.serverVersion;
    const dumpToolVersion = report.tools.map((t) => `${t.name} ${t.version}`).join(', ') || engineVersion;

    const jobs: { database: string; folder: string; serverStream: boolean }[] = [];
    const skipped: SkippedDatabase[] = [];
    if (support.scope === 'database') {
      const excluded = new Set(task.excludeDatabases);
      const all = await connector.listDatabases({ signal });
      const databases = all.filter((d) => !excluded.has(d));
      if (resolved.persisted) {
        const seen = this.deps.taskDatabases.observe(task.id, databases, this.deps.now().toISOString());
        const restoredByName = this.deps.restoredDatabases?.forServer(server.id) ?? new Map<string, RestoredDatabase>();
        const restored = seen.filter((d) => restoredByName.has(d)).map((d) => ({ database: d, restoredAt: restoredByName.get(d)!.restoredAt }));
        const fresh = seen.filter((d) => !restoredByName.has(d));
        if (fresh.length) {
          this.deps.events.emit('alert', {
            kind: 'new-databases',
            taskId: task.id,
            message: `Backup task "${task.name}" picked up ${fresh.length} new database${fresh.length === 1 ? '' : 's'}: ${fresh.join(', ')}.`,
            databases: fresh,
          });
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
      for (const d of databases) jobs.push({ database: d, folder: encodeDatabaseFolder(d), serverStream: false });
      skipped.push(...(connector.skippedDatabases ? await connector.skippedDatabases({ signal }) : []).filter((d) => !excluded.has(d.database)));
      for (const s of skipped) log.warn({ database: s.database }, 'database skipped');
      this.recordNotRun(
        runId,
        skipped.flatMap((s) => task.destinations.map((d) => ({ database: s.database, destination: destinationId(d), status: 'skipped' as const, code: null, message: s.reason }))),
        log,
      );
    }
    for (const s of connector.serverStreams(task.type)) {
      jobs.push({ database: s.name, folder: join(SERVER_FOLDER, encodeDatabaseFolder(s.name)), serverStream: true });
    }
    // MySQL/MariaDB: the binary log since the last run, stored every run; incrementals use it (or say why they cannot).
    const changeLog = connector.logIncrementals && task.type === 'logical' ? await connector.logIncrementals({ signal }) : null;
    const logJob = changeLog?.available ? { database: changeLog.stream.name, folder: join(SERVER_FOLDER, encodeDatabaseFolder(changeLog.stream.name)), serverStream: true } : null;
    if (logJob) jobs.push(logJob);
    let incrementalSource: BackupJobSpec['incrementalSource'] =
      changeLog && kind === 'incremental' ? (changeLog.available ? { from: 'log' } : { from: 'dump', reason: changeLog.message }) : undefined;
    log.info({ databases: jobs.length }, 'databases listed');
    const roots = await checkLocalRoots(task.destinations, (id) => this.deps.history.wroteTo(task.id, id));
    for (const w of roots.warnings) log.warn(w);
    if (roots.missing.size > 0) {
      const [first] = roots.missing.values();
      const rows = jobs.flatMap((j) =>
        task.destinations.map((d) => {
          const e = roots.missing.get(destinationId(d)) ?? first!;
          return {
            database: j.database,
            destination: destinationId(d),
            location: folderLocation(d, j.folder),
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
    state.info.databases = jobs.map((j) => ({ database: j.database, phase: 'queued', bytesRead: 0, expectedBytes: null, destinations: [], serverStream: j.serverStream }));

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
        destinations: task.destinations,
        credentials: resolved.s3Credentials,
        retention: task.retention,
        encoderWorkers: this.deps.encoderWorkers,
        ...(incrementalSource && !job.serverStream ? { incrementalSource } : {}),
      };
      return this.deps.queue
        .run({ taskId: task.id, database: job.database }, () => this.runJob(spec, state, resolved, log), signal)
        .catch((e: unknown) => {
          const f = toFailure(e);
          return outcomesFor(spec, f.code, f.message, f.code === 'CANCELED' ? 'canceled' : 'failed');
        })
        .then((outcomes: JobOutcome[]): DatabaseResult[] =>
          outcomes.map((o, i) => ({ ...o, database: job.database, location: o.location ?? folderLocation(task.destinations[i]!, job.folder) })),
        );
    };
    // The binary log is read first: whether it covers a database's incremental is judged on what this run stored.
    const logResults = logJob ? await runOne(logJob) : [];
    const logFailure = logResults.find((r) => r.status !== 'success');
    if (logFailure && incrementalSource?.from === 'log') {
      incrementalSource = { from: 'dump', reason: `the binary log could not be stored this run (${logFailure.error?.message ?? logFailure.status})` };
    }
    const results = [logResults, ...(await Promise.all(jobs.filter((j) => j !== logJob).map(runOne)))];
    const databases = results.flat();
    const ok = databases.filter((d) => d.status === 'success').length;
    let status: RunStatus;
    if (signal.aborted) status = 'canceled';
    else if (ok === databases.length) status = 'success';
    else status = ok === 0 ? 'failed' : 'partial';
    return { runId, status, error: null, databases, skipped, warnings: roots.warnings };
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

  private async runJob(spec: BackupJobSpec, state: ActiveState, resolved: ResolvedTask, log: Logger): Promise<JobOutcome[]> {
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
      const p: DatabaseProgress = { ...reported, serverStream: spec.serverStream };
      const i = state.info.databases.findIndex((d) => d.database === spec.database);
      if (i >= 0) state.info.databases[i] = p;
      events.emit('run.progress', { runId, taskId: state.info.taskId, progress: p });
    };
    const outcomes = await this.deps.executor(spec, state.controller.signal, onProgress, (e) => dbLog.error({ err: e }, 'backup worker crashed'));
    const endedAt = now().toISOString();
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
      });
      dbLog.info(
        { destination: o.destination, status: o.status, kind: o.kind, kindReason: o.kindReason, bytesRead: o.bytesRead, bytesStored: o.bytesStored, error: o.error?.code, retention: o.retention },
        'database backup finished',
      );
    });
    if (resolved.persisted && !spec.serverStream && outcomes.some((o) => o.status === 'success')) {
      this.deps.taskDatabases.markSuccess(state.info.taskId, spec.database, endedAt);
    }
    return outcomes;
  }
}
