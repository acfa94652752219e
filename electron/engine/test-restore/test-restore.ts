/**
 * Test restores of a task (issue #22): the latest point of each database at the task's
 * first destination is restored into a scratch target (scratch.ts) — on the task's own
 * server, or on its named test server (test-server.ts) — and checked
 * (run-test-restore-job.ts, in a worker thread), one database at a time, those tested
 * longest ago first; with a time cap (`testRestore.maxMinutes`) no database starts once
 * the cap is reached (at least one always runs) and the rest come first next time. The scratch
 * target is removed on success and on failure, and a crashed run's leftovers are removed
 * before the next run starts. History records the run as kind 'test-restore' with one row
 * per database (result, duration, checks); a failed database raises a 'test-restore-failed'
 * alert. A PostgreSQL cluster snapshot task (only `~server/base.tar`): each database its
 * newest base backup recorded (`wal.databases`; not the templates, `postgres` or the task's
 * exclusions) is recovered out of the newest point (pitr.ts) into its own scratch database,
 * with the same scratch records, ordering, time cap, history rows and alerts.
 *
 * Contract: a test restore never writes to a backup and never touches a database or
 * folder it did not record as its own scratch target. One test restore per task at a time
 * (CONFLICT otherwise).
 */
import { join } from 'node:path';
import type { RestoreCheck, RunStatus, RunTrigger, Server } from '../../shared/domain.ts';
import { BackstopError, toFailure } from '../../shared/result.ts';
import { destinationId, Location } from '../destinations/index.ts';
import { openRepository } from '../repository/index.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { Logger } from '../logging/index.ts';
import { listBackupFolders } from '../restore/backup-folder.ts';
import { planRecovery } from '../restore/pitr.ts';
import { connectorFor, PG_BASEBACKUP_STREAM, type ToolPaths } from '../servers/index.ts';
import type { HistoryTable, ScratchTargetsTable } from '../store/index.ts';
import type { ResolvedTask } from '../tasks/task-runner.ts';
import { ScratchTargets } from './scratch.ts';
import { checkTestServer, testServerLabel } from './test-server.ts';
import type { TestRestoreJobResult, TestRestoreJobSpec } from './run-test-restore-job.ts';

export interface TestRestoreDatabase {
  database: string;
  status: 'ok' | 'failed';
  /** Restore plus checks, in milliseconds. */
  durationMs: number;
  pointId: string | null;
  checks: RestoreCheck[];
}

export interface TestRestoreSummary {
  runId: string;
  /** `canceled`: stopped (Cancel, Ctrl-C, systemd stop of the CLI or the agent) — says nothing about the backups; no alert. */
  status: 'success' | 'failed' | 'canceled';
  /** A failure before any database was tried (no backups yet, destination unreadable…). */
  error: { code: string; message: string } | null;
  databases: TestRestoreDatabase[];
  /** Scratch targets of an earlier, crashed run that this run removed. */
  leftoversRemoved: string[];
  /** Databases not tried because the run reached the task's time cap (`testRestore.maxMinutes`); they come first next time. */
  deferred: string[];
}

/** The server holding a test restore's scratch databases, with its password. */
export interface TestServer {
  server: Server;
  password: string | null;
}

export interface TestRestoreDeps {
  history: HistoryTable;
  scratch: ScratchTargetsTable;
  events: EventBus;
  logger: Logger;
  now: () => Date;
  toolPaths: () => ToolPaths;
  /** Where SQLite scratch folders are made (`<dataDir>/test-restores`). */
  sqliteScratchDir: string;
  /** A stored server and its password (the Servers list): how a saved task's `testRestore.serverId` is found. */
  resolveServer?: (id: string) => Promise<TestServer>;
  /** Runs one database's job (a worker thread in the engine; tests may run it inline). */
  runJob: (spec: TestRestoreJobSpec, signal: AbortSignal) => Promise<TestRestoreJobResult>;
}

export class TestRestoreService {
  private readonly running = new Map<string, AbortController>();

  constructor(private readonly deps: TestRestoreDeps) {}

  /** Runs a test restore of every database the task's first destination holds. */
  async run(resolved: ResolvedTask, trigger: RunTrigger): Promise<TestRestoreSummary> {
    const { task } = resolved;
    if (this.running.has(task.id)) throw new BackstopError('CONFLICT', `A test restore of task "${task.name}" is already running; wait for it to finish.`);
    const controller = new AbortController();
    this.running.set(task.id, controller);
    const { history, now, events } = this.deps;
    const runId = history.startRun({ taskId: task.id, taskName: task.name, trigger, requestedKind: 'full', startedAt: now().toISOString(), runKind: 'test-restore' });
    events.emit('history.changed', { runId, taskId: task.id });
    const log = this.deps.logger.child({ runId, taskId: task.id, testRestore: true });
    const toolPaths = resolved.toolPaths ?? this.deps.toolPaths();
    const summary: TestRestoreSummary = { runId, status: 'success', error: null, databases: [], leftoversRemoved: [], deferred: [] };
    try {
      const target = await this.testServer(resolved, controller.signal);
      const connector = connectorFor(target.server, { password: target.password, toolPaths });
      const scratch = new ScratchTargets(this.deps.scratch, target.server, connector, this.deps.sqliteScratchDir, now);
      for (const name of scratch.recorded()) {
        try {
          await scratch.remove(name);
          summary.leftoversRemoved.push(name);
          log.warn({ scratch: name }, 'removed a scratch target left by an earlier test restore');
        } catch (e) {
          log.error({ err: e, scratch: name }, 'could not remove a scratch target left by an earlier test restore');
        }
      }
      const destination = task.destinations[0]!;
      const credentials = resolved.credentials[0] ?? null;
      const all = await listBackupFolders(destination, credentials);
      const folders = all.filter((f) => !f.serverStream);
      const snapshot = folders.length === 0 ? all.find((f) => f.serverStream && f.database === PG_BASEBACKUP_STREAM.name) : undefined;
      if (folders.length === 0 && !snapshot) {
        throw new BackstopError('NOT_FOUND', `${destinationId(destination)} holds no database backups of task "${task.name}" yet: run a backup first.`);
      }
      const named: Candidate[] = [];
      if (snapshot) named.push(...(await clusterCandidates(task, snapshot.location, credentials, resolved.key)));
      for (const f of folders) named.push({ location: f.location, name: f.database ?? (await trueName(f.location, credentials, resolved.key)) ?? f.folder, pointId: 'latest', sourceDatabase: null });
      // Databases tested longest ago (never tested: first) come first, so a time cap rotates through all of them.
      const lastTested = new Map(history.lastTestRestores(task.id).map((r) => [r.database, r.at]));
      named.sort((a, b) => (lastTested.get(a.name) ?? '').localeCompare(lastTested.get(b.name) ?? '') || a.name.localeCompare(b.name));
      const capMs = task.testRestore?.maxMinutes ? task.testRestore.maxMinutes * 60_000 : null;
      const started = now().getTime();
      for (const f of named) {
        if (controller.signal.aborted) throw new BackstopError('CANCELED', 'The test restore was canceled.');
        if (capMs !== null && summary.databases.length > 0 && now().getTime() - started >= capMs) {
          summary.deferred.push(f.name);
          continue;
        }
        summary.databases.push(await this.one(resolved, target, f, credentials, scratch, runId, toolPaths, controller.signal, log));
      }
      if (summary.deferred.length > 0) log.info({ deferred: summary.deferred }, 'test restore reached its time cap; the databases not tried come first next time');
    } catch (e) {
      const f = toFailure(e);
      summary.error = { code: f.code, message: f.message };
    } finally {
      this.running.delete(task.id);
    }
    const failed = summary.databases.filter((d) => d.status === 'failed');
    // Stopped is not "not restorable as recorded": History says canceled and no test-restore-failed alert goes out.
    const canceled = controller.signal.aborted;
    summary.status = canceled ? 'canceled' : summary.error || failed.length > 0 ? 'failed' : 'success';
    const runStatus: RunStatus = canceled ? 'canceled' : summary.status === 'success' ? 'success' : summary.databases.length > failed.length ? 'partial' : 'failed';
    history.finishRun(runId, runStatus, now().toISOString(), summary.error ?? undefined);
    events.emit('history.changed', { runId, taskId: task.id });
    if (summary.status === 'failed') {
      const names = failed.map((d) => d.database);
      events.emit('alert', {
        kind: 'test-restore-failed',
        taskId: task.id,
        message:
          names.length === 0
            ? `Test restore of task "${task.name}" failed: ${summary.error?.message ?? 'unknown error'}`
            : `Test restore of task "${task.name}": ${names.length} database${names.length === 1 ? '' : 's'} not restorable as recorded (${names.join(', ')}).`,
        databases: names,
      });
    }
    log.info({ status: summary.status }, 'test restore finished');
    return summary;
  }

  cancelAll(): void {
    for (const c of this.running.values()) c.abort();
  }

  async idle(): Promise<void> {
    while (this.running.size > 0) await new Promise((r) => setTimeout(r, 50));
  }

  /**
   * Where the scratch databases go: the named test server (checked to be of the task's kind
   * and reachable before anything is recorded or created), else the task's own server.
   */
  private async testServer(resolved: ResolvedTask, signal: AbortSignal): Promise<TestServer> {
    const serverId = resolved.task.testRestore?.serverId;
    const named = resolved.testServer ?? (serverId && serverId !== resolved.server.id ? await this.namedServer(serverId) : null);
    if (!named) return { server: resolved.server, password: resolved.password };
    checkTestServer(resolved.server, named.server, resolved.testServer ? 'testServer' : 'testRestore.serverId');
    try {
      await connectorFor(named.server, { password: named.password, toolPaths: resolved.toolPaths ?? this.deps.toolPaths() }).listDatabases({ signal });
    } catch (e) {
      const f = toFailure(e);
      throw new BackstopError(f.code, `The test server, ${testServerLabel(named.server)}: ${f.message}`, { cause: e });
    }
    return named;
  }

  private async namedServer(id: string): Promise<TestServer> {
    if (!this.deps.resolveServer) throw new BackstopError('NOT_FOUND', `The test server ${id} is not known here; name the test server in the task file with "testServer".`);
    try {
      return await this.deps.resolveServer(id);
    } catch (e) {
      const f = toFailure(e);
      if (f.code !== 'NOT_FOUND') throw e;
      throw new BackstopError('NOT_FOUND', `The test server of this task (id ${id}) is no longer in the Servers list. Choose another one under "Test restores" in the task, or test on the task's own server.`, { cause: e });
    }
  }

  private async one(
    resolved: ResolvedTask,
    target: TestServer,
    candidate: Candidate,
    credentials: TestRestoreJobSpec['credentials'],
    scratch: ScratchTargets,
    runId: string,
    toolPaths: ToolPaths,
    signal: AbortSignal,
    log: Logger,
  ): Promise<TestRestoreDatabase> {
    const { history, now } = this.deps;
    const { name: database, location } = candidate;
    const started = now();
    const seq = history.startDatabase(runId, { database, destination: destinationId(resolved.task.destinations[0]!), kind: 'full', kindReason: null, startedAt: started.toISOString(), serverStream: false });
    let result: TestRestoreDatabase;
    let failureCode: string | null = null;
    let scratchName: string | null = null;
    try {
      scratchName = scratch.create();
      const sqlite = target.server.kind === 'sqlite';
      const job = await this.deps.runJob(
        {
          op: 'test-restore',
          restoreId: `${runId}:${seq}`,
          location,
          credentials,
          pointId: candidate.pointId,
          sourceDatabase: candidate.sourceDatabase,
          server: target.server,
          password: target.password,
          toolPaths,
          database: sqlite ? database : scratchName,
          keyBase64: resolved.key ? resolved.key.toString('base64') : null,
          folder: sqlite ? scratchName : null,
        },
        signal,
      );
      result = { database, status: job.checks.every((c) => c.ok) ? 'ok' : 'failed', durationMs: now().getTime() - started.getTime(), pointId: job.pointId, checks: job.checks };
    } catch (e) {
      const f = toFailure(e);
      failureCode = f.code;
      const detail = f.code === 'CANCELED' ? 'the test restore was canceled before this restore finished; it says nothing about the backup' : f.message;
      result = { database, status: 'failed', durationMs: now().getTime() - started.getTime(), pointId: null, checks: [{ name: 'restore', ok: false, detail: `${f.code}: ${detail}` }] };
    }
    if (scratchName !== null) {
      try {
        await scratch.remove(scratchName);
      } catch (e) {
        // Kept on record: the next run removes it.
        log.error({ err: e, scratch: scratchName }, 'could not remove the scratch target');
        const f = toFailure(e);
        failureCode ??= f.code;
        result.checks.push({ name: 'cleanup', ok: false, detail: `the scratch target ${scratchName} could not be removed (${f.code}: ${f.message}); the next test restore removes it` });
        result.status = 'failed';
      }
    }
    const failedCheck = result.checks.find((c) => !c.ok);
    history.finishDatabase(runId, seq, {
      kind: 'full',
      kindReason: null,
      status: result.status === 'ok' ? 'success' : 'failed',
      pointId: result.pointId,
      bytesRead: 0,
      bytesStored: 0,
      endedAt: now().toISOString(),
      // A check that found the restored copy differs from what the backup recorded is INTEGRITY.
      errorCode: failedCheck ? (failureCode ?? 'INTEGRITY') : null,
      errorMessage: failedCheck ? `${failedCheck.name}: ${failedCheck.detail}` : null,
      checks: result.checks,
      durationMs: result.durationMs,
    });
    log.info({ database, status: result.status, durationMs: result.durationMs }, 'database test restore finished');
    return result;
  }
}

/** One database a run tests: its backup folder, and for a cluster snapshot the database to take out of it. */
interface Candidate {
  name: string;
  location: TestRestoreJobSpec['location'];
  /** 'latest' for a database folder; a cluster snapshot's newest point, the same for each of its databases. */
  pointId: string;
  /** Set for a cluster snapshot (`~server/base.tar`): the database recovered out of it. */
  sourceDatabase: string | null;
}

/**
 * The databases of a PostgreSQL cluster snapshot's newest point, as its base backup recorded
 * them (`wal.databases`): not the templates, not `postgres`, not those the task excludes.
 */
async function clusterCandidates(task: ResolvedTask['task'], location: TestRestoreJobSpec['location'], credentials: TestRestoreJobSpec['credentials'], key: Buffer | null): Promise<Candidate[]> {
  const { pointId, recorded } = await Location.at(location, credentials).use(async (at) => {
    const repo = await openRepository(at.backend(), { key, workers: 0 });
    const latest = await repo.latestPoint(new Date());
    if (!latest) throw new BackstopError('NOT_FOUND', `The cluster snapshot of task "${task.name}" holds no restore points yet: run a backup first.`);
    return { pointId: latest.id, recorded: (await planRecovery(repo, { pointId: latest.id })).meta.databases };
  });
  if (!Array.isArray(recorded)) {
    throw new BackstopError(
      'VALIDATION',
      `The newest base backup of task "${task.name}" did not record the databases of the cluster (it was taken before Backstop recorded them, or its role may not read pg_database), so a test restore cannot tell which databases to restore. Run a full backup, then test again.`,
    );
  }
  const excluded = new Set(task.excludeDatabases);
  const names = recorded.filter((d) => !d.template && d.name !== 'postgres' && !excluded.has(d.name)).map((d) => d.name);
  if (names.length === 0) throw new BackstopError('NOT_FOUND', `The cluster snapshot of task "${task.name}" holds no database to test (only templates, postgres and excluded databases).`);
  return names.map((name) => ({ name, location, pointId, sourceDatabase: name }));
}

/** `<dataDir>/test-restores`: where SQLite scratch folders go. */
export function sqliteScratchDir(dataDir: string): string {
  return join(dataDir, 'test-restores');
}

/**
 * A database's true name from its newest point, for a folder whose name does not spell it
 * (a name with characters a folder cannot hold); null when the folder cannot be read here.
 */
async function trueName(location: TestRestoreJobSpec['location'], credentials: TestRestoreJobSpec['credentials'], key: Buffer | null): Promise<string | null> {
  return Location.at(location, credentials)
    .use(async (at) => (await (await openRepository(at.backend(), { key, workers: 0 })).listPoints({ skipDamaged: true })).at(-1)?.database ?? null)
    .catch(() => null);
}
