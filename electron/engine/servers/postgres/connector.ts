/**
 * The PostgreSQL connector.
 *
 * - logical: one `pg_dump -Fc -Z0` archive per database (Backstop compresses later), plus
 *   the server-level `globals.sql` stream (`pg_dumpall --globals-only`: roles, tablespaces).
 *   A role that may not bypass a table's row-level security, read a large object or
 *   connect to the database (CONNECT revoked from PUBLIC) fails with PERMISSION_DENIED
 *   naming the fix; for a role that is not a superuser the subscriptions pg_dump leaves out
 *   are named in the point's meta (BACKUP_NOTES_META), repeated by every restore of it.
 * - snapshot: PostgreSQL cannot snapshot one database, so a snapshot is one cluster-wide
 *   server-level stream `base.tar` (`pg_basebackup -D - -Ft -X fetch`); its restore is
 *   `restoreBaseBackup` (snapshot.ts), not `restore`. A cluster with user tablespaces is
 *   refused with UNSUPPORTED before pg_basebackup starts (tablespaces.ts); after a connection
 *   test with `contentWarnings` (the server check) `support('snapshot')` says so too.
 * - restore (logical): DATABASE_EXISTS if the name is taken; the archive's table of contents
 *   is read first (archive-source.ts; a source name with a line break, which pg_restore --create
 *   refuses, is read with the entries' tags unbroken: archive-header.ts) and the restore planned from it (restore-plan.ts):
 *   ROLE_MISSING before anything is created when it names roles the target lacks and no
 *   choice covers them (large objects' owners and grantees included); RESTORE_FAILED then
 *   too when it names a tablespace the target lacks. Then CREATE DATABASE
 *   with the source's encoding and locale (from template0), pg_restore --exit-on-error into
 *   it (writing even when the role or the server is read-only by default: the restoring
 *   role's own default_transaction_read_only = off in the new database, removed again
 *   before the archive's settings), and the database's owner, settings, per-role settings,
 *   comment and privileges under the new name — last, so settings that would bite a
 *   restore (read-only, timeouts, search_path, session_replication_role) only take effect
 *   on the finished copy; run under the archive's standard_conforming_strings. The new database (and any role the restore created) is dropped if
 *   anything fails; pg_restore's failures are explained by restore-failure.ts (the server's
 *   error quoted, the search_path case named), and those of a target that differs from the
 *   source — a locale its OS lacks, a collation initdb did not import there, too few lock
 *   slots — by target-differs.ts. A roleMap's per-object statements run in transactions of
 *   OBJECT_BATCH (a low max_locks_per_transaction cannot hold one lock per table of a large
 *   database). The archive's subscriptions are never restored, nor, for a role that is not a
 *   superuser, publications only a superuser may create (restore-plan.ts: notes say so).
 *   Progress counts the archive's bytes as pg_restore reads them (one job: it moves during a
 *   large table's COPY), or, for a parallel restore of the spooled file, TOC entries
 *   (`pg_restore -l`) against `--verbose` lines.
 * - dropDatabase (Backstop's own scratch databases only): subscriptions in it are detached
 *   first (disabled, slot_name = NONE, dropped: the publisher is never contacted), as DROP
 *   DATABASE refuses a database holding one.
 * See connector.ts for the shared contract.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type { BackupType } from '../../../shared/domain.ts';
import { BackstopError } from '../../../shared/result.ts';
import { PgCustomArchiveFacts } from '../../facts/pg-custom-facts.ts';
import { BACKUP_NOTES_META } from '../connector.ts';
import { pgArchiveVolatile } from './archive-header.ts';
import { pgRestrictKeyVolatile } from './restrict-key.ts';
import { CONNECT_RETRY_MS, pause, runToolBuffer, sinkTool, streamTool } from '../child-process.ts';
import { pgConnectionSlotsFull, pgRoleLimitReached, pgSessionEnded } from '../classify.ts';
import { openArchive, type ArchiveSource } from './archive-source.ts';
import { pgRestoreClassifier } from './restore-failure.ts';
import { collationMissingError, localeMissingError, lockSlotsError } from './target-differs.ts';
import { databaseEntries, decodeScript, largeObjectEntries, planRestore, sourceDatabaseName, type RestorePlan } from './restore-plan.ts';
import type {
  BackupSupport,
  ConnectionReport,
  ConnectionTestOptions,
  Connector,
  DumpStream,
  OperationOptions,
  RestoredInspection,
  RestoreOptions,
  RestoreReport,
  ServerStream,
  SkippedDatabase,
} from '../connector.ts';
import { countedBytes, ProgressReporter } from '../progress.ts';
import { owningSource, stopIfCanceled, withoutHalfRestore } from '../restore-guard.ts';
import { makeTempFolder } from '../temp-folder.ts';
import { compareVersions, toolVersion, type ToolSearch } from '../tools.ts';
import { checkPgDatabaseName, conninfoDbname, PgConnection, quoteIdent, type PostgresServer } from './connection.ts';
import { poolerReplicationReason, transactionPoolingRefusal } from './pooler.ts';
import { walReadiness } from './wal-readiness.ts';
import { standbySnapshotReason } from './wal-stream.ts';
import { workFolderBase } from '../../runtime/work-folder.ts';
import { snapshotRefusal, snapshotUnsupportedReason, userTablespaces, type UserTablespace } from './tablespaces.ts';

export const PG_GLOBALS_STREAM: ServerStream = { name: 'globals.sql', format: 'pg-globals-sql' };
export const PG_BASEBACKUP_STREAM: ServerStream = { name: 'base.tar', format: 'pg-basebackup-tar' };

interface ServerFacts {
  versionNum: number;
  version: string;
  superuser: boolean;
  /** CREATEDB (or a superuser): may create the database a restore makes. */
  createdb: boolean;
  replication: boolean;
  readAllData: boolean;
  /** The role's CONNECTION LIMIT (null: none, or a superuser, who is not held to it). */
  connectionLimit: number | null;
  /** The server is a standby (in recovery): snapshot tasks cannot run on it. */
  inRecovery: boolean;
}

function hexToText(hex: string): string {
  return Buffer.from(hex, 'hex').toString('utf8');
}

/** A facts table key: "schema"."table" with doubled quotes inside (pgTableKey). */
const PG_TABLE_KEY = /^"(?:[^"]|"")*"\."(?:[^"]|"")*"$/;

/** Statements Backstop sends are UTF-8, whatever the psql locale or the database's encoding. */
const UTF8 = "SET client_encoding = 'UTF8';\n";

/**
 * Object statements per transaction: each locks its object (and an ALTER … OWNER its indexes
 * and sequences too); a few dozen fit the lock table of the smallest server
 * (max_locks_per_transaction 10 × its connections).
 */
const OBJECT_BATCH = 32;

function batches<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** pg_restore --verbose lines that stand for one TOC entry being processed. */
const VERBOSE_ENTRY = /^pg_restore: (creating|processing|executing|restoring|setting|finished item|launching item)/;

/**
 * The databases a server-wide task covers: every one but the system templates template0 and
 * template1. A database the DBA made a template (IS_TEMPLATE, e.g. template_postgis) is
 * backed up like any other; its restore is an ordinary database (restore-plan.ts).
 */
const USER_DATABASES = "datname NOT IN ('template0', 'template1')";

export class PostgresConnector implements Connector {
  readonly kind = 'postgres' as const;
  private readonly conn: PgConnection;
  private facts: Promise<ServerFacts> | null = null;
  /** The cluster's user tablespaces as the last connection test found them (null: not asked). */
  private tablespaces: UserTablespace[] | null = null;
  /** Whether the last connection test found a standby (support('snapshot') says so). */
  private standby = false;
  /** Whether the last connection test found a pooler that refuses replication connections (pooler.ts). */
  private pooler = false;

  constructor(server: PostgresServer, password: string | null, search: ToolSearch) {
    this.conn = new PgConnection(server, password, search);
  }

  /** The connection helper (used by snapshot restore verification and tests). */
  get connection(): PgConnection {
    return this.conn;
  }

  support(type: BackupType): BackupSupport {
    if (type === 'logical') return { available: true, scope: 'database' };
    // Known only after a connection test (the server check): a standby, a cluster with tablespaces (tablespaces.ts).
    if (this.standby) return { available: false, reason: standbySnapshotReason(this.conn.label) };
    if (this.pooler) return { available: false, reason: poolerReplicationReason(this.conn.label) };
    if (this.tablespaces?.length) return { available: false, reason: snapshotUnsupportedReason(this.tablespaces) };
    return { available: true, scope: 'server' };
  }

  private serverFacts(signal?: AbortSignal): Promise<ServerFacts> {
    if (!this.facts) {
      // A pool that shares sessions between clients (PgBouncer's transaction mode) is refused before any session state is sent (pooler.ts).
      this.facts = transactionPoolingRefusal(this.conn, signal)
        .then((refusal) => {
          if (refusal) throw refusal;
        })
        .then(() => this.conn.query(
          `SELECT current_setting('server_version_num'), current_setting('server_version'), r.rolsuper, r.rolreplication,
             CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pg_read_all_data')
                  THEN pg_has_role(current_user, 'pg_read_all_data', 'MEMBER') ELSE false END,
             r.rolcreatedb, r.rolconnlimit, pg_is_in_recovery()
           FROM pg_roles r WHERE r.rolname = current_user`,
          { signal, action: 'connecting', fallback: 'UNREACHABLE' },
        ))
        .then((rows) => {
          const r = rows[0] ?? [];
          return {
            versionNum: Number(r[0]),
            version: r[1] ?? '?',
            superuser: r[2] === 't',
            createdb: r[5] === 't' || r[2] === 't',
            replication: r[3] === 't' || r[2] === 't',
            readAllData: r[4] === 't',
            connectionLimit: r[2] !== 't' && Number(r[6]) >= 0 ? Number(r[6]) : null,
            inRecovery: r[7] === 't',
          };
        });
      this.facts.catch(() => (this.facts = null));
    }
    return this.facts;
  }

  /** The databases' total size (what a base backup mostly is), or undefined when it cannot be asked: progress only. */
  private async clusterSizeEstimate(signal?: AbortSignal): Promise<number | undefined> {
    try {
      const rows = await this.conn.query(`SELECT sum(pg_database_size(oid)) FROM pg_database WHERE has_database_privilege(oid, 'CONNECT')`, { signal, action: 'estimating the cluster size' });
      const n = Number(rows[0]?.[0]);
      return Number.isFinite(n) && n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  }

  async testConnection(opts: ConnectionTestOptions = {}): Promise<ConnectionReport> {
    const psql = this.conn.tool('psql');
    const pgDump = this.conn.tool('pg_dump');
    // Each question is a process start, and every backup run asks them too: the tools' versions,
    // the server's facts and then the replication readiness are asked at once, not in turn.
    const versions = Promise.all([toolVersion(pgDump), toolVersion(psql)]);
    versions.catch(() => undefined);
    const facts = await this.serverFacts(opts.signal);
    const readiness = facts.replication ? walReadiness(this.conn, opts.signal) : Promise.resolve([]);
    // The user's own check asks which tablespaces the cluster has (support('snapshot') then says); a run asks elsewhere.
    const tablespaces = opts.contentWarnings ? userTablespaces(this.conn, opts.signal).catch(() => null) : Promise.resolve(null);
    const serverMajor = facts.versionNum >= 100000 ? String(Math.floor(facts.versionNum / 10000)) : `${Math.floor(facts.versionNum / 10000)}.${Math.floor(facts.versionNum / 100) % 100}`;
    const [dumpVersion, psqlVersion] = await versions;
    if (compareVersions(dumpVersion.major, serverMajor) < 0) {
      throw new BackstopError(
        'TOOL_TOO_OLD',
        `pg_dump ${dumpVersion.version} (${pgDump}) is older than the server (PostgreSQL ${facts.version}); pg_dump must be version ${serverMajor} or newer. Install newer client tools or set their folder in Settings.`,
      );
    }
    if (!facts.superuser && !facts.readAllData) {
      throw new BackstopError(
        'PERMISSION_DENIED',
        `User "${this.conn.server.user}" may not read every database on the ${this.conn.label}. Use a superuser, or GRANT pg_read_all_data TO "${this.conn.server.user}" (PostgreSQL 14+).`,
      );
    }
    const warnings: string[] = [];
    if (!facts.replication) {
      warnings.push(`User "${this.conn.server.user}" has no REPLICATION privilege: snapshot backups (base backup + WAL) will fail. Fix: ALTER ROLE ${quoteIdent(this.conn.server.user)} REPLICATION;`);
    }
    if (!facts.superuser) warnings.push('Not a superuser: role passwords are left out of the globals dump (pg_dumpall --no-role-passwords).');
    if (!facts.superuser && opts.contentWarnings) {
      // CONNECT revoked from PUBLIC: pg_read_all_data does not grant it, so each such database would fail its backup.
      const closed = await this.conn.query(
        `SELECT encode(convert_to(datname, 'UTF8'), 'hex') FROM pg_database WHERE ${USER_DATABASES} AND datallowconn AND NOT has_database_privilege(oid, 'CONNECT') ORDER BY datname`,
        { signal: opts.signal, action: 'checking which databases the user may connect to', fallback: 'UNREACHABLE' },
      );
      if (closed.length > 0) {
        const names = closed.map((r) => hexToText(r[0] ?? ''));
        warnings.push(
          `User "${this.conn.server.user}" may not connect to database${names.length === 1 ? '' : 's'} ${names.map((n) => `"${n}"`).join(', ')} (CONNECT revoked from PUBLIC; pg_read_all_data does not grant it): ${names.length === 1 ? 'its' : 'their'} backups will fail. Fix: ${names.map((n) => `GRANT CONNECT ON DATABASE ${quoteIdent(n)} TO ${quoteIdent(this.conn.server.user)};`).join(' ')}`,
        );
      }
      // pg_dump leaves subscriptions out for such a role (subscriptionsLeftOut names them with each backup).
      const rows = await this.conn.query(
        `SELECT encode(convert_to(d.datname, 'UTF8'), 'hex'), count(*) FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid GROUP BY d.datname ORDER BY d.datname`,
        { signal: opts.signal, action: 'listing subscriptions', fallback: 'UNREACHABLE' },
      );
      if (rows.length > 0) {
        const where = rows.map((r) => `"${hexToText(r[0] ?? '')}" (${r[1]})`).join(', ');
        warnings.push(
          `Not a superuser: the logical replication subscriptions of database${rows.length === 1 ? '' : 's'} ${where} are left out of logical backups (pg_dump dumps them only for a superuser; each backup names them). A restore never recreates a subscription; to keep their definitions in the backup, back up as a superuser.`,
        );
      }
    }
    const ready = await readiness;
    warnings.push(...ready);
    this.pooler = ready.includes(poolerReplicationReason(this.conn.label));
    this.tablespaces = await tablespaces;
    this.standby = facts.inRecovery;
    const tools = [
      { name: 'psql', path: psql, version: psqlVersion.version },
      { name: 'pg_dump', path: pgDump, version: dumpVersion.version },
    ];
    return { serverVersion: `PostgreSQL ${facts.version}`, tools, warnings, ...(facts.connectionLimit !== null ? { maxSessions: facts.connectionLimit } : {}) };
  }

  async listDatabases(opts: OperationOptions = {}): Promise<string[]> {
    const rows = await this.conn.query(
      `SELECT encode(convert_to(datname, 'UTF8'), 'hex') FROM pg_database WHERE ${USER_DATABASES} AND datallowconn`,
      { signal: opts.signal, action: 'listing databases', fallback: 'UNREACHABLE' },
    );
    return rows.map((r) => hexToText(r[0] ?? '')).sort();
  }

  async skippedDatabases(opts: OperationOptions = {}): Promise<SkippedDatabase[]> {
    const rows = await this.conn.query(
      `SELECT encode(convert_to(datname, 'UTF8'), 'hex') FROM pg_database WHERE ${USER_DATABASES} AND NOT datallowconn`,
      { signal: opts.signal, action: 'listing databases', fallback: 'UNREACHABLE' },
    );
    return rows
      .map((r) => hexToText(r[0] ?? ''))
      .sort()
      .map((database) => ({
        database,
        reason: `connections to database "${database}" are not allowed, so it was not backed up — run ALTER DATABASE ${quoteIdent(database)} ALLOW_CONNECTIONS true to back it up`,
      }));
  }

  async openDump(database: string, type: BackupType, opts: OperationOptions = {}): Promise<DumpStream> {
    if (type !== 'logical') {
      throw new BackstopError('VALIDATION', 'PostgreSQL snapshots cover the whole server: store the server-level "base.tar" stream instead of per-database dumps.');
    }
    checkPgDatabaseName(database);
    const gaps = await this.subscriptionsLeftOut(database, opts.signal);
    const cmd = this.conn.command('pg_dump', ['-Fc', '-Z0', ...this.conn.connArgs(), '-d', conninfoDbname(database)]);
    const { stream, done } = streamTool(cmd, {
      signal: opts.signal,
      classify: this.conn.classify(`dumping database "${database}"`, 'DUMP_FAILED'),
      retry: pgConnectionSlotsFull,
      refine: (e) => this.explainDumpFailure(database, e),
    });
    return {
      stream,
      done,
      handsOverBuffers: true,
      facts: new PgCustomArchiveFacts(),
      meta: { format: 'pg-custom' },
      ...(gaps.length > 0 ? { finalMeta: () => ({ [BACKUP_NOTES_META]: gaps }) } : {}),
      volatile: pgArchiveVolatile,
    };
  }

  /**
   * pg_dump leaves a database's subscriptions out when the role is not a superuser (pg_subscription's
   * connection is readable only by one), with nothing but a warning on its stderr: named here instead,
   * stored with the point (restores repeat it). Their names, publications and slots are readable by any role.
   * One query per database for such a role only (it has pg_read_all_data, so the server is 14+: pg_subscription exists).
   */
  private async subscriptionsLeftOut(database: string, signal?: AbortSignal): Promise<string[]> {
    if ((await this.serverFacts(signal)).superuser) return [];
    const hex = (sql: string) => `encode(convert_to(${sql}, 'UTF8'), 'hex')`;
    const rows = await this.conn.query(
      `SELECT ${hex('subname')}, ${hex(`array_to_string(subpublications, E'\\n')`)}, ${hex(`coalesce(subslotname::text, '')`)}
         FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE encode(convert_to(datname, 'UTF8'), 'hex') = '${Buffer.from(database, 'utf8').toString('hex')}') ORDER BY subname`,
      // Asked from the maintenance database: one the role may not connect to fails in pg_dump, which explains it.
      { signal, action: `listing the subscriptions of database "${database}"`, fallback: 'DUMP_FAILED' },
    );
    if (rows.length === 0) return [];
    const user = this.conn.server.user;
    const subs = rows.map((r) => {
      const pubs = hexToText(r[1] ?? '').split('\n');
      const slot = hexToText(r[2] ?? '');
      return `"${hexToText(r[0] ?? '')}" (publication${pubs.length === 1 ? '' : 's'} ${pubs.map((p) => `"${p}"`).join(', ')}${slot ? `, replication slot "${slot}" on its publisher` : ''})`;
    });
    return [
      `Subscription${subs.length === 1 ? '' : 's'} ${subs.join(', ')} of database "${database}" ${subs.length === 1 ? 'is' : 'are'} not in this backup: "${user}" is not a superuser, and pg_dump dumps subscriptions only for a superuser. A restore never recreates a subscription (a copy must not use the source's slot), but to keep its definition in the backup, back up as a superuser.`,
    ];
  }

  /**
   * A dump whose session was cut looks the same whether the server went down or the
   * database was dropped (DROP DATABASE … WITH (FORCE)): ask the server which it was. One
   * pg_dump could not open (dropped or renamed since the run listed it) says so.
   * A table with row-level security the role may not bypass, or a large object it may not
   * read (pg_read_all_data covers neither): PERMISSION_DENIED naming the fix.
   */
  private async explainDumpFailure(database: string, e: BackstopError): Promise<BackstopError> {
    const user = this.conn.server.user;
    // pg_read_all_data covers neither of these; the message names the fix.
    const lo = /permission denied for large object (\d+)/.exec(e.message);
    if (lo) {
      return new BackstopError(
        'PERMISSION_DENIED',
        `User "${user}" may not read large object ${lo[1]} in database "${database}" (pg_read_all_data does not cover large objects). Fix: back up as a superuser, or GRANT SELECT ON LARGE OBJECT … TO ${quoteIdent(user)} for every large object of the database.`,
        { cause: e },
      );
    }
    // CONNECT revoked from PUBLIC (pg_read_all_data does not grant it).
    if (/permission denied for database/.test(e.message)) {
      return new BackstopError(
        'PERMISSION_DENIED',
        `User "${user}" may not connect to database "${database}": it has no CONNECT privilege there (revoked from PUBLIC; pg_read_all_data does not grant it), so the database was not backed up. Fix: GRANT CONNECT ON DATABASE ${quoteIdent(database)} TO ${quoteIdent(user)};`,
        { cause: e },
      );
    }
    // pg_dump could not connect to it: the run listed it, so it was dropped or renamed since.
    if (e.code === 'DATABASE_NOT_FOUND') {
      return new BackstopError(
        'DATABASE_NOT_FOUND',
        `Database "${database}" does not exist any more: it was dropped or renamed after the backup run listed the server's databases, before its turn; nothing was stored for it and its earlier points are kept. The next run backs up the databases the server has then (a renamed one under its new name).`,
        { cause: e },
      );
    }
    // The database's CONNECTION LIMIT (a superuser is not held to it): how many, and whose sessions hold them.
    if (/too many connections for database/.test(e.message)) {
      const hex = Buffer.from(database, 'utf8').toString('hex');
      const [row] = await this.conn
        .query(
          `SELECT d.datconnlimit, count(a.pid), encode(convert_to(coalesce(string_agg(DISTINCT '"' || a.usename || '"', ', '), ''), 'UTF8'), 'hex')
             FROM pg_database d LEFT JOIN pg_stat_activity a ON a.datid = d.oid WHERE encode(convert_to(d.datname, 'UTF8'), 'hex') = '${hex}' GROUP BY d.datconnlimit`,
          { action: `asking the connection limit of database "${database}"`, fallback: 'DUMP_FAILED' },
        )
        .catch(() => [] as string[][]);
      const limit = Number(row?.[0]);
      if (!row || !Number.isInteger(limit) || limit < 0) return e;
      const holders = hexToText(row[2] ?? '');
      return new BackstopError(
        'DUMP_FAILED',
        `Database "${database}" allows ${limit} connection${limit === 1 ? '' : 's'} (CONNECTION LIMIT ${limit}) and ${row[1]} ${row[1] === '1' ? 'is' : 'are'} in use${holders ? ` (by ${holders})` : ''}, so pg_dump could not connect to it and nothing was stored for it; its earlier points are kept. Fix: run the backup when fewer sessions are connected, raise the limit (ALTER DATABASE ${quoteIdent(database)} CONNECTION LIMIT ${limit + 1};), or back up as a superuser (not held to the limit).`,
        { cause: e },
      );
    }
    if (e.code !== 'UNREACHABLE' && e.code !== 'DUMP_FAILED') return e;
    // pg_dump reads with row_security = off: a role that is neither superuser nor BYPASSRLS cannot read such a table.
    const rls = /query would be affected by row-level security policy for table "((?:[^"]|"")*)"/.exec(e.message);
    if (rls) {
      return new BackstopError(
        'PERMISSION_DENIED',
        `User "${user}" may not read every row of table "${rls[1]}" in database "${database}": the table has row-level security, and a backup must read all rows. Fix: ALTER ROLE ${quoteIdent(user)} BYPASSRLS; (or back up as a superuser).`,
        { cause: e },
      );
    }
    // The server not answering this either (going down, restarting) leaves the dump's own error: it names the database and what pg_dump read.
    const rows = await this.conn
      .query(`SELECT count(*) FROM pg_database WHERE encode(convert_to(datname, 'UTF8'), 'hex') = '${Buffer.from(database, 'utf8').toString('hex')}'`, {
        action: 'checking the database after a failed dump',
        fallback: 'UNREACHABLE',
      })
      .catch(() => null);
    if (!rows) return e;
    if (rows[0]?.[0] === '0') {
      return new BackstopError('DATABASE_NOT_FOUND', `Database "${database}" was dropped while it was being backed up; the partial dump was discarded.`, { cause: e });
    }
    // pg_dump only lost its connection, and the server answers now: it was there (a restart, a terminated session).
    return e.code === 'UNREACHABLE' ? new BackstopError('DUMP_FAILED', `${pgSessionEnded(this.conn.label)}${whileClause(e.message)}`, { cause: e }) : e;
  }

  serverStreams(type: BackupType): ServerStream[] {
    return type === 'logical' ? [PG_GLOBALS_STREAM] : [PG_BASEBACKUP_STREAM];
  }

  async openServerDump(name: string, opts: OperationOptions = {}): Promise<DumpStream> {
    if (name === PG_GLOBALS_STREAM.name) {
      const facts = await this.serverFacts(opts.signal);
      const args = ['--globals-only', ...(facts.superuser ? [] : ['--no-role-passwords']), ...this.conn.connArgs()];
      const { stream, done } = streamTool(this.conn.command('pg_dumpall', args), {
        signal: opts.signal,
        classify: this.conn.classify('dumping roles and tablespaces (pg_dumpall --globals-only)', 'DUMP_FAILED'),
        retry: pgConnectionSlotsFull,
      });
      return { stream, done, handsOverBuffers: true, meta: { format: PG_GLOBALS_STREAM.format }, volatile: pgRestrictKeyVolatile };
    }
    if (name === PG_BASEBACKUP_STREAM.name) {
      // pg_basebackup would refuse it with "can only write single tablespace to stdout": say why and what to do instead.
      const tablespaces = await userTablespaces(this.conn, opts.signal);
      if (tablespaces.length > 0) throw snapshotRefusal(tablespaces, null);
      const expectedBytes = await this.clusterSizeEstimate(opts.signal);
      const args = ['-D', '-', '-Ft', '-X', 'fetch', '--checkpoint=fast', ...this.conn.connArgs()];
      const { stream, done } = streamTool(this.conn.command('pg_basebackup', args), {
        signal: opts.signal,
        classify: this.conn.classify('taking a base backup (pg_basebackup)', 'DUMP_FAILED'),
      });
      return { stream, done, handsOverBuffers: true, meta: { format: PG_BASEBACKUP_STREAM.format, ...(expectedBytes ? { expectedBytes } : {}) } };
    }
    throw new BackstopError('VALIDATION', `Unknown PostgreSQL server-level stream "${name}".`);
  }

  /**
   * Refuses, before anything is read or created, a restore by a role that may not create
   * databases (a one-database restore out of a cluster backup asks before recovering it).
   */
  async checkMayCreateDatabase(database: string, signal?: AbortSignal): Promise<void> {
    if ((await this.serverFacts(signal)).createdb) return;
    const role = this.conn.server.user;
    throw new BackstopError(
      'PERMISSION_DENIED',
      `Role "${role}" may not create databases on the ${this.conn.label}, and a restore creates database "${database}". Fix: as a superuser run ALTER ROLE ${quoteIdent(role)} CREATEDB; or restore with an account that may create databases. Nothing was created.`,
    );
  }

  restore(database: string, source: Readable, type: BackupType, opts: RestoreOptions = {}): Promise<RestoreReport> {
    return owningSource(source, () => this.restoreDatabase(database, source, type, opts));
  }

  private async restoreDatabase(database: string, source: Readable, type: BackupType, opts: RestoreOptions): Promise<RestoreReport> {
    if (type !== 'logical') {
      throw new BackstopError('VALIDATION', 'A PostgreSQL snapshot restores into a new data directory (restoreBaseBackup), not into a database.');
    }
    checkPgDatabaseName(database);
    await this.checkMayCreateDatabase(database, opts.signal);
    const jobs = Math.max(1, Math.floor(opts.jobs ?? 1));
    const dir = makeTempFolder('backstop-pgrestore-', `Restoring database "${database}"`, opts.tempDir ?? workFolderBase());
    try {
      const archive = await openArchive(source, {
        lister: this.conn.command('pg_restore', ['--create', '-l']),
        classify: this.conn.classify('reading the archive table of contents', 'RESTORE_FAILED'),
        dir,
        spool: jobs > 1,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      // Everything below is decided before anything is created on the target.
      const plan = await this.planFor(database, archive, dir, opts);
      const createdRoles: string[] = [];
      try {
        for (const role of plan.createRoles) {
          await this.conn.query(`${UTF8}CREATE ROLE ${quoteIdent(role)} NOLOGIN;`, { action: `creating role "${role}"`, fallback: 'RESTORE_FAILED' });
          createdRoles.push(role);
        }
        await this.conn.query(`${UTF8}${plan.createDatabase}`, { action: `creating database "${database}"`, fallback: 'RESTORE_FAILED' });
      } catch (e) {
        await this.dropRolesQuietly(createdRoles);
        throw localeMissingError(this.conn.label, database, e, false) ?? e;
      }
      return await withoutHalfRestore(
        database,
        async () => {
          stopIfCanceled(opts.signal);
          // pg_restore's sessions turn off the timeouts but not a read-only default (the role's or
          // the server's): the restoring role's setting in the new database, which outranks both,
          // lets them write; it is removed before the archive's own settings are applied.
          await this.conn.query(`ALTER ROLE CURRENT_USER IN DATABASE ${quoteIdent(database)} SET default_transaction_read_only = off;`, {
            signal: opts.signal,
            action: `letting the restore write into database "${database}"`,
            fallback: 'RESTORE_FAILED',
          });
          if (plan.ownerFirst.length > 0) {
            await this.conn.query(`${UTF8}${plan.ownerFirst.join('\n')}`, { signal: opts.signal, action: `giving database "${database}" its owner`, fallback: 'RESTORE_FAILED' });
          }
          try {
            await this.pgRestore(database, archive, jobs, plan, opts);
            // Database-level statements run like pg_restore --create's, from inside the new database,
            // so shared text (the comment) is read in the encoding pg_dump wrote it in. A non-ASCII
            // name would not match there when the database's encoding differs from the maintenance
            // database's, so for such names they run from the maintenance database.
            // Object statements (a roleMap's owners and grants, one per object) run in transactions
            // of OBJECT_BATCH: one for thousands of tables would need a lock slot for each, more than
            // a server with a low max_locks_per_transaction has.
            const action = `applying the owners, settings and privileges of database "${database}"`;
            const unlock = `ALTER ROLE CURRENT_USER IN DATABASE ${quoteIdent(database)} RESET default_transaction_read_only;`;
            const objects = batches(plan.objectStatements, OBJECT_BATCH);
            if (/^[\x20-\x7e]*$/.test(database)) {
              await this.runTransactions([...objects, [unlock, ...plan.databaseStatements]], database, action, opts.signal, plan.standardConformingStrings);
            } else {
              await this.runTransactions(objects, database, action, opts.signal, plan.standardConformingStrings);
              await this.runTransactions([[unlock, ...plan.databaseStatements]], undefined, action, opts.signal, plan.standardConformingStrings);
            }
          } catch (e) {
            throw (
              localeMissingError(this.conn.label, database, e, true) ??
              collationMissingError(this.conn.label, database, e, true) ??
              lockSlotsError(this.conn.label, database, e, true) ??
              e
            );
          }
          return { database, notes: plan.notes };
        },
        async () => {
          const dropped = await this.dropQuietly(database);
          await this.dropRolesQuietly(createdRoles);
          return dropped;
        },
        `DROP DATABASE ${quoteIdent(database)};`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async inspectRestored(database: string, countTables: string[], opts: OperationOptions = {}): Promise<RestoredInspection> {
    checkPgDatabaseName(database);
    const action = `inspecting the restored database "${database}"`;
    const rows = await this.conn.query(
      `SELECT encode(convert_to('"' || replace(n.nspname, '"', '""') || '"."' || replace(c.relname, '"', '""') || '"', 'UTF8'), 'hex')
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'`,
      { database, signal: opts.signal, action, fallback: 'RESTORE_FAILED' },
    );
    const tables = rows.map((r) => hexToText(r[0] ?? '')).sort();
    const present = new Set(tables);
    // Only keys of the form "schema"."table" (as pgTableKey writes them) are ever put into SQL.
    const wanted = countTables.filter((t) => present.has(t) && PG_TABLE_KEY.test(t));
    const counts: Record<string, number> = {};
    for (let i = 0; i < wanted.length; i += 200) {
      const batch = wanted.slice(i, i + 200);
      const out = await this.conn.query(`${UTF8}${batch.map((t, k) => `SELECT ${k}, count(*) FROM ${t}`).join('\nUNION ALL ')};`, { database, signal: opts.signal, action, fallback: 'RESTORE_FAILED' });
      for (const r of out) counts[batch[Number(r[0])]!] = Number(r[1]);
    }
    const [lo] = await this.conn.query('SELECT count(*) FROM pg_largeobject_metadata', { database, signal: opts.signal, action, fallback: 'RESTORE_FAILED' });
    return { tables, counts, checks: [], largeObjects: Number(lo?.[0] ?? 0) };
  }

  async dropDatabase(database: string, opts: OperationOptions = {}): Promise<void> {
    checkPgDatabaseName(database);
    // Nothing to drop is done, even in a session that may only read (DROP … IF EXISTS would fail there).
    const hex = Buffer.from(database, 'utf8').toString('hex');
    const present = await this.conn.query(
      `SELECT 'd', '' FROM pg_database WHERE encode(convert_to(datname, 'UTF8'), 'hex') = '${hex}'
       UNION ALL SELECT 's', encode(convert_to(s.subname, 'UTF8'), 'hex') FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid WHERE encode(convert_to(d.datname, 'UTF8'), 'hex') = '${hex}'`,
      { signal: opts.signal, action: `looking for database "${database}"`, fallback: 'RESTORE_FAILED' },
    );
    if (!present.some((r) => r[0] === 'd')) return;
    // DROP DATABASE refuses a database holding a subscription (one restored by an older Backstop, which kept the
    // source's). Detached first — disabled, slot_name = NONE — its DROP SUBSCRIPTION never touches the publisher
    // (with the slot still named, it would drop the source's slot there).
    const subscriptions = present.filter((r) => r[0] === 's').map((r) => quoteIdent(hexToText(r[1] ?? '')));
    if (subscriptions.length > 0) {
      await this.conn.query(`${UTF8}${subscriptions.map((q) => `ALTER SUBSCRIPTION ${q} DISABLE;\nALTER SUBSCRIPTION ${q} SET (slot_name = NONE);\nDROP SUBSCRIPTION ${q};`).join('\n')}`, {
        database,
        signal: opts.signal,
        action: `detaching the subscriptions of database "${database}" before dropping it`,
        fallback: 'RESTORE_FAILED',
      });
    }
    const facts = await this.serverFacts(opts.signal);
    const force = facts.versionNum >= 130000 ? ' WITH (FORCE)' : '';
    await this.conn.query(`${UTF8}DROP DATABASE IF EXISTS ${quoteIdent(database)}${force};`, { signal: opts.signal, action: `dropping database "${database}"`, fallback: 'RESTORE_FAILED' });
  }

  /** Reads the archive's database-level entries and every role it names; see restore-plan.ts. */
  private async planFor(database: string, archive: ArchiveSource, dir: string, opts: RestoreOptions): Promise<RestorePlan> {
    const listFile = join(dir, 'database-entries.list');
    await writeFile(listFile, `${databaseEntries(archive.list).join('\n')}\n`, { mode: 0o600 });
    const inspect = async (args: string[]): Promise<string> =>
      decodeScript(
        await runToolBuffer(this.conn.command('pg_restore', [...args, ...(archive.file ? [archive.file] : [])]), {
          classify: this.conn.classify('reading the archive', 'RESTORE_FAILED'),
          input: archive.toolInput(),
          signal: opts.signal,
        }),
      );
    // pg_restore --create refuses a database name with a line break in its \connect line: the tag it takes
    // that line from is unbroken (the statements read keep the name whole), then read again.
    const inspectDatabase = (args: string[]): Promise<string> =>
      inspect(args).catch(async (e: unknown) => {
        if (!(e instanceof BackstopError) || !LINE_BREAK_REFUSED.test(e.message)) throw e;
        if (!(await archive.unbreakDatabaseTags())) throw e;
        return inspect(args);
      });
    // Large objects' owners and privileges are data to pg_restore (not in --schema-only): read apart.
    const largeObjects = largeObjectEntries(archive.list);
    const loListFile = join(dir, 'large-object-entries.list');
    if (largeObjects.length > 0) await writeFile(loListFile, `${largeObjects.join('\n')}\n`, { mode: 0o600 });
    // A role that is not a superuser: which roles it is a member of (it may give objects only to those), which
    // parameters it may not set, which extensions it may not create, and whose settings in a database it may set
    // (restore-plan.ts, superuser-only.ts).
    const facts = await this.serverFacts(opts.signal);
    const limits = facts.superuser
      ? ''
      : `UNION ALL SELECT 'm', encode(convert_to(rolname, 'UTF8'), 'hex') FROM pg_roles WHERE pg_has_role(current_user, oid, 'MEMBER')
         UNION ALL SELECT 'p', encode(convert_to(name, 'UTF8'), 'hex') FROM pg_settings WHERE context = 'superuser'${facts.versionNum >= 150000 ? " AND NOT has_parameter_privilege(name, 'SET')" : ''}
         ${facts.versionNum >= 130000 ? "UNION ALL SELECT DISTINCT 'x', encode(convert_to(name, 'UTF8'), 'hex') FROM pg_available_extension_versions WHERE superuser AND NOT trusted" : ''}
         UNION ALL SELECT 's', encode(convert_to(r.rolname, 'UTF8'), 'hex') FROM pg_roles r WHERE r.rolname = current_user
           OR (NOT r.rolsuper AND EXISTS (SELECT 1 FROM pg_roles me WHERE me.rolname = current_user AND me.rolcreaterole)${facts.versionNum >= 160000 ? " AND pg_has_role(current_user, r.oid, 'MEMBER WITH ADMIN OPTION')" : ''})`;
    const [databaseScript, schemaScript, largeObjectScript, roles] = await Promise.all([
      inspectDatabase(['--create', '--schema-only', '-L', listFile, '-f', '-']),
      inspect(['--schema-only', '-f', '-']),
      largeObjects.length > 0 ? inspect(['-L', loListFile, '-f', '-']) : Promise.resolve(''),
      // One round trip: is the name taken (DATABASE_EXISTS before anything is created), which roles and tablespaces exist.
      this.conn.query(
        `SELECT 'd', '' FROM pg_database WHERE encode(convert_to(datname, 'UTF8'), 'hex') = '${Buffer.from(database, 'utf8').toString('hex')}'
         UNION ALL SELECT 'r', encode(convert_to(rolname, 'UTF8'), 'hex') FROM pg_roles
         UNION ALL SELECT 't', encode(convert_to(spcname, 'UTF8'), 'hex') FROM pg_tablespace
         ${limits}`,
        { signal: opts.signal, action: 'checking the target database name and roles', fallback: 'RESTORE_FAILED' },
      ),
    ]);
    const named = (kind: string) => new Set(roles.filter((r) => r[0] === kind).map((r) => hexToText(r[1] ?? '')));
    if (roles.some((r) => r[0] === 'd')) {
      throw new BackstopError('DATABASE_EXISTS', `Database "${database}" already exists on the ${this.conn.label}; choose another name (a restore never overwrites a database).`);
    }
    return planRestore(
      {
        sourceDatabase: sourceDatabaseName(databaseScript) ?? '',
        databaseScript,
        objectScript: `${schemaScript}\n${largeObjectScript}`,
        existingRoles: named('r'),
        existingTablespaces: named('t'),
        restoringUser: this.conn.server.user,
        superuser: facts.superuser,
        // A role that may not create databases was refused before (checkMayCreateDatabase).
        ...(facts.superuser ? {} : { superuserSettings: named('p'), untrustedExtensions: named('x'), settableRoles: named('s'), memberOf: named('m') }),
        serverLabel: this.conn.label,
        choices: { noOwner: opts.noOwner ?? false, noPrivileges: opts.noPrivileges ?? false, roleMap: opts.roleMap ?? {}, createRoles: opts.createRoles ?? false },
      },
      database,
    );
  }

  /**
   * Progress: a streamed archive (one job) counts its bytes as pg_restore reads them — one large
   * table's COPY moves it too (its data is most of the archive), against the point's length when
   * known. A spooled one (parallel jobs read the file themselves) counts TOC entries.
   */
  private async pgRestore(database: string, archive: ArchiveSource, jobs: number, plan: RestorePlan, opts: RestoreOptions): Promise<void> {
    try {
      await this.runPgRestore(database, archive, jobs, plan, opts);
    } catch (e) {
      throw await this.sessionLost(e, opts.signal);
    }
  }

  /**
   * pg_restore lost its session while it was sending (COPY data): it may only say the server
   * closed the connection, not why. When the server answers within SESSION_LOST_PROBE_MS, it
   * was there — the session was ended (pg_terminate_backend) or the server restarted — which
   * is said, not "cannot reach"; when it does not, UNREACHABLE stands.
   */
  private async sessionLost(e: unknown, signal?: AbortSignal): Promise<unknown> {
    if (!(e instanceof BackstopError) || e.code !== 'UNREACHABLE' || !CONNECTION_LOST.test(e.message) || signal?.aborted) return e;
    const deadline = Date.now() + SESSION_LOST_PROBE_MS;
    for (;;) {
      const answers = await this.conn.query('SELECT 1', { action: 'checking the server after the restore lost its session' }).then(
        () => true,
        () => false,
      );
      if (answers) break;
      if (Date.now() + 1000 > deadline) return e;
      await new Promise((r) => setTimeout(r, 1000));
    }
    return new BackstopError('RESTORE_FAILED', `${pgSessionEnded(this.conn.label)}${whileClause(e.message)}`, { cause: e });
  }

  private async runPgRestore(database: string, archive: ArchiveSource, jobs: number, plan: RestorePlan, opts: RestoreOptions): Promise<void> {
    const args = ['--exit-on-error', '--verbose', ...plan.pgRestoreArgs, ...this.conn.connArgs(), '-d', conninfoDbname(database)];
    const classify = pgRestoreClassifier(this.conn.classify(`restoring into database "${database}"`, 'RESTORE_FAILED'), database);
    if (!archive.file) {
      const progress = new ProgressReporter('bytes', opts.totalBytes ?? null, opts.onProgress);
      await sinkTool(this.conn.command('pg_restore', args), countedBytes(archive.stream(), progress), { classify, signal: opts.signal });
      progress.finish();
      return;
    }
    const entries = countToc(archive.list) - databaseEntries(archive.list).length;
    const progress = new ProgressReporter('entries', entries, opts.onProgress);
    let seen = 0;
    let partial = '';
    const onStderr = (text: string): void => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) if (VERBOSE_ENTRY.test(l)) progress.report(++seen);
    };
    const parallel = jobs > 1 ? ['-j', String(jobs)] : [];
    for (let attempt = 0; ; attempt++) {
      try {
        await sinkTool(this.conn.command('pg_restore', [...args, ...parallel, archive.file]), emptyStream(), { classify, signal: opts.signal, onStderr });
        break;
      } catch (e) {
        // Refused its first session (a slot of the role's CONNECTION LIMIT still held by a session that just ended, as
        // for the dumps: CONNECT_RETRY_MS): nothing was restored yet, so it is started again.
        const wait = CONNECT_RETRY_MS[attempt];
        if (seen === 0 && wait !== undefined && e instanceof BackstopError && pgConnectionSlotsFull({ stderr: e.message })) {
          await pause(wait, opts.signal);
          continue;
        }
        throw jobs > 1 ? await this.workerRefused(e, jobs, opts.signal) : e;
      }
    }
    progress.finish();
  }

  /**
   * A parallel pg_restore whose worker could not open its session may say only "a worker
   * process died unexpectedly" (the worker's own error lost in the race): when the role's
   * CONNECTION LIMIT is below the jobs plus pg_restore's own session, that is the reason, and
   * it is said as when the server's refusal was read.
   */
  private async workerRefused(e: unknown, jobs: number, signal?: AbortSignal): Promise<unknown> {
    if (!(e instanceof BackstopError) || !/worker process died unexpectedly/i.test(e.message) || pgConnectionSlotsFull({ stderr: e.message })) return e;
    // The role's facts (already asked before the restore began: CREATEDB): null for no limit, or a superuser.
    const limit = (await this.serverFacts(signal).catch(() => null))?.connectionLimit ?? null;
    if (limit === null || limit > jobs) return e;
    return new BackstopError(e.code, `${pgRoleLimitReached(this.conn.server.user)}${whileClause(e.message)}`, { cause: e });
  }

  /**
   * Runs each group of statements in a transaction of its own, one session for all (UTF-8,
   * empty search_path as pg_restore's scripts expect, and the archive's
   * standard_conforming_strings: its literals are written for it).
   */
  private async runTransactions(groups: string[][], database: string | undefined, action: string, signal: AbortSignal | undefined, standardStrings: boolean): Promise<void> {
    const nonEmpty = groups.filter((g) => g.length > 0);
    if (nonEmpty.length === 0) return;
    const strings = standardStrings ? '' : 'SET standard_conforming_strings = off;\nSET escape_string_warning = off;\n';
    const body = nonEmpty.map((g) => `BEGIN;\n${g.join('\n')}\nCOMMIT;\n`).join('');
    await this.conn.query(`${UTF8}${strings}SELECT pg_catalog.set_config('search_path', '', false);\n${body}`, {
      ...(database === undefined ? {} : { database }),
      signal,
      action,
      fallback: 'RESTORE_FAILED',
    });
  }

  /** Drops roles this restore created; never throws. */
  private async dropRolesQuietly(roles: string[]): Promise<void> {
    for (const role of roles) {
      try {
        await this.conn.query(`${UTF8}DROP ROLE IF EXISTS ${quoteIdent(role)};`, { action: `dropping role "${role}" created by the failed restore` });
      } catch {
        /* the original error matters more */
      }
    }
  }

  /** Drops a half-restored database; never throws (the original error matters more). */
  private async dropQuietly(database: string): Promise<boolean> {
    try {
      const facts = await this.serverFacts();
      const force = facts.versionNum >= 130000 ? ' WITH (FORCE)' : '';
      await this.conn.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)}${force}`, { action: `dropping the half-restored database "${database}"` });
      return true;
    } catch {
      return false;
    }
  }
}

/** What pg_restore says of a session lost mid-send (without the server's reason, which it may not have read). */
/** A classified tool failure's " (while …; exit code …): stderr" tail, to carry under a clearer summary. */
function whileClause(message: string): string {
  const at = message.indexOf(' (while ');
  return at >= 0 ? message.slice(at) : '';
}

const CONNECTION_LOST = /server closed the connection unexpectedly|could not send data to server|could not receive data from server|connection to server was lost/i;
/** How long a restore that lost its session waits for the server to answer before calling it unreachable (a restart takes seconds). */
const SESSION_LOST_PROBE_MS = 10_000;

/** pg_restore's words for a database name it will not write into a `\connect` line (CVE-2016-5424). */
const LINE_BREAK_REFUSED = /database name contains a newline or carriage return/;

function countToc(list: string): number {
  return list.split('\n').filter((l) => l.trim().length > 0 && !l.startsWith(';')).length;
}

function emptyStream(): Readable {
  const s = new PassThrough();
  s.end();
  return s;
}
