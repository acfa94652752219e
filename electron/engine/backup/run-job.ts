/**
 * Runs a BackupJobSpec in the current thread: connector + backends + backupDatabase,
 * then retention at every destination that got its new point. The worker entry
 * (worker/backup-job.ts) calls this; tests may call it directly.
 *
 * Contract: each destination's folder is found first (Location.database: an earlier
 * encoding's folder holding a repository is continued); a destination where that fails
 * fails alone. A retention failure never turns a successful backup into a failed one; it is
 * reported on the outcome (`retention.error`). The job's writers (one per destination)
 * share one set of encoder workers, closed when the job ends, as are the job's Locations —
 * unless the caller lends its own (`encoders`: a reused job worker keeps one set for all its
 * jobs; each write has its own encoder session, dropped when the write ends).
 */
import { connectorFor, SERVER_FOLDER } from '../servers/index.ts';
import { destinationId, Location } from '../destinations/index.ts';
import { ThrottledBackend } from '../storage/throttle.ts';
import { freeSpaceOf, type Backend } from '../storage/index.ts';
import { defaultEncoderWorkers, EncoderWorkers, LocalChunkCache, openRepository, type OpenOptions, type Repository } from '../repository/index.ts';
import { PostgresConnector } from '../servers/postgres/connector.ts';
import { WalBackup } from './wal-backup.ts';
import { applyRetention, retentionHours } from '../retention/index.ts';
import { pruneLogStream, type NewestDumps } from '../retention/prune-log-stream.ts';
import { BackstopError, errorInfo, hasCode } from '../../shared/result.ts';
import { backupDatabase, type DatabaseProgress, type DestinationOutcome } from './backup-database.ts';
import type { DestinationTarget } from './backup-database.ts';
import { logCoverage } from './log-coverage.ts';
import { coveredDatabases } from './covered-databases.ts';
import { readWhole, storedHash, UNCHANGED } from './unchanged-stream.ts';
import { MYSQL_GRANTS_STREAM, MysqlConnector } from '../servers/mysql/connector.ts';
import type { PreparedDestination } from './prepare-destination.ts';
import { BINLOG_STREAM } from '../servers/mysql/binlog.ts';
import type { BackupJobSpec } from './job-spec.ts';
import type { DeletedPoint } from '../../shared/domain.ts';

export interface JobOutcome extends DestinationOutcome {
  /** The database folder written at this destination (a path or s3:// URL): the readable one, an earlier encoding's, or a changed key's sibling. */
  location?: string;
  retention?: { deleted: string[]; deletedPoints?: DeletedPoint[]; bytesFreed: number; keptInUse?: string[]; error: { code: string; message: string } | null };
  /** The log job (`coverDatabases`): the databases its stored log covers at this destination. */
  coveredDatabases?: string[];
  /** Bytes free at a remote destination that can tell (SFTP), measured after the point and its retention. */
  freeBytes?: number;
}

/** A remote destination's free space after the job (health-monitor.ts warns from it); a local one is measured where it is checked. */
async function measureFreeSpace(o: JobOutcome, spec: BackupJobSpec, i: number, folder: Location): Promise<void> {
  if (spec.destinations[i]?.kind === 'local') return;
  const free = await freeSpaceOf(folder.backend());
  if (free !== null) o.freeBytes = free;
}

function unreachableOutcome(destination: string, e: unknown): JobOutcome {
  const error = errorInfo(e);
  return {
    destination,
    status: 'failed',
    kind: 'full',
    kindReason: null,
    pointId: null,
    bytesRead: 0,
    bytesNew: 0,
    bytesStored: 0,
    error: { code: error.code, message: `Nothing was written: ${error.message}` },
    ...(error.code === 'AUTH_FAILED' ? { loginRefused: true as const } : {}),
  };
}

export async function runBackupJob(spec: BackupJobSpec, signal: AbortSignal, onProgress: (p: DatabaseProgress) => void, encoders?: (size: number) => EncoderWorkers): Promise<JobOutcome[]> {
  const workers = spec.encoderWorkers ?? defaultEncoderWorkers();
  if (workers > 0 && encoders) return backupAndApplyRetention(spec, signal, onProgress, { workers, encoderWorkers: encoders(workers) });
  const own = workers > 0 ? new EncoderWorkers(workers) : null;
  try {
    return await backupAndApplyRetention(spec, signal, onProgress, { workers, encoderWorkers: own });
  } finally {
    await own?.close();
  }
}

async function backupAndApplyRetention(
  spec: BackupJobSpec,
  signal: AbortSignal,
  onProgress: (p: DatabaseProgress) => void,
  repoOptions: Pick<OpenOptions, 'workers' | 'encoderWorkers'>,
): Promise<JobOutcome[]> {
  const connector = connectorFor(spec.server, { password: spec.password, toolPaths: spec.toolPaths });
  // The log read closes the server's current file first: that runs while the destinations are opened.
  if (spec.serverStream && spec.database === BINLOG_STREAM.name && connector instanceof MysqlConnector) connector.prepareLogRead({ signal });
  const key = spec.keyBase64 ? Buffer.from(spec.keyBase64, 'base64') : null;
  // Each destination's folder for this database (an earlier encoding's folder is continued);
  // a destination that cannot be looked at fails alone, the others go on.
  const found = await Promise.allSettled(
    spec.destinations.map((d, i) => {
      const refused = spec.loginRefused?.[i];
      if (refused) return Promise.reject(new BackstopError('AUTH_FAILED', `not tried, as this destination refused the login earlier in this run: ${refused.message}`));
      return Location.of(d, spec.credentials[i] ?? null, spec.serverStream ? SERVER_FOLDER : '').database(spec.database);
    }),
  );
  const folders = found.map((f) => (f.status === 'fulfilled' ? f.value : null));
  // A destination's upload limit wraps every backend written to it (its sibling too).
  const limited = (l: Location, backend: Backend): Backend => {
    const budget = spec.uploadBudgets?.[folders.indexOf(l)] ?? null;
    return budget ? new ThrottledBackend(backend, budget) : backend;
  };
  const reachable = folders.filter((l): l is Location => l !== null);
  // A remote destination reads its delta bases and the manifests it read before from the local cache, not over the network.
  const localCache = spec.chunkCacheDir ? new LocalChunkCache(spec.chunkCacheDir) : null;
  const cachesFor = (l: Location): Pick<OpenOptions, 'chunkCache' | 'manifestCache'> =>
    l.destination.kind !== 'local' && localCache ? { chunkCache: localCache, manifestCache: localCache } : {};
  const opened: Location[] = [...reachable];
  const siblings = new Map<string, Location>();
  const siblingOf = (l: Location): Location => {
    const s = l.sibling(key);
    opened.push(s);
    return s;
  };
  const openOne = (s: AbortSignal, since: (Record<string, unknown> | null)[]) =>
    spec.serverStream ? connector.openServerDump(spec.database, { signal: s, since, serverVersion: spec.engineVersion }) : connector.openDump(spec.database, spec.backupType, { signal: s });
  // MySQL/MariaDB: the server's stored binary log, which may cover a database's incremental (log-coverage.ts).
  const logFolders = new Map(
    spec.incrementalSource?.from === 'log'
      ? spec.destinations.map((d, i) => {
          const l = Location.of(d, spec.credentials[i] ?? null, `${SERVER_FOLDER}/${BINLOG_STREAM.name}`);
          opened.push(l);
          return [l.id, l] as const;
        })
      : [],
  );
  // A PostgreSQL snapshot task's base-backup job continues its WAL chain (wal-backup.ts).
  const wal = spec.wal && connector instanceof PostgresConnector ? new WalBackup(connector.connection, spec.wal, spec.requestedKind, (s) => openOne(s, [])) : null;
  try {
    // grants.sql: read whole first, and not stored again when no destination would get anything new (unchanged-stream.ts).
    const whole = spec.serverStream && spec.database === MYSQL_GRANTS_STREAM.name && reachable.length > 0 ? await readWhole(await openOne(signal, [])) : null;
    if (whole && spec.requestedKind === 'incremental') {
      const hashes = await Promise.all(reachable.map((l) => storedHash(l, key, { ...repoOptions, ...cachesFor(l) })));
      if (hashes.every((h) => h === whole.sha256)) {
        return found.map((f, i): JobOutcome =>
          f.status === 'rejected'
            ? unreachableOutcome(destinationId(spec.destinations[i]!), f.reason)
            : { destination: f.value.id, location: f.value.text, status: 'success', kind: 'incremental', kindReason: UNCHANGED, pointId: null, bytesRead: whole.bytes.length, bytesNew: 0, bytesStored: 0, error: null },
        );
      }
    }
    // Each destination's repository as the write used it: retention starts from the run's view of the folder.
    const repositories = new Map<string, Repository>();
    const written: JobOutcome[] = reachable.length === 0 ? [] : await backupDatabase({
      repositories,
      database: spec.database,
      backupType: spec.backupType,
      requestedKind: spec.requestedKind,
      key,
      serverIdentity: spec.serverIdentity,
      engineVersion: spec.engineVersion,
      dumpToolVersion: spec.dumpToolVersion,
      openDump: wal ? (s, kind) => wal.openDump(s, kind) : whole ? () => Promise.resolve(whole.replay()) : (s, _kind, since) => openOne(s, since),
      ...(spec.incrementalSource?.from === 'log'
        ? {
            fromLog: (prep: PreparedDestination, target: DestinationTarget) => {
              const log = logFolders.get(target.id)!;
              return logCoverage(prep, log.backend(), { ...repoOptions, ...cachesFor(log), key });
            },
          }
        : {}),
      dumpReason: spec.incrementalSource?.from === 'dump' ? spec.incrementalSource.reason : null,
      ...(spec.readBudget ? { readBudget: spec.readBudget } : {}),
      ...(wal ? { beforeDump: (prepared, s) => wal.beforeDump(prepared, s) } : {}),
      destinations: reachable.map((l) => ({
        id: l.id,
        repoOptions: cachesFor(l),
        backend: limited(l, l.backend()),
        sibling: () => {
          const s = siblingOf(l);
          siblings.set(l.id, s);
          return limited(l, s.backend());
        },
      })),
      signal,
      onProgress,
      repoOptions,
    });
    let next = 0;
    const outcomes: JobOutcome[] = found.map((f, i) => {
      if (f.status === 'rejected') return unreachableOutcome(destinationId(spec.destinations[i]!), f.reason);
      const o = written[next++]!;
      o.location = (siblings.get(o.destination) ?? f.value).text;
      return o;
    });
    // Spooled WAL is let go only when every destination (reachable or not) committed it.
    await wal?.afterBackup(outcomes);
    const retain = retentionHours(spec.retention) !== null;
    // The binary log is one stream that every kept dump of every database rolls forward from its
    // position: a read goes only when no kept dump at that destination needs it (prune-log-stream.ts),
    // never by the task's per-point policy (which would delete middle reads: gaps). It runs first in a
    // run, so it sees the dumps the previous run's retention kept (docs/PITR.md).
    const isLog = spec.serverStream && spec.database === BINLOG_STREAM.name;
    const cover = isLog ? (spec.coverDatabases ?? []) : [];
    for (const [i, o] of outcomes.entries()) {
      const folder = folders[i];
      if (o.status !== 'success' || signal.aborted || !folder) continue;
      // The point went to the database folder, or to its sibling for this key when the key changed
      // (as Location.readWithKey reads it, but the sibling stays open: `opened` closes it with the job).
      const open = (l: Location) => openRepository(l.backend(), { ...repoOptions, ...cachesFor(l), key });
      const rootOptions = { ...repoOptions, ...cachesFor(folder) };
      const prepared = repositories.get(folder.id);
      let writtenRepo: Promise<Repository> | undefined = prepared ? Promise.resolve(prepared) : undefined;
      const openWritten = () =>
        (writtenRepo ??= open(folder).catch((e: unknown) => {
          if (hasCode(e, 'KEY_MISMATCH', 'KEY_REQUIRED')) return open(siblingOf(folder));
          throw e;
        }));
      const root = () => Location.of(spec.destinations[i]!, spec.credentials[i] ?? null);
      // The log prune's look at every database folder, reused by the coverage check below.
      const newestDumps: NewestDumps = new Map();
      if (retain) {
        try {
          const repo = await openWritten();
          const r = isLog ? await root().use((l) => pruneLogStream(repo, l, key, rootOptions, newestDumps)) : await applyRetention(repo, spec.retention, new Date(), { fromView: prepared !== undefined });
          o.retention = { deleted: r.deleted, deletedPoints: r.deletedPoints, bytesFreed: r.bytesFreed, ...(r.inUse?.length ? { keptInUse: r.inUse } : {}), error: null };
        } catch (e) {
          o.retention = { deleted: [], bytesFreed: 0, error: errorInfo(e) };
        }
      } else if (spec.retentionSkipped) o.retention = { deleted: [], bytesFreed: 0, error: { code: 'CONFLICT', message: spec.retentionSkipped } };
      // Which of the run's databases need no job at all: the log just stored covers them here (covered-databases.ts).
      if (cover.length > 0) o.coveredDatabases = await openWritten().then((repo) => root().use((l) => coveredDatabases(l, cover, repo, key, rootOptions, newestDumps)), () => []);
      await measureFreeSpace(o, spec, i, folder);
    }
    return outcomes;
  } finally {
    await Promise.all(opened.map((l) => l.close()));
  }
}
