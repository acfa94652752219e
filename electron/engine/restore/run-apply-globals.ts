/**
 * Applies a stored PostgreSQL `globals.sql` (the server-level stream of a logical task) to
 * a target server — in the current thread; the repository worker (worker/repository-job.ts)
 * calls it for the app, the CLI calls it directly like `runRestore`.
 *
 * Contract: the point must be a `pg-globals-sql` stream (VALIDATION naming what it is
 * otherwise) and the server a PostgreSQL server — or a MySQL/MariaDB `mysql-grants-sql`
 * stream and a MySQL/MariaDB server (accounts the target lacks are created, never changed). The stream is verified while it is read
 * (as every restore); the statements are applied by `applyGlobals` (servers/postgres/
 * apply-globals.ts), which reports per object and never stops at an existing role.
 */
import type { BackupLocation, Server } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';
import { openRepository, type Repository } from '../repository/index.ts';
import { connectorFor, type ToolPaths } from '../servers/index.ts';
import { MYSQL_GRANTS_STREAM, MysqlConnector } from '../servers/mysql/connector.ts';
import { applyGlobals, type ApplyGlobalsReport } from '../servers/postgres/apply-globals.ts';
import { PG_GLOBALS_STREAM } from '../servers/postgres/connector.ts';
import { PgConnection } from '../servers/postgres/connection.ts';
import { toRestorePoint } from './backup-folder.ts';
import { Location } from '../destinations/index.ts';
import type { Backend } from '../storage/index.ts';
import type { Credentials } from '../destinations/location.ts';

export interface ApplyGlobalsJobSpec {
  op: 'apply-globals';
  location: BackupLocation;
  /** A point id or 'latest'. */
  pointId: string;
  server: Server;
  password: string | null;
  toolPaths: ToolPaths;
  keyBase64: string | null;
  credentials: Credentials | null;
  alterExisting: boolean;
  dryRun: boolean;
}

export async function runApplyGlobals(spec: ApplyGlobalsJobSpec, signal: AbortSignal): Promise<ApplyGlobalsReport> {
  return Location.at(spec.location, spec.credentials).use((at) => applyFrom(at.backend(), spec, signal));
}

async function applyFrom(backend: Backend, spec: ApplyGlobalsJobSpec, signal: AbortSignal): Promise<ApplyGlobalsReport> {
  const repo = await openRepository(backend, { key: spec.keyBase64 ? Buffer.from(spec.keyBase64, 'base64') : null, workers: 0 });
  const summary = spec.pointId === 'latest' ? await repo.latestPoint(new Date()) : await repo.getPoint(spec.pointId);
  if (summary?.meta.format === MYSQL_GRANTS_STREAM.format) return applyMysqlAccounts(spec, repo, summary.id, signal);
  if (!summary) throw new BackstopError('NOT_FOUND', 'This backup folder holds no restore points yet.');
  // What the folder holds is checked before the server: a database folder is named as such, whatever the target.
  const point = toRestorePoint(summary);
  if (point.format !== PG_GLOBALS_STREAM.format) {
    throw new BackstopError(
      'VALIDATION',
      `This folder holds ${point.format === 'pg-basebackup-tar' ? 'a PostgreSQL cluster snapshot' : `a database backup (${point.format})`}, not the server-wide globals: choose <root>/~server/globals.sql of a logical PostgreSQL task, or <root>/~server/grants.sql of a MySQL/MariaDB task.`,
    );
  }
  if (spec.server.kind !== 'postgres') {
    throw new BackstopError('VALIDATION', `PostgreSQL roles and tablespaces apply to a PostgreSQL server, not to a ${spec.server.kind} server.`);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of await repo.readPoint(summary.id, { signal })) chunks.push(chunk as Buffer);
  const sql = Buffer.concat(chunks).toString('utf8');
  const conn = new PgConnection(spec.server, spec.password, { binDir: spec.toolPaths.postgres ?? null });
  return applyGlobals(conn, sql, { alterExisting: spec.alterExisting, dryRun: spec.dryRun, signal });
}

/** MySQL/MariaDB users, roles and grants (`grants.sql`): the accounts the target lacks are created; existing ones are never changed. */
async function applyMysqlAccounts(spec: ApplyGlobalsJobSpec, repo: Repository, pointId: string, signal: AbortSignal): Promise<ApplyGlobalsReport> {
  if (spec.server.kind !== 'mysql') {
    throw new BackstopError('VALIDATION', `MySQL/MariaDB users, roles and grants apply to a MySQL/MariaDB server, not to a ${spec.server.kind} server.`);
  }
  if (spec.alterExisting) {
    throw new BackstopError('VALIDATION', 'Changing existing MySQL/MariaDB accounts (--alter-existing) is not supported: Backstop creates the accounts the server lacks and leaves existing ones as they are.');
  }
  const chunks: Buffer[] = [];
  for await (const chunk of await repo.readPoint(pointId, { signal })) chunks.push(chunk as Buffer);
  const connector = connectorFor(spec.server, { password: spec.password, toolPaths: spec.toolPaths });
  if (!(connector instanceof MysqlConnector)) throw new BackstopError('INTERNAL', 'Expected the MySQL/MariaDB connector.');
  return connector.applyAccounts(Buffer.concat(chunks).toString('utf8'), { dryRun: spec.dryRun, signal });
}
