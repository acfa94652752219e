/**
 * Run history: one row per run, one per (database, destination) inside it.
 *
 * Contract: a run is inserted as `running` before any work starts and finished exactly
 * once; database rows are appended as each database starts and updated when it ends.
 * Each run records the process that runs it, and a backup run's process marks it alive every
 * minute (`touch`). `closeAbandoned` finishes, as failed (WORKER_CRASHED), the runs still
 * `running`/`canceling` whose process is gone — on this host: its pid no longer runs (kill -9,
 * a crash, power loss); elsewhere (a container with a new hostname every start, a data dir
 * on shared storage): a backup run not marked alive for `STALE_RUN_MS` — and their unfinished
 * database rows; a live process's run is never touched. `runningElsewhere` names the live
 * other process running a task now (the runner refuses a second run beside it).
 */
import { randomUUID } from 'node:crypto';
import type { HistoryQuery, PointKind, RestoreCheck, RestoreRunDetail, Run, RunDatabase, RunKind, RunStatus, RunTrigger, TestRestoreRecord } from '../../shared/domain.ts';
import type { Db } from './app-database.ts';
import { processGone, THIS_PROCESS, type ProcessIdentity } from '../runtime/process-alive.ts';
import { inTransaction } from './app-database-errors.ts';

/** One hook command of a run; `action`: what its outcome did (none when it succeeded). */
export interface HookRecord {
  phase: 'pre' | 'post';
  database: string | null;
  argv: string[];
  status: 'ok' | 'failed' | 'timeout';
  exitCode: number | null;
  action: 'none' | 'fail' | 'skip' | 'warn';
  output: string;
  startedAt: string;
  endedAt: string;
}

interface RunRow {
  id: string;
  task_id: string;
  task_name: string;
  trigger: string;
  requested_kind: string;
  status: string;
  started_at: string;
  ended_at: string | null;
  error_code: string | null;
  error_message: string | null;
  key_fingerprint: string | null;
  run_kind: string;
  detail: string | null;
}
interface DbRow {
  run_id: string;
  seq: number;
  database: string;
  destination: string;
  kind: string;
  kind_reason: string | null;
  status: string;
  point_id: string | null;
  bytes_read: number;
  bytes_stored: number;
  started_at: string;
  ended_at: string | null;
  error_code: string | null;
  error_message: string | null;
  server_stream: number;
  checks: string | null;
  duration_ms: number | null;
  detail: string | null;
}

/** A row's kind-specific facts, stored as JSON in run_databases.detail. */
type RowDetail = Pick<RunDatabase, 'restoredAs' | 'deletedPoints' | 'bytesFreed' | 'keptInUse' | 'warnings'>;

export interface NewRun {
  taskId: string;
  taskName: string;
  trigger: RunTrigger;
  requestedKind: PointKind;
  startedAt: string;
  /** The fingerprint of the key the run encrypts with, or null. */
  keyFingerprint?: string | null;
  /** Default 'backup'. */
  runKind?: RunKind;
  /** Restores: where from, into what, started by what (secret-free by contract). */
  restore?: RestoreRunDetail;
}

export type DatabaseOutcome = Pick<
  RunDatabase,
  'kind' | 'kindReason' | 'status' | 'pointId' | 'bytesRead' | 'bytesStored' | 'endedAt' | 'errorCode' | 'errorMessage'
> & Pick<RunDatabase, 'checks' | 'durationMs' | 'restoredAs' | 'deletedPoints' | 'bytesFreed' | 'keptInUse' | 'warnings'>;

function rowDetail(o: RowDetail): string | null {
  const d: RowDetail = {
    ...(o.restoredAs !== undefined ? { restoredAs: o.restoredAs } : {}),
    ...(o.deletedPoints !== undefined ? { deletedPoints: o.deletedPoints } : {}),
    ...(o.bytesFreed !== undefined ? { bytesFreed: o.bytesFreed } : {}),
    ...(o.keptInUse !== undefined && o.keptInUse.length > 0 ? { keptInUse: o.keptInUse } : {}),
    ...(o.warnings !== undefined && o.warnings.length > 0 ? { warnings: o.warnings } : {}),
  };
  return Object.keys(d).length > 0 ? JSON.stringify(d) : null;
}

/** How often a backup run's process marks it alive, and after how long without a mark a run of a process on another host counts as abandoned. */
export const HEARTBEAT_MS = 60_000;
export const STALE_RUN_MS = 10 * 60_000;

interface OpenRunRow {
  started_at: string;
  run_kind: string;
  owner: string | null;
  alive_at: string | null;
}

function ownerOf(r: OpenRunRow): ProcessIdentity | null {
  try {
    return r.owner === null ? null : (JSON.parse(r.owner) as ProcessIdentity);
  } catch {
    return null;
  }
}

/** Whether the process of an open run is gone (see the contract). */
function abandoned(r: OpenRunRow, nowMs: number): boolean {
  const owner = ownerOf(r);
  if (!owner) return true; // recorded before runs named their process (schema 13), or unreadable
  if (owner.host === THIS_PROCESS.host) return processGone(owner);
  return r.run_kind === 'backup' && nowMs - Date.parse(r.alive_at ?? r.started_at) > STALE_RUN_MS;
}

/** An open run whose process is gone, as `closeAbandoned` finds it. */
export interface AbandonedRun {
  id: string;
  taskId: string;
  taskName: string;
  trigger: RunTrigger;
  requestedKind: PointKind;
  runKind: RunKind;
  startedAt: string;
}
/** A run `closeAbandoned` closed, with the message History now shows for it. */
export type ClosedRun = AbandonedRun & { message: string };

export class HistoryTable {
  constructor(private readonly db: Db) {}

  startRun(run: NewRun, id: string = randomUUID()): string {
    this.db
      .prepare('INSERT INTO runs (id, task_id, task_name, trigger, requested_kind, status, started_at, key_fingerprint, run_kind, detail, owner, alive_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(
        id,
        run.taskId,
        run.taskName,
        run.trigger,
        run.requestedKind,
        'running',
        run.startedAt,
        run.keyFingerprint ?? null,
        run.runKind ?? 'backup',
        run.restore ? JSON.stringify(run.restore) : null,
        JSON.stringify(THIS_PROCESS),
        run.startedAt,
      );
    return id;
  }

  /** Marks the runs alive at `at` (their process does it every HEARTBEAT_MS while they go). */
  touch(runIds: readonly string[], at: string): void {
    const stmt = this.db.prepare('UPDATE runs SET alive_at = ? WHERE id = ?');
    for (const id of runIds) stmt.run(at, id);
  }

  /** A run of the task (backups only) that another live Backstop process runs now: its start and process, or null. */
  runningElsewhere(taskId: string, now: Date): { startedAt: string; owner: ProcessIdentity } | null {
    const open = this.db
      .prepare("SELECT started_at, owner, alive_at, run_kind FROM runs WHERE task_id = ? AND run_kind = 'backup' AND status IN ('running', 'canceling') ORDER BY started_at DESC")
      .all(taskId) as OpenRunRow[];
    for (const r of open) {
      const owner = ownerOf(r);
      if (owner && owner.token !== THIS_PROCESS.token && !abandoned(r, now.getTime())) return { startedAt: r.started_at, owner };
    }
    return null;
  }

  /**
   * Closes the runs a process that is gone left `running` or `canceling` (and their unfinished
   * database rows) as failed, WORKER_CRASHED, ended at `endedAt`. `next` may say what happens
   * next for a run (else the default: a backup is not re-run by itself). Returns what it closed.
   */
  closeAbandoned(endedAt: string, next: (r: AbandonedRun) => string | null = () => null): ClosedRun[] {
    const open = this.db
      .prepare("SELECT id, task_id, task_name, trigger, requested_kind, started_at, run_kind, owner, alive_at FROM runs WHERE status IN ('running', 'canceling')")
      .all() as (OpenRunRow & { id: string; task_id: string; task_name: string; trigger: string; requested_kind: string })[];
    const gone = open.filter((r) => abandoned(r, Date.parse(endedAt)));
    if (gone.length === 0) return [];
    const again = (kind: string) =>
      kind === 'backup'
        ? "It is not re-run by itself: the task's next run (its next scheduled slot, or Run now) takes what it missed."
        : kind === 'retention'
          ? "The task's next run applies retention again."
          : kind === 'restore'
            ? 'A database it was creating may be left half-restored on the target server: run the same restore again (same backup, same new name), which drops the copy it left first, or drop that database.'
            : 'Start it again when ready.';
    const what = (kind: string) => (kind === 'restore' ? 'restore' : kind === 'test-restore' ? 'test restore' : kind === 'retention' ? 'retention clean-up' : 'backup run');
    const closeRun = this.db.prepare("UPDATE runs SET status = 'failed', ended_at = ?, error_code = 'WORKER_CRASHED', error_message = ? WHERE id = ? AND status IN ('running', 'canceling')");
    const closeRows = this.db.prepare("UPDATE run_databases SET status = 'failed', ended_at = ?, error_code = 'WORKER_CRASHED', error_message = ? WHERE run_id = ? AND status = 'running'");
    const closed: ClosedRun[] = [];
    inTransaction(this.db, () => {
      for (const r of gone) {
        const run: AbandonedRun = { id: r.id, taskId: r.task_id, taskName: r.task_name, trigger: r.trigger as RunTrigger, requestedKind: r.requested_kind as PointKind, runKind: r.run_kind as RunKind, startedAt: r.started_at };
        const message = `The Backstop process running this ${what(r.run_kind)} stopped before it finished (killed, crashed, or the machine lost power or was shut down); found when Backstop next started. Nothing it was still writing was committed, and what it left is cleaned up by a later run; the points it finished are kept. ${next(run) ?? again(r.run_kind)}`;
        if (closeRun.run(endedAt, message, r.id).changes === 0) continue;
        closeRows.run(endedAt, 'Not finished: the Backstop process running it stopped. Nothing it was writing was committed.', r.id);
        closed.push({ ...run, message });
      }
    });
    return closed;
  }

  finishRun(id: string, status: RunStatus, endedAt: string, error?: { code: string; message: string }): void {
    this.db
      .prepare('UPDATE runs SET status = ?, ended_at = ?, error_code = ?, error_message = ? WHERE id = ?')
      .run(status, endedAt, error?.code ?? null, error?.message ?? null, id);
  }

  /** Appends a database row in state `running`; returns its sequence number within the run. */
  startDatabase(runId: string, d: Pick<RunDatabase, 'database' | 'destination' | 'kind' | 'kindReason' | 'startedAt' | 'serverStream'>): number {
    const seq = (this.db.prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM run_databases WHERE run_id = ?').get(runId) as { n: number }).n;
    this.db
      .prepare(
        'INSERT INTO run_databases (run_id, seq, database, destination, kind, kind_reason, status, started_at, server_stream) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(runId, seq, d.database, d.destination, d.kind, d.kindReason, 'running', d.startedAt, d.serverStream ? 1 : 0);
    return seq;
  }

  finishDatabase(runId: string, seq: number, o: DatabaseOutcome): void {
    this.db
      .prepare(
        'UPDATE run_databases SET kind = ?, kind_reason = ?, status = ?, point_id = ?, bytes_read = ?, bytes_stored = ?, ended_at = ?, error_code = ?, error_message = ?, checks = ?, duration_ms = ?, detail = ? WHERE run_id = ? AND seq = ?',
      )
      .run(o.kind, o.kindReason, o.status, o.pointId, o.bytesRead, o.bytesStored, o.endedAt, o.errorCode, o.errorMessage, o.checks ? JSON.stringify(o.checks) : null, o.durationMs ?? null, rowDetail(o), runId, seq);
  }

  /** When the last point of `database` that the task stored at `destination` in another run than `exceptRun` was taken (ISO), or null (the last recorded, whatever the clock said). */
  lastPointAt(taskId: string, database: string, destination: string, exceptRun: string): string | null {
    const row = this.db
      .prepare(
        "SELECT rd.ended_at AS at FROM run_databases rd JOIN runs r ON r.id = rd.run_id WHERE r.task_id = ? AND r.run_kind = 'backup' AND rd.database = ? AND rd.destination = ? AND rd.status = 'success' AND rd.point_id IS NOT NULL AND rd.run_id <> ? ORDER BY r.rowid DESC, rd.seq DESC LIMIT 1",
      )
      .get(taskId, database, destination, exceptRun) as { at: string | null } | undefined;
    return row?.at ?? null;
  }

  /**
   * The points this task wrote for `database` at `destination` after the run that wrote `pointId` (successful rows
   * only, newest first, at most `limit`), and how many there are; none when this task never wrote `pointId` there.
   */
  writtenAfter(taskId: string, database: string, destination: string, pointId: string, exceptRun: string, limit = 3): { points: { pointId: string; at: string }[]; count: number } {
    // Found by the point's id (indexed); a task's runs never overlap, so later points come from runs started later:
    // recorded later (the runs' rowid), not dated later — a clock set back between two runs dates the later one earlier.
    const writer = this.db
      .prepare(
        "SELECT r.rowid AS recorded FROM run_databases rd JOIN runs r ON r.id = rd.run_id WHERE rd.point_id = ? AND r.task_id = ? AND r.run_kind = 'backup' AND rd.database = ? AND rd.destination = ? AND rd.status = 'success' ORDER BY r.rowid DESC LIMIT 1",
      )
      .get(pointId, taskId, database, destination) as { recorded: number } | undefined;
    if (!writer) return { points: [], count: 0 };
    const where = `FROM runs r JOIN run_databases rd ON rd.run_id = r.id
      WHERE r.task_id = ? AND r.run_kind = 'backup' AND r.rowid > ? AND r.id <> ? AND rd.database = ? AND rd.destination = ? AND rd.status = 'success' AND rd.point_id IS NOT NULL AND rd.point_id <> ?`;
    const args = [taskId, writer.recorded, exceptRun, database, destination, pointId];
    const count = (this.db.prepare(`SELECT COUNT(*) AS n ${where}`).get(...args) as { n: number }).n;
    if (count === 0) return { points: [], count: 0 };
    const points = this.db.prepare(`SELECT rd.point_id AS pointId, rd.ended_at AS at ${where} ORDER BY r.rowid DESC, rd.seq DESC LIMIT ?`).all(...args, limit) as { pointId: string; at: string }[];
    return { points, count };
  }

  /** Records one hook command of a run (its argv and captured output; no secrets by contract). */
  recordHook(runId: string, h: HookRecord): void {
    const seq = (this.db.prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM run_hooks WHERE run_id = ?').get(runId) as { n: number }).n;
    this.db
      .prepare('INSERT INTO run_hooks (run_id, seq, phase, database, argv, status, exit_code, action, output, started_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(runId, seq, h.phase, h.database, JSON.stringify(h.argv), h.status, h.exitCode, h.action, h.output, h.startedAt, h.endedAt);
  }

  /** The hook commands a run ran, in the order they ended. */
  hooks(runId: string): HookRecord[] {
    const rows = this.db.prepare('SELECT * FROM run_hooks WHERE run_id = ? ORDER BY seq').all(runId) as {
      phase: HookRecord['phase'];
      database: string | null;
      argv: string;
      status: HookRecord['status'];
      exit_code: number | null;
      action: HookRecord['action'];
      output: string;
      started_at: string;
      ended_at: string;
    }[];
    return rows.map((r) => ({ phase: r.phase, database: r.database, argv: JSON.parse(r.argv) as string[], status: r.status, exitCode: r.exit_code, action: r.action, output: r.output, startedAt: r.started_at, endedAt: r.ended_at }));
  }

  wroteTo(taskId: string, destination: string): boolean {
    return (
      this.db
        .prepare(`SELECT 1 FROM run_databases d JOIN runs r ON r.id = d.run_id WHERE r.task_id = ? AND d.destination = ? AND d.status = 'success' LIMIT 1`)
        .get(taskId, destination) !== undefined
    );
  }

  /** The newest finished test restore of each database of a task, newest first. */
  lastTestRestores(taskId: string): TestRestoreRecord[] {
    const rows = this.db
      .prepare(
        `SELECT d.database, d.status, d.ended_at, d.duration_ms FROM run_databases d JOIN runs r ON r.id = d.run_id
         WHERE r.task_id = ? AND r.run_kind = 'test-restore' AND d.ended_at IS NOT NULL AND d.status IN ('success', 'failed')
         ORDER BY d.ended_at DESC, d.seq DESC`,
      )
      .all(taskId) as { database: string; status: string; ended_at: string; duration_ms: number | null }[];
    const seen = new Set<string>();
    const out: TestRestoreRecord[] = [];
    for (const r of rows) {
      if (seen.has(r.database)) continue;
      seen.add(r.database);
      out.push({ database: r.database, ok: r.status === 'success', at: r.ended_at, durationMs: r.duration_ms });
    }
    return out;
  }

  /** The task's newest finished test restore run that failed with a run-level error (none of its databases tried), if it is newer than every database a test restore tried. */
  lastTestRestoreRunFailure(taskId: string): { at: string; code: string; message: string } | null {
    const r = this.db
      .prepare(
        `SELECT r.ended_at, r.status, r.error_code, r.error_message, (SELECT count(*) FROM run_databases d WHERE d.run_id = r.id) AS tried FROM runs r
         WHERE r.task_id = ? AND r.run_kind = 'test-restore' AND r.ended_at IS NOT NULL AND r.status NOT IN ('running', 'canceling', 'canceled')
         ORDER BY r.ended_at DESC LIMIT 1`,
      )
      .get(taskId) as { ended_at: string; status: string; error_code: string | null; error_message: string | null; tried: number } | undefined;
    if (!r || r.status !== 'failed' || r.tried > 0 || r.error_code === null) return null;
    return { at: r.ended_at, code: r.error_code, message: r.error_message ?? '' };
  }

  /** Bytes written by the task's successful database backups (compressed, deduplicated). */
  storedBytes(taskId: string): number {
    const row = this.db
      .prepare(
        `SELECT COALESCE(SUM(d.bytes_stored), 0) AS n FROM run_databases d JOIN runs r ON r.id = d.run_id WHERE r.task_id = ? AND d.status = 'success'`,
      )
      .get(taskId) as { n: number };
    return row.n;
  }

  /** Per destination (its destinationId): the most that one backup run of the task stored there — what its next run may need. */
  largestRunStored(taskId: string): Map<string, number> {
    const rows = this.db
      .prepare(
        `SELECT destination, MAX(bytes) AS bytes FROM (
           SELECT d.run_id, d.destination, SUM(d.bytes_stored) AS bytes FROM run_databases d JOIN runs r ON r.id = d.run_id
           WHERE r.task_id = ? AND r.run_kind = 'backup' AND d.status = 'success' GROUP BY d.run_id, d.destination
         ) GROUP BY destination`,
      )
      .all(taskId) as { destination: string; bytes: number }[];
    return new Map(rows.map((r) => [r.destination, r.bytes]));
  }

  /** Per task and database: bytes its successful backups stored and how many runs backed it up (server-level streams left out). */
  storedByDatabase(): { taskId: string; database: string; bytes: number; points: number }[] {
    return this.db
      .prepare(
        `SELECT r.task_id AS taskId, d.database AS database, COALESCE(SUM(d.bytes_stored), 0) AS bytes, COUNT(DISTINCT d.run_id) AS points
         FROM run_databases d JOIN runs r ON r.id = d.run_id
         WHERE d.status = 'success' AND r.run_kind = 'backup' AND d.server_stream = 0
         GROUP BY r.task_id, d.database`,
      )
      .all() as { taskId: string; database: string; bytes: number; points: number }[];
  }

  /** `notKinds` (engine callers only): leave runs of these kinds out (a task's last run is its last backup or test restore, not the retention after it). */
  list(q: HistoryQuery & { notKinds?: RunKind[] }): Run[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.taskId) {
      where.push('task_id = ?');
      args.push(q.taskId);
    }
    if (q.before && q.beforeId) {
      where.push('(started_at < ? OR (started_at = ? AND id > ?))');
      args.push(q.before, q.before, q.beforeId);
    } else if (q.before) {
      where.push('started_at < ?');
      args.push(q.before);
    }
    if (q.since) {
      where.push('started_at >= ?');
      args.push(q.since);
    }
    if (q.status) {
      where.push('status = ?');
      args.push(q.status);
    }
    if (q.database) {
      where.push('EXISTS (SELECT 1 FROM run_databases d WHERE d.run_id = runs.id AND d.database = ?)');
      args.push(q.database);
    }
    if (q.runKind) {
      where.push('run_kind = ?');
      args.push(q.runKind);
    }
    if (q.notKinds?.length) {
      where.push(`run_kind NOT IN (${q.notKinds.map(() => '?').join(',')})`);
      args.push(...q.notKinds);
    }
    const sql = `SELECT * FROM runs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY started_at DESC, id LIMIT ?`;
    const runs = this.db.prepare(sql).all(...args, q.limit) as RunRow[];
    if (runs.length === 0) return [];
    const dbRows = this.db
      .prepare(`SELECT * FROM run_databases WHERE run_id IN (${runs.map(() => '?').join(',')}) ORDER BY run_id, seq`)
      .all(...runs.map((r) => r.id)) as DbRow[];
    const byRun = new Map<string, RunDatabase[]>();
    for (const d of dbRows) {
      const list = byRun.get(d.run_id) ?? [];
      list.push({
        database: d.database,
        destination: d.destination,
        kind: d.kind as PointKind,
        kindReason: d.kind_reason,
        status: d.status as RunDatabase['status'],
        pointId: d.point_id,
        bytesRead: d.bytes_read,
        bytesStored: d.bytes_stored,
        startedAt: d.started_at,
        endedAt: d.ended_at,
        errorCode: d.error_code,
        errorMessage: d.error_message,
        serverStream: d.server_stream === 1,
        ...(d.checks !== null ? { checks: JSON.parse(d.checks) as RestoreCheck[] } : {}),
        ...(d.duration_ms !== null ? { durationMs: d.duration_ms } : {}),
        ...(d.detail !== null ? (JSON.parse(d.detail) as RowDetail) : {}),
      });
      byRun.set(d.run_id, list);
    }
    return runs.map((r) => ({
      id: r.id,
      taskId: r.task_id,
      taskName: r.task_name,
      trigger: r.trigger as RunTrigger,
      requestedKind: r.requested_kind as PointKind,
      status: r.status as RunStatus,
      startedAt: r.started_at,
      endedAt: r.ended_at,
      errorCode: r.error_code,
      errorMessage: r.error_message,
      keyFingerprint: r.key_fingerprint,
      databases: byRun.get(r.id) ?? [],
      ...(r.run_kind !== 'backup' ? { runKind: r.run_kind as RunKind } : {}),
      ...(r.detail !== null ? { restore: JSON.parse(r.detail) as RestoreRunDetail } : {}),
    }));
  }
}
