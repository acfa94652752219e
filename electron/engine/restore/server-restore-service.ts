/**
 * Whole-server restores started from the window (issue #22 item 4), over restore-server.ts.
 *
 * Contract: `plan` reads the destination root and the target server's database list and
 * touches nothing; it says per database which point, which target name, whether that name
 * is taken ('exists', never overwritten) or was already made by this same restore ('done',
 * skipped), and an estimated duration from the task's newest test restores. `start` checks
 * the server and the key up front, answers at once with an id, and then reports by events:
 * `restore.serverProgress` as each database starts and ends, and exactly one
 * `restore.serverFinished` (the summary, or the error that stopped the whole restore);
 * `cancel` stops it (databases not yet done end 'failed' with CANCELED). `running()` lists
 * the whole-server restores not yet finished, each database with its latest state (a window
 * reloaded mid-restore, or another window, finds them there and can cancel them). The
 * restores run in worker threads (restore-server.ts), at most `jobs` at once.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from '../../shared/domain.ts';
import { placeText } from '../../shared/location-text.ts';
import { toFailure } from '../../shared/result.ts';
import type { ActiveServerRestore, ServerRestoreDatabaseState, ServerRestoreFinished, ServerRestoreInput, ServerRestorePlan, ServerRestorePlanEntry } from '../../shared/server-restore.ts';
import type { EventBus } from '../events/event-bus.ts';
import { parseKey } from '../keys/index.ts';
import type { Logger } from '../logging/index.ts';
import { connectorFor } from '../servers/index.ts';
import type { HistoryTable, ServerRestoresTable } from '../store/index.ts';
import { journalTarget, otherPoint, planServerRestore, restoreServer, rootLocation, type ServerRestoreNaming, type ServerRestoreRequest } from './restore-server.ts';
import type { RestoreService } from './restore-service.ts';
import type { RestoreHistory } from './restore-history.ts';
import type { ManifestCache } from '../repository/index.ts';

export interface ServerRestoreServiceDeps {
  events: EventBus;
  logger: Logger;
  restores: RestoreService;
  findKey: (fingerprint: string) => Promise<Buffer | null>;
  /** The app's local cache, which a remote root's manifests are read through. */
  manifestCache?: ManifestCache | null;
  resolveServer: (id: string) => Promise<{ server: Server; password: string | null }>;
  toolPaths: () => ServerRestoreRequest['toolPaths'];
  journal: ServerRestoresTable;
  history: HistoryTable;
  now: () => Date;
  /** Records each whole-server restore as a History run (restore-history.ts). */
  restoreHistory?: RestoreHistory;
}

/** The whole restore's duration: the databases run `jobs` at once, so the longer of the longest one and the sum spread over the jobs. */
export function estimateTotal(durations: number[], jobs: number): number | null {
  if (durations.length === 0) return null;
  const sum = durations.reduce((a, b) => a + b, 0);
  return Math.max(Math.max(...durations), Math.ceil(sum / Math.max(1, jobs)));
}

export class ServerRestoreService {
  /** The whole-server restores running now: their cancel and what `running()` reports of them. */
  private readonly active = new Map<string, { controller: AbortController; info: ActiveServerRestore }>();

  constructor(private readonly deps: ServerRestoreServiceDeps) {}

  private async request(input: ServerRestoreInput & { withServerLevel?: boolean }): Promise<ServerRestoreRequest> {
    const { server, password } = await this.deps.resolveServer(input.serverId);
    const root = rootLocation(input.destination);
    const credentials = await this.deps.restores.credentialsFor(input.destination);
    const toolPaths = this.deps.toolPaths();
    const key = input.key ? parseKey(input.key) : null;
    return {
      root,
      credentials,
      server,
      password,
      toolPaths,
      naming: input.naming as ServerRestoreNaming,
      ...(input.asOf ? { asOf: new Date(input.asOf) } : {}),
      ...(input.only ? { only: input.only } : {}),
      withServerLevel: input.withServerLevel ?? false,
      jobs: input.jobs,
      key,
      findKey: this.deps.findKey,
      manifestCache: this.deps.manifestCache ?? null,
      journal: this.deps.journal,
      now: this.deps.now,
    };
  }

  async plan(input: ServerRestoreInput): Promise<ServerRestorePlan> {
    const req = await this.request(input);
    const { planned, notes } = await planServerRestore(req);
    const existing = new Set(await connectorFor(req.server, { password: req.password, toolPaths: req.toolPaths }).listDatabases());
    const measured = new Map((input.taskId ? this.deps.history.lastTestRestores(input.taskId) : []).map((r) => [r.database, r.durationMs]));
    const target = journalTarget(req.server);
    const databases: ServerRestorePlanEntry[] = planned.map((p) => {
      const record = this.deps.journal.get(target, p.restoredAs);
      const ours = record !== null && record.source === placeText(p.location);
      let status: ServerRestorePlanEntry['status'] = 'ready';
      let otherError: { code: string; message: string } | undefined;
      if (p.error) status = 'failed';
      else if (existing.has(p.restoredAs) && !ours) status = 'exists';
      else if (existing.has(p.restoredAs) && (record!.state === 'done' || req.server.kind === 'sqlite')) {
        otherError = otherPoint(record!, p, req.asOf)?.error;
        status = otherError ? 'exists' : 'done';
      }
      return {
        database: p.database,
        restoredAs: p.restoredAs,
        point: p.point ?? null,
        range: p.range ?? null,
        status,
        estimatedMs: measured.get(p.database) ?? null,
        error: p.error ?? otherError ?? (status === 'exists' ? { code: 'DATABASE_EXISTS', message: `Database "${p.restoredAs}" already exists on the target server; a restore never overwrites a database. Choose a prefix or suffix, or leave it out.` } : null),
      };
    });
    const toRestore = databases.filter((d) => d.status === 'ready');
    const known = toRestore.map((d) => d.estimatedMs).filter((ms): ms is number => ms !== null);
    return {
      databases,
      totalBytes: toRestore.reduce((n, d) => n + (d.point?.bytes ?? 0), 0),
      estimatedMs: estimateTotal(known, input.jobs),
      unestimated: toRestore.length - known.length,
      notes,
    };
  }

  async start(input: ServerRestoreInput & { withServerLevel: boolean }): Promise<{ serverRestoreId: string }> {
    const req = await this.request(input);
    const serverRestoreId = randomUUID();
    const log = this.deps.logger.child({ serverRestoreId, serverId: input.serverId });
    const controller = new AbortController();
    const info: ActiveServerRestore = { serverRestoreId, serverId: input.serverId, startedAt: this.deps.now().toISOString(), total: input.only?.length ?? null, databases: [] };
    this.active.set(serverRestoreId, { controller, info });
    const record = (d: ServerRestoreDatabaseState): void => {
      const i = info.databases.findIndex((x) => x.database === d.database);
      if (i < 0) info.databases.push(d);
      else info.databases[i] = d;
    };
    log.info({ jobs: input.jobs, only: input.only?.length ?? null, withServerLevel: input.withServerLevel }, 'whole-server restore started');
    const work = () =>
      restoreServer({
        ...req,
        signal: controller.signal,
        onDatabase: (d) => {
          const database: ServerRestoreDatabaseState = { database: d.database, restoredAs: d.restoredAs, status: d.status, ...(d.error ? { error: d.error } : {}) };
          record(database);
          this.deps.events.emit('restore.serverProgress', { serverRestoreId, database });
        },
      });
    void (this.deps.restoreHistory ? this.deps.restoreHistory.serverRestore(req, work) : work()).then(
      (r) =>
        this.finish(log, {
          serverRestoreId,
          databases: r.databases.map((d) => ({ database: d.database, restoredAs: d.restoredAs, status: d.status, ...(d.error ? { error: d.error } : {}) })),
          serverLevel: r.serverLevel ?? null,
          // Restored but not in History: said beside the restore's own notes (restore-history.ts).
          notes: r.historyError ? [...r.notes, r.historyError.message] : r.notes,
          error: null,
        }),
      (e: unknown) => {
        const f = toFailure(e);
        this.finish(log, { serverRestoreId, databases: [], serverLevel: null, notes: [], error: { code: f.code, message: f.message } });
      },
    );
    return { serverRestoreId };
  }

  /** Stops a whole-server restore: the databases restoring are canceled and cleaned up, the rest not started (all CANCELED). */
  cancel(serverRestoreId: string): boolean {
    const c = this.active.get(serverRestoreId);
    if (!c) return false;
    c.controller.abort();
    return true;
  }

  /** The whole-server restores running now, oldest first, each database with its latest state. */
  running(): ActiveServerRestore[] {
    return [...this.active.values()].map(({ info }) => ({ ...info, databases: info.databases.map((d) => ({ ...d })) }));
  }

  cancelAll(): void {
    for (const c of this.active.values()) c.controller.abort();
  }

  /** Resolves when no whole-server restore is running (before the app database closes). */
  async idle(): Promise<void> {
    while (this.active.size > 0) await new Promise((r) => setTimeout(r, 50));
  }

  private finish(log: Logger, result: ServerRestoreFinished): void {
    this.active.delete(result.serverRestoreId);
    const count = (s: string) => result.databases.filter((d) => d.status === s).length;
    log.info({ ok: count('ok'), failed: count('failed'), skipped: count('skipped'), error: result.error?.code }, 'whole-server restore finished');
    this.deps.events.emit('restore.serverFinished', result);
  }
}
