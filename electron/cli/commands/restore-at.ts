/**
 * `restore` of a PostgreSQL cluster backup with WAL (engine/restore/pitr.ts): to a moment
 * (`--as-of`), to a WAL restore point (`--point` of an incremental), the whole cluster into
 * `--folder DIR`, or one database (`--source-database NAME`) into the new database
 * `--database NEW` on the server of `--server`. The flags are checked here, in their own
 * words; the restore itself is the engine's (restore-at.ts), as for the window.
 *
 * Contract: returns null when the location is not a cluster backup, or is a plain base
 * backup point without --source-database (the usual restore handles those). Usage errors
 * are MALFORMED_REQUEST; everything is checked before anything is created.
 */
import { dirname, resolve } from 'node:path';
import { BackstopError, hasCode } from '../../shared/result.ts';
import { canceledOnInterrupt, interruptSignal, RESTORE_LEFT } from '../interrupt.ts';
import type { Engine } from '../../engine/index.ts';
import type { PointSummary, Repository } from '../../engine/repository/index.ts';
import { isClusterPoint } from '../../engine/restore/pitr.ts';
import { restoreAt } from '../../engine/restore/restore-at.ts';
import type { RestoreJobSpec } from '../../engine/restore/run-restore.ts';
import { PG_WAL_FORMAT } from '../../engine/servers/index.ts';
import type { Where } from '../location-url.ts';
import { errorInFileTerms, readJsonFile, ServerFile } from '../task-file.ts';
import { serverFromFile } from './backup.ts';
import type { RestoreCommandResult } from './location.ts';

export interface RestoreAtOptions {
  point?: string;
  asOf?: Date;
  serverFile?: string;
  database?: string;
  folder?: string;
  osUser?: string;
  sourceDatabase?: string;
  noOwner?: boolean;
  noPrivileges?: boolean;
  roleMap?: Record<string, string>;
  createRoles?: boolean;
}

/** The point `id`, or undefined when it is not there or cannot be read (the usual restore path says which). */
async function pointIfReadable(repo: Repository, id: string | undefined): Promise<PointSummary | undefined> {
  if (id === undefined) return undefined;
  return repo.getPoint(id).catch((e: unknown) => {
    if (hasCode(e, 'NOT_FOUND', 'INTEGRITY', 'FORMAT_TOO_NEW')) return undefined;
    throw e;
  });
}

const usage = (m: string): never => {
  throw new BackstopError('MALFORMED_REQUEST', `${m} Run "backstop --help".`);
};

export async function restoreFromWal(engine: Engine, { location, credentials }: Where, repo: Repository, key: Buffer | null, opts: RestoreAtOptions): Promise<RestoreCommandResult | null> {
  const notCluster = (): null => {
    if (opts.sourceDatabase !== undefined) usage('--source-database applies only to a PostgreSQL cluster backup (<root>/~server).');
    return null;
  };
  let at: { asOf: Date } | { pointId: string };
  if (opts.asOf !== undefined) {
    if (!(await repo.listPoints()).some(isClusterPoint)) return notCluster();
    at = { asOf: opts.asOf };
  } else {
    // One point is asked for: it alone says whether this is a cluster backup (a folder holds one
    // kind of stream), so a folder of thousands of points is not read through to restore one.
    // A point named by its id is restorable beside a damaged manifest; "latest" refuses when the newest may be unreadable.
    const p = opts.point === 'latest' ? await repo.latestPoint(new Date()) : await pointIfReadable(repo, opts.point);
    if (!p) return null; // the usual path says NOT_FOUND (or why the point cannot be read)
    if (!isClusterPoint(p)) return notCluster();
    if (p.meta.format !== PG_WAL_FORMAT && opts.sourceDatabase === undefined) return null;
    at = { pointId: p.id };
  }
  if (opts.sourceDatabase !== undefined) {
    if (opts.folder !== undefined || opts.osUser !== undefined) usage('--source-database restores one database into a new database on a server: give --server and --database, not --folder or --os-user.');
    if (!opts.serverFile) usage('restore --source-database needs --server.');
    if (!opts.database) usage('restore --source-database needs --database (the new database).');
  } else {
    if (opts.database !== undefined || opts.serverFile !== undefined) {
      usage('This is a PostgreSQL cluster backup: restore the whole cluster with --folder DIR, or one database with --source-database NAME --server server.json --database NEW.');
    }
    if (!opts.folder) usage('Restoring the whole cluster needs --folder DIR (a new or empty folder).');
  }
  const settings = await engine.call('settings.get', undefined);
  const target = opts.sourceDatabase === undefined ? null : serverFromFile(readJsonFile(opts.serverFile!, ServerFile, 'The server file'), 'cli-restore-target', dirname(resolve(opts.serverFile!)));
  const spec: RestoreJobSpec = {
    op: 'restore',
    restoreId: 'cli',
    location,
    credentials,
    pointId: 'pointId' in at ? at.pointId : 'latest',
    server: target?.server ?? null,
    password: target?.password ?? null,
    database: opts.database ?? '',
    toolPaths: settings.ok ? settings.data.toolPaths : {},
    keyBase64: key ? key.toString('base64') : null,
    options: { jobs: 1, noOwner: opts.noOwner ?? false, noPrivileges: opts.noPrivileges ?? false, roleMap: opts.roleMap ?? {}, createRoles: opts.createRoles ?? false, folder: opts.folder ? resolve(opts.folder) : null },
    ...('asOf' in at ? { asOf: at.asOf.toISOString() } : {}),
    ...(opts.sourceDatabase !== undefined ? { sourceDatabase: opts.sourceDatabase } : {}),
    ...(opts.osUser ? { osUser: opts.osUser } : {}),
  };
  try {
    return { ...(await engine.restoreHistory.restore(spec, () => canceledOnInterrupt(restoreAt(repo, spec, interruptSignal(), () => {}), 'The restore', RESTORE_LEFT))), cluster: opts.sourceDatabase === undefined };
  } catch (e) {
    throw target ? errorInFileTerms(e, opts.serverFile!, '') : e;
  }
}
