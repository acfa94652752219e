/**
 * Runs a BackupJobSpec in the current thread: connector + backends + backupDatabase,
 * then retention at every destination that got its new point. The worker entry
 * (worker/backup-job.ts) calls this; tests may call it directly.
 *
 * Contract: a retention failure never turns a successful backup into a failed one; it is
 * reported on the outcome (`retention.error`). The job's writers (one per destination)
 * share one set of encoder workers, closed when the job ends.
 */
import { join } from 'node:path';
import { connectorFor, SERVER_FOLDER } from '../servers/index.ts';
import { destinationId, folderLocation, openDatabaseFolder } from '../destinations/index.ts';
import { defaultEncoderWorkers, EncoderWorkers, openRepository, type OpenOptions } from '../repository/index.ts';
import { applyRetention, retentionHours } from '../retention/index.ts';
import { errorInfo, hasCode } from '../../shared/result.ts';
import { keyFolderSuffix } from './prepare-destination.ts';
import { backupDatabase, type DatabaseProgress, type DestinationOutcome, type DestinationTarget } from './backup-database.ts';
import { logCoverage } from './log-coverage.ts';
import type { PreparedDestination } from './prepare-destination.ts';
import { BINLOG_STREAM } from '../servers/mysql/binlog.ts';
import type { BackupJobSpec } from './job-spec.ts';

export interface JobOutcome extends DestinationOutcome {
  /** The database folder written (a path or s3:// URL), when it is not the usual one (a changed key's sibling folder). */
  location?: string;
  retention?: { deleted: string[]; bytesFreed: number; error: { code: string; message: string } | null };
}

export async function runBackupJob(spec: BackupJobSpec, signal: AbortSignal, onProgress: (p: DatabaseProgress) => void): Promise<JobOutcome[]> {
  const workers = spec.encoderWorkers ?? defaultEncoderWorkers();
  const shared = workers > 0 ? new EncoderWorkers(workers) : null;
  try {
    return await backupAndApplyRetention(spec, signal, onProgress, { workers, encoderWorkers: shared });
  } finally {
    await shared?.close();
  }
}

async function backupAndApplyRetention(
  spec: BackupJobSpec,
  signal: AbortSignal,
  onProgress: (p: DatabaseProgress) => void,
  repoOptions: Pick<OpenOptions, 'workers' | 'encoderWorkers'>,
): Promise<JobOutcome[]> {
  const connector = connectorFor(spec.server, { password: spec.password, toolPaths: spec.toolPaths });
  const key = spec.keyBase64 ? Buffer.from(spec.keyBase64, 'base64') : null;
  const siblings = new Map<string, string>();
  const logFolders = new Map(spec.destinations.map((d, i) => [destinationId(d), openDatabaseFolder(d, join(SERVER_FOLDER, BINLOG_STREAM.name), spec.credentials[i] ?? null)]));
  const outcomes: JobOutcome[] = await backupDatabase({
    database: spec.database,
    backupType: spec.backupType,
    requestedKind: spec.requestedKind,
    key,
    serverIdentity: spec.serverIdentity,
    engineVersion: spec.engineVersion,
    dumpToolVersion: spec.dumpToolVersion,
    openDump: (s, since) =>
      spec.serverStream ? connector.openServerDump(spec.database, { signal: s, since }) : connector.openDump(spec.database, spec.backupType, { signal: s }),
    ...(spec.incrementalSource?.from === 'log'
      ? { fromLog: (prep: PreparedDestination, target: DestinationTarget) => logCoverage(prep, logFolders.get(target.id)!, { ...repoOptions, key }) }
      : {}),
    dumpReason: spec.incrementalSource?.from === 'dump' ? spec.incrementalSource.reason : null,
    destinations: spec.destinations.map((d, i) => ({
      id: destinationId(d),
      backend: openDatabaseFolder(d, spec.folder, spec.credentials[i] ?? null),
      sibling: (suffix: string) => {
        siblings.set(destinationId(d), folderLocation(d, spec.folder + suffix));
        return openDatabaseFolder(d, spec.folder + suffix, spec.credentials[i] ?? null);
      },
    })),
    signal,
    onProgress,
    repoOptions,
  });
  for (const o of outcomes) {
    const sibling = siblings.get(o.destination);
    if (sibling) o.location = sibling;
  }
  if (retentionHours(spec.retention) === null) return outcomes;
  for (const [i, o] of outcomes.entries()) {
    if (o.status !== 'success' || signal.aborted) continue;
    try {
      // The point went to the database folder, or to its sibling for this key when the key changed.
      const open = (folder: string) => openRepository(openDatabaseFolder(spec.destinations[i]!, folder, spec.credentials[i] ?? null), { ...repoOptions, key });
      const repo = await open(spec.folder).catch((e: unknown) => {
        if (hasCode(e, 'KEY_MISMATCH', 'KEY_REQUIRED')) return open(spec.folder + keyFolderSuffix(key));
        throw e;
      });
      const r = await applyRetention(repo, spec.retention, new Date());
      o.retention = { deleted: r.deleted, bytesFreed: r.bytesFreed, error: null };
    } catch (e) {
      o.retention = { deleted: [], bytesFreed: 0, error: errorInfo(e) };
    }
  }
  return outcomes;
}
