/**
 * Restores started from the app: each runs in a worker thread; progress and the final
 * result are emitted as `restore.progress` / `restore.finished` events.
 *
 * Contract: `start` checks what it can up front (server exists, name given, key usable)
 * and answers at once with a restore id; everything after that is reported by events,
 * exactly one `restore.finished` per restore. Keys are taken from the request (a key the
 * user typed) or the keychain by fingerprint; a wrong key is rejected at once
 * (KEY_MISMATCH with the expected fingerprint) before any data is read. A database restored
 * into the server itself is recorded (server id + name) before `restore.finished` is emitted.
 * `running()` lists the restores not yet finished, with their latest progress (a window
 * reloaded mid-restore, or another window, finds them there).
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { ActiveRestore, BackupLocation, Destination, GlobalsApplyReport, RestoreProgressInfo, RestoreResult, Server, VerifySummary } from '../../shared/domain.ts';
import { BackstopError, toFailure } from '../../shared/result.ts';
import type { EventBus } from '../events/event-bus.ts';
import { parseKey } from '../keys/index.ts';
import type { Logger } from '../logging/index.ts';
import { runWorkerJob } from '../runtime/worker-job.ts';
import type { Credentials } from '../destinations/location.ts';
import type { ToolPaths } from '../servers/index.ts';
import type { RestoredDatabasesTable } from '../store/index.ts';
import { openForRestore } from './backup-folder.ts';
import type { RestoreJobSpec, RestoreOutcome, VerifyJobSpec } from './run-restore.ts';
import type { ApplyGlobalsJobSpec } from './run-apply-globals.ts';
import type { RestoreHistory } from './restore-history.ts';

export interface RestoreServiceDeps {
  events: EventBus;
  logger: Logger;
  findKey: (fingerprint: string) => Promise<Buffer | null>;
  resolveServer: (id: string) => Promise<{ server: Server; password: string | null }>;
  toolPaths: () => ToolPaths;
  /** The credentials a location's destination needs (null when none), from the keychain. */
  credentials: (place: BackupLocation | Destination) => Promise<Credentials | null>;
  /** Where a successful restore of a database into the server is recorded (a task's next run then names it a restored copy). */
  restoredDatabases?: RestoredDatabasesTable;
  /** Records each restore as a History run (restore-history.ts). */
  restoreHistory?: RestoreHistory;
  now?: () => Date;
}

/** A restore lands in the server itself (and a server-wide task will find it) unless it went to another folder or is a cluster snapshot. */
function landsInServer(server: Server, folder: string | null): boolean {
  if (folder === null) return true;
  return server.kind === 'sqlite' && resolve(folder) === resolve(server.folder);
}

export interface StartRestore {
  location: BackupLocation;
  pointId: string;
  serverId: string;
  database: string;
  key?: string;
  options: RestoreJobSpec['options'];
  /** A moment (ISO) instead of `pointId`; one database of a PostgreSQL cluster backup (restore-at.ts). */
  asOf?: string;
  sourceDatabase?: string;
}

export class RestoreService {
  /** The restores running now: their cancel and what `running()` reports of them. */
  private readonly active = new Map<string, { controller: AbortController; info: ActiveRestore }>();

  constructor(private readonly deps: RestoreServiceDeps) {}

  /** The credentials to open a location with (null when its destination needs none). */
  credentialsFor(location: BackupLocation | Destination): Promise<Credentials | null> {
    return this.deps.credentials(location);
  }

  async keyFor(location: BackupLocation, given: string | undefined): Promise<Buffer | null> {
    const key = given ? parseKey(given) : null;
    const opened = await openForRestore(location, key, this.deps.findKey, await this.credentialsFor(location));
    if (opened.encrypted && !opened.repo) {
      throw new BackstopError('KEY_REQUIRED', `This backup is encrypted with key ${opened.keyFingerprint}, which is not in this computer's keychain. Enter that key.`);
    }
    if (!opened.encrypted) return null;
    return key ?? (await this.deps.findKey(opened.keyFingerprint!));
  }

  async start(req: StartRestore): Promise<{ restoreId: string }> {
    const { server, password } = await this.deps.resolveServer(req.serverId);
    const key = await this.keyFor(req.location, req.key);
    const restoreId = randomUUID();
    const controller = new AbortController();
    const info: ActiveRestore = { restoreId, database: req.database, serverId: req.serverId, startedAt: (this.deps.now?.() ?? new Date()).toISOString(), progress: null };
    this.active.set(restoreId, { controller, info });
    const spec: RestoreJobSpec = {
      op: 'restore',
      restoreId,
      location: req.location,
      pointId: req.pointId,
      server,
      password,
      toolPaths: this.deps.toolPaths(),
      database: req.database,
      keyBase64: key ? key.toString('base64') : null,
      credentials: await this.credentialsFor(req.location),
      options: req.options,
      ...(req.asOf ? { asOf: req.asOf } : {}),
      ...(req.sourceDatabase ? { sourceDatabase: req.sourceDatabase } : {}),
    };
    const log = this.deps.logger.child({ restoreId, database: req.database });
    log.info({ pointId: req.pointId, asOf: req.asOf, sourceDatabase: req.sourceDatabase, serverId: req.serverId }, 'restore started');
    const work = () =>
      runWorkerJob<RestoreOutcome, RestoreProgressInfo>('repository-job', spec, {
        label: `the restore of ${req.database}`,
        signal: controller.signal,
        onProgress: (p) => {
          info.progress = p;
          this.deps.events.emit('restore.progress', p);
        },
        onCrash: (e) => log.error({ err: e }, 'restore worker crashed'),
      });
    void (this.deps.restoreHistory ? this.deps.restoreHistory.restore(spec, work) : work()).then(
      (outcome) => {
        if (landsInServer(server, req.options.folder ?? null)) {
          try {
            this.deps.restoredDatabases?.record(server.id, outcome.database, (this.deps.now?.() ?? new Date()).toISOString(), req.pointId === 'latest' || req.asOf ? null : req.pointId);
          } catch (e) {
            log.error({ err: e }, 'could not record the restored database');
          }
        }
        // Restored but not in History: said beside the restore's own notes (restore-history.ts).
        const notes = outcome.historyError ? [...outcome.notes, outcome.historyError.message] : outcome.notes;
        this.finish(log, { restoreId, status: 'success', database: outcome.database, path: outcome.path, notes, error: null });
      },
      (e: unknown) => {
        const f = toFailure(e);
        this.finish(log, { restoreId, status: f.code === 'CANCELED' ? 'canceled' : 'failed', database: req.database, path: null, notes: [], error: { code: f.code, message: f.message } });
      },
    );
    return { restoreId };
  }

  cancel(restoreId: string): boolean {
    const c = this.active.get(restoreId);
    if (!c) return false;
    c.controller.abort();
    return true;
  }

  /** The restores running now, oldest first, with their latest progress. */
  running(): ActiveRestore[] {
    return [...this.active.values()].map((a) => ({ ...a.info }));
  }

  async verify(location: BackupLocation, pointId: string | null, key: string | undefined): Promise<VerifySummary> {
    const k = await this.keyFor(location, key);
    const spec: VerifyJobSpec = { op: 'verify', location, pointId, keyBase64: k ? k.toString('base64') : null, credentials: await this.credentialsFor(location) };
    return runWorkerJob<VerifySummary>('repository-job', spec, { label: 'the verification' });
  }

  /**
   * Applies (or with `dryRun` lists) the server-level accounts stored at `location` (a `~server/globals.sql`
   * or `~server/grants.sql` folder) on server `serverId`: the same worker job as `backstop apply-globals`.
   * Only what the server lacks is created; existing roles change only with `alterExisting` (PostgreSQL).
   */
  async applyGlobals(req: { location: BackupLocation; pointId: string; serverId: string; key?: string; alterExisting: boolean; dryRun: boolean }): Promise<GlobalsApplyReport> {
    const { server, password } = await this.deps.resolveServer(req.serverId);
    const key = await this.keyFor(req.location, req.key);
    const spec: ApplyGlobalsJobSpec = {
      op: 'apply-globals',
      location: req.location,
      credentials: await this.credentialsFor(req.location),
      pointId: req.pointId,
      server,
      password,
      toolPaths: this.deps.toolPaths(),
      keyBase64: key ? key.toString('base64') : null,
      alterExisting: req.alterExisting,
      dryRun: req.dryRun,
    };
    const report = await runWorkerJob<GlobalsApplyReport>('repository-job', spec, { label: 'applying the server-level accounts' });
    if (!req.dryRun) this.deps.logger.info({ serverId: req.serverId, created: report.objects.filter((o) => o.action === 'created').length, failed: report.objects.filter((o) => o.action === 'failed').length }, 'server-level accounts applied');
    return report;
  }

  /** Resolves when no restore is running (before the app database closes). */
  async idle(): Promise<void> {
    while (this.active.size > 0) await new Promise((r) => setTimeout(r, 50));
  }

  cancelAll(): void {
    for (const c of this.active.values()) c.controller.abort();
  }

  private finish(log: Logger, result: RestoreResult): void {
    this.active.delete(result.restoreId);
    log.info({ status: result.status, error: result.error?.code }, 'restore finished');
    this.deps.events.emit('restore.finished', result);
  }
}
