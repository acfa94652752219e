/**
 * Restores as History runs (issue #24 item 5): the one place a restore is recorded, whoever
 * started it (the window, `backstop restore`, `backstop restore-server`, `backstop serve`).
 * Callers hand the restore's work to `restore` (one database, or a cluster into a folder)
 * or `serverRestore` (every database of a destination root) instead of recording anything.
 *
 * Contract:
 * - A run of kind 'restore' is inserted as `running` before the work starts and finished
 *   exactly once: `success` (every database restored or already there), `partial` (a
 *   whole-server restore where some failed or its server level failed: serverRestoreStatus,
 *   the same word `restore-server --json` leads with), `failed` (the error's code and message, also on
 *   the database row) or `canceled`. The work's error is rethrown unchanged.
 * - Recorded facts are secret-free: the source is the backup folder's place text (a path
 *   or URL; credentials live apart and any `user:password@` or query string is cut), the
 *   target server by name, kind and host (never its password), the new database name, the
 *   point or moment, the bytes restored when known, and the origin (app / cli / agent).
 * - Recording never fails a restore: a History write that throws is logged and the restore
 *   goes on (its result is what the caller sees). A restore that succeeded but that History
 *   could not record carries `historyError` (code of the write's failure; message starting
 *   "History could not record this restore:", naming the cause, that the restore itself
 *   finished, and what History shows instead), so its caller says so instead of passing for
 *   recorded (`backstop restore` exits 1, the window shows it as a note).
 */
import { placeText } from '../../shared/location-text.ts';
import type { BackupLocation, PointKind, RestoreRunDetail, RunOrigin, Server } from '../../shared/domain.ts';
import { toFailure, type ErrorCode } from '../../shared/result.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { Logger } from '../logging/index.ts';
import type { HistoryTable } from '../store/index.ts';
import type { Claim, OwnLeftovers } from './own-leftovers.ts';
import type { RestoreJobSpec, RestoreOutcome } from './run-restore.ts';
import { serverRestoreStatus, type ServerRestoreResult } from './restore-server.ts';

/** The pseudo task every restore run is filed under (a restore need not come from a task). */
export const RESTORE_RUNS = { taskId: 'restores', taskName: 'Restores' } as const;

export interface RestoreHistoryDeps {
  history: HistoryTable;
  events: EventBus;
  logger: Logger;
  now: () => Date;
  /** Which kind of process this engine runs in. */
  origin: RunOrigin;
  /** Records a one-database restore's target name, and drops its own half-restored copy on a re-run (own-leftovers.ts). */
  leftovers?: OwnLeftovers;
}

/** A backup place as text for History: no user info (`user:pass@`), no query string (SAS tokens, signatures). */
export function sourceText(location: BackupLocation): string {
  return placeText(location)
    .replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, (_m, scheme: string) => scheme)
    .replace(/\?.*$/, '');
}

function serverOf(server: Server | null): RestoreRunDetail['server'] {
  if (!server) return null;
  return { name: server.name, kind: server.kind, host: 'host' in server ? server.host : null };
}

/** A History write that failed: its error's code and message. */
type WriteFailure = { code: ErrorCode; message: string };

const writeFailure = (e: unknown): WriteFailure => {
  const f = toFailure(e);
  return { code: f.code, message: f.message };
};

/**
 * What a restore whose work ended says when History could not record it (`historyError`): the
 * cause (the first write that failed), that the work is done (`done`), what History shows
 * instead (no run when its start failed, else a run still `running`), and `more`; null when
 * nothing failed.
 */
function unrecorded(notStarted: WriteFailure | null, notEnded: WriteFailure | null, done: string, more: WriteFailure | null = null, moreText = ''): WriteFailure | null {
  const lost = notStarted ?? notEnded ?? more;
  if (!lost) return null;
  const shows = notStarted
    ? 'History does not list it.'
    : notEnded
      ? 'History lists it as still running, and a later Backstop command records it as failed (WORKER_CRASHED): it did not fail.'
      : 'History recorded it.';
  return { code: lost.code, message: `History could not record this restore: ${lost.message} The restore itself finished: ${done}. ${shows}${more ? ` ${moreText}` : ''}` };
}

interface Row {
  database: string;
  restoredAs: string | null;
  pointId: string | null;
  kind: PointKind;
  bytes: number;
  status: 'success' | 'failed' | 'skipped' | 'canceled';
  error: { code: string; message: string } | null;
}

export class RestoreHistory {
  constructor(private readonly deps: RestoreHistoryDeps) {}

  /** Records one restore (a database into a server, or a cluster into a folder) around `work`. */
  async restore<T extends RestoreOutcome>(spec: RestoreJobSpec, work: () => Promise<T>): Promise<T> {
    const detail: RestoreRunDetail = {
      origin: this.deps.origin,
      scope: 'database',
      source: sourceText(spec.location),
      point: spec.asOf ? null : spec.pointId,
      asOf: spec.asOf ?? null,
      server: serverOf(spec.server),
      folder: spec.options.folder ?? null,
    };
    const database = spec.sourceDatabase ?? spec.database;
    const { runId, failure } = this.start(detail, database);
    const started = this.deps.now();
    let claim: Claim | null = null;
    try {
      claim = (await this.deps.leftovers?.claim(spec)) ?? null;
      const out = await work();
      const notForgotten = this.settle(claim);
      if (claim?.note) out.notes = [claim.note, ...out.notes];
      const restoredAs = out.path && !spec.server ? out.path : out.database;
      const notEnded = this.end(runId, detail, started, [
        { database, restoredAs, pointId: out.pointId ?? (spec.asOf ? null : spec.pointId), kind: out.kind ?? 'full', bytes: out.bytes ?? 0, status: 'success', error: null },
      ]);
      const historyError = unrecorded(
        failure,
        notEnded,
        spec.server ? `"${out.database}" was restored${out.path ? ` (${out.path})` : ''}` : `the cluster was restored into ${restoredAs}`,
        notForgotten,
        `The restore journal still holds "${out.database}" as being restored: a later restore of this backup under that name would drop it as a half-restored copy, so give such a restore another name.`,
      );
      if (historyError) out.historyError = historyError;
      return out;
    } catch (e) {
      await claim?.failed(e);
      const f = toFailure(e);
      // The message says "Details are in the Backstop log": here they are (a job's stack comes as its cause).
      if (f.code === 'INTERNAL') this.deps.logger.error({ err: e, runId, database }, 'restore failed unexpectedly');
      const status = f.code === 'CANCELED' ? 'canceled' : 'failed';
      this.end(runId, detail, started, [{ database, restoredAs: spec.database || spec.options.folder || null, pointId: spec.asOf ? null : spec.pointId, kind: 'full', bytes: 0, status, error: { code: f.code, message: f.message } }], { code: f.code, message: f.message });
      throw e;
    }
  }

  /** Records a whole-server restore (every database of a destination root) around `work`. */
  async serverRestore(req: { root: BackupLocation; server: Server; asOf?: Date | undefined }, work: () => Promise<ServerRestoreResult>): Promise<ServerRestoreResult> {
    const detail: RestoreRunDetail = {
      origin: this.deps.origin,
      scope: 'server',
      source: sourceText(req.root),
      point: req.asOf ? null : 'latest',
      asOf: req.asOf ? req.asOf.toISOString() : null,
      server: serverOf(req.server),
      folder: null,
    };
    const { runId, failure } = this.start(detail, null);
    const started = this.deps.now();
    try {
      const r = await work();
      const rows: Row[] = r.databases.map((d) => ({
        database: d.database,
        restoredAs: d.restoredAs,
        pointId: d.point?.id ?? null,
        kind: 'full',
        bytes: d.status === 'ok' ? (d.point?.bytes ?? 0) : 0,
        status: d.status === 'ok' ? 'success' : d.status === 'skipped' ? 'skipped' : d.error?.code === 'CANCELED' ? 'canceled' : 'failed',
        error: d.error ?? null,
      }));
      // Stopped (Cancel, Ctrl-C, systemd stop) is what History says of a run whose restores were canceled, not "failed".
      const notEnded = this.end(runId, detail, started, rows, undefined, rows.some((row) => row.status === 'canceled') ? 'canceled' : serverRestoreStatus(r));
      const restored = rows.filter((row) => row.status === 'success').length;
      const historyError = unrecorded(failure, notEnded, `${restored} database${restored === 1 ? '' : 's'} restored, as listed`);
      if (historyError) r.historyError = historyError;
      return r;
    } catch (e) {
      const f = toFailure(e);
      if (f.code === 'INTERNAL') this.deps.logger.error({ err: e, runId }, 'restore failed unexpectedly');
      this.end(runId, detail, started, [], { code: f.code, message: f.message }, f.code === 'CANCELED' ? 'canceled' : 'failed');
      throw e;
    }
  }

  /** Forgets a succeeded restore's journal record; a write that fails is logged and returned, never failing the restore that is done. */
  private settle(claim: Claim | null): WriteFailure | null {
    try {
      claim?.succeeded();
      return null;
    } catch (e) {
      this.deps.logger.error({ err: e }, 'the restore journal could not forget a finished restore');
      return writeFailure(e);
    }
  }

  /** Inserts the run (`running`); a write that fails is logged and returned as `failure` (runId null). */
  private start(detail: RestoreRunDetail, database: string | null): { runId: string | null; failure: WriteFailure | null } {
    try {
      const runId = this.deps.history.startRun({
        ...RESTORE_RUNS,
        trigger: detail.origin === 'cli' ? 'cli' : 'manual',
        requestedKind: 'full',
        startedAt: this.deps.now().toISOString(),
        runKind: 'restore',
        restore: detail,
      });
      this.deps.events.emit('history.changed', { runId, taskId: RESTORE_RUNS.taskId });
      return { runId, failure: null };
    } catch (e) {
      this.deps.logger.error({ err: e, database }, 'the restore could not be recorded in history');
      return { runId: null, failure: writeFailure(e) };
    }
  }

  /** Writes the run's database rows and its end; a write that fails is logged and returned (null when all were written or there was no run). */
  private end(runId: string | null, detail: RestoreRunDetail, started: Date, rows: Row[], error?: { code: string; message: string }, runStatus?: 'success' | 'partial' | 'failed' | 'canceled'): WriteFailure | null {
    if (runId === null) return null;
    try {
      const { history } = this.deps;
      const at = this.deps.now().toISOString();
      for (const r of rows) {
        const seq = history.startDatabase(runId, { database: r.database, destination: detail.source, kind: r.kind, kindReason: null, startedAt: started.toISOString() });
        history.finishDatabase(runId, seq, {
          kind: r.kind,
          kindReason: null,
          status: r.status,
          pointId: r.pointId,
          bytesRead: r.bytes,
          bytesStored: 0,
          endedAt: at,
          errorCode: r.error?.code ?? null,
          errorMessage: r.error?.message ?? null,
          durationMs: this.deps.now().getTime() - started.getTime(),
          restoredAs: r.restoredAs,
        });
      }
      const failed = rows.filter((r) => r.status === 'failed' || r.status === 'canceled').length;
      let status: 'success' | 'partial' | 'failed' | 'canceled';
      if (runStatus) status = runStatus;
      else if (error) status = error.code === 'CANCELED' ? 'canceled' : 'failed';
      else if (failed === 0) status = 'success';
      else status = failed === rows.length ? 'failed' : 'partial';
      history.finishRun(runId, status, at, error);
      this.deps.events.emit('history.changed', { runId, taskId: RESTORE_RUNS.taskId });
      return null;
    } catch (e) {
      this.deps.logger.error({ err: e, runId }, 'the restore could not be recorded in history');
      return writeFailure(e);
    }
  }
}
