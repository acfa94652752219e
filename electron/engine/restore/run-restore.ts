/**
 * Restores one restore point into a NEW database (or, for a PostgreSQL cluster snapshot,
 * a new data directory), and verifies points — in the current thread. The worker entry
 * (worker/repository-job.ts) calls these; tests may call them directly.
 *
 * Contract:
 * - The point's stream is verified chunk by chunk and as a whole (SHA-256) while it is
 *   restored; any mismatch fails the restore, and the connector removes the half-restored
 *   database. Nothing existing is ever overwritten (DATABASE_EXISTS).
 * - The server must be of the kind the point was taken from (VALIDATION otherwise).
 * - A cluster snapshot (`pg-basebackup-tar`) needs no server, only `options.folder` (new or
 *   empty): the data directory gets mode 0700 and, when running as root, the server's OS
 *   user as owner (`osUser`, default `postgres`); missing configuration files are written
 *   and the outcome's notes say how to start it. Its `database` is the folder's name.
 * - A WAL point (`pg-wal-tar`) restores like a cluster snapshot: its chain's base backup,
 *   set to replay the WAL up to the end of that point on first start (pitr.ts).
 * - Server-wide globals (`pg-globals-sql`, MySQL's `mysql-grants-sql`) and the MySQL
 *   binary log (`mysql-binlog-files`) are not restored here: VALIDATION naming
 *   `backstop apply-globals` / `restore --as-of`.
 * - `asOf` / `sourceDatabase` (a moment, one database of a cluster backup): restore-at.ts.
 */
import { basename } from 'node:path';
import type { BackupLocation, PointKind, RestoreOptions, RestoreProgressInfo, Server, VerifySummary } from '../../shared/domain.ts';
import { BackstopError, type ErrorCode } from '../../shared/result.ts';
import { closeRead, openRepository } from '../repository/index.ts';
import { factsOf } from '../facts/dump-facts.ts';
import { BACKUP_NOTES_META, clusterOwner, completeConfiguration, connectorFor, PG_WAL_FORMAT, restoreBaseBackup, restoredClusterNotes, type ToolPaths } from '../servers/index.ts';
import { serverKindOf, toRestorePoint } from './backup-folder.ts';
import { Location } from '../destinations/index.ts';
import type { Backend } from '../storage/index.ts';
import { planRecovery, restoreClusterAt } from './pitr.ts';
import { restoreAt } from './restore-at.ts';
import type { Credentials } from '../destinations/location.ts';

export interface RestoreJobSpec {
  op: 'restore';
  restoreId: string;
  location: BackupLocation;
  pointId: string;
  /** The target server; null only for a cluster snapshot (it restores into a folder). */
  server: Server | null;
  password: string | null;
  toolPaths: ToolPaths;
  database: string;
  keyBase64: string | null;
  credentials: Credentials | null;
  options: RestoreOptions;
  /** Cluster snapshot, running as root: the OS user to own the data directory (default "postgres"). */
  osUser?: string | null;
  /** Restore to this moment (ISO) instead of `pointId` (restore-at.ts). */
  asOf?: string | null;
  /** PostgreSQL cluster backup: the one database to take out of it into `database` (restore-at.ts). */
  sourceDatabase?: string | null;
  /** false: read one pack at a time instead of one ahead (restore-server with many jobs; default true). */
  readAhead?: boolean;
}

export interface VerifyJobSpec {
  op: 'verify';
  location: BackupLocation;
  pointId: string | null;
  keyBase64: string | null;
  credentials: Credentials | null;
}

export interface RestoreOutcome {
  database: string;
  path: string | null;
  notes: string[];
  /** Damage the backup's copy held that the restore repaired on the way in (RestoreReport.repaired). */
  repaired?: string[];
  /** The point restored, its kind and its stream's bytes, when one point was restored (History). */
  pointId?: string;
  kind?: PointKind;
  bytes?: number;
  /** The restore succeeded but History could not record it (restore-history.ts): what to tell the user. */
  historyError?: { code: ErrorCode; message: string };
}

const keyOf = (b64: string | null) => (b64 ? Buffer.from(b64, 'base64') : null);

export function runRestore(spec: RestoreJobSpec, signal: AbortSignal, onProgress: (p: RestoreProgressInfo) => void): Promise<RestoreOutcome> {
  return Location.at(spec.location, spec.credentials).use((at) => restoreFrom(at.backend(), spec, signal, onProgress));
}

async function restoreFrom(backend: Backend, spec: RestoreJobSpec, signal: AbortSignal, onProgress: (p: RestoreProgressInfo) => void): Promise<RestoreOutcome> {
  const progress = (p: Omit<RestoreProgressInfo, 'restoreId'>) => onProgress({ restoreId: spec.restoreId, ...p });
  progress({ phase: 'preparing', unit: 'bytes', done: 0, total: null });
  const repo = await openRepository(backend, { key: keyOf(spec.keyBase64), workers: 0 });
  if (spec.asOf || spec.sourceDatabase) return restoreAt(repo, spec, signal, progress);
  const summary = spec.pointId === 'latest' ? await repo.latestPoint(new Date()) : await repo.getPoint(spec.pointId);
  if (!summary) throw new BackstopError('NOT_FOUND', 'This backup folder holds no restore points yet.');
  const point = toRestorePoint(summary);
  const kind = serverKindOf(point.format);
  if (point.format === 'pg-globals-sql') {
    throw new BackstopError(
      'VALIDATION',
      'This folder holds server-wide globals (roles, tablespaces), not a database. Apply them to a server with `backstop apply-globals <this folder> --server server.json` (it skips roles the server already has).',
    );
  }
  if (point.format === 'mysql-grants-sql' || point.format === 'mysql-binlog-files') {
    throw new BackstopError(
      'VALIDATION',
      point.format === 'mysql-grants-sql'
        ? 'This folder holds the MySQL/MariaDB users, roles and grants, not a database. Create them on a server with `backstop apply-globals <root>/~server --server server.json` (existing accounts are skipped).'
        : 'This folder holds the MySQL/MariaDB binary log, not a database. Restore a database to a moment from its own folder: `backstop restore <root>/<database folder> --as-of TIME --server server.json --database NEW`.',
    );
  }
  if (point.format === PG_WAL_FORMAT) {
    // A WAL point: the base backup of its chain, recovered to the end of that point.
    if (!spec.options.folder) throw new BackstopError('VALIDATION', 'A cluster backup restores into a new, empty data directory: choose that folder.');
    const plan = await planRecovery(repo, { pointId: summary.id });
    const r = await restoreClusterAt({ repo, plan, folder: spec.options.folder, toolPaths: spec.toolPaths, osUser: spec.osUser ?? null, signal, onProgress: progress });
    return { database: r.database, path: r.path, notes: r.notes };
  }
  if (point.format === 'pg-basebackup-tar') {
    if (spec.server && spec.server.kind !== 'postgres') {
      throw new BackstopError('VALIDATION', `This restore point is a PostgreSQL cluster snapshot (${point.format}); it restores into a new data directory, not onto a ${spec.server.kind} server.`);
    }
    if (!spec.options.folder) throw new BackstopError('VALIDATION', 'A cluster snapshot restores into a new, empty data directory: choose that folder.');
    const folder = spec.options.folder;
    let owner = clusterOwner(spec.osUser);
    const stream = await repo.readPoint(summary.id, { signal });
    progress({ phase: 'restoring', unit: 'bytes', done: 0, total: point.length });
    let wroteConfig: string[] = [];
    // The stream's close releases its reading marker: also when the restore stops before reading it all.
    const r = await restoreBaseBackup(stream, folder, {
      signal,
      toolPaths: spec.toolPaths,
      owner: owner.user,
      afterVerify: (dir) => {
        wroteConfig = completeConfiguration(dir);
      },
    }).finally(() => closeRead(stream));
    if (r.ownerError && owner.user) {
      owner = { user: null, why: `Backstop could not give the data directory to "${owner.user.name}" (${r.ownerError}); as root: chown -R ${owner.user.name}: <folder>, on a file system that keeps owners.` };
    }
    const notes = await restoredClusterNotes({ dataDir: r.dataDir, owner, wroteConfig, verified: r.verified, toolPaths: spec.toolPaths });
    progress({ phase: 'done', unit: 'bytes', done: point.length, total: point.length });
    return { database: basename(r.dataDir), path: r.dataDir, notes, pointId: point.id, kind: point.kind, bytes: point.length };
  }
  if (!spec.server) throw new BackstopError('VALIDATION', 'Choose the server to restore this database to.');
  if (kind !== spec.server.kind) {
    throw new BackstopError('VALIDATION', `This restore point is a ${kind ?? 'unknown'} backup (${point.format}); choose a ${kind ?? 'matching'} server to restore it to.`);
  }
  const stream = await repo.readPoint(summary.id, { signal, readAhead: spec.readAhead ?? true });
  const connector = connectorFor(spec.server, { password: spec.password, toolPaths: spec.toolPaths });
  // The stream's close releases its reading marker: also when the restore stops before reading it all.
  const report = await connector.restore(spec.database, stream, point.backupType, {
    signal,
    jobs: spec.options.jobs,
    noOwner: spec.options.noOwner,
    noPrivileges: spec.options.noPrivileges,
    roleMap: spec.options.roleMap,
    createRoles: spec.options.createRoles,
    ...(spec.options.folder ? { folder: spec.options.folder } : {}),
    totalBytes: point.length,
    sourceName: summary.database,
    ...longestStatementOf(summary.meta),
    onProgress: (p) => progress({ phase: 'restoring', unit: p.unit, done: p.done, total: p.total }),
  }).finally(() => closeRead(stream));
  progress({ phase: 'done', unit: 'bytes', done: point.length, total: point.length });
  // What the backup itself could not carry (the point's meta says): named again in every restore of it.
  const gaps = summary.meta[BACKUP_NOTES_META];
  const backupNotes = Array.isArray(gaps) ? gaps.filter((g): g is string => typeof g === 'string') : [];
  return {
    database: report.database,
    path: report.path ?? null,
    notes: [...backupNotes, ...(report.notes ?? [])],
    ...(report.repaired?.length ? { repaired: report.repaired } : {}),
    pointId: point.id,
    kind: point.kind,
    bytes: point.length,
  };
}

/** The dump's longest statement a point's facts recorded (MySQL/MariaDB SQL dumps; none in older points). */
function longestStatementOf(meta: Record<string, unknown>): { longestStatement?: number } {
  const facts = factsOf(meta);
  return 'facts' in facts && facts.facts.longestLine !== undefined ? { longestStatement: facts.facts.longestLine } : {};
}

export async function runVerify(spec: VerifyJobSpec, signal: AbortSignal): Promise<VerifySummary> {
  const report = await Location.at(spec.location, spec.credentials).use(async (at) =>
    (await openRepository(at.backend(), { key: keyOf(spec.keyBase64), workers: 0 })).verify(spec.pointId ?? undefined, { signal }),
  );
  return {
    ok: report.ok,
    pointsChecked: report.pointsChecked,
    bytesChecked: report.bytesChecked,
    problems: report.problems.map((p) => ({ pointId: p.pointId, packId: p.packId, code: p.code, message: p.message })),
  };
}
