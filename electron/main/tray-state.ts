/**
 * What the tray shows, as pure functions of what the engine reports (no electron import).
 *
 * Contract:
 * - `trayStatus` picks the icon state and its tooltip. Precedence: running (any active
 *   run) > error (the last run of an enabled task failed or partly failed) > warning
 *   (stale databases, an encryption key never exported, a replication slot holding back
 *   WAL on its server, schedules paused) > idle. Disabled tasks never raise error or
 *   warning — except a slot holding back WAL, which fills the server's disk all the same. Tooltips are one line of at most
 *   TOOLTIP_MAX characters (the Windows limit).
 * - `lastResultLines` is one line per task, in the order given:
 *   "nightly — ok 12, failed 1 (2 h ago)".
 * Who calls: main/tray-monitor.ts on every refresh and (throttled) progress event.
 */
import type { ActiveRun, DatabaseProgress, TaskStatus } from '../shared/domain.ts';
import { formatBytes } from '../shared/format-bytes.ts';
import { plural } from '../shared/plural.ts';
import type { TrayState } from './tray.ts';

export const TOOLTIP_MAX = 127;

/** The slice of a task the tray needs. */
export interface TrayTask {
  id: string;
  name: string;
  enabled: boolean;
}

export interface TrayInputs {
  activeRuns: readonly ActiveRun[];
  statuses: readonly TaskStatus[];
  tasks: readonly TrayTask[];
  paused: boolean;
}

export interface TrayStatus {
  state: TrayState;
  tooltip: string;
}

export function trayStatus({ activeRuns, statuses, tasks, paused }: TrayInputs): TrayStatus {
  if (activeRuns.length > 0) return { state: 'running', tooltip: clip(runningTooltip(activeRuns)) };

  const byId = new Map(tasks.map((t) => [t.id, t]));
  const name = (taskId: string): string => byId.get(taskId)?.name ?? taskId;
  // A status without a known task (list not loaded yet) still counts.
  const relevant = statuses.filter((s) => byId.get(s.taskId)?.enabled !== false);

  const failed = relevant.filter((s) => s.lastRun && (s.lastRun.status === 'failed' || s.lastRun.status === 'partial'));
  if (failed.length === 1) {
    const { lastRun } = failed[0]!;
    const what = lastRun!.databasesFailed > 0 ? ` (${plural(lastRun!.databasesFailed, 'database')} failed)` : '';
    return { state: 'error', tooltip: clip(`Backstop — last backup of ${name(failed[0]!.taskId)} failed${what}`) };
  }
  if (failed.length > 1) {
    return { state: 'error', tooltip: clip(`Backstop — last backup failed for ${failed.length} tasks: ${failed.map((s) => name(s.taskId)).join(', ')}`) };
  }

  const warnings: string[] = [];
  const stale = relevant.flatMap((s) => s.staleDatabases);
  if (stale.length === 1) warnings.push(`${stale[0]} not backed up recently`);
  else if (stale.length > 1) warnings.push(`${stale.length} databases not backed up recently`);
  const keyTasks = relevant.filter((s) => s.keyNotExported).map((s) => name(s.taskId));
  if (keyTasks.length === 1) warnings.push(`key of ${keyTasks[0]} never exported`);
  else if (keyTasks.length > 1) warnings.push(`keys of ${keyTasks.length} tasks never exported`);
  const slotTasks = statuses.filter((s) => s.slot?.warning).map((s) => name(s.taskId));
  if (slotTasks.length === 1) warnings.push(`${slotTasks[0]} holds back WAL on its server: run it or delete it`);
  else if (slotTasks.length > 1) warnings.push(`${slotTasks.length} tasks hold back WAL on their servers: run or delete them`);
  if (paused) warnings.push('schedules paused');
  if (warnings.length) return { state: 'warning', tooltip: clip(`Backstop — ${warnings.join('; ')}`) };

  return { state: 'idle', tooltip: 'Backstop — all backups up to date' };
}

function runningTooltip(runs: readonly ActiveRun[]): string {
  if (runs.every((r) => r.status === 'canceling')) {
    return runs.length === 1 ? `Canceling ${runs[0]!.taskName}…` : `Canceling ${runs.length} backups…`;
  }
  const dbs = runs.flatMap((r) => r.databases);
  const active = dbs.filter((d) => d.phase === 'preparing' || d.phase === 'dumping' || d.phase === 'uploading');
  const queued = dbs.filter((d) => d.phase === 'queued').length;
  if (active.length === 0) {
    return runs.length === 1 ? `Starting backup of ${runs[0]!.taskName}` : `Starting ${runs.length} backups`;
  }
  const lead = active.find((d) => d.phase === 'dumping' && d.expectedBytes) ?? active.find((d) => d.phase === 'dumping') ?? active[0]!;
  const queuedText = queued > 0 ? ` (${queued} queued)` : '';
  return `Backing up ${plural(active.length, 'database')} — ${lead.database} ${progressText(lead)}${queuedText}`;
}

function progressText(d: DatabaseProgress): string {
  if (d.phase === 'preparing') return 'preparing';
  if (d.phase === 'uploading') return 'uploading';
  if (d.expectedBytes && d.expectedBytes > 0) {
    return `${Math.min(99, Math.max(0, Math.floor((d.bytesRead / d.expectedBytes) * 100)))}%`;
  }
  return `${formatBytes(d.bytesRead)} read`;
}

/** One line per task for the tray's "Last results" submenu. */
export function lastResultLines(statuses: readonly TaskStatus[], tasks: readonly TrayTask[], now: Date): string[] {
  const byId = new Map(statuses.map((s) => [s.taskId, s]));
  return tasks.map((t) => `${t.name} — ${resultText(byId.get(t.id), now)}`);
}

function resultText(status: TaskStatus | undefined, now: Date): string {
  if (status?.running) return 'running now';
  const run = status?.lastRun;
  if (!run) return 'never run';
  const counts: string[] = [];
  if (run.databasesOk > 0 || run.status === 'success') counts.push(`ok ${run.databasesOk}`);
  if (run.databasesFailed > 0) counts.push(`failed ${run.databasesFailed}`);
  let text: string;
  if (run.status === 'canceled' || run.status === 'canceling') text = ['canceled', ...counts].join(', ');
  else if (run.status === 'failed' && counts.length === 0) text = 'failed';
  else if (run.status === 'running') text = 'running';
  else text = counts.join(', ');
  return `${text} (${ago(run.endedAt ?? run.startedAt, now)})`;
}

/** "just now", "5 min ago", "2 h ago", "3 d ago". */
export function ago(iso: string, now: Date): string {
  const ms = now.getTime() - Date.parse(iso);
  if (!Number.isFinite(ms)) return 'unknown time';
  const min = Math.floor(ms / 60_000);
  if (min < 1) return 'just now';
  if (min < 60) return `${min} min ago`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} d ago`;
}

function clip(s: string): string {
  return s.length <= TOOLTIP_MAX ? s : `${s.slice(0, TOOLTIP_MAX - 1)}…`;
}
