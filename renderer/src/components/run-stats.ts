/**
 * History helpers: filtering runs, a run's per-database results, and the chart series.
 * Pure functions over `Run` objects as the engine returns them.
 */
import type { HistoryQuery, Run, RunDatabase, RunKind, RunStatus } from '@shared/domain.ts';

export interface RunFilter {
  taskId: string;
  /** What the run did: a backup, a test restore, a restore, retention ('' = any). */
  kind: RunKind | '';
  database: string;
  status: RunStatus | '';
  /** Inclusive calendar days in local time, "YYYY-MM-DD"; empty = open. */
  from: string;
  to: string;
}

export const EMPTY_FILTER: RunFilter = { taskId: '', kind: '', database: '', status: '', from: '', to: '' };

function localDay(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** Runs matching every set criterion (a run matches a database when it backed that database up). */
export function filterRuns(runs: readonly Run[], f: RunFilter): Run[] {
  return runs.filter((r) => {
    if (f.taskId && r.taskId !== f.taskId) return false;
    if (f.kind && (r.runKind ?? 'backup') !== f.kind) return false;
    if (f.status && r.status !== f.status) return false;
    if (f.database && !r.databases.some((d) => d.database === f.database)) return false;
    const day = localDay(r.startedAt);
    if (f.from && day < f.from) return false;
    if (f.to && day > f.to) return false;
    return true;
  });
}

/** What History asks the engine for: the view's filter, with its local calendar days as instants. */
export type HistoryFilterQuery = Omit<HistoryQuery, 'limit' | 'before' | 'beforeId'> & { before?: string };

/** Local midnight of "YYYY-MM-DD" plus `days`, as an ISO instant; undefined for an empty or unreadable day. */
function localMidnight(day: string, days = 0): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return undefined;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + days);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/**
 * The engine query for a History filter, so a filter searches every run in the database
 * and not only the page already loaded: `from` is the start of that local day, `to` the
 * start of the day after (inclusive day).
 */
export function historyQueryFor(f: RunFilter): HistoryFilterQuery {
  const q: HistoryFilterQuery = {};
  if (f.taskId) q.taskId = f.taskId;
  if (f.kind) q.runKind = f.kind;
  if (f.status) q.status = f.status;
  if (f.database) q.database = f.database;
  const since = f.from ? localMidnight(f.from) : undefined;
  if (since) q.since = since;
  const before = f.to ? localMidnight(f.to, 1) : undefined;
  if (before) q.before = before;
  return q;
}

/**
 * Newest runs fetched again (`head`, a page of `pageSize` or fewer) merged into the runs
 * already loaded: the head replaces what it covers; loaded runs older than the head's oldest
 * are kept (older pages the user opened stay open). A head shorter than a page is everything.
 */
export function mergeNewest(head: readonly Run[], loaded: readonly Run[], pageSize: number): Run[] {
  if (head.length < pageSize) return [...head];
  const oldest = head[head.length - 1]!;
  const seen = new Set(head.map((r) => r.id));
  const older = loaded.filter((r) => !seen.has(r.id) && (r.startedAt < oldest.startedAt || (r.startedAt === oldest.startedAt && r.id > oldest.id)));
  return [...head, ...older];
}

/** Every database name in the runs, sorted. */
export function databasesOf(runs: readonly Run[]): string[] {
  return [...new Set(runs.flatMap((r) => r.databases.map((d) => d.database)))].sort((a, b) => a.localeCompare(b));
}

/** Read ÷ stored, e.g. "12.5×"; "—" when nothing was stored or read. */
export function dedupRatio(read: number, stored: number): string {
  if (!(read > 0) || !(stored > 0)) return '—';
  const r = read / stored;
  return `${r >= 100 ? Math.round(r) : r.toFixed(1)}×`;
}

export function durationMs(startIso: string, endIso: string | null): number | null {
  if (!endIso) return null;
  const ms = new Date(endIso).getTime() - new Date(startIso).getTime();
  return Number.isFinite(ms) && ms >= 0 ? ms : null;
}

export interface DatabaseResult {
  database: string;
  /** One entry per destination, in the order the engine listed them. */
  destinations: RunDatabase[];
  /** Bytes of the dump (the same stream goes to every destination: the largest read). */
  bytesRead: number;
  /** Bytes written, summed over destinations. */
  bytesStored: number;
  status: RunDatabase['status'];
  /** What to know about its points (RunDatabase.warnings): each once, though every destination's row carries it. */
  warnings: string[];
}

const STATUS_RANK: Record<RunDatabase['status'], number> = { failed: 4, canceled: 3, running: 2, skipped: 1, success: 0 };

/** The worst of a database's destination statuses (failed > canceled > running > skipped > success). */
export function worstStatus(rows: readonly Pick<RunDatabase, 'status'>[]): RunDatabase['status'] {
  return rows.reduce<RunDatabase['status']>((w, d) => (STATUS_RANK[d.status] > STATUS_RANK[w] ? d.status : w), 'success');
}

/** A run's results grouped by database (worst destination status wins), sorted by name. */
export function resultsByDatabase(run: Pick<Run, 'databases'>): DatabaseResult[] {
  const map = new Map<string, RunDatabase[]>();
  for (const d of run.databases) {
    const rows = map.get(d.database) ?? [];
    rows.push(d);
    map.set(d.database, rows);
  }
  return [...map.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([database, destinations]) => ({
      database,
      destinations,
      bytesRead: Math.max(0, ...destinations.map((d) => d.bytesRead)),
      bytesStored: destinations.reduce((n, d) => n + d.bytesStored, 0),
      status: worstStatus(destinations),
      warnings: [...new Set(destinations.flatMap((d) => d.warnings ?? []))],
    }));
}

export interface ChartPoint {
  at: string;
  value: number;
}

/** Stored bytes and duration (ms) of one database's successful backups, oldest first. */
export function seriesFor(runs: readonly Run[], database: string): { stored: ChartPoint[]; duration: ChartPoint[] } {
  const stored: ChartPoint[] = [];
  const duration: ChartPoint[] = [];
  const ordered = [...runs].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  for (const run of ordered) {
    if ((run.runKind ?? 'backup') !== 'backup') continue;
    const rows = run.databases.filter((d) => d.database === database && d.status === 'success');
    if (rows.length === 0) continue;
    const at = rows[0]!.startedAt;
    stored.push({ at, value: rows.reduce((n, d) => n + d.bytesStored, 0) });
    const ms = Math.max(...rows.map((d) => durationMs(d.startedAt, d.endedAt) ?? 0));
    duration.push({ at, value: ms });
  }
  return { stored, duration };
}
