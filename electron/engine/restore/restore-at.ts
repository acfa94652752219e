/**
 * A window restore (`restore.start`) to a moment (`asOf`) or, for a PostgreSQL cluster
 * backup, of one database out of it (`sourceDatabase`): the same engine paths as the CLI's
 * `backstop restore --as-of` (pitr.ts for a cluster backup with WAL, restore-to-moment.ts
 * for a MySQL/MariaDB database with the stored binary log).
 *
 * Contract:
 * - PostgreSQL cluster backup: `sourceDatabase` set → that database, recovered in a
 *   temporary cluster, restored as `database` on the target server; otherwise the whole
 *   cluster into `options.folder` (new or empty). `asOf` absent → the chosen point.
 * - MySQL/MariaDB database folder: `asOf` required; the dump + log replay into `database`.
 * - Anything else: OUT_OF_RANGE (it has restore points only) or VALIDATION for a choice
 *   that does not apply; every error is raised before anything is created.
 */
import type { RestoreProgressInfo } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';
import type { Repository } from '../repository/index.ts';
import { isClusterPoint, planRecovery, restoreClusterAt, restoreDatabaseAt } from './pitr.ts';
import { restoreToMoment } from './restore-to-moment.ts';
import type { RestoreJobSpec, RestoreOutcome } from './run-restore.ts';
import { latestPoint } from '../../shared/latest-point.ts';

export async function restoreAt(
  repo: Repository,
  spec: RestoreJobSpec,
  signal: AbortSignal,
  progress: (p: Omit<RestoreProgressInfo, 'restoreId'>) => void,
): Promise<RestoreOutcome> {
  const asOf = spec.asOf ? new Date(spec.asOf) : null;
  if (asOf && Number.isNaN(asOf.getTime())) throw new BackstopError('VALIDATION', `"${spec.asOf}" is not a date and time; give the moment as ISO 8601 (for example 2026-05-04T14:02:00Z).`);
  const points = await repo.listPoints();
  if (points.some(isClusterPoint)) {
    let plan;
    if (asOf) plan = await planRecovery(repo, { asOf });
    else {
      const p = spec.pointId === 'latest' ? latestPoint(points, new Date()) : points.find((x) => x.id === spec.pointId);
      if (!p) throw new BackstopError('NOT_FOUND', `Restore point ${spec.pointId} is not in this folder; choose one of its points.`);
      plan = await planRecovery(repo, { pointId: p.id });
    }
    if (spec.sourceDatabase) {
      if (!spec.server) throw new BackstopError('VALIDATION', `Choose the PostgreSQL server to restore database "${spec.sourceDatabase}" to.`);
      const r = await restoreDatabaseAt({
        repo,
        plan,
        sourceDatabase: spec.sourceDatabase,
        server: spec.server,
        password: spec.password,
        database: spec.database,
        toolPaths: spec.toolPaths,
        options: spec.options,
        signal,
        onProgress: progress,
      });
      return { database: r.database, path: null, notes: r.notes };
    }
    if (!spec.options.folder) throw new BackstopError('VALIDATION', 'Restoring the whole cluster needs a new, empty data directory: choose that folder.');
    const r = await restoreClusterAt({ repo, plan, folder: spec.options.folder, toolPaths: spec.toolPaths, osUser: spec.osUser ?? null, signal, onProgress: progress });
    return { database: r.database, path: r.path, notes: r.notes };
  }
  if (spec.sourceDatabase) throw new BackstopError('VALIDATION', 'A source database applies only to a PostgreSQL cluster backup (the server folder ~server); this folder holds one database: restore it directly.');
  // A MySQL/MariaDB database folder (its dumps), as the CLI tells it (cli/commands/location.ts).
  if (!asOf || !points.some((p) => p.meta.format === 'mysql-sql')) {
    throw pointsOnly();
  }
  if (!spec.server) throw new BackstopError('VALIDATION', 'Choose the MySQL/MariaDB server to restore to.');
  progress({ phase: 'restoring', unit: 'bytes', done: 0, total: null });
  const r = await restoreToMoment({
    location: spec.location,
    credentials: spec.credentials,
    key: spec.keyBase64 ? Buffer.from(spec.keyBase64, 'base64') : null,
    moment: asOf,
    server: spec.server,
    password: spec.password,
    database: spec.database,
    toolPaths: spec.toolPaths,
    signal,
  });
  progress({ phase: 'done', unit: 'bytes', done: 1, total: 1 });
  return { database: r.database, path: r.path, notes: r.notes };
}

/** A moment asked of a backup that has restore points only (logical PostgreSQL, SQLite, MariaDB without its log): nothing is created. */
export function pointsOnly(): BackstopError {
  return new BackstopError(
    'OUT_OF_RANGE',
    'This backup can only be restored to one of its restore points: moments are reachable for a PostgreSQL cluster backup with WAL and a MySQL/MariaDB database with the binary log. Choose a restore point.',
  );
}
