/**
 * The restore form's state (one typed draft) and its conversion, once, to the contract's
 * `restore.start` input. Pure functions: the view's step components edit the draft, the
 * restore store checks it with `draftErrors` and sends `draftToStartInput`.
 *
 * What the form asks depends on what the chosen point is (`restoreModeOf`):
 * - `database`: a new database name (PostgreSQL: parallel jobs, owners, privileges;
 *   SQLite: an optional target folder);
 * - `cluster`: a PostgreSQL cluster snapshot (`pg-basebackup-tar`) restores into a new,
 *   empty data directory — no database name, no pg_restore options.
 * A PostgreSQL cluster backup (base backup, WAL) lets the user choose (`clusterWay`): one
 * database of it (`sourceDatabase`) into a new database, or the whole cluster. A backup
 * with `momentRanges` lets the user restore to a moment (`at`, `moment`: a wall-clock time,
 * as a `datetime-local` input gives it) instead of a point; a moment outside the ranges is
 * refused here, before anything is sent, with the ranges named.
 * The moment is read in `zone`: the task's schedule time zone when the backup was opened
 * from a task, else this machine's (shared/zoned-time.ts). A time the clocks skip there (a
 * daylight-saving gap) is refused naming the gap; a time they show twice is the earlier of
 * the two unless the user asks for the later one (`momentLater`).
 */
import type { BackupFolderInfo, RestorePoint, ServerKind } from '@shared/domain.ts';
import type { CommandInput } from '@shared/ipc/contract.ts';
import { formatOffset, wallToInstant, zoneLabel, type WallTimeReading } from '@shared/zoned-time.ts';
import { latestPoint } from '@shared/latest-point.ts';

export type RestoreMode = 'database' | 'cluster';

export interface RestoreDraft {
  pointId: string;
  serverId: string;
  /** New database name (database mode). */
  database: string;
  /** PostgreSQL: parallel pg_restore jobs, 1–16. */
  jobs: number;
  noOwner: boolean;
  noPrivileges: boolean;
  createRoles: boolean;
  /** Role named by the backup → role of the target server. */
  roleMap: Record<string, string>;
  /** SQLite: target folder ('' = the server's folder); cluster: the new data directory. */
  folder: string;
  /** A restore point (`pointId`) or a moment (`moment`). */
  at: 'point' | 'moment';
  /** Wall-clock date and time in the restore's zone, `YYYY-MM-DDTHH:mm[:ss]` ('' = not given). */
  moment: string;
  /** A moment the clocks show twice (they went back): the later of the two instead of the earlier. */
  momentLater: boolean;
  /** PostgreSQL cluster backup: one database of it into a new database, or the whole cluster. */
  clusterWay: RestoreMode;
  /** PostgreSQL cluster backup, one database: its name in the cluster. */
  sourceDatabase: string;
}

export type StartInput = CommandInput<'restore.start'>;

/** The options a ROLE_MISSING failure offers; merged into the draft before the retry. */
export type RoleChoice = Pick<RestoreDraft, 'noOwner' | 'noPrivileges' | 'createRoles' | 'roleMap'>;

export function emptyDraft(): RestoreDraft {
  return {
    pointId: 'latest',
    serverId: '',
    database: '',
    jobs: 1,
    noOwner: false,
    noPrivileges: false,
    createRoles: false,
    roleMap: {},
    folder: '',
    at: 'point',
    moment: '',
    momentLater: false,
    clusterWay: 'cluster',
    sourceDatabase: '',
  };
}

/** The point a draft's `pointId` names ('latest' = the one a restore of "latest" takes: the newest, never one dated after now while others are not). */
export function chosenPoint(info: BackupFolderInfo | null, pointId: string): RestorePoint | null {
  if (!info || info.points.length === 0) return null;
  return pointId === 'latest' ? latestPoint(info.points, new Date())! : (info.points.find((p) => p.id === pointId) ?? null);
}

export function restoreModeOf(point: RestorePoint | null): RestoreMode {
  return point?.format === 'pg-basebackup-tar' ? 'cluster' : 'database';
}

/** A PostgreSQL cluster backup (base backup, WAL): it restores either way (`clusterWay`). */
export function isClusterBackup(info: BackupFolderInfo | null): boolean {
  return !!info && info.points.some((p) => p.format === 'pg-basebackup-tar' || p.format === 'pg-wal-tar');
}

/** What the form restores: the user's way for a cluster backup, else what the point is. */
export function draftMode(info: BackupFolderInfo | null, d: RestoreDraft): RestoreMode {
  return isClusterBackup(info) ? d.clusterWay : restoreModeOf(chosenPoint(info, d.pointId));
}

/** This machine's IANA time zone (the zone of a backup opened without a task). */
export function machineZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** What the draft's moment means in `zone` (see shared/zoned-time.ts). */
export function momentReading(d: Pick<RestoreDraft, 'moment'>, zone: string = machineZone()): WallTimeReading {
  return wallToInstant(d.moment, zone);
}

/** The instant a draft's moment names in `zone`; null when empty, not a date, or skipped by the clocks there. */
export function momentOf(d: Pick<RestoreDraft, 'moment'> & Partial<Pick<RestoreDraft, 'momentLater'>>, zone: string = machineZone()): Date | null {
  const r = momentReading(d, zone);
  if (r.kind === 'ok') return r.instant;
  if (r.kind === 'ambiguous') return d.momentLater ? r.later : r.earlier;
  return null;
}

/** The local time zone's name and offset, e.g. "Europe/Berlin, UTC+02:00". */
export function localZoneLabel(at: Date = new Date()): string {
  return zoneLabel(machineZone(), at);
}

/** The ranges as the window states them: local time to the second, joined. */
export function describeRanges(ranges: { from: string; to: string }[], format: (iso: string) => string): string {
  return ranges.map((r) => `${format(r.from)} to ${format(r.to)}`).join('; ');
}

/** Why the draft's moment cannot be restored (empty, not a date, outside every range); null when it can. */
export function momentError(d: RestoreDraft, info: BackupFolderInfo | null, format: (iso: string) => string, zone: string = machineZone()): string | null {
  if (d.at !== 'moment') return null;
  const ranges = info?.momentRanges ?? [];
  if (ranges.length === 0) return 'This backup can only be restored to one of its restore points.';
  if (!d.moment) return 'Enter the date and time to restore to.';
  const reading = momentReading(d, zone);
  if (reading.kind === 'gap') {
    return `${d.moment.replace('T', ' ')} does not exist in ${zone}: the clocks skip forward there that day (${formatOffset(reading.before)} to ${formatOffset(reading.after)}, daylight saving). Choose a time before or after the skipped hour.`;
  }
  const t = momentOf(d, zone);
  if (!t) return 'Enter the moment as a date and a time.';
  const ms = t.getTime();
  if (ranges.some((r) => Date.parse(r.from) <= ms && ms <= Date.parse(r.to))) return null;
  return `${format(t.toISOString())} is outside what this backup reaches: ${describeRanges(ranges, format)}. Choose a moment within ${ranges.length === 1 ? 'that range' : 'one of those ranges'}.`;
}

/** The name proposed for the new database; none for a cluster snapshot or a server-level stream. */
export function suggestedName(info: BackupFolderInfo): string {
  const newest = info.points.at(-1);
  if (!info.database || !newest || newest.format.startsWith('pg-globals') || restoreModeOf(newest) === 'cluster' || isClusterBackup(info)) return '';
  return `${info.database}_restored`;
}

export type DraftField = 'database' | 'folder' | 'serverId' | 'moment' | 'sourceDatabase';

/** What must be fixed before starting, by field; empty when the draft can be sent (`moment`: `info` and `format` given). */
export function draftErrors(d: RestoreDraft, mode: RestoreMode, info: BackupFolderInfo | null = null, format: (iso: string) => string = (iso) => iso, zone: string = machineZone()): Partial<Record<DraftField, string>> {
  const errors: Partial<Record<DraftField, string>> = {};
  if (!d.serverId) errors.serverId = 'Choose the server to restore to.';
  const moment = momentError(d, info, format, zone);
  if (moment) errors.moment = moment;
  if (isClusterBackup(info) && mode === 'database' && !d.sourceDatabase.trim()) errors.sourceDatabase = 'Enter the name of the database to take out of the cluster backup.';
  if (mode === 'cluster') {
    if (!d.folder.trim()) errors.folder = 'Choose a new, empty folder for the restored data directory.';
  } else if (!d.database.trim()) {
    errors.database = 'Enter a name for the new database.';
  }
  return errors;
}

/** The `restore.start` input for a draft: only the options that apply to the target and the mode. */
export function draftToStartInput(
  d: RestoreDraft,
  ctx: { location: StartInput['location']; info: BackupFolderInfo; mode: RestoreMode; targetKind: ServerKind | null; key: string; zone?: string },
): StartInput {
  const key = ctx.key.trim();
  const folder = d.folder.trim();
  const pg = ctx.targetKind === 'postgres' && ctx.mode === 'database';
  const roleMap = Object.fromEntries(Object.entries(d.roleMap).map(([from, to]) => [from, to.trim()]).filter(([, to]) => to !== ''));
  const moment = d.at === 'moment' ? momentOf(d, ctx.zone) : null;
  const source = isClusterBackup(ctx.info) && ctx.mode === 'database' ? d.sourceDatabase.trim() : '';
  return {
    location: ctx.location,
    ...(moment ? { asOf: moment.toISOString() } : { pointId: d.pointId }),
    ...(source ? { sourceDatabase: source } : {}),
    serverId: d.serverId,
    // The contract names every restore; a cluster snapshot keeps its stream's name (the result reports the data directory).
    database: ctx.mode === 'cluster' ? (ctx.info.database ?? 'base.tar') : d.database.trim(),
    ...(key ? { key } : {}),
    options: {
      jobs: pg ? Math.min(16, Math.max(1, Math.trunc(d.jobs) || 1)) : 1,
      noOwner: pg && d.noOwner,
      noPrivileges: pg && d.noPrivileges,
      roleMap: pg ? roleMap : {},
      createRoles: pg && d.createRoles,
      folder: (ctx.mode === 'cluster' || ctx.targetKind === 'sqlite') && folder ? folder : null,
    },
  };
}

/**
 * The role names a ROLE_MISSING message names, quoted after "role"/"roles" (`role "web"`,
 * `roles "web", "report" and "etl"`). The engine's message is the source of truth: a
 * message without quoted names yields none, and the window then offers a free-text mapping.
 */
export function missingRolesOf(message: string): string[] {
  const names: string[] = [];
  for (const list of message.matchAll(/\broles?\s+((?:"(?:[^"]|"")+"(?:\s*,\s*|\s+and\s+|\s*,\s*and\s+)?)+)/gi)) {
    for (const m of list[1]!.matchAll(/"((?:[^"]|"")+)"/g)) names.push(m[1]!.replace(/""/g, '"'));
  }
  return [...new Set(names)];
}
