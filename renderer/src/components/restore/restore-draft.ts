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
 */
import type { BackupFolderInfo, RestorePoint, ServerKind } from '@shared/domain.ts';
import type { CommandInput } from '@shared/ipc/contract.ts';

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
}

export type StartInput = CommandInput<'restore.start'>;

/** The options a ROLE_MISSING failure offers; merged into the draft before the retry. */
export type RoleChoice = Pick<RestoreDraft, 'noOwner' | 'noPrivileges' | 'createRoles' | 'roleMap'>;

export function emptyDraft(): RestoreDraft {
  return { pointId: 'latest', serverId: '', database: '', jobs: 1, noOwner: false, noPrivileges: false, createRoles: false, roleMap: {}, folder: '' };
}

/** The point a draft's `pointId` names ('latest' = the newest). */
export function chosenPoint(info: BackupFolderInfo | null, pointId: string): RestorePoint | null {
  if (!info || info.points.length === 0) return null;
  return pointId === 'latest' ? info.points[info.points.length - 1]! : (info.points.find((p) => p.id === pointId) ?? null);
}

export function restoreModeOf(point: RestorePoint | null): RestoreMode {
  return point?.format === 'pg-basebackup-tar' ? 'cluster' : 'database';
}

/** The name proposed for the new database; none for a cluster snapshot or a server-level stream. */
export function suggestedName(info: BackupFolderInfo): string {
  const newest = info.points.at(-1);
  if (!info.database || !newest || newest.format.startsWith('pg-globals') || restoreModeOf(newest) === 'cluster') return '';
  return `${info.database}_restored`;
}

/** What must be fixed before starting, by field; empty when the draft can be sent. */
export function draftErrors(d: RestoreDraft, mode: RestoreMode): Partial<Record<'database' | 'folder' | 'serverId', string>> {
  const errors: Partial<Record<'database' | 'folder' | 'serverId', string>> = {};
  if (!d.serverId) errors.serverId = 'Choose the server to restore to.';
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
  ctx: { location: StartInput['location']; info: BackupFolderInfo; mode: RestoreMode; targetKind: ServerKind | null; key: string },
): StartInput {
  const key = ctx.key.trim();
  const folder = d.folder.trim();
  const pg = ctx.targetKind === 'postgres' && ctx.mode === 'database';
  const roleMap = Object.fromEntries(Object.entries(d.roleMap).map(([from, to]) => [from, to.trim()]).filter(([, to]) => to !== ''));
  return {
    location: ctx.location,
    pointId: d.pointId,
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
