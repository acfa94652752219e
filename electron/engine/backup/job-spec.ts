/**
 * A self-contained, structured-cloneable description of one database backup, so it can
 * run in a worker thread: everything the worker needs to connect, dump and write.
 *
 * Contract: holds secrets (password, key) only in memory while the job runs; it is sent
 * to a worker thread of this process, never logged, stored or emitted.
 */
import type { BackupType, Destination, PointKind, Retention, Server } from '../../shared/domain.ts';
import type { ToolPaths } from '../servers/connector.ts';
import type { ParsedToolVersion } from '../servers/tools.ts';
import type { Credentials } from '../destinations/location.ts';

export interface BackupJobSpec {
  server: Server;
  password: string | null;
  toolPaths: ToolPaths;
  /** A database name, or a server-level stream name when `serverStream` is true. */
  database: string;
  serverStream: boolean;
  /** The folder under each destination root. */
  folder: string;
  backupType: BackupType;
  requestedKind: PointKind;
  keyBase64: string | null;
  serverIdentity: string;
  engineVersion: string;
  dumpToolVersion: string;
  /** Client-tool versions the run already read (tools.ts `knownToolVersions`): the job runs no `--version` for them. */
  toolVersions?: Record<string, ParsedToolVersion>;
  destinations: Destination[];
  /** S3 credentials for each destination (null for local ones), same order. */
  credentials: (Credentials | null)[];
  /**
   * Per destination (same order): the refused login an earlier job of this run got there
   * (AUTH_FAILED), or null. The job does not log in there again: a wrong password tried once
   * per database gets an account locked (pam_faillock) or the backup host banned (fail2ban).
   */
  loginRefused?: ({ code: string; message: string } | null)[];
  /** Applied at each destination after a successful backup there. */
  retention: Retention;
  /** Why retention is skipped this run (another task writes to a destination of this one): recorded as the retention's CONFLICT. */
  retentionSkipped?: string;
  /** PostgreSQL snapshot task: the base backup stream continues as a WAL chain through this slot (wal-backup.ts). */
  wal?: { slot: string; spoolDir: string };
  /**
   * A database's incremental on a server with a change log (MySQL/MariaDB): 'log' when the
   * log is stored this run (no dump where it covers the chain), else why it re-dumps.
   */
  incrementalSource?: { from: 'log' } | { from: 'dump'; reason: string };
  /**
   * The binary-log job of an incremental run: the run's databases, so the job says which ones
   * its stored log covers at each destination (JobOutcome.coveredDatabases) and the run starts
   * no job for them.
   */
  coverDatabases?: string[];
  /**
   * A small job that mostly waits on a client tool (a logical task's server-level stream: the
   * binary-log read, grants.sql): it may run in the job thread of another such job of the run
   * (JobWorkerPool `share`) instead of starting its own.
   */
  sharesThread?: boolean;
  /** Compression/encryption worker threads inside the job (0 = inline). */
  encoderWorkers?: number;
  /** Per destination (same order): the run's shared upload budget (storage/throttle.ts), or null for no limit. */
  uploadBudgets?: (SharedArrayBuffer | null)[];
  /** The task's read limit on the dump side, one budget shared by every job of the run (storage/throttle.ts). */
  readBudget?: SharedArrayBuffer;
  /**
   * Folder of the local chunk cache (repository/chunk-cache.ts) used for S3 destinations, so
   * an incremental reads its delta bases locally instead of downloading them. Absent: none.
   */
  chunkCacheDir?: string;
}
