/**
 * The MySQL / MariaDB connector, through the `mariadb`/`mysql` and `mariadb-dump`/`mysqldump`
 * client tools (whichever is found first; see tools.ts).
 *
 * - logical: one dump per database with --single-transaction (a consistent InnoDB
 *   snapshot), routines, triggers, events, --hex-blob, and (mariadb-dump 10.11+)
 *   --dump-history: system-versioned tables keep their history rows, unless a table of the
 *   database has transaction-precise history, which the tool cannot dump (then current rows
 *   only, docs/RESTORE.md); tables of engines without transactions (MyISAM, Aria…) are not
 *   in that snapshot: a connection test asked for `contentWarnings` names them, a run's
 *   History row of such a database warns (the engines its dump names, `DumpStream.warnings`), and a restore of a dump holding them says so in its notes (non-transactional.ts); named as a bare argument so the
 *   dump has no CREATE DATABASE/USE and restores under any name. The database's own
 *   options (character set, collation, comment) are read first and written as a header
 *   before the dump (database-options.ts).
 * - binary log (binlog.ts): when the server logs (log_bin) and the user may read the log,
 *   a full dump also records its snapshot's log position (--master-data=2) and the server's
 *   clock (UTC) just after it (`snapshotAt`, compared with the log's times), and the
 *   server-level `binlog` stream stores the closed log files since the chain's last one
 *   (FLUSH BINARY LOGS, then mariadb-binlog --read-from-remote-server --raw); `replayLog`
 *   replays one database's events from a full's position up to a moment into another name,
 *   never its account statements (GRANT, CREATE USER…: the server's, not the database's).
 *   A replica with log_slave_updates OFF (its log lacks what it replicates) is treated as a
 *   server without a usable log: incrementals re-dump, saying why (REPLICA_LOG_INCOMPLETE).
 *   Each read records the server's binlog_do_db / binlog_ignore_db filter (SHOW MASTER STATUS, in
 *   the batch that closes the current file): a database it leaves out is not covered by the log
 *   (log-coverage.ts, restore-to-moment.ts); the server check warns about it.
 * - users, roles and grants: the server-level `grants.sql` stream of every logical run
 *   (accounts.ts); `applyAccounts` creates the accounts a target lacks, on request only.
 *   Both run with sql_mode '' in their session, whatever the server's global sql_mode
 *   (ANSI_QUOTES, NO_BACKSLASH_ESCAPES): grants.sql is in the form every server reads.
 * - snapshot: not offered (needs file access on the server host); `support` says why.
 * - restore: CREATE DATABASE with the options from the backup's header (the server's
 *   defaults for older backups, said in the notes; DATABASE_EXISTS if taken), stream into the client with the
 *   dump's per-routine `ALTER DATABASE \`source\`` lines aimed at the new database, DROP
 *   the new database if anything fails. Progress is bytes of the stream consumed. On a
 *   target with lower_case_table_names ≠ 0, tables whose names differ only in case fail
 *   the restore (case-clash.ts) instead of the second silently replacing the first. A
 *   statement (a large row) longer than the target's max_allowed_packet fails the restore
 *   naming the SET GLOBAL to run (the server only says it "has gone away"). A target that
 *   lacks a table's storage engine (a plugin) makes it InnoDB: kept, with a note naming the
 *   tables and the fix; one with innodb_force_primary_key=ON refusing a table without a
 *   primary key fails the restore naming the setting and the fix (dump-tables.ts). A restored
 *   database whose definer-rights objects run as accounts the target lacks, or that have no
 *   privilege on the new name, is kept, with notes naming those accounts and the fix; so are
 *   the accounts that hold privileges on the original name but none on the new one.
 * - a dump or restore whose connection the server closed (a consumer or source slower than
 *   its net_write_timeout / wait_timeout / net_read_timeout allow) fails naming those
 *   settings, their values and the SET GLOBAL to run (timeouts.ts), not as an unreachable server.
 * - a dump whose table a DBA altered, truncated, renamed or dropped after the dump's snapshot
 *   fails with SCHEMA_CHANGED naming the table and saying a new run takes it (schema-changed.ts);
 *   when the whole database was dropped meanwhile, with DATABASE_NOT_FOUND saying so.
 * Every tool runs with --no-defaults (no option files can redirect it) and gets the
 * password only in MYSQL_PWD. A host that is an absolute path is the server's Unix socket
 * (--protocol=SOCKET; the TLS setting does not apply, as libpq ignores sslmode on a socket);
 * any other host is reached over TCP. See connector.ts for the shared contract.
 */
import { MysqlSqlFacts } from '../../facts/mysql-sql-facts.ts';
import { readdirSync, statSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { hostPort, isSocketPath, type BackupType, type Server } from '../../../shared/domain.ts';
import { BackstopError, type ErrorCode } from '../../../shared/result.ts';
import { runTool, sinkTool, streamTool, type ToolCommand } from '../child-process.ts';
import { classifyMysql, MY_PLAIN_CONNECTION_GUARD, myConnectionSlotsFull } from '../classify.ts';
import { NO_VOLATILE_BYTES } from '../connector.ts';
import type {
  BackupSupport,
  ConnectionReport,
  ConnectionTestOptions,
  Connector,
  DumpStream,
  LogIncrementals,
  OperationOptions,
  RestoredInspection,
  RestoreOptions,
  RestoreReport,
  ServerDumpOptions,
  ServerStream,
} from '../connector.ts';
import { countingStream, ProgressReporter } from '../progress.ts';
import { owningSource, stopIfCanceled, withoutHalfRestore } from '../restore-guard.ts';
import { databaseOptionClauses, dumpHeader, DumpRewriter, unrecordedOptionsNote, type MysqlDatabaseOptions } from './database-options.ts';
import { accountsQuery, accountsScript, accountsScriptOfBatch, accountsToBackUp, applyAccounts, existingAccountsQuery, MARIADB_ACCOUNTS_BATCH, parseAccounts } from './accounts.ts';
import type { ApplyGlobalsReport } from '../postgres/apply-globals.ts';
import { CaseClashGuard } from './case-clash.ts';
import { isNonTransactionalRow, nonTransactionalBackupWarning, nonTransactionalNote, nonTransactionalQuery, nonTransactionalTablesQuery, nonTransactionalWarning, replayedTwiceError } from './non-transactional.ts';
import {
  crossDatabaseKeyError,
  definerAccountsQuery,
  definerNotes,
  definersQuery,
  eventDefinerNote,
  eventDefinersQuery,
  grantsLeftBehindNotes,
  grantsLeftBehindQuery,
  isReadOnly,
  missingDefinerError,
  packetTooLargeError,
  readOnlyError,
  sourceReferenceNotes,
  sourceReferencesQuery,
  uncheckedDefinerNote,
} from './restore-checks.ts';
import { DumpTables, engineNote, forcePrimaryKeyError } from './dump-tables.ts';
import { noticingSchemaChanges } from './schema-changed.ts';
import { couldBeTimeout, cutByServer, endedError, noticingCuts, parseTimeouts, timeoutError, TIMEOUTS_QUERY } from './timeouts.ts';
import { makeTempFolder, tempFullError, tempRoomError } from '../temp-folder.ts';
import { AccountStatements, BINLOG_STREAM, DatabaseStatementScan, framedLogFiles, LOG_PRIVILEGES, logFilterOf, logFilterWarning, OwnGtids, REPLICA_FACTS, replicaLogIncomplete, planLogRead, PositionTap, rewriteRefusal, StatementScan, stopDatetime, REPLAY_SESSION, type DumpPosition, type LogDatabaseFilter, type LogReadMeta, type UnsafeStatement } from './binlog.ts';
import { findTool, toolVersion, type ParsedToolVersion, type ToolSearch } from '../tools.ts';

export type MysqlServer = Pick<Extract<Server, { kind: 'mysql' }>, 'kind' | 'host' | 'port' | 'user' | 'tls' | 'tlsCaFile'>;

/** What a replay of the binary log left out: account statements logged with the database the default one (AccountStatements). */
export interface ReplayReport {
  accountStatementsSkipped: number;
  /** The note on events whose definer the replay changed to the restoring account (restore-checks.ts eventDefinerNote), when any. */
  eventDefinerNote?: string;
}

export const MYSQL_GRANTS_STREAM: ServerStream = { name: 'grants.sql', format: 'mysql-grants-sql' };

export const MYSQL_SNAPSHOT_REASON =
  'MySQL/MariaDB snapshots need file access on the database host (mariabackup, xtrabackup or a filesystem snapshot). Backstop connects over the network, so it offers logical backups for this server.';

const SYSTEM_DATABASES = ['information_schema', 'performance_schema', 'mysql', 'sys'];
/** Global privileges a server-wide logical backup needs. */
const NEEDED_PRIVILEGES = ['SELECT', 'SHOW VIEW', 'TRIGGER', 'EVENT'];
/** The connecting user's global privileges (information_schema's GRANTEE form of CURRENT_USER()). */
const OWN_PRIVILEGES = `SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES
  WHERE GRANTEE = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''');`;

/** Why the user may not replay the binary log on a server (`replayRefusal`). */
export type ReplayRefusal = { kind: 'privilege'; serverSaid: string } | { kind: 'secure_timestamp'; value: string };

export function quoteMysqlIdent(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

/** MySQL/MariaDB database names: 1–64 characters, no NUL, no trailing space. */
export function checkMysqlDatabaseName(name: string): void {
  if (name.length === 0 || [...name].length > 64 || name.includes('\0') || name.endsWith(' ')) {
    throw new BackstopError('VALIDATION', 'A MySQL/MariaDB database name must be 1 to 64 characters long, without NUL characters or trailing spaces.');
  }
}

function hexToText(hex: string): string {
  return Buffer.from(hex, 'hex').toString('utf8');
}

/**
 * Backstop's own session for grants.sql, reading and applying: the server's global sql_mode
 * may hold ANSI_QUOTES (SHOW GRANTS would then quote names with "…", which a server without
 * it reads as strings) or NO_BACKSLASH_ESCAPES (strings written and read without backslash
 * escapes); with none, the statements are in the one form every server reads.
 */
const PORTABLE_SQL_MODE = "SET SESSION sql_mode = '';";

/** Every account as `HEX(User), HEX(Host), is_role` ('N' on MySQL, which has no is_role column), in one batch. */
const ACCOUNTS_LIST = `SET @backstop_accounts = IF((SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'mysql' AND TABLE_NAME = 'user' AND COLUMN_NAME = 'is_role') = 1,
    'SELECT HEX(User), HEX(Host), is_role FROM mysql.user', 'SELECT HEX(User), HEX(Host), ''N'' FROM mysql.user');
  PREPARE backstop_accounts FROM @backstop_accounts; EXECUTE backstop_accounts; DEALLOCATE PREPARE backstop_accounts;`;

/** Whether a server (its ConnectionReport.serverVersion, e.g. "MariaDB 10.11.6") runs MARIADB_ACCOUNTS_BATCH: MariaDB 10.2.3 or later. Unknown: no. */
export function oneBatchAccounts(serverVersion: string | undefined): boolean {
  const m = /^MariaDB (\d+)\.(\d+)\.(\d+)/.exec(serverVersion ?? '');
  if (!m) return false;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return major > 10 || (major === 10 && (minor > 2 || (minor === 2 && patch >= 3)));
}

/** The user databases, as rows of two columns ('database', hex name): a connection test's batch can hold them beside its one-column rows. */
const LIST_DATABASES = `SELECT 'database', HEX(SCHEMA_NAME) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN (${SYSTEM_DATABASES.map((d) => `'${d}'`).join(', ')});`;

const BATCH_ESCAPES: Record<string, string> = { t: '\t', n: '\n', '0': '\0', r: '\r', '\\': '\\' };

/** A field of the client's batch output as the server sent it (query's escapes undone; others kept as they are). */
export function unescapeBatchField(field: string): string {
  return field.includes('\\') ? field.replace(/\\(.)/gs, (all, c: string) => BATCH_ESCAPES[c] ?? all) : field;
}

/** Whether a dump tool has --dump-history (mariadb-dump 10.11 or later). */
export function dumpsHistory(flavor: ParsedToolVersion['flavor'], version: string): boolean {
  const [major, minor] = version.split('.').map(Number);
  return flavor === 'mariadb' && ((major ?? 0) > 10 || ((major ?? 0) === 10 && (minor ?? 0) >= 11));
}

function databasesOf(rows: string[][]): string[] {
  return rows.map((r) => hexToText(r[1] ?? '')).sort();
}

export class MysqlConnector implements Connector {
  readonly kind = 'mysql' as const;
  private readonly label: string;
  private logFacts: Promise<LogIncrementals> | null = null;
  /** A log read's first step, started ahead by `prepareLogRead`. */
  private logListing: ReturnType<MysqlConnector['closeLogFile']> | null = null;

  constructor(
    private readonly server: MysqlServer,
    private readonly password: string | null,
    private readonly search: ToolSearch,
  ) {
    this.label = `MySQL/MariaDB server ${hostPort(server.host, server.port)}`;
  }

  private client(): string {
    return findTool(['mariadb', 'mysql'], 'mysql', this.search);
  }

  private dumper(): string {
    return findTool(['mariadb-dump', 'mysqldump'], 'mysql', this.search);
  }

  private tlsArgs(flavor: ParsedToolVersion['flavor']): string[] {
    const tls = this.server.tls;
    const ca = this.server.tlsCaFile && tls !== 'disable' ? [`--ssl-ca=${this.server.tlsCaFile}`] : [];
    if (flavor === 'mysql') {
      return [`--ssl-mode=${{ disable: 'DISABLED', prefer: 'PREFERRED', require: 'REQUIRED', 'verify-full': 'VERIFY_IDENTITY' }[tls]}`, ...ca];
    }
    // MariaDB 11.4+ clients verify server certificates by default: only verify-full should. A MariaDB client's --ssl
    // without verification falls back to a plain connection when the server offers no TLS: `require` is enforced by
    // MY_PLAIN_CONNECTION_GUARD instead (a --ssl-ca makes the client verify the chain, as libpq does with a root certificate).
    return [
      ...{
        disable: ['--skip-ssl'],
        prefer: ['--skip-ssl-verify-server-cert'],
        require: ['--ssl', '--skip-ssl-verify-server-cert'],
        'verify-full': ['--ssl', '--ssl-verify-server-cert'],
      }[tls],
      ...ca,
    ];
  }

  private binlogTool(): string {
    return findTool(['mariadb-binlog', 'mysqlbinlog'], 'mysql', this.search);
  }

  /**
   * A tool invocation: --no-defaults first, connection options, then `args`. The log
   * reader has no character set option and its own version numbers: its flavour is the client's.
   */
  private async command(path: string, args: string[], logReader = false): Promise<ToolCommand> {
    const { flavor } = await toolVersion(logReader ? this.client() : path);
    const socket = isSocketPath(this.server.host);
    const conn = [
      '--no-defaults',
      // A host that is an absolute path is the server's Unix socket (as psql takes a socket folder): TLS does not apply there.
      ...(socket ? [`--socket=${this.server.host}`, '--protocol=SOCKET'] : [`--host=${this.server.host}`, `--port=${this.server.port}`, '--protocol=TCP']),
      `--user=${this.server.user}`,
      ...(logReader ? [] : ['--default-character-set=utf8mb4']),
      ...(socket ? [] : this.tlsArgs(flavor)),
    ];
    const env: Record<string, string> = {};
    if (this.password) env.MYSQL_PWD = this.password;
    return { path, args: [...conn, ...args], env, secrets: [this.password] };
  }

  private classify(action: string, fallback: ErrorCode): ReturnType<typeof classifyMysql> {
    return classifyMysql({ server: this.label, action, fallback, tls: this.server.tls, tlsCaFile: this.server.tlsCaFile ?? null });
  }

  /**
   * Runs SQL (batch mode, no column names) and returns each row's fields exactly as the server
   * sent them: the client escapes a tab, newline, NUL or backslash inside a value (`\t`, `\n`,
   * `\0`, `\\`), so rows split on its real tabs and newlines, then each field is unescaped — a
   * user name holding a tab or a newline stays one field of one row.
   */
  private async query(sql: string, opts: { signal?: AbortSignal; action: string; fallback: ErrorCode }): Promise<string[][]> {
    const cmd = await this.command(this.client(), ['--connect-timeout=15', '--batch', '--skip-column-names']);
    const guard = this.server.tls === 'require' && !isSocketPath(this.server.host) && (await toolVersion(this.client())).flavor !== 'mysql' ? MY_PLAIN_CONNECTION_GUARD : '';
    const out = await runTool(cmd, { input: guard + sql, signal: opts.signal, classify: this.classify(opts.action, opts.fallback), retry: myConnectionSlotsFull });
    return out
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => l.split('\t').map(unescapeBatchField));
  }

  support(type: BackupType): BackupSupport {
    return type === 'logical' ? { available: true, scope: 'database' } : { available: false, reason: MYSQL_SNAPSHOT_REASON };
  }

  async testConnection(opts: ConnectionTestOptions = {}): Promise<ConnectionReport> {
    const client = this.client();
    const dumper = this.dumper();
    // One client process for the connection test, the binary-log check a run asks next (logIncrementals)
    // and, when asked, the list of databases (rows of two columns; the privileges' have one).
    const dumperVersion = toolVersion(dumper);
    dumperVersion.catch(() => undefined);
    const rows = await this.query(
      `SELECT VERSION(), @@log_bin, @@GLOBAL.binlog_format, @@max_user_connections ${REPLICA_FACTS}; ${OWN_PRIVILEGES}${opts.listDatabases ? ` ${LIST_DATABASES}` : ''}${opts.contentWarnings ? ` ${nonTransactionalQuery(SYSTEM_DATABASES)}` : ''}`,
      { signal: opts.signal, action: 'connecting', fallback: 'UNREACHABLE' },
    );
    const version = rows[0]?.[0] ?? '?';
    const privilegeRows = rows.slice(1).filter((r) => r.length === 1);
    const log = this.logFactsOf(rows[0]?.[1], rows[0]?.[2], privilegeRows, rows[0]?.slice(4) ?? []);
    this.logFacts ??= Promise.resolve(log);
    const privileges = new Set(privilegeRows.map((r) => r[0] ?? ''));
    const missing = NEEDED_PRIVILEGES.filter((p) => !privileges.has(p));
    if (missing.length > 0) {
      throw new BackstopError(
        'PERMISSION_DENIED',
        `User "${this.server.user}" lacks ${missing.join(', ')} on all databases of the ${this.label}, needed to back up every database. Run: GRANT ${NEEDED_PRIVILEGES.join(', ')} ON *.* TO <that user>;`,
      );
    }
    const product = /mariadb/i.test(version) ? `MariaDB ${version.replace(/-MariaDB.*$/i, '')}` : `MySQL ${version}`;
    const tools = [
      { name: client.replace(/^.*[\\/]/, '').replace(/\.exe$/, ''), path: client, version: (await toolVersion(client)).version },
      { name: dumper.replace(/^.*[\\/]/, '').replace(/\.exe$/, ''), path: dumper, version: (await dumperVersion).version },
    ];
    const databases = opts.listDatabases ? databasesOf(rows.slice(1).filter((r) => r.length === 2)) : undefined;
    const contentWarning = opts.contentWarnings ? nonTransactionalWarning(rows.filter(isNonTransactionalRow)) : null;
    // The session's max_user_connections is the account's MAX_USER_CONNECTIONS when it has one, else the global one (0: none).
    const maxSessions = Number(rows[0]?.[3]);
    // The user's own check names a replica whose log lacks what it replicates (a run says so in each incremental's reason).
    const replicaWarning = opts.contentWarnings && !log.available && log.reason === 'REPLICA_LOG_INCOMPLETE' ? `${log.message[0]!.toUpperCase()}${log.message.slice(1)}` : null;
    // …and one whose binlog_do_db / binlog_ignore_db leaves databases out of the log (their incrementals re-dump, saying so).
    const filterWarning = opts.contentWarnings && log.available ? logFilterWarning(await this.logFilter(opts.signal).catch(() => null), this.label) : null;
    return {
      serverVersion: product,
      tools,
      warnings: [contentWarning, replicaWarning, filterWarning].filter((w): w is string => w !== null),
      ...(databases ? { databases } : {}),
      ...(Number.isInteger(maxSessions) && maxSessions > 0 ? { maxSessions } : {}),
    };
  }

  async listDatabases(opts: OperationOptions = {}): Promise<string[]> {
    const rows = await this.query(LIST_DATABASES, { signal: opts.signal, action: 'listing databases', fallback: 'UNREACHABLE' });
    return databasesOf(rows);
  }

  async openDump(database: string, type: BackupType, opts: OperationOptions = {}): Promise<DumpStream> {
    if (type !== 'logical') throw new BackstopError('VALIDATION', MYSQL_SNAPSHOT_REASON);
    checkMysqlDatabaseName(database);
    const dumper = this.dumper();
    const { flavor, version } = await toolVersion(dumper);
    // With the log readable, the dump records its snapshot's position (a brief global read lock).
    const withPosition = (await this.logIncrementals(opts)).available;
    const args = [
      ...(withPosition ? ['--master-data=2'] : []),
      '--single-transaction',
      '--routines',
      '--triggers',
      '--events',
      '--hex-blob',
      '--no-tablespaces',
      '--skip-dump-date',
      '--max-allowed-packet=1G',
      ...(flavor === 'mysql' ? ['--set-gtid-purged=OFF'] : []),
    ];
    const classify = noticingCuts(noticingSchemaChanges(database, this.classify(`dumping database "${database}"`, 'DUMP_FAILED')));
    const options = this.databaseOptions(database, dumpsHistory(flavor, version), opts.signal);
    options.catch(() => undefined);
    // System-versioned tables with their history rows (mariadb-dump 10.11+; without it only the current rows are
    // dumped). The tool refuses the whole dump when a table's history is transaction-precise (ROW START a
    // transaction id, meaningless on another server): such a database is dumped with current rows only.
    const command = (history: boolean) => this.command(dumper, [...args, ...(history && dumpsHistory(flavor, version) ? ['--dump-history'] : []), '--', database]);
    let tool: ReturnType<typeof streamTool> | null = null;
    const tap = new PositionTap();
    let position: DumpPosition | null = null;
    // The tables' engines as the dump names them: those without transactions are not in its snapshot, which the run says (non-transactional.ts).
    const tables = new DumpTables();
    const snapshotFacts = (file: string, pos: number) => this.snapshotFacts(file, pos, opts.signal);
    const startedAt = Date.now();
    const cut = (e: unknown) => this.timeoutCut('dump', database, e, startedAt, opts.signal);
    // A table gone mid-dump may be the whole database dropped (DROP DATABASE waits for the table being read, then goes first).
    const droppedDuringDump = async (e: BackstopError): Promise<BackstopError> => {
      if (e.code !== 'SCHEMA_CHANGED') return e;
      const rows = await this.query(`SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = X'${Buffer.from(database, 'utf8').toString('hex')}'`, {
        signal: opts.signal,
        action: 'checking the database after a failed dump',
        fallback: 'DUMP_FAILED',
      });
      return rows[0]?.[0] === '0' ? new BackstopError('DATABASE_NOT_FOUND', `Database "${database}" was dropped while it was being backed up; nothing was stored for it and its earlier points are kept.`, { cause: e }) : e;
    };
    // The header first, then the tool's buffers as they come (each still a fresh allocation).
    async function* body(): AsyncGenerator<Buffer> {
      const { transactionPrecise, ...header } = await options;
      yield dumpHeader(header);
      tool = streamTool(await command(!transactionPrecise), { signal: opts.signal, classify, retry: myConnectionSlotsFull, refine: (e) => droppedDuringDump(e) });
      // Asked as soon as the position is seen (the snapshot is taken by then): the server's clock, as the log's times are.
      let facts: ReturnType<typeof snapshotFacts> | null = null;
      try {
        for await (const chunk of tool.stream as AsyncIterable<Buffer>) {
          if (withPosition && !facts) {
            tap.feed(chunk);
            if (tap.position) facts = snapshotFacts(tap.position.binlogFile, tap.position.binlogPos);
          }
          tables.scan(chunk);
          yield chunk;
        }
        await tool.done;
      } catch (e) {
        // The server closed the dump's connection: its net_write_timeout / wait_timeout, named with the fix (timeouts.ts).
        throw (await cut(e)) ?? e;
      }
      if (tap.position && facts) {
        const { binlogFile, binlogPos, seenAt } = tap.position;
        const { gtid, serverTime } = await facts;
        position = { binlogFile, binlogPos, ...(gtid ? { binlogGtid: gtid } : {}), snapshotAt: (serverTime ?? seenAt).toISOString() };
      }
    }
    const stream = Readable.from(body(), { objectMode: true, highWaterMark: 1 });
    stream.once('close', () => tool?.stream.destroy());
    const done = finished(stream);
    done.catch(() => undefined);
    const warnings = () => {
      const unsnapped = nonTransactionalBackupWarning(database, tables.tables);
      return unsnapped ? [unsnapped] : [];
    };
    return { stream, done, handsOverBuffers: true, facts: new MysqlSqlFacts(), meta: { format: 'mysql-sql' }, finalMeta: () => ({ ...(position ?? {}) }), warnings, volatile: NO_VOLATILE_BYTES };
  }

  async inspectRestored(database: string, countTables: string[], opts: OperationOptions = {}): Promise<RestoredInspection> {
    checkMysqlDatabaseName(database);
    const action = `inspecting the restored database "${database}"`;
    // System-versioned tables are tables too; their dump holds every history row (--dump-history), so all rows are counted.
    const rows = await this.query(
      `SELECT HEX(TABLE_NAME), TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = X'${Buffer.from(database, 'utf8').toString('hex')}' AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED');`,
      { signal: opts.signal, action, fallback: 'RESTORE_FAILED' },
    );
    const tables = rows.map((r) => hexToText(r[0] ?? '')).sort();
    const versioned = new Set(rows.filter((r) => r[1] === 'SYSTEM VERSIONED').map((r) => hexToText(r[0] ?? '')));
    const present = new Set(tables);
    const qualified = (t: string) => `${quoteMysqlIdent(database)}.${quoteMysqlIdent(t)}`;
    const counts: Record<string, number> = {};
    const wanted = countTables.filter((t) => present.has(t));
    if (wanted.length > 0) {
      const count = (t: string) => `SELECT COUNT(*) FROM ${qualified(t)}${versioned.has(t) ? ' FOR SYSTEM_TIME ALL' : ''};`;
      const out = await this.query(wanted.map(count).join('\n'), { signal: opts.signal, action, fallback: 'RESTORE_FAILED' });
      wanted.forEach((t, i) => (counts[t] = Number(out[i]?.[0])));
    }
    // CHECK TABLE answers one or more rows per table (Table, Op, Msg_type, Msg_text); a marker row separates them.
    const failures: string[] = [];
    if (tables.length > 0) {
      const out = await this.query(tables.map((t, i) => `SELECT 'backstop-check', ${i};\nCHECK TABLE ${qualified(t)};`).join('\n'), { signal: opts.signal, action, fallback: 'RESTORE_FAILED' });
      let current = -1;
      for (const r of out) {
        if (r[0] === 'backstop-check') current = Number(r[1]);
        else if ((r[2] ?? '').toLowerCase() === 'error') failures.push(`table ${quoteMysqlIdent(tables[current] ?? '?')}: ${r[3] ?? 'error'}`);
      }
    }
    const check = failures.length === 0
      ? { name: 'CHECK TABLE', ok: true, detail: `${tables.length} table(s) checked, no errors` }
      : { name: 'CHECK TABLE', ok: false, detail: failures.slice(0, 10).join('; ') };
    return { tables, counts, checks: [check] };
  }

  /** A database's default character set and collation now (null when the server does not say). */
  private async databaseDefaults(database: string, signal?: AbortSignal): Promise<{ charset: string; collation: string } | null> {
    const rows = await this.query(`SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = X'${Buffer.from(database, 'utf8').toString('hex')}';`, {
      signal,
      action: `reading the options of database "${database}"`,
      fallback: 'RESTORE_FAILED',
    }).catch(() => []);
    const [charset, collation] = rows[0] ?? [];
    return charset && collation ? { charset, collation } : null;
  }

  async dropDatabase(database: string, opts: OperationOptions = {}): Promise<void> {
    checkMysqlDatabaseName(database);
    await this.query(`DROP DATABASE IF EXISTS ${quoteMysqlIdent(database)};`, { signal: opts.signal, action: `dropping database "${database}"`, fallback: 'RESTORE_FAILED' });
  }

  /** The GTID position at a log position (MariaDB), or null where the server cannot tell. */
  /**
   * A dump's snapshot facts, asked once its position is seen: the GTID position there (MariaDB;
   * null elsewhere) and the server's clock (UTC), just after the snapshot. The snapshot's time
   * is the start of the moments the dump reaches, compared with the log's times, which are the
   * server's: the workstation's clock may be off (it is the fallback when the server cannot be asked).
   */
  private async snapshotFacts(file: string, pos: number, signal?: AbortSignal): Promise<{ gtid: string | null; serverTime: Date | null }> {
    const clock = `DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ')`;
    const ask = (sql: string) => this.query(sql, { signal, action: 'reading the position of the dump', fallback: 'DUMP_FAILED' }).catch(() => null);
    // MySQL has no BINLOG_GTID_POS: then the clock alone.
    const rows = (await ask(`SELECT ${clock}, BINLOG_GTID_POS('${file.replace(/[\\']/g, '')}', ${pos});`)) ?? (await ask(`SELECT ${clock}, NULL;`));
    const time = new Date(rows?.[0]?.[0] ?? '');
    const gtid = rows?.[0]?.[1];
    return { gtid: gtid && gtid !== 'NULL' ? gtid : null, serverTime: Number.isNaN(time.getTime()) ? null : time };
  }

  /** Whether incrementals can read the binary log (log_bin on, and the privileges to read it); asked once per connector. */
  logIncrementals(opts: OperationOptions = {}): Promise<LogIncrementals> {
    if (!this.logFacts) {
      this.logFacts = this.query(`SELECT @@log_bin, @@GLOBAL.binlog_format ${REPLICA_FACTS}; ${OWN_PRIVILEGES}`, { signal: opts.signal, action: 'checking the binary log', fallback: 'UNREACHABLE' }).then((rows) =>
        this.logFactsOf(rows[0]?.[0], rows[0]?.[1], rows.slice(1), rows[0]?.slice(2) ?? []),
      );
      this.logFacts.catch(() => (this.logFacts = null));
    }
    return this.logFacts;
  }

  /** What @@log_bin, the global binlog_format, the user's global privileges (rows of PRIVILEGE_TYPE) and the REPLICA_FACTS columns say about log incrementals. */
  private logFactsOf(logBin: string | undefined, format: string | undefined, privilegeRows: string[][], replica: (string | undefined)[]): LogIncrementals {
    if (logBin !== '1') {
      return {
        available: false,
        reason: 'LOG_OFF',
        message: `the binary log is off on the ${this.label}, so every incremental re-dumps each database. To store only the changes and restore to any moment, start the server with log_bin, binlog_format=ROW and a server_id (docs/PITR.md).`,
      };
    }
    if (format !== undefined && format.toUpperCase() !== 'ROW') {
      return {
        available: false,
        reason: 'LOG_NOT_ROW',
        message: `binlog_format is ${format} on the ${this.label}: changes logged as SQL statements cannot be replayed safely into a database of another name, so every incremental re-dumps each database. To store only the changes and restore to any moment, set binlog_format=ROW (SET GLOBAL binlog_format = 'ROW'; and in the server's configuration) (docs/PITR.md).`,
      };
    }
    if (replicaLogIncomplete(replica[0], replica[1], replica[2])) {
      return {
        available: false,
        reason: 'REPLICA_LOG_INCOMPLETE',
        message: `the ${this.label} is a replica with log_slave_updates OFF: its binary log lacks the changes it replicates, so an incremental read from it would miss them; every incremental re-dumps each database. To store only the changes and restore to any moment, set log_slave_updates=ON in the replica's configuration and restart it, or back up the primary (docs/PITR.md).`,
      };
    }
    const privileges = new Set(privilegeRows.map((r) => r[0] ?? ''));
    const missing = LOG_PRIVILEGES.filter((p) => !privileges.has(p));
    if (missing.length > 0) {
      return {
        available: false,
        reason: 'NO_LOG_PRIVILEGE',
        message: `user "${this.server.user}" lacks ${missing.join(', ')} on the ${this.label}, needed to read the binary log, so every incremental re-dumps each database. Run: GRANT ${LOG_PRIVILEGES.join(', ')} ON *.* TO <that user>;`,
      };
    }
    return { available: true, stream: BINLOG_STREAM };
  }

  /**
   * Starts what a read of the log does first — close the current file and list the closed
   * ones — so a log job can do it while it opens its destinations; the next `binlog` read
   * of this connector uses it (a failure surfaces there). Closing a file early is harmless:
   * a file closed and not read this run is read by the next.
   */
  prepareLogRead(opts: OperationOptions = {}): void {
    this.logListing ??= this.closeLogFile(opts.signal);
    this.logListing.catch(() => undefined);
  }

  /**
   * FLUSH BINARY LOGS, then the closed files (SHOW BINARY LOGS without the new current one), the
   * server's clock just before, and the log's database filter (binlog_do_db / binlog_ignore_db:
   * SHOW MASTER STATUS, which the same BINLOG MONITOR allows), all in one batch.
   */
  private async closeLogFile(signal?: AbortSignal): Promise<{ endAt: string; closed: { name: string; size: number }[]; filter: LogDatabaseFilter | null }> {
    const rows = await this.query(`SELECT DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'); FLUSH BINARY LOGS; SHOW BINARY LOGS; SHOW MASTER STATUS;`, {
      signal,
      action: 'closing the current binary log file (FLUSH BINARY LOGS)',
      fallback: 'DUMP_FAILED',
    });
    const endAt = new Date(rows[0]?.[0] ?? '').toISOString();
    // SHOW MASTER STATUS's row names the current file, as SHOW BINARY LOGS's last row does.
    const status = rows.length > 2 && rows.at(-1)?.[0] === rows.at(-2)?.[0] ? rows.at(-1)! : null;
    const logs = rows.slice(1, status ? -1 : undefined);
    return { endAt, closed: logs.slice(0, -1).map((r) => ({ name: r[0] ?? '', size: Number(r[1]) })), filter: status ? logFilterOf(status[2], status[3]) : null };
  }

  /** The log's database filter now (SHOW MASTER STATUS), for the server check; null when none is set. */
  private async logFilter(signal?: AbortSignal): Promise<LogDatabaseFilter | null> {
    const rows = await this.query('SHOW MASTER STATUS;', { signal, action: 'checking the binary log (SHOW MASTER STATUS)', fallback: 'UNREACHABLE' });
    return logFilterOf(rows[0]?.[2], rows[0]?.[3]);
  }

  /**
   * The server-level `binlog` stream: closes the current log file, then stores every closed
   * file after the chain's last one (binlog.ts), read over the replication protocol.
   */
  private async openLogRead(opts: ServerDumpOptions): Promise<DumpStream> {
    const listing = this.logListing ?? this.closeLogFile(opts.signal);
    this.logListing = null;
    const { endAt, closed, filter } = await listing;
    const plan = planLogRead(
      closed.map((f) => f.name),
      (opts.since ?? []).map((m) => (m && typeof m.binlogLast === 'string' ? (m as unknown as LogReadMeta) : null)),
    );
    const files = closed.filter((f) => plan.files.includes(f.name));
    const last = files.at(-1)?.name ?? closed.at(-1)?.name ?? '';
    // The closed files are copied into a temporary folder first (TMPDIR): one that cannot hold
    // them all is DISK_FULL naming it and the fix, before the copy or when the copy fails; the
    // files stay on the server for the next run.
    const need = files.reduce((n, f) => n + f.size, 0);
    const purpose = `Reading the binary log (${files.length} closed file${files.length === 1 ? '' : 's'}, kept on the server for the next run)`;
    const dir = makeTempFolder('backstop-binlog-', purpose);
    const cmd = await this.command(this.binlogTool(), ['--read-from-remote-server', '--raw', `--result-file=${dir}/`, ...files.map((f) => f.name)], true);
    const classify = this.classify('reading the binary log (mariadb-binlog --read-from-remote-server)', 'DUMP_FAILED');
    const scan = new DatabaseStatementScan();
    const copied = () => readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    async function* body(): AsyncGenerator<Buffer> {
      try {
        if (files.length > 0) {
          const refused = tempRoomError(purpose, dir, need);
          if (refused) throw refused;
          await runTool(cmd, { signal: opts.signal, classify, retry: myConnectionSlotsFull }).catch((e: unknown) => {
            if (opts.signal?.aborted) throw e;
            // mariadb-binlog says only "Could not write into log file": the folder's free space tells.
            throw tempFullError(purpose, dir, need, e) ?? tempRoomError(purpose, dir, need - copied()) ?? e;
          });
        }
        yield* framedLogFiles(dir, files, scan);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    const stream = Readable.from(body(), { objectMode: true, highWaterMark: 1 });
    const done = finished(stream);
    done.catch(() => undefined);
    // The filter when the read was taken: a database it leaves out is not in these files (log-coverage.ts, restore-to-moment.ts).
    const meta: LogReadMeta = { binlogFiles: files.map((f) => f.name), binlogLast: last, binlogEndAt: endAt, ...(filter ? { binlogFilter: filter } : {}) };
    return {
      stream,
      done,
      handsOverBuffers: true,
      meta: { format: BINLOG_STREAM.format, expectedBytes: files.reduce((n, f) => n + f.size, 0) },
      finalMeta: () => ({
        ...meta,
        ...(scan.databases.size > 0 ? { binlogDatabaseStatements: [...scan.databases] } : {}),
        ...(Object.keys(scan.begunAt).length > 0 ? { binlogFilesBegunAt: { ...scan.begunAt } } : {}),
      }),
      ...(plan.restart ? { startsChain: 'the binary log after the last stored read was purged from the server (expire_logs_days / binlog_expire_logs_seconds, or RESET MASTER; or this is another server at the address); this read starts a new chain, and moments between the two reads cannot be restored' } : {}),
    };
  }

  /**
   * Replays the events of database `source` from position `startPos` of the first of
   * `files` (local copies, oldest first) up to `moment` into the existing database
   * `target`, which the caller just restored: it is dropped if the replay fails. The
   * events run as new transactions of this server (OwnGtids), in a session that allows the
   * ALTER TABLE of a versioned table the source allowed (REPLAY_SESSION); account statements logged
   * with `source` the default database are not replayed (AccountStatements), and counted.
   */
  async replayLog(source: string, target: string, files: string[], startPos: number, moment: Date, opts: OperationOptions = {}): Promise<ReplayReport> {
    checkMysqlDatabaseName(target);
    // Never a replay the tool would apply to another database than `target` (restore-to-moment.ts refuses it before anything is created).
    const badName = rewriteRefusal(source, target);
    if (badName) throw new BackstopError('VALIDATION', `The binary log of "${source}" cannot be replayed into "${target}": ${badName.why}.`);
    return withoutHalfRestore(target, () => this.replay(source, target, files, startPos, moment, opts), () => this.dropQuietly(target), `DROP DATABASE ${quoteMysqlIdent(target)};`);
  }

  /**
   * Whether the user may run what a replay runs before its events, on this server: the
   * session variables of each event (`SET @@session.pseudo_thread_id`, MariaDB: SUPER or
   * BINLOG REPLAY; the `BINLOG` statements of row events need the same) and its logged time
   * (`SET TIMESTAMP`: `secure_timestamp=YES` forbids it to everyone, `SUPER` to users without
   * SUPER or BINLOG REPLAY, `REPLICATION` to users without BINLOG REPLAY). Null when it may;
   * else what refused it. Called before anything is created.
   */
  async replayRefusal(opts: OperationOptions = {}): Promise<ReplayRefusal | null> {
    const action = 'checking that the user may replay the binary log';
    const refused = (sql: string) =>
      this.query(sql, { signal: opts.signal, action, fallback: 'RESTORE_FAILED' }).then(
        () => null,
        (e: unknown) => {
          if (!(e instanceof BackstopError)) throw e;
          const m = /ERROR (1290|1227) \([0-9A-Z]+\)(?: at line \d+)?: ([^|]*)/.exec(e.message);
          if (!m) throw e;
          return m[2]!.trim();
        },
      );
    const privilege = await refused('SET @@session.pseudo_thread_id = CONNECTION_ID();');
    if (privilege !== null) return { kind: 'privilege', serverSaid: privilege };
    if ((await refused('SET TIMESTAMP = UNIX_TIMESTAMP(); SET TIMESTAMP = DEFAULT;')) === null) return null;
    const rows = await this.query("SHOW GLOBAL VARIABLES LIKE 'secure_timestamp';", { signal: opts.signal, action, fallback: 'RESTORE_FAILED' });
    return { kind: 'secure_timestamp', value: rows[0]?.[1] ?? 'unknown' };
  }

  /**
   * The first statement of the log range `replayLog` would replay (the same files, position
   * and moment) that a replay of `source` under another name would apply wrongly, or null
   * (binlog.ts StatementScan): called before anything is created.
   */
  async unsafeForReplay(source: string, files: string[], startPos: number, moment: Date, opts: OperationOptions = {}): Promise<UnsafeStatement | null> {
    const reader: ToolCommand = {
      path: this.binlogTool(),
      // decode-rows without --verbose: row events print as comment lines only (mysqlbinlog has no --short-form since MySQL 8.0).
      args: ['--no-defaults', '--base64-output=decode-rows', `--start-position=${startPos}`, `--stop-datetime=${stopDatetime(moment)}`, '--', ...files],
      env: { TZ: 'UTC' },
    };
    const scan = new StatementScan(source);
    const events = streamTool(reader, { signal: opts.signal, classify: this.classify('decoding the stored binary log (mariadb-binlog)', 'RESTORE_FAILED') });
    const decoder = new StringDecoder('utf8');
    for await (const chunk of events.stream) {
      scan.feed(decoder.write(chunk as Buffer));
      if (scan.found) {
        events.stream.destroy(); // stops the tool
        return scan.found;
      }
    }
    await events.done;
    scan.feed(decoder.end());
    return scan.end();
  }

  /**
   * The statements a replay of `source` into `target` sends (the reader's output of the range, without
   * the source's GTIDs and account statements), as a stream, and the AccountStatements that counts them.
   */
  private replayStatements(source: string, target: string, files: string[], startPos: number, moment: Date, signal?: AbortSignal): { filtered: Readable; accounts: AccountStatements; done: Promise<unknown> } {
    const reader: ToolCommand = {
      path: this.binlogTool(),
      args: ['--no-defaults', `--database=${source}`, `--rewrite-db=${source}->${target}`, `--start-position=${startPos}`, `--stop-datetime=${stopDatetime(moment)}`, '--', ...files],
      env: { TZ: 'UTC' },
    };
    const events = streamTool(reader, { signal, classify: this.classify('decoding the stored binary log (mariadb-binlog)', 'RESTORE_FAILED') });
    const own = events.stream.pipe(new OwnGtids());
    const accounts = new AccountStatements();
    const filtered = own.pipe(accounts);
    events.stream.on('error', (e) => own.destroy(e));
    own.on('error', (e) => filtered.destroy(e));
    return { filtered, accounts, done: events.done };
  }

  /**
   * Before anything is created: the refusal (restore-checks.ts, "Nothing was created") when the
   * longest statement the replay `replayLog` would run sends (a row change of a large value, as a
   * `BINLOG '…'` statement) is larger than this server's max_allowed_packet; else null. The log
   * range's size bounds every statement in it, so a range far below the limit is not decoded.
   */
  async replayPacketRefusal(source: string, target: string, files: string[], startPos: number, moment: Date, opts: OperationOptions = {}): Promise<BackstopError | null> {
    const rows = await this.query('SELECT @@GLOBAL.max_allowed_packet;', { signal: opts.signal, action: 'reading max_allowed_packet', fallback: 'RESTORE_FAILED' });
    const limit = Number(rows[0]?.[0]);
    if (!Number.isFinite(limit)) return null;
    const sizes = await Promise.all(files.map((f) => stat(f).then((s) => s.size)));
    const range = Math.max(0, sizes.reduce((a, b) => a + b, 0) - startPos);
    // Base64 (4 bytes for 3) in lines of 76, plus the statement's own words.
    if (Math.ceil(range / 3) * 4 * (77 / 76) + 64 * 1024 < limit) return null;
    const { filtered, accounts, done } = this.replayStatements(source, target, files, startPos, moment, opts.signal);
    for await (const chunk of filtered) void chunk;
    await done;
    return this.packetTooLarge(target, accounts.longest, undefined, opts.signal, 'log');
  }

  private async replay(source: string, target: string, files: string[], startPos: number, moment: Date, opts: OperationOptions): Promise<ReplayReport> {
    // MySQL's own client strips a /*M! comment, leaving an empty statement: the setting is sent by MariaDB's client only (versioned tables are MariaDB's).
    const session = (await toolVersion(this.client())).flavor === 'mariadb' ? [REPLAY_SESSION] : [];
    const { filtered, accounts, done } = this.replayStatements(source, target, files, startPos, moment, opts.signal);
    const input = Readable.from(
      (async function* () {
        yield* session;
        yield* filtered;
      })(),
      { objectMode: false },
    );
    // The events' definers before the replay: an ALTER EVENT it replays makes the restoring account the definer (restore-checks.ts).
    const definers = () => this.query(eventDefinersQuery(target), { signal: opts.signal, action: `checking the events of database "${target}"`, fallback: 'RESTORE_FAILED' }).catch(() => null);
    const eventsBefore = await definers();
    const cmd = await this.command(this.client(), ['--connect-timeout=15', '--batch', '--max-allowed-packet=1G', '--binary-mode']);
    await sinkTool(cmd, input, { signal: opts.signal, classify: this.classify(`replaying the binary log into database "${target}"`, 'RESTORE_FAILED') }).catch(async (e: unknown) => {
      // A change the dump already held (its tables without transactions were read after its position): said so (non-transactional.ts).
      // A row change longer than the server's max_allowed_packet: it closed the connection (restore-checks.ts names the fix).
      const tooLarge = await this.packetTooLarge(target, accounts.longest, e, opts.signal, 'log');
      if (tooLarge) throw tooLarge;
      const rows = await this.query(nonTransactionalTablesQuery(target), { signal: opts.signal, action: `checking the engines of database "${target}"`, fallback: 'RESTORE_FAILED' }).catch(() => []);
      const at = `${moment.toISOString().slice(0, 19)}Z`;
      throw replayedTwiceError(source, target, at, rows, e) ?? crossDatabaseKeyError(source, target, at, e) ?? e;
    });
    await done;
    const eventsAfter = eventsBefore && eventsBefore.some((r) => r[0] === 'event') ? await definers() : null;
    const eventNote = eventsBefore && eventsAfter ? eventDefinerNote(target, eventsBefore, eventsAfter) : null;
    return { accountStatementsSkipped: accounts.skipped, ...(eventNote ? { eventDefinerNote: eventNote } : {}) };
  }

  /**
   * The database's default character set, collation and (MariaDB 10.5+) comment, and (asked
   * when `versioning`) whether a system-versioned table of it keeps transaction-precise
   * history (a BIGINT ROW START column); DATABASE_NOT_FOUND when it is gone.
   */
  private async databaseOptions(database: string, versioning: boolean, signal?: AbortSignal): Promise<MysqlDatabaseOptions & { transactionPrecise: boolean }> {
    const name = `X'${Buffer.from(database, 'utf8').toString('hex')}'`;
    const action = `reading the options of database "${database}"`;
    const rows = await this.query(
      `SELECT HEX(DEFAULT_CHARACTER_SET_NAME), HEX(DEFAULT_COLLATION_NAME) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${name};
       SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'information_schema' AND TABLE_NAME = 'SCHEMATA' AND COLUMN_NAME = 'SCHEMA_COMMENT';
       ${versioning ? `SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ${name} AND GENERATION_EXPRESSION = 'ROW START' AND DATA_TYPE = 'bigint';` : 'SELECT 0;'}`,
      { signal, action, fallback: 'DUMP_FAILED' },
    );
    if (rows.length < 3) throw new BackstopError('DATABASE_NOT_FOUND', `Database "${database}" does not exist on the ${this.label} any more: it was dropped after the backup run listed the server's databases, before its turn; nothing was stored for it and its earlier points are kept.`);
    const options = { charset: hexToText(rows[0]?.[0] ?? ''), collation: hexToText(rows[0]?.[1] ?? ''), comment: '', transactionPrecise: rows[2]?.[0] !== '0' };
    if (rows[1]?.[0] === '1') {
      const comment = await this.query(`SELECT HEX(SCHEMA_COMMENT) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${name};`, { signal, action, fallback: 'DUMP_FAILED' });
      options.comment = hexToText(comment[0]?.[0] ?? '');
    }
    return options;
  }

  serverStreams(type: BackupType): ServerStream[] {
    return type === 'logical' ? [MYSQL_GRANTS_STREAM] : [];
  }

  /** Every account's CREATE USER/ROLE and grants (accounts.ts), as the server reports them. */
  private async openGrantsDump(opts: ServerDumpOptions): Promise<DumpStream> {
    const action = 'reading the users, roles and grants (SHOW CREATE USER, SHOW GRANTS)';
    let script: string;
    if (oneBatchAccounts(opts.serverVersion)) {
      // MariaDB lists the accounts and SHOWs each one's statements in one client process.
      script = accountsScriptOfBatch(await this.query(`${PORTABLE_SQL_MODE}\n${MARIADB_ACCOUNTS_BATCH}`, { signal: opts.signal, action, fallback: 'DUMP_FAILED' }));
    } else {
      // MySQL has no is_role column (its roles are locked accounts, dumped as users): one client process picks the query.
      const accounts = accountsToBackUp(await this.query(ACCOUNTS_LIST, { signal: opts.signal, action, fallback: 'DUMP_FAILED' }));
      script = accountsScript(accounts.length ? await this.query(`${PORTABLE_SQL_MODE}\n${accountsQuery(accounts)}`, { signal: opts.signal, action, fallback: 'DUMP_FAILED' }) : []);
    }
    const stream = Readable.from([Buffer.from(script, 'utf8')]);
    const done = finished(stream);
    done.catch(() => undefined);
    return { stream, done, meta: { format: MYSQL_GRANTS_STREAM.format } };
  }

  /**
   * Creates the accounts of a stored `grants.sql` that this server lacks, with their grants;
   * existing accounts are skipped, never changed (accounts.ts).
   */
  async applyAccounts(script: string, opts: { dryRun: boolean; signal?: AbortSignal }): Promise<ApplyGlobalsReport> {
    const accounts = parseAccounts(script);
    const action = 'applying users, roles and grants';
    const rows = await this.query(existingAccountsQuery(accounts), { signal: opts.signal, action, fallback: 'RESTORE_FAILED' });
    const existing = new Set(rows.map((r) => `${hexToText(r[0] ?? '')}\0${hexToText(r[1] ?? '')}`));
    // USING: MariaDB's `IDENTIFIED VIA ed25519 USING '<hash>'`, echoed by the client with the failing statement.
    const hidePasswords = (m: string) => m.replace(/(PASSWORD|AS|BY|USING)\s+'[^']*'/gi, "$1 '…'");
    const serverSaid = (m: string) => m.replace(/^.*?(ERROR \d+)/s, '$1');
    const plugin = (m: string) => /ERROR 1524 .*Plugin '([^']+)' is not loaded/.exec(m)?.[1];
    const explain = (m: string) => {
      if (/ERROR 10(44|45) |Access denied/.test(m)) {
        return `User "${this.server.user}" may not create this account or grant its privileges on the ${this.label}: applying users and grants needs CREATE USER and every privilege it grants WITH GRANT OPTION (e.g. root). Server said: ${serverSaid(m)}`;
      }
      const p = plugin(m);
      if (p) return `The account uses the authentication plugin "${p}", which the ${this.label} has not loaded: load it there (INSTALL SONAME 'auth_${p}';) and run again. Server said: ${serverSaid(m)}`;
      return m;
    };
    return applyAccounts(accounts, existing, {
      run: (sql) => this.query(`${PORTABLE_SQL_MODE}\n${sql}`, { signal: opts.signal, action, fallback: 'RESTORE_FAILED' }).then(
        () => undefined,
        (e: unknown) => {
          throw new BackstopError('RESTORE_FAILED', hidePasswords(explain((e as Error).message)));
        },
      ),
    }, opts.dryRun);
  }

  async openServerDump(name: string, opts: ServerDumpOptions = {}): Promise<DumpStream> {
    if (name === BINLOG_STREAM.name) return this.openLogRead(opts);
    if (name === MYSQL_GRANTS_STREAM.name) return this.openGrantsDump(opts);
    throw new BackstopError('VALIDATION', `MySQL/MariaDB servers have no server-level stream "${name}".`);
  }

  restore(database: string, source: Readable, type: BackupType, opts: RestoreOptions = {}): Promise<RestoreReport> {
    return owningSource(source, () => this.restoreDatabase(database, source, type, opts));
  }

  private async restoreDatabase(database: string, source: Readable, type: BackupType, opts: RestoreOptions): Promise<RestoreReport> {
    if (type !== 'logical') throw new BackstopError('VALIDATION', MYSQL_SNAPSHOT_REASON);
    checkMysqlDatabaseName(database);
    const progress = new ProgressReporter('bytes', opts.totalBytes ?? null, opts.onProgress);
    const counted = countingStream(progress);
    const rewriter = new DumpRewriter(opts.sourceName ?? null);
    source.on('error', (e) => counted.destroy(e));
    counted.on('error', (e) => rewriter.destroy(e));
    source.pipe(counted).pipe(rewriter);
    let options: MysqlDatabaseOptions | null;
    try {
      options = await rewriter.header;
    } catch (e) {
      rewriter.destroy();
      throw e instanceof BackstopError ? e : new BackstopError('RESTORE_FAILED', `Reading the backup stream failed: ${(e as Error).message}`, { cause: e });
    }
    // A read-only target (a replica), or a statement longer than its max_allowed_packet (the load would fail): refused before anything is created.
    const refusal = await Promise.all([this.readOnlyRefusal(database, opts.signal), this.packetTooLarge(database, opts.longestStatement ?? 0, undefined, opts.signal)]).then(
      ([readOnly, packet]) => readOnly ?? packet,
      (e: unknown) => {
        rewriter.destroy();
        throw e;
      },
    );
    if (refusal) {
      rewriter.destroy();
      throw refusal;
    }
    const created = await this.query(
      // Backstop's own session: string literals use backslash escapes whatever the server's sql_mode.
      `SET SESSION sql_mode = REPLACE(@@sql_mode, 'NO_BACKSLASH_ESCAPES', '');
       CREATE DATABASE ${quoteMysqlIdent(database)}${options ? ` ${databaseOptionClauses(options)}` : ''};
       SELECT @@lower_case_table_names;`,
      { action: `creating database "${database}"`, fallback: 'RESTORE_FAILED' },
    ).catch((e: unknown) => {
      rewriter.destroy();
      throw e;
    });
    // Table names compared without case on the target: two that differ only in case must not silently become one (case-clash.ts).
    const lowerCase = created[0]?.[0] ?? '0';
    let input: Readable = rewriter;
    if (lowerCase !== '0') {
      const guard = new CaseClashGuard(
        (first, second) =>
          new BackstopError(
            'RESTORE_FAILED',
            `Database "${database}" cannot be restored on the ${this.label}: it has lower_case_table_names=${lowerCase}, and the backup holds tables whose names differ only in case (${quoteMysqlIdent(first)} and ${quoteMysqlIdent(second)}), which would be one table there. Nothing was created. Fix: restore onto a server with lower_case_table_names=0, or rename one of those tables on the source and take a new backup.`,
          ),
      );
      rewriter.on('error', (e) => guard.destroy(e));
      input = rewriter.pipe(guard);
    }
    // The tables' engines and primary keys, to say what a server that differs changed or refused, and the longest line:
    // each statement of a dump is one line, sent as one packet, so it is what max_allowed_packet must hold (dump-tables.ts).
    const tables = new DumpTables();
    input.on('error', (e) => tables.destroy(e));
    input = input.pipe(tables);
    return withoutHalfRestore(
      database,
      async () => {
        stopIfCanceled(opts.signal);
        const cmd = await this.command(this.client(), ['--connect-timeout=15', '--batch', '--max-allowed-packet=1G', `--database=${database}`]);
        const startedAt = Date.now();
        await sinkTool(cmd, input, { signal: opts.signal, classify: noticingCuts(this.classify(`restoring into database "${database}"`, 'RESTORE_FAILED')) }).catch(async (e: unknown) => {
          throw (
            (await this.packetTooLarge(database, tables.longest, e, opts.signal)) ??
            (await this.timeoutCut('restore', database, e, startedAt, opts.signal)) ??
            missingDefinerError(this.label, database, e) ??
            forcePrimaryKeyError(this.label, database, tables.tables, e) ??
            e
          );
        });
        progress.finish();
        // Tables without transactions are not in the dump's snapshot: the copy says so (non-transactional.ts).
        const unsnapped = nonTransactionalNote(database, tables.tables);
        const notes = [
          ...(options ? [] : [unrecordedOptionsNote(database, await this.databaseDefaults(database, opts.signal))]),
          ...(unsnapped ? [unsnapped] : []),
          ...(await this.engineNotes(database, tables.tables, opts.signal)),
          ...(await this.definerNotes(database, opts.signal)),
          ...(await this.sourceReferenceNotes(database, opts.sourceName, opts.signal)),
          ...(await this.grantsLeftBehind(database, opts.sourceName, opts.signal)),
        ];
        return notes.length === 0 ? { database } : { database, notes };
      },
      () => this.dropQuietly(database),
      `DROP DATABASE ${quoteMysqlIdent(database)};`,
    );
  }

  /** READ_ONLY when the target's read_only is on (restore-checks.ts `readOnlyError`), else null. */
  private async readOnlyRefusal(database: string, signal?: AbortSignal): Promise<BackstopError | null> {
    const rows = await this.query('SELECT @@GLOBAL.read_only;', { signal, action: `checking that database "${database}" can be created`, fallback: 'RESTORE_FAILED' });
    return isReadOnly(rows[0]?.[0]) ? readOnlyError(this.label, database) : null;
  }

  /**
   * When a restore failed (`failure`), or is about to start (undefined), and its longest
   * statement is larger than the server's max_allowed_packet, the error that names the fix
   * (restore-checks.ts); else null.
   */
  private async packetTooLarge(database: string, longest: number, failure: unknown, signal?: AbortSignal, from: 'dump' | 'log' = 'dump'): Promise<BackstopError | null> {
    if (longest < 1024 * 1024) return null;
    if (failure !== undefined && (!(failure instanceof BackstopError) || failure.code === 'CANCELED')) return null;
    const rows = await this.query('SELECT @@GLOBAL.max_allowed_packet;', { signal, action: 'reading max_allowed_packet', fallback: 'RESTORE_FAILED' }).catch(() => null);
    const limit = Number(rows?.[0]?.[0]);
    return Number.isFinite(limit) && longest >= limit ? packetTooLargeError(this.label, database, longest, limit, failure, from) : null;
  }

  /**
   * When a dump or restore failed because the server closed its connection and the server
   * still answers, the error naming its timeouts and the fix (timeouts.ts); else null.
   */
  private async timeoutCut(what: 'dump' | 'restore', database: string, failure: unknown, startedAt: number, signal?: AbortSignal): Promise<BackstopError | null> {
    if (!cutByServer(failure)) return null;
    const elapsed = Date.now() - startedAt;
    const rows = await this.query(TIMEOUTS_QUERY, { signal, action: 'reading the connection timeouts', fallback: 'UNREACHABLE' }).catch(() => null);
    const timeouts = parseTimeouts(rows?.[0]);
    if (!timeouts) return null;
    return couldBeTimeout(what, timeouts, elapsed) ? timeoutError(this.label, what, database, timeouts, failure) : endedError(this.label, what, database, failure);
  }

  /** The note on tables the server made with another engine than the backup's (dump-tables.ts); none when it cannot tell. */
  private async engineNotes(database: string, tables: DumpTables['tables'], signal?: AbortSignal): Promise<string[]> {
    if (!tables.some((t) => t.engine)) return [];
    const name = `X'${Buffer.from(database, 'utf8').toString('hex')}'`;
    const rows = await this.query(`SELECT HEX(TABLE_NAME), ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ${name} AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED');`, {
      signal,
      action: `checking the engines of database "${database}"`,
      fallback: 'RESTORE_FAILED',
    }).catch(() => []);
    const restored = new Map(rows.filter((r) => r.length === 2 && r[1]).map((r) => [Buffer.from(r[0] ?? '', 'hex').toString('utf8'), r[1]!] as [string, string]));
    const note = engineNote(database, tables, restored);
    return note ? [note] : [];
  }

  /** The note on triggers, routines and events whose bodies still name the original database (restore-checks.ts); none when it cannot tell. */
  private async sourceReferenceNotes(database: string, source: string | undefined, signal?: AbortSignal): Promise<string[]> {
    if (!source || source === database) return [];
    const rows = await this.query(sourceReferencesQuery(database, source), { signal, action: `checking the bodies of database "${database}"`, fallback: 'RESTORE_FAILED' }).catch(() => []);
    return sourceReferenceNotes(database, source, rows);
  }

  /** The note on accounts holding privileges on the original name but none on the new one (restore-checks.ts); none when it cannot tell. */
  private async grantsLeftBehind(database: string, source: string | undefined, signal?: AbortSignal): Promise<string[]> {
    if (!source || source === database) return [];
    const rows = await this.query(grantsLeftBehindQuery(database, source), { signal, action: `checking the grants on database "${source}"`, fallback: 'RESTORE_FAILED' }).catch(() => []);
    return grantsLeftBehindNotes(database, source, rows);
  }

  /** The notes on definers of `database` this server lacks or that have no privilege on it (restore-checks.ts); the accounts it could not check when the mysql schema is not readable. */
  private async definerNotes(database: string, signal?: AbortSignal): Promise<string[]> {
    const action = `checking the definers of database "${database}"`;
    try {
      return definerNotes(database, await this.query(definersQuery(database), { signal, action, fallback: 'RESTORE_FAILED' }));
    } catch {
      // The mysql schema is not readable for this user: name the accounts it could not check.
      const rows = await this.query(definerAccountsQuery(database), { signal, action, fallback: 'RESTORE_FAILED' }).catch(() => []);
      return uncheckedDefinerNote(database, this.server.user, rows);
    }
  }

  private dropQuietly(database: string): Promise<boolean> {
    return this.query(`DROP DATABASE IF EXISTS ${quoteMysqlIdent(database)};`, { action: `dropping the half-restored database "${database}"`, fallback: 'RESTORE_FAILED' }).then(
      () => true,
      () => false,
    );
  }
}
