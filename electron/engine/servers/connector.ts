/**
 * The contract every database-server connector (PostgreSQL, MySQL/MariaDB, SQLite folder)
 * fulfils. A *server* is what a server-wide task backs up; a connector tests it, lists its
 * user databases, opens consistent dump streams and restores a stream into a NEW database.
 *
 * Contracts shared by all connectors:
 * - Failures the user can act on reject with a BackstopError whose code says what failed
 *   (UNREACHABLE, AUTH_FAILED, PERMISSION_DENIED, TOOL_MISSING, TOOL_TOO_OLD,
 *   DATABASE_NOT_FOUND, DATABASE_EXISTS, DUMP_FAILED, RESTORE_FAILED, CANCELED, VALIDATION).
 *   Messages never contain a password.
 * - A DumpStream's `stream` ends ('end') only when the dump is complete and the tool
 *   succeeded; if anything fails it is destroyed with the error instead, and `done` rejects
 *   with the same error. So a caller that saw 'end' (e.g. `await pipeline(...)` resolved)
 *   holds a complete dump. Aborting `signal` kills the child process (CANCELED).
 * - restore never touches an existing database: DATABASE_EXISTS if the name is taken, and
 *   the half-restored database is removed if anything fails. restore owns `source`: it is
 *   read to the end, or destroyed when the restore fails (stopping the producer).
 */
import type { Readable } from 'node:stream';
import type { BackupType, RestoreCheck, ServerKind } from '../../shared/domain.ts';
import type { FactCounter } from '../facts/dump-facts.ts';
import type { JsonObject, VolatileBytes } from '../repository/types.ts';

export interface ToolInfo {
  name: string;
  path: string;
  version: string;
}

export interface ConnectionReport {
  /** e.g. "PostgreSQL 15.14", "MariaDB 10.11.6", "SQLite 3.45.1". */
  serverVersion: string;
  tools: ToolInfo[];
  /** Things that work but limit what can be backed up (e.g. no replication privilege: no snapshots). */
  warnings: string[];
  /** The user databases (as `listDatabases` returns them), when the test was asked to list them and could in the same round trip. */
  databases?: string[];
  /**
   * How many sessions the user may have open at once, when the server holds it to a number
   * (PostgreSQL: the role's CONNECTION LIMIT): a run keeps its jobs at once to it, so its
   * dumps are not refused for a session of its own.
   */
  maxSessions?: number;
}

/** Whether a backup type is offered, and whether it is taken per database or once for the whole server. */
export type BackupSupport =
  | { available: true; scope: 'database' | 'server' }
  | { available: false; reason: string };

export interface DumpMeta {
  /** What the bytes are: 'pg-custom', 'pg-globals-sql', 'pg-basebackup-tar', 'mysql-sql', 'sqlite-file', 'sqlite-sql'. */
  format: string;
  /** SQLite snapshot: the database page size, so the repository can cut page-aligned blocks. */
  pageSize?: number;
  /**
   * How many bytes the stream will have, when known before it starts: exact for an SQLite
   * snapshot (the copied file), an estimate for a PostgreSQL cluster snapshot (the sum of
   * the database sizes). Progress shows a percentage from it; never used to check the data.
   */
  expectedBytes?: number;
  /** false: this stream's points share no content with their parent's at the same offsets (WAL); store no delta chunks. */
  deltaBases?: false;
  /**
   * Cut the stream into fixed blocks of this many bytes instead of content-defined chunks:
   * for a stream whose points never share content by position or by cut (WAL), and whose
   * buffers are exactly these blocks, so each can be handed over whole.
   */
  blockBytes?: number;
  /**
   * The zstd level of this stream's points in place of the repository's (negative: zstd's
   * fast levels): for a stream whose bytes compress little at any level and must be written
   * fast (WAL). Nothing records it; a zstd frame decodes the same at any level.
   */
  compressionLevel?: number;
}

export interface DumpStream {
  stream: Readable;
  /** Resolves once the tool has exited successfully (see the header for the ordering contract). */
  done: Promise<void>;
  meta: DumpMeta;
  /**
   * Every buffer the stream yields is a fresh allocation that nothing else keeps (a
   * tool's stdout through `streamTool`, the read stream of a private temp file), so a
   * sole consumer may take it over (move it to a worker thread) instead of copying it.
   */
  handsOverBuffers?: boolean;
  /**
   * Counts what the dump holds (tables, rows per table) while it streams by, or knew it
   * from the dump's snapshot; recorded in the point's manifest (facts/dump-facts.ts).
   */
  facts?: FactCounter;
  /**
   * What the stream reported about itself once it ended (e.g. the binary-log position a
   * MariaDB dump printed), stored with the point; called only after the stream ended.
   */
  finalMeta?: () => JsonObject;
  /**
   * What the user should know about this backup although it succeeded (MySQL/MariaDB: its
   * tables without transactions, not in the dump's snapshot): each destination's History row
   * of it shows them (RunDatabase.warnings). Called only after the stream ended.
   */
  warnings?: () => string[];
  /**
   * Set when this stream cannot continue the chain it was asked to continue (the binary
   * log it follows was purged): the point starts a new chain, with this reason.
   */
  startsChain?: string;
  /**
   * Set by a dump whose format knows exactly which bytes its tool varies on every run
   * (PostgreSQL: the archive header's creation time, globals.sql's `\restrict` key; MariaDB,
   * SQLite: none): an incremental whose dump equals the newest point's apart from those
   * bytes stores no point (repository/writer.ts). Unset (WAL, the binary log, MariaDB's
   * grants.sql): always stored.
   */
  volatile?: VolatileBytes;
}

/** `DumpStream.volatile` of a dump that is byte-identical whenever its content is. */
export const NO_VOLATILE_BYTES: VolatileBytes = () => [];

/**
 * The point meta field (a `finalMeta` key) holding what a backup could not carry (e.g. the
 * subscriptions pg_dump leaves out for a role that is not a superuser): strings for a DBA,
 * repeated in the notes of every restore of the point.
 */
export const BACKUP_NOTES_META = 'backupNotes';

export interface OperationOptions {
  signal?: AbortSignal;
}

export interface ConnectionTestOptions extends OperationOptions {
  /** Also list the user databases if that costs no extra round trip (`ConnectionReport.databases`); a run asks for both back to back. */
  listDatabases?: boolean;
  /**
   * Also look at the content for what a backup cannot make consistent (MySQL/MariaDB: tables
   * without transactions), into `warnings`. A slower look (every table's definition): the
   * window's and the CLI's connection test ask, a run does not.
   */
  contentWarnings?: boolean;
}

export interface ServerDumpOptions extends OperationOptions {
  /**
   * For a stream that continues a chain (the MariaDB binary log): the `meta` of the newest
   * point at each destination the point goes to, or null where it starts a chain there.
   */
  since?: (Record<string, unknown> | null)[];
  /** The server's version as the run's connection test reported it (ConnectionReport.serverVersion), when the caller has it. */
  serverVersion?: string;
}

/**
 * Whether incrementals come from the server's change log (MariaDB's binary log, stored once
 * per run as the server-level `stream`) or from a new dump, and why.
 */
export type LogIncrementals =
  | { available: true; stream: ServerStream }
  | { available: false; reason: 'LOG_OFF' | 'LOG_NOT_ROW' | 'NO_LOG_PRIVILEGE' | 'REPLICA_LOG_INCOMPLETE'; message: string };

export interface RestoreProgress {
  /** 'entries' (pg_restore TOC entries) or 'bytes' (bytes of the stream consumed). */
  unit: 'entries' | 'bytes';
  done: number;
  /** null when not known in advance. */
  total: number | null;
}

export interface RestoreOptions extends OperationOptions {
  onProgress?: (p: RestoreProgress) => void;
  /** PostgreSQL: parallel pg_restore jobs (the stream is spooled to a temp file when > 1). */
  jobs?: number;
  /** PostgreSQL: do not restore object ownership (every object belongs to the connecting user). */
  noOwner?: boolean;
  /** PostgreSQL: do not restore privileges. */
  noPrivileges?: boolean;
  /** PostgreSQL: roles named by the backup → roles of the target server. */
  roleMap?: Record<string, string>;
  /** PostgreSQL: create missing roles (NOLOGIN) instead of failing with ROLE_MISSING. */
  createRoles?: boolean;
  /** SQLite: restore into this folder instead of the server's folder. */
  folder?: string;
  /** Where temporary files go (spooled archives, SQLite snapshots); defaults to the OS temp dir. */
  tempDir?: string;
  /** Total bytes of the stream when known (progress for byte-counted restores). */
  totalBytes?: number;
  /**
   * MySQL/MariaDB: the name of the database the backup was taken of (the point's manifest),
   * taken out of the dump's view bodies so the views read the new database (view-bodies.ts).
   */
  sourceName?: string;
  /**
   * MySQL/MariaDB: the dump's longest statement in bytes (the point's facts, dump-facts.ts),
   * checked against the target's max_allowed_packet before anything is created.
   */
  longestStatement?: number;
}

export interface RestoreReport {
  database: string;
  /** SQLite: the restored file. */
  path?: string;
  /** What the user should know or do next. */
  notes?: string[];
  /**
   * Damage the backup's copy itself held that the restore repaired on the way in (SQLite: an
   * index rebuilt by REINDEX), in words; also among `notes`. A test restore fails its integrity
   * check on it: the backup does not come back as recorded without the repair.
   */
  repaired?: string[];
}

/** A server-level stream stored once per run in the reserved server folder (not per database). */
export interface ServerStream {
  /** Stable name of the stream inside the server-level folder, e.g. "globals.sql", "base.tar". */
  name: string;
  format: string;
}

export interface SkippedDatabase {
  database: string;
  /** A warning for a DBA, naming how to include the database. */
  reason: string;
}

/** What a restored database holds, for a test restore to compare with the point's facts. */
export interface RestoredInspection {
  /** Every user table of the restored database, named as the facts name them (facts/dump-facts.ts). */
  tables: string[];
  /** Row counts of the requested tables that exist. */
  counts: Record<string, number>;
  /** The engine's own integrity checks (SQLite integrity_check, MariaDB CHECK TABLE); none on PostgreSQL. */
  checks: RestoreCheck[];
  /** PostgreSQL: the restored database's large objects. */
  largeObjects?: number;
}

export interface Connector {
  readonly kind: ServerKind;
  support(type: BackupType): BackupSupport;
  testConnection(opts?: ConnectionTestOptions): Promise<ConnectionReport>;
  /** User databases only (never system or template databases), sorted. */
  listDatabases(opts?: OperationOptions): Promise<string[]>;
  /** User databases `listDatabases` leaves out because they cannot be backed up, and why (the run reports them as skipped). */
  skippedDatabases?(opts?: OperationOptions): Promise<SkippedDatabase[]>;
  /** A per-database dump; VALIDATION when `type` is not a per-database type for this server. */
  openDump(database: string, type: BackupType, opts?: OperationOptions): Promise<DumpStream>;
  /** Server-level streams a run of `type` must also store (PostgreSQL: globals; cluster snapshot). */
  serverStreams(type: BackupType): ServerStream[];
  openServerDump(name: string, opts?: ServerDumpOptions): Promise<DumpStream>;
  /** Servers whose incrementals can be read from a change log (MySQL/MariaDB): whether this one's can, and why not. */
  logIncrementals?(opts?: OperationOptions): Promise<LogIncrementals>;
  /** Restores a per-database dump of `type` into the new database `database`. */
  restore(database: string, source: Readable, type: BackupType, opts?: RestoreOptions): Promise<RestoreReport>;
  /** Lists and counts a restored database's tables and runs the engine's integrity checks (SQLite: in `opts.folder`). */
  inspectRestored(database: string, countTables: string[], opts?: OperationOptions & { folder?: string }): Promise<RestoredInspection>;
  /**
   * Drops a database. Only for names Backstop itself created and recorded (test-restore
   * scratch databases; half-restored copies in the restore journal: own-leftovers.ts,
   * restore-server.ts); no other caller. SQLite: VALIDATION (a scratch target is a folder).
   */
  dropDatabase(database: string, opts?: OperationOptions): Promise<void>;
}

/** Client-tool locations from settings: a folder searched before PATH, per server family. */
export interface ToolPaths {
  postgres?: string | null;
  mysql?: string | null;
}

export interface ConnectorOptions {
  /** The server's password (from the keychain), when it has one. Passed to tools only via the environment. */
  password?: string | null;
  toolPaths?: ToolPaths;
}
