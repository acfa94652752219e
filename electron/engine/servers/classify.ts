/**
 * Turns a client tool's failure (stderr + exit code) into a specific BackstopError.
 *
 * Contract: pure functions. The input stderr is already scrubbed of secrets; the message
 * says what failed, what to do next, and quotes the tool's last stderr lines. Order of
 * checks matters: a client tool that cannot run at all first (TOOL_MISSING: the server was
 * never asked, so it is not "unreachable"), then connection problems (nothing else can be known then), then
 * authentication, missing database, privileges, and finally the operation's own code
 * (DUMP_FAILED / RESTORE_FAILED / …) as the fallback.
 */
import type { TlsMode } from '../../shared/domain.ts';
import { BackstopError, type ErrorCode } from '../../shared/result.ts';
import { stderrDetail, type Classifier, type ToolFailure } from './child-process.ts';
import { poolerReplicationReason, replicationThroughPooler } from './postgres/pooler.ts';
import { installHint, type ToolFamily } from './tools.ts';

export interface FailureContext {
  /** Human name of the server, e.g. "PostgreSQL server 127.0.0.1:5432". */
  server: string;
  /** What was being done, e.g. "dumping database \"shop\"". */
  action: string;
  /** Code when nothing more specific is recognised. */
  fallback: ErrorCode;
  /** The server's TLS mode: what a refused plain connection or an unverified certificate is said against. */
  tls?: TlsMode;
  /** The server's CA certificate file, when one is set: what a certificate that could not be verified was checked against. */
  tlsCaFile?: string | null;
}

/**
 * The fix the window's wording names, as fixed phrases so a shell can say it in its own
 * terms (the CLI names the task file's keys instead: `inFileTerms` in electron/cli/task-file.ts).
 */
export const SERVER_FIX = {
  unreachable: 'Check that it is running and that host and port are right',
  credentials: 'Check the credentials in the server settings',
  tlsRequire: 'set TLS to "require" (or "verify-full") in the server settings',
  tlsCaFile: 'set the CA certificate file in the server settings to the CA that signed the server\'s certificate',
} as const;

/**
 * What a failed TLS connection means, and its fix, or null when `s` is no TLS failure. Said the same for both
 * engines (the tools word it differently): the server offers no TLS though it was required; a certificate that
 * could not be verified (wrong CA, a host name the certificate does not name, no CA given for verify-full); a
 * server that refuses the plain connection TLS "disable" makes.
 */
function tlsFailure(ctx: FailureContext, s: string, f: ToolFailure): BackstopError | null {
  if (/server does not support SSL, but SSL was required|SSL is required, but the server does not support it|BACKSTOP_PLAIN_CONNECTION/i.test(s)) {
    return failure(
      ctx,
      'UNSUPPORTED',
      `The ${ctx.server} offers no encrypted connection (TLS), and TLS is "${ctx.tls ?? 'require'}": nothing was sent over a plain connection. Fix: turn TLS on at the server, or set TLS to "prefer" in the server settings to connect without encryption`,
      f,
    );
  }
  const noRoot = /root certificate file "([^"]*)" does not exist/i.exec(s);
  if (noRoot) {
    return failure(
      ctx,
      'VALIDATION',
      `TLS "${ctx.tls ?? 'verify-full'}" verifies the ${ctx.server}'s certificate, and no CA certificate was given (the default ${noRoot[1]} does not exist). Fix: ${SERVER_FIX.tlsCaFile}`,
      f,
    );
  }
  const unreadableCa = /could not read root certificate file "([^"]*)"|SSL_CTX_load_verify_locations|Failed to set ssl certificate authority|error setting certificate verify locations/i.exec(s);
  if (unreadableCa) {
    return failure(ctx, 'VALIDATION', `The CA certificate file${unreadableCa[1] ? ` ${unreadableCa[1]}` : ''} could not be read. Fix: ${SERVER_FIX.tlsCaFile}`, f);
  }
  const mismatch = /server certificate for "([^"]*)"(?: \(and \d+ other names?\))? does not match host name "([^"]*)"|Validation of SSL server certificate failed|certificate is not valid for/i.exec(s);
  if (mismatch || /certificate verify failed|self[- ]signed certificate|unable to get (local )?issuer certificate|unable to verify the first certificate|certificate has expired/i.test(s)) {
    const host = /^\S+ server (\S+):\d+$/.exec(ctx.server)?.[1] ?? ctx.server;
    const why = mismatch?.[2]
      ? `its certificate is for "${mismatch[1]}", not for the host name "${mismatch[2]}" Backstop connected to`
      : mismatch
        ? `its certificate does not name the host "${host}" Backstop connected to`
        : ctx.tlsCaFile
          ? `it was not signed by the CA in ${ctx.tlsCaFile} (or it has expired)`
          : 'it was not signed by a CA this computer trusts, and no CA certificate file is set (or it has expired)';
    return failure(
      ctx,
      'AUTH_FAILED',
      `The certificate of the ${ctx.server} could not be verified: ${why}. Nothing was sent to it. Fix: ${SERVER_FIX.tlsCaFile}, and connect by a host name the certificate names (or set TLS to "require", which encrypts without verifying who answers)`,
      f,
    );
  }
  if (ctx.tls === 'disable' && /no pg_hba\.conf entry for host [^\n]*no encryption/i.test(s)) {
    return failure(
      ctx,
      'AUTH_FAILED',
      `The ${ctx.server} accepts no plain (unencrypted) connection from this host (pg_hba.conf: hostssl lines only, or no line for it), and TLS is "disable". Fix: ${SERVER_FIX.tlsRequire}`,
      f,
    );
  }
  return null;
}

/**
 * What a PostgreSQL session ended from the server's side means, and its fix: said the same whether the
 * tool read the reason (classifyPostgres) or only lost the connection while the server still answers
 * (the connector asks it then).
 */
export function pgSessionEnded(server: string): string {
  return `The ${server} ended this session: an administrator ended it (pg_terminate_backend), the server was stopped or restarted, or the database was dropped (DROP DATABASE … WITH (FORCE)). Fix: run it again once the server accepts connections`;
}

/** A role's CONNECTION LIMIT reached, and the fix: said the same whether the server's refusal was read or only inferred (a parallel pg_restore whose worker could not connect). */
export function pgRoleLimitReached(role: string): string {
  return `Role "${role}" has reached its CONNECTION LIMIT: every connection it may have is in use (its other sessions count, and a parallel restore opens one per job, and one more). Fix: end other sessions of "${role}", restore with fewer jobs, or raise the limit (ALTER ROLE "${role}" CONNECTION LIMIT -1; for none)`;
}

const PG_UNREACHABLE = [
  /could not connect to server/i,
  /connection refused/i,
  /could not translate host name/i,
  /timeout expired/i,
  /no route to host/i,
  /network is unreachable/i,
  /server closed the connection unexpectedly/i,
  /could not receive data from server/i,
  /Is the server running/i,
  /the database system is (starting up|shutting down)/i,
];
/**
 * A session refused because connection slots are full: the role's or the database's CONNECTION
 * LIMIT, or the server's max_connections (the last superuser_reserved_connections kept for
 * superusers). Tried again for a while (child-process.ts, CONNECT_RETRY_MS): a slot frees when
 * a session ends, and a backend ends only just after its client left.
 */
const PG_SLOTS_FULL = /too many connections for (role|database) "|sorry, too many clients already|remaining connection slots are reserved/i;

export function pgConnectionSlotsFull(f: Pick<ToolFailure, 'stderr'>): boolean {
  return PG_SLOTS_FULL.test(f.stderr);
}

const PG_AUTH = [/password authentication failed/i, /no password supplied/i, /FATAL:\s+role ".*" does not exist/i, /no pg_hba\.conf entry/i, /authentication failed/i];
const PG_PERMISSION = [/permission denied/i, /must be superuser/i, /must be owner/i, /must have replication/i, /must be superuser or replication role/i, /not permitted to log in/i];

function failure(ctx: FailureContext, code: ErrorCode, summary: string, f: ToolFailure): BackstopError {
  const detail = stderrDetail(f.stderr);
  const exit = f.code === null ? `signal ${f.signal ?? 'unknown'}` : `exit code ${f.code}`;
  return new BackstopError(code, `${summary} (while ${ctx.action}; ${exit})${detail ? `: ${detail}` : '.'}`);
}

/**
 * Tools that are installed in name only: Debian's pg_wrapper without a postgresql-client
 * package, a binary missing its shared libraries, a wrapper script whose target is gone
 * (the shell's 126/127 exit codes).
 */
const TOOL_CANNOT_RUN = [/You must install at least one postgresql-client/i, /\bPostgreSQL version \d+ is not installed/i, /error while loading shared libraries/i, /: command not found/i, /cannot execute( binary file)?:/i];

function toolCannotRun(ctx: FailureContext, family: ToolFamily, f: ToolFailure): BackstopError | null {
  if (!TOOL_CANNOT_RUN.some((r) => r.test(f.stderr)) && f.code !== 126 && f.code !== 127) return null;
  const detail = stderrDetail(f.stderr);
  const exit = f.code === null ? `signal ${f.signal ?? 'unknown'}` : `exit code ${f.code}`;
  return new BackstopError('TOOL_MISSING', `The client tools cannot run (while ${ctx.action}; ${exit})${detail ? `: ${detail}` : ''}. ${installHint(family)}`);
}

/**
 * DEBUG and LOG messages a role's or database's client_min_messages (e.g. debug5) sends
 * before Backstop's session turns them off: never the error, and they would push it out of
 * the quoted lines.
 */
const PG_CHATTER = /^(?:psql:[^\n]*?:\d+: )?(?:DEBUG|LOG): {2}/;

/**
 * What a standby's "conflict with recovery" means and what fixes it. The usual one: the primary
 * removed row versions (VACUUM, HOT pruning) that the query's snapshot still needed, and the
 * standby waited no longer than max_standby_streaming_delay before replaying that removal.
 */
function recoveryConflict(server: string, stderr: string): string {
  const snapshot = /row versions that must be removed/i.test(stderr);
  const cause = snapshot
    ? "the primary removed old row versions (VACUUM) that the query's snapshot still needed, and the standby replays such a removal after at most max_standby_streaming_delay"
    : 'the primary did something the query conflicts with (an exclusive lock such as DROP, TRUNCATE or ALTER TABLE, a dropped tablespace), and the standby replays it after at most max_standby_streaming_delay';
  const fix = snapshot
    ? 'on the standby, set hot_standby_feedback = on (the primary then keeps those row versions while a backup reads), or raise max_standby_streaming_delay (-1 waits for the backup; replication lags meanwhile), then reload it'
    : 'on the standby, raise max_standby_streaming_delay (-1 waits for the backup; replication lags meanwhile) and reload it';
  return `The ${server} is a standby, and it canceled the query (conflict with recovery): ${cause}. Fix: ${fix}; or back up the primary. Then run again`;
}

export function classifyPostgres(ctx: FailureContext): Classifier {
  return (failed) => {
    const f = { ...failed, stderr: failed.stderr.split('\n').filter((l) => !PG_CHATTER.test(l)).join('\n') };
    const s = f.stderr;
    const cannotRun = toolCannotRun(ctx, 'postgres', f);
    if (cannotRun) return cannotRun;
    // A session ended or a statement canceled on the server by a DBA (or a restart) is not "unreachable":
    // the server was there; what happened, and that running again is the fix, is what the DBA needs.
    if (/terminating connection due to administrator command/i.test(s)) {
      return failure(ctx, ctx.fallback, pgSessionEnded(ctx.server), f);
    }
    // A hot standby cancels a query (or ends the session) that conflicts with the WAL it replays: a long dump of a standby meets it.
    if (/(canceling statement|terminating connection) due to conflict with recovery/i.test(s)) {
      return failure(ctx, ctx.fallback, recoveryConflict(ctx.server, s), f);
    }
    if (/canceling statement due to user request/i.test(s)) {
      return failure(ctx, ctx.fallback, `The ${ctx.server} canceled a statement of this session at an administrator's request (pg_cancel_backend). Fix: run it again`, f);
    }
    // PgBouncer refuses a replication connection (pg_basebackup, pg_receivewal): name the pooler and the fix.
    if (replicationThroughPooler(s)) return failure(ctx, 'UNSUPPORTED', poolerReplicationReason(ctx.server), f);
    const tls = tlsFailure(ctx, s, f);
    if (tls) return tls;
    if (PG_UNREACHABLE.some((r) => r.test(s))) {
      return failure(ctx, 'UNREACHABLE', `Cannot reach the ${ctx.server}. ${SERVER_FIX.unreachable}`, f);
    }
    if (PG_AUTH.some((r) => r.test(s))) {
      // PostgreSQL tells the client the same for an expired role (the reason is only in the server log).
      const expiry = /password authentication failed/i.test(s) ? "; a role past its VALID UNTIL date is refused the same way (ALTER ROLE … VALID UNTIL 'infinity')" : '';
      return failure(ctx, 'AUTH_FAILED', `The ${ctx.server} rejected the user name or password. ${SERVER_FIX.credentials}${expiry}`, f);
    }
    // A CONNECTION LIMIT (a superuser is not held to either): named with the fix, not a bare "Failed".
    const fullDatabase = /too many connections for database "((?:[^"]|"")*)"/i.exec(s);
    if (fullDatabase) {
      const db = fullDatabase[1] ?? '';
      return failure(
        ctx,
        ctx.fallback,
        `Database "${db}" has reached its CONNECTION LIMIT: every connection it allows is in use, so no session could be opened. Fix: try again when fewer sessions are connected, raise the limit (ALTER DATABASE "${db}" CONNECTION LIMIT …;), or connect as a superuser (not held to the limit)`,
        f,
      );
    }
    const fullRole = /too many connections for role "((?:[^"]|"")*)"/i.exec(s);
    if (fullRole) return failure(ctx, ctx.fallback, pgRoleLimitReached(fullRole[1] ?? ''), f);
    if (/sorry, too many clients already|remaining connection slots are reserved/i.test(s)) {
      return failure(
        ctx,
        ctx.fallback,
        `The ${ctx.server} has no free connection slot: its max_connections sessions are all in use (the last superuser_reserved_connections of them only for superusers). Fix: run it again when fewer sessions are connected, end idle sessions of other applications, or raise max_connections (a server restart)`,
        f,
      );
    }
    const missing = /database "((?:[^"]|"")*)" does not exist/i.exec(s);
    if (missing) return failure(ctx, 'DATABASE_NOT_FOUND', `Database "${missing[1] ?? ''}" does not exist on the ${ctx.server}`, f);
    if (/database ".*" already exists/i.test(s)) return failure(ctx, 'DATABASE_EXISTS', 'A database with that name already exists; choose another name', f);
    const role = /role "((?:[^"]|"")*)" does not exist/i.exec(s);
    if (role) {
      return failure(
        ctx,
        ctx.fallback,
        `Role "${role[1] ?? ''}" does not exist on the ${ctx.server}. Create it first (the server-level globals.sql of the backup has it) or restore with "no owner"`,
        f,
      );
    }
    if (/server version mismatch/i.test(s)) {
      return failure(ctx, 'TOOL_TOO_OLD', 'The PostgreSQL client tools are older than the server; install newer client tools', f);
    }
    if (PG_PERMISSION.some((r) => r.test(s))) {
      return failure(ctx, 'PERMISSION_DENIED', `The user lacks a privilege needed for this on the ${ctx.server}`, f);
    }
    // Backstop's sessions turn a read-only default off (connection.ts, and the restore's own
    // setting for pg_restore): what remains is a standby, or a session some other tool left read-only.
    if (/cannot execute [^\n]* in a read-only transaction/i.test(s)) {
      return failure(
        ctx,
        'READ_ONLY',
        `The ${ctx.server} only allows reading in this session: it is a standby (in recovery), where every transaction is read-only, or a setting forces read-only transactions. Restore onto the primary (or promote this server first)`,
        f,
      );
    }
    // COPY … TO stdout of a value whose text form passes PostgreSQL's 1 GB allocation limit (a
    // bytea is written as hex: 500 MB already fails): the server refuses it, so pg_dump never can.
    if (/invalid memory alloc request size \d+/i.test(s) && /COPY [^\n]* TO stdout/i.test(s)) {
      const table = /Dumping the contents of table "((?:[^"]|"")*)"/i.exec(s)?.[1];
      return failure(
        ctx,
        ctx.fallback,
        `A value in ${table ? `table "${table}"` : 'a table'} is too large for PostgreSQL to write as text (near or over the 1 GB PostgreSQL allocates at once: a bytea is written as hex, twice its size, so one of some 500 MB is too large), so pg_dump cannot dump it and nothing was stored for this database. Fix: back up this server with a snapshot task (it copies the data files, whatever the size of a value), or keep values this large as large objects (lo_import), which pg_dump writes in pieces`,
        f,
      );
    }
    return failure(ctx, ctx.fallback, `Failed on the ${ctx.server}`, f);
  };
}

/**
 * A MySQL/MariaDB session refused because connection slots are full: the server's max_connections
 * (1040), the global max_user_connections (1203) or the account's MAX_USER_CONNECTIONS (1226 naming
 * it; not its hourly limits, which waiting seconds does not free). Tried again like PostgreSQL's.
 */
const MY_SLOTS_FULL = /(?:ERROR|error:) (?:1040|1203)\b|Too many connections|'max_user_connections'/i;

export function myConnectionSlotsFull(f: ToolFailure): boolean {
  return MY_SLOTS_FULL.test(f.stderr);
}

/**
 * Put first in a MariaDB client's session when TLS is "require": a MariaDB client's --ssl (without verifying the
 * certificate) connects in plain text to a server that offers no TLS, so the session checks that it is encrypted and
 * fails (sql_mode cannot take this value) before any other statement runs; `tlsFailure` reads the marker. Only a
 * MariaDB server runs it (`/*M!`): a MySQL server's session status is elsewhere, and MySQL clients say REQUIRED.
 */
export const MY_PLAIN_CONNECTION_GUARD =
  "/*M! SET @@SESSION.sql_mode = IF((SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'SSL_CIPHER') = '', 'BACKSTOP_PLAIN_CONNECTION', @@SESSION.sql_mode) */;\n";

/** MySQL/MariaDB client error numbers (the same in both). */
const MY_UNREACHABLE = /\b(2002|2003|2005|2006|2013|2026)\b|Can't connect to (local )?(MySQL|MariaDB) server|Unknown (MySQL|MariaDB) server host|Lost connection to (MySQL|MariaDB) server/i;

export function classifyMysql(ctx: FailureContext): Classifier {
  return (f) => {
    const s = f.stderr;
    const cannotRun = toolCannotRun(ctx, 'mysql', f);
    if (cannotRun) return cannotRun;
    const tls = tlsFailure(ctx, s, f);
    if (tls) return tls;
    if (MY_UNREACHABLE.test(s)) {
      return failure(ctx, 'UNREACHABLE', `Cannot reach the ${ctx.server}. ${SERVER_FIX.unreachable}`, f);
    }
    const userLimit = /User '((?:[^']|'')*)' (?:has exceeded the 'max_user_connections' resource \(current value: (\d+)\)|already has more than 'max_user_connections' active connections)/i.exec(s);
    if (userLimit) {
      const [, user = '', limit] = userLimit;
      return failure(
        ctx,
        ctx.fallback,
        `User "${user}" may have only ${limit ?? '@@max_user_connections'} session${limit === '1' ? '' : 's'} at once (${limit ? 'MAX_USER_CONNECTIONS' : 'max_user_connections'}) and all were in use (other sessions of that user count). Fix: end other sessions of "${user}", or raise the limit (${limit ? `ALTER USER … WITH MAX_USER_CONNECTIONS 0; for none` : 'SET GLOBAL max_user_connections = 0; for none'})`,
        f,
      );
    }
    if (/(?:ERROR|error:) 1040\b|Too many connections/i.test(s)) {
      return failure(
        ctx,
        ctx.fallback,
        `The ${ctx.server} has no free connection slot: its max_connections sessions are all in use. Fix: run it again when fewer sessions are connected, end idle sessions of other applications, or raise max_connections (SET GLOBAL max_connections = …;)`,
        f,
      );
    }
    if (/\b1045\b|Access denied for user [^\n]*\(using password/i.test(s)) {
      // MariaDB refuses a plain connection to a server with require_secure_transport=ON, or of an account with REQUIRE SSL,
      // with this same "Access denied".
      const plain =
        ctx.tls === 'disable'
          ? `; a server that accepts only encrypted connections (require_secure_transport=ON, or an account created with REQUIRE SSL) refuses a plain one the same way, and TLS is "disable": if so, ${SERVER_FIX.tlsRequire}`
          : '';
      return failure(ctx, 'AUTH_FAILED', `The ${ctx.server} rejected the user name or password. ${SERVER_FIX.credentials}${plain}`, f);
    }
    const unknown = /Unknown database '((?:[^']|'')*)'/i.exec(s);
    if (/\b1049\b/.test(s) || unknown) {
      return failure(ctx, 'DATABASE_NOT_FOUND', `Database "${unknown?.[1] ?? ''}" does not exist on the ${ctx.server}`, f);
    }
    if (/\b1007\b|database exists/i.test(s)) return failure(ctx, 'DATABASE_EXISTS', 'A database with that name already exists; choose another name', f);
    if (/\b1227\b.*\b(SET USER|SET_USER_ID)\b/.test(s)) {
      return failure(
        ctx,
        'PERMISSION_DENIED',
        `The user may not create objects (views, routines, triggers, events) whose DEFINER is another account on the ${ctx.server}. Fix: GRANT SET USER ON *.* TO <that user>; (MariaDB 10.5+; SUPER before; SET_USER_ID on MySQL 8.0), or restore as a user that has it`,
        f,
      );
    }
    if (/\b(1044|1142|1143|1227|1370|1410)\b|Access denied|command denied|privilege/i.test(s)) {
      return failure(ctx, 'PERMISSION_DENIED', `The user lacks a privilege needed for this on the ${ctx.server}`, f);
    }
    return failure(ctx, ctx.fallback, `Failed on the ${ctx.server}`, f);
  };
}
