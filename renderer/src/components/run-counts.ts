/**
 * How a run is counted and named everywhere in the window (task card, live progress,
 * History): databases are counted apart from server-level streams (PostgreSQL's server
 * globals, a whole-cluster snapshot), which are listed by name after them, e.g.
 * "3 ok + Server globals (roles, tablespaces)". One database counts once, whatever the
 * number of destinations (its worst destination status). And the kind a run shows is the
 * kind its databases actually got, with the requested one when they differ; a restore or
 * retention run is named for what it did.
 * Pure functions over the engine's shapes.
 */
import type { ActiveRun, DatabaseProgress, PointKind, Run, RunDatabase, RunKind, TaskStatus } from '@shared/domain.ts';
import { streamDisplayName } from './stream-names';
import { resultsByDatabase } from './run-stats';

type ItemStatus = RunDatabase['status'];

export interface RunCounts {
  /** Databases (not server-level streams) per status. */
  databases: Record<ItemStatus, number>;
  /** Server-level streams, by engine name, with their status. */
  streams: { name: string; status: ItemStatus }[];
}

const NO_COUNTS: Record<ItemStatus, number> = { success: 0, failed: 0, canceled: 0, skipped: 0, running: 0 };

/** Counts a run's history rows: each database once (worst destination), server streams apart. */
export function countRun(rows: readonly RunDatabase[]): RunCounts {
  const databases = { ...NO_COUNTS };
  const streams: RunCounts['streams'] = [];
  for (const r of resultsByDatabase({ databases: rows as RunDatabase[] })) {
    if (r.destinations.some((d) => d.serverStream)) streams.push({ name: r.database, status: r.status });
    else databases[r.status]++;
  }
  return { databases, streams };
}

const STATUS_WORD: Record<ItemStatus, string> = { success: 'ok', failed: 'failed', canceled: 'canceled', skipped: 'skipped', running: 'running' };

/** "3 ok, 1 failed + Server globals (roles, tablespaces)", "Whole cluster failed", "no databases". */
export function describeCounts(c: RunCounts): string {
  const total = Object.values(c.databases).reduce((n, v) => n + v, 0);
  const parts: string[] = [];
  if (total > 0) {
    const dbParts = (Object.keys(STATUS_WORD) as ItemStatus[]).filter((s) => s === 'success' || c.databases[s] > 0).map((s) => `${c.databases[s]} ${STATUS_WORD[s]}`);
    parts.push(dbParts.join(', '));
  }
  for (const s of c.streams) parts.push(s.status === 'success' ? streamDisplayName(s.name) : `${streamDisplayName(s.name)} ${STATUS_WORD[s.status]}`);
  return parts.length > 0 ? parts.join(' + ') : 'no databases';
}

/** The task card's "Last result" text after the badge. */
export function describeLastRun(last: NonNullable<TaskStatus['lastRun']>, when: string): string {
  if (last.status === 'running' || last.status === 'canceling') return `started ${when}`;
  const counts: RunCounts = {
    databases: { ...NO_COUNTS, success: last.databasesOk, failed: last.databasesFailed },
    streams: last.serverStreams ?? [],
  };
  return `${describeCounts(counts)} · ${when}`;
}

/** The live progress headline: "Starting… listing databases" until the run knows what it backs up. */
export function describeProgress(run: ActiveRun): string {
  if (run.databases.length === 0) return run.status === 'canceling' ? 'Canceling before any database started' : 'Starting… listing databases';
  const dbs = run.databases.filter((d) => !d.serverStream);
  const streams = run.databases.filter((d) => d.serverStream);
  const parts: string[] = [];
  if (dbs.length > 0) parts.push(`${dbs.filter((d) => d.phase === 'done').length} of ${dbs.length} database${dbs.length === 1 ? '' : 's'} done`);
  for (const s of streams) parts.push(`${streamDisplayName(s.database)}: ${PHASE_WORD[s.phase]}`);
  return parts.join(' + ');
}

const PHASE_WORD: Record<DatabaseProgress['phase'], string> = { queued: 'waiting', preparing: 'preparing', dumping: 'backing up', uploading: 'uploading', done: 'done' };

/** Percent done of one item, when its size is known (an estimate never shows 100 % before it is done). */
export function progressPercent(p: DatabaseProgress): number | undefined {
  if (p.phase === 'done') return 100;
  if (p.expectedBytes && p.expectedBytes > 0) return Math.min(99, Math.floor((p.bytesRead / p.expectedBytes) * 100));
  return undefined;
}

/** What each kind of run is called in the window (History's filter and each row). */
export const RUN_KIND_LABEL: Record<RunKind, string> = { backup: 'Backup', 'test-restore': 'Test restore', restore: 'Restore', retention: 'Retention' };

/**
 * A restore or retention run: "Restore", "Whole-server restore", "Retention: 3 points
 * deleted"; for backups and test restores, null (their label is the kind they took).
 */
export function runActivityLabel(run: Pick<Run, 'runKind' | 'databases' | 'restore'>): string | null {
  if (run.runKind === 'restore') return run.restore?.scope === 'server' ? 'Whole-server restore' : 'Restore';
  if (run.runKind === 'retention') {
    const n = run.databases.reduce((k, d) => k + (d.deletedPoints?.length ?? 0), 0);
    return `Retention: ${n} point${n === 1 ? '' : 's'} deleted`;
  }
  return null;
}

/**
 * The kind a run took: that of its databases when they all got one kind ("full (incremental
 * requested)" when it differs from the request), else the requested kind with how many
 * databases got the other ("incremental, 1 full"). The requested kind while nothing ran.
 */
export function runKindLabel(run: Pick<Run, 'requestedKind' | 'databases'> & Partial<Pick<Run, 'runKind' | 'restore'>>): string {
  const activity = runActivityLabel(run);
  if (activity !== null) return activity;
  const byDb = new Map<string, Set<PointKind>>();
  for (const d of run.databases) {
    if (d.status !== 'success' && d.status !== 'running') continue;
    const kinds = byDb.get(d.database) ?? new Set<PointKind>();
    kinds.add(d.kind);
    byDb.set(d.database, kinds);
  }
  const taken = { full: 0, incremental: 0 };
  for (const kinds of byDb.values()) taken[kinds.has('full') ? 'full' : 'incremental']++;
  const requested = run.requestedKind;
  const other: PointKind = requested === 'full' ? 'incremental' : 'full';
  if (taken.full + taken.incremental === 0 || taken[other] === 0) return requested;
  if (taken[requested] === 0) return `${other} (${requested} requested)`;
  return `${requested}, ${taken[other]} ${other}`;
}
