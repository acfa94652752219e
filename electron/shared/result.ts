/**
 * Typed results and the closed set of error codes.
 *
 * Contract: nothing throws across a process boundary (IPC, worker messages, CLI output).
 * Every engine call that can fail for a reason the user can act on throws a
 * `BackstopError` inside its process; the boundary turns it into `{ ok: false, code,
 * message, retryable }`. Messages are written for a database administrator, say what
 * to do next, and never contain a secret.
 */

export const ERROR_CODES = [
  /** The request did not match the contract's schema (IPC, CLI, task file). */
  'MALFORMED_REQUEST',
  /** An IPC call came from a frame that is not the app's own window. */
  'FORBIDDEN_SENDER',
  /** Input was well-formed but not acceptable (e.g. a malformed cron expression). */
  'VALIDATION',
  'NOT_FOUND',
  /** The operation conflicts with existing state (name taken, still referenced, already running). */
  'CONFLICT',
  /** An edit started from a version that is no longer the stored one (changed in another window or the command line meanwhile); nothing was saved. */
  'STALE',
  'CANCELED',
  // repository
  'KEY_MISMATCH',
  'INTEGRITY',
  'NOT_A_BACKUP',
  'FORMAT_TOO_NEW',
  'DISK_FULL',
  /** The destination's file system or bucket refuses writes (EROFS, read-only mount). */
  'READ_ONLY',
  /** A destination root that existed before is gone (an unmounted disk); it is never re-created silently. */
  'DESTINATION_MISSING',
  'STORAGE',
  // keys and secrets
  'KEYCHAIN_UNAVAILABLE',
  'KEYCHAIN_LOCKED',
  'KEY_REQUIRED',
  // database servers
  'UNREACHABLE',
  'AUTH_FAILED',
  'PERMISSION_DENIED',
  'TOOL_MISSING',
  'TOOL_TOO_OLD',
  'DATABASE_EXISTS',
  /** The backup names a role (owner, grantee) the target server lacks; the message names it and the choices. */
  'ROLE_MISSING',
  'DATABASE_NOT_FOUND',
  'DUMP_FAILED',
  /** A table was altered, truncated, renamed or dropped during its dump (MariaDB/MySQL); nothing stored, a new run takes it. */
  'SCHEMA_CHANGED',
  'RESTORE_FAILED',
  /** A restore moment (--as-of) outside what the backups reach; the message gives the reachable range. */
  'OUT_OF_RANGE',
  /**
   * The server has something the task's backup type cannot cover, or a restore would have to
   * write outside its own folders (a PostgreSQL snapshot of a cluster with tablespaces); the
   * message names it and the backup type that can. Nothing was stored or created.
   */
  'UNSUPPORTED',
  'WORKER_CRASHED',
  /** A task's pre/post hook command failed, timed out or could not start (the message names it and its exit). */
  'HOOK_FAILED',
  /** A bug: something the code did not expect. The message says where to find the log. */
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Codes where trying the same thing again later may succeed without the user changing anything. */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['UNREACHABLE', 'STORAGE', 'WORKER_CRASHED', 'SCHEMA_CHANGED']);

export interface Failure {
  ok: false;
  code: ErrorCode;
  message: string;
  retryable: boolean;
}
export interface Success<T> {
  ok: true;
  data: T;
}
export type Result<T> = Success<T> | Failure;

export function ok<T>(data: T): Success<T> {
  return { ok: true, data };
}

export function fail(code: ErrorCode, message: string, retryable = RETRYABLE.has(code)): Failure {
  return { ok: false, code, message, retryable };
}

/** The one error type engine code throws for conditions a user can act on. */
export class BackstopError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BackstopError';
    this.code = code;
    this.retryable = options?.retryable ?? RETRYABLE.has(code);
  }
}

export function isBackstopError(e: unknown): e is BackstopError {
  return e instanceof BackstopError;
}

/** True when `e` is a BackstopError with one of `codes`: the one way to branch on an error's code. */
export function hasCode(e: unknown, ...codes: ErrorCode[]): e is BackstopError {
  return e instanceof BackstopError && codes.includes(e.code);
}

/** The `{code, message}` a result, history row or event carries for any thrown value (see toFailure). */
export function errorInfo(e: unknown): { code: ErrorCode; message: string } {
  const f = toFailure(e);
  return { code: f.code, message: f.message };
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/** Turns anything thrown into a Failure; unknown errors become INTERNAL without leaking their text. */
export function toFailure(e: unknown): Failure {
  if (e instanceof BackstopError) return fail(e.code, e.message, e.retryable);
  return fail('INTERNAL', 'An unexpected error occurred. Details are in the Backstop log.');
}
