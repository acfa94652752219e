/**
 * How Backstop talks to one PostgreSQL server through its client tools: tool lookup,
 * connection arguments, and running SQL with psql.
 *
 * Contract: the password travels only in PGPASSWORD; the TLS mode in PGSSLMODE and its CA file in
 * PGSSLROOTCERT, so every tool (pg_dump, pg_basebackup, pg_receivewal, …) connects the same way; `-w` makes every tool fail instead
 * of prompting. Database names reach tools only inside a quoted conninfo string
 * (`dbname='…'`), so a name such as `host=evil` can never be read as connection options.
 * psql runs with -X (no psqlrc), -A -t (bare values) and ON_ERROR_STOP, and every session
 * starts with PG_SESSION_SETUP.
 */
import { hostPort, type Server } from '../../../shared/domain.ts';
import { BackstopError, type ErrorCode, hasCode } from '../../../shared/result.ts';
import { runTool, type ToolCommand } from '../child-process.ts';
import { classifyPostgres, pgConnectionSlotsFull } from '../classify.ts';
import { findTool, type ToolSearch } from '../tools.ts';

export type PostgresServer = Extract<Server, { kind: 'postgres' }> | (Pick<Extract<Server, { kind: 'postgres' }>, 'kind' | 'host' | 'port' | 'user' | 'tls' | 'tlsCaFile'> & { name?: string });

export type PgTool = 'psql' | 'pg_dump' | 'pg_dumpall' | 'pg_restore' | 'pg_basebackup' | 'pg_verifybackup' | 'pg_receivewal';

/**
 * What every psql session of Backstop starts with, whatever the role or database settings
 * (`ALTER ROLE/DATABASE … SET`) or the server's defaults:
 * - no client messages below WARNING (a role with client_min_messages = debug5 would bury
 *   an error under DEBUG lines);
 * - no statement, lock or idle timeout (pg_dump and pg_restore do the same), so counting a
 *   big restored table or waiting on a lock never fails on a limit meant for applications;
 * - read-write transactions by default: default_transaction_read_only = on (a common guard
 *   on a backup role, or a whole server's default) is only a default, and a restore the
 *   user asked for must write (pg_dumpall's scripts turn it off the same way). A standby
 *   stays read-only whatever this says (READ_ONLY, classify.ts);
 * - standard conforming strings, so literals such as `'pg\_%'` mean what Backstop wrote;
 *   ISO dates and PostgreSQL intervals, whatever DateStyle/IntervalStyle the role has.
 * Sent as SQL rather than as startup options (PGOPTIONS), which poolers such as PgBouncer
 * refuse ("unsupported startup parameter: options"); the one startup parameter sent,
 * application_name (PGAPPNAME), PgBouncer passes on. A pool that shares server sessions
 * between clients would carry these SETs to other clients: it is refused before they are
 * sent (pooler.ts).
 */
const PG_SESSION_SETUP =
  'SET client_min_messages = warning;\nSET statement_timeout = 0;\nSET default_transaction_read_only = off;\n' +
  "SET standard_conforming_strings = on;\nSET DateStyle = 'ISO';\nSET IntervalStyle = 'postgres';\n" +
  // The newer settings through pg_settings: a server older than one (lock_timeout 9.3+,
  // idle_in_transaction_session_timeout 9.6+) has no row for it instead of an error; \gset keeps
  // the one count row out of the query's output.
  "SELECT count(set_config(name, '0', false)) AS backstop_session_setup FROM pg_settings WHERE name IN ('lock_timeout', 'idle_in_transaction_session_timeout') \\gset\n";

/** A libpq conninfo value, quoted. */
export function conninfoDbname(database: string): string {
  return `dbname='${database.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A quoted SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** PostgreSQL database names: 1–63 bytes, no NUL (longer names would be silently truncated by the server). */
export function checkPgDatabaseName(name: string): void {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > 63) {
    // Multibyte names reach the limit early (ü is 2 bytes): say which name and how long, for a prefix or suffix that pushed it over.
    throw new BackstopError('VALIDATION', `The database name "${name}" is ${bytes} bytes long in UTF-8; a PostgreSQL database name must be 1 to 63 bytes long. Choose a shorter name (or a shorter prefix or suffix).`);
  }
  if (name.length === 0 || name.includes('\0')) {
    throw new BackstopError('VALIDATION', 'A PostgreSQL database name must be 1 to 63 bytes long and must not contain NUL characters.');
  }
}

export class PgConnection {
  readonly label: string;
  private readonly paths = new Map<PgTool, string>();

  constructor(
    readonly server: PostgresServer,
    private readonly password: string | null,
    private readonly search: ToolSearch,
  ) {
    this.label = `PostgreSQL server ${hostPort(server.host, server.port)}`;
  }

  tool(name: PgTool): string {
    let path = this.paths.get(name);
    if (!path) {
      path = findTool([name], 'postgres', this.search);
      this.paths.set(name, path);
    }
    return path;
  }

  /** host/port/user arguments (no database, no secret). */
  connArgs(): string[] {
    return ['-h', this.server.host, '-p', String(this.server.port), '-U', this.server.user, '-w'];
  }

  env(): Record<string, string> {
    const env: Record<string, string> = { PGSSLMODE: this.server.tls, PGCONNECT_TIMEOUT: '15', PGAPPNAME: 'backstop' };
    // The CA the server's certificate is verified against (verify-full; libpq then verifies the chain with require and prefer too).
    if (this.server.tlsCaFile && this.server.tls !== 'disable') env.PGSSLROOTCERT = this.server.tlsCaFile;
    if (this.password) env.PGPASSWORD = this.password;
    return env;
  }

  command(tool: PgTool, args: string[]): ToolCommand {
    return { path: this.tool(tool), args, env: this.env(), secrets: [this.password] };
  }

  classify(action: string, fallback: ErrorCode): ReturnType<typeof classifyPostgres> {
    return classifyPostgres({ server: this.label, action, fallback, tls: this.server.tls, tlsCaFile: this.server.tlsCaFile ?? null });
  }

  /** Runs SQL in `database` (default: the maintenance database) and returns rows of fields (-A -t, `|`-separated). */
  async query(sql: string, opts: { database?: string; signal?: AbortSignal; action?: string; fallback?: ErrorCode } = {}): Promise<string[][]> {
    const database = opts.database ?? 'postgres';
    const run = (db: string): Promise<string> =>
      runTool(this.command('psql', ['-X', '-A', '-t', '-q', '-F', '|', '-v', 'ON_ERROR_STOP=1', ...this.connArgs(), '-d', conninfoDbname(db), '-f', '-']), {
        input: PG_SESSION_SETUP + sql,
        signal: opts.signal,
        classify: this.classify(opts.action ?? 'running a query', opts.fallback ?? 'INTERNAL'),
        retry: pgConnectionSlotsFull,
      });
    let out: string;
    try {
      out = await run(database);
    } catch (e) {
      // Servers without a "postgres" database: fall back to template1 for maintenance queries.
      if (opts.database === undefined && hasCode(e, 'DATABASE_NOT_FOUND')) out = await run('template1');
      else throw e;
    }
    return out
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => l.split('|'));
  }
}
