/**
 * Restoring a PostgreSQL snapshot (a `pg_basebackup -Ft -X fetch` tar stream) into a new
 * data directory, and proving it opens.
 *
 * Contract:
 * - `restoreBaseBackup` never touches existing data: the target folder must not exist or
 *   be empty (DATABASE_EXISTS otherwise). It extracts the archive, then checks it with
 *   `pg_verifybackup` (manifest checksums + WAL) when that tool is installed, then gives
 *   the folder mode 0700 and (when asked) the server's OS user as owner (a chown the file
 *   system refuses is reported in `ownerError`, not a failure). On any other failure
 *   the folder it created/filled is removed and RESTORE_FAILED (or CANCELED) is thrown.
 * - `startDataDirectory` starts a server on the folder on a free loopback port — as the
 *   `postgres` OS user when Backstop runs as root (the folder is chowned to it) — waits
 *   until it answers a query as `user`/`password`, and returns the database list and a
 *   `stop()` (fast shutdown, idempotent). The folder's own configuration is used, with
 *   port, socket directory and listen address overridden; `onLog` sees the server's log.
 *   A server that stops instead is RESTORE_FAILED with its last FATAL/PANIC line and the
 *   HINT after it (e.g. WAL replay needing a larger max_prepared_transactions), else its
 *   last log lines.
 * - `sparseFolders`: those folders' files are created sparse and pg_verifybackup skips them
 *   (a selective restore, restore/pitr.ts).
 */
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import type { Readable } from 'node:stream';
import { BackstopError } from '../../../shared/result.ts';
import { childEnv, runTool } from '../child-process.ts';
import type { ToolPaths } from '../connector.ts';
import { extractTar } from '../tar-extract.ts';
import { findTool, toolVersion } from '../tools.ts';
import { PgConnection } from './connection.ts';
import { chownTree, lookUpOsUser, runningAsRoot, type OsUser } from './server-os-user.ts';

export interface BaseBackupRestoreOptions {
  signal?: AbortSignal;
  toolPaths?: ToolPaths;
  /** Skip pg_verifybackup even when it is installed. */
  skipVerify?: boolean;
  /**
   * Runs after the archive is extracted and verified, before the folder is handed over
   * (e.g. writing configuration the backup lacks); a failure removes the folder like any other.
   */
  afterVerify?: (dataDir: string) => void;
  /** The folder and everything in it get this owner (Backstop running as root). */
  owner?: OsUser | null;
  /**
   * Folders (data-directory relative, e.g. "base/16384") whose files are created sparse
   * (full size, no data: a selective restore, restore/pitr.ts); pg_verifybackup skips them.
   */
  sparseFolders?: string[];
}

export interface BaseBackupRestoreReport {
  dataDir: string;
  files: number;
  /** Whether pg_verifybackup checked the result. */
  verified: boolean;
  /** Why the folder could not be given to `owner` (e.g. a file system without owners), or null. */
  ownerError: string | null;
}

function prepareEmptyDir(dataDir: string): void {
  if (!isAbsolute(dataDir)) throw new BackstopError('VALIDATION', `The data directory "${dataDir}" must be an absolute path.`);
  if (existsSync(dataDir)) {
    if (!statSync(dataDir).isDirectory() || readdirSync(dataDir).length > 0) {
      throw new BackstopError('DATABASE_EXISTS', `"${dataDir}" already exists and is not an empty folder; choose a new folder for the restored cluster.`);
    }
  } else {
    mkdirSync(dirname(dataDir), { recursive: true });
    mkdirSync(dataDir, { mode: 0o700 });
  }
}

export async function restoreBaseBackup(source: Readable, dataDir: string, opts: BaseBackupRestoreOptions = {}): Promise<BaseBackupRestoreReport> {
  try {
    prepareEmptyDir(dataDir);
  } catch (e) {
    source.destroy();
    throw e;
  }
  const onAbort = (): void => {
    source.destroy(new BackstopError('CANCELED', 'The restore was canceled.'));
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (opts.signal?.aborted) onAbort();
    const sparse = opts.sparseFolders ?? [];
    const files = await extractTar(source, dataDir, sparse.length ? { sparse: (path) => sparse.some((f) => path.startsWith(`${f}/`)) } : {});
    let verified = false;
    if (!opts.skipVerify) {
      let verifier: string | null = null;
      try {
        verifier = findTool(['pg_verifybackup'], 'postgres', { binDir: opts.toolPaths?.postgres ?? null });
      } catch {
        verifier = null; // PostgreSQL < 13 or not installed: the server start is the check.
      }
      if (verifier) {
        await runTool(
          { path: verifier, args: [...sparse.flatMap((f) => ['-i', f]), dataDir] },
          {
            signal: opts.signal,
            classify: (f) => new BackstopError('RESTORE_FAILED', `pg_verifybackup found the restored cluster damaged: ${f.stderr.trim().split('\n').slice(-3).join(' | ')}`),
          },
        );
        verified = true;
      }
    }
    opts.afterVerify?.(dataDir);
    // PostgreSQL refuses a data directory that others may read or that it does not own.
    chmodSync(dataDir, 0o700);
    let ownerError: string | null = null;
    try {
      if (opts.owner) chownTree(dataDir, opts.owner.uid, opts.owner.gid);
    } catch (e) {
      ownerError = (e as Error).message; // the data is intact; the notes say what to do
    }
    return { dataDir, files, verified, ownerError };
  } catch (e) {
    source.destroy();
    rmSync(dataDir, { recursive: true, force: true });
    if (e instanceof BackstopError) throw e;
    throw new BackstopError('RESTORE_FAILED', `Extracting the base backup failed: ${(e as Error).message}`, { cause: e });
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

export interface RunningCluster {
  host: string;
  port: number;
  /** e.g. "15.14". */
  version: string;
  databases: string[];
  stop(): Promise<void>;
}

export interface StartOptions {
  user: string;
  password?: string | null;
  toolPaths?: ToolPaths;
  timeoutMs?: number;
  /** Listen on the private socket folder only (no TCP): `host` is then that folder. */
  socketOnly?: boolean;
  /** Every piece of the server's log (stderr) as it arrives, e.g. to read what WAL replay reported. */
  onLog?: (text: string) => void;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

function osUserForServer(): OsUser | null {
  if (!runningAsRoot()) return null;
  const user = lookUpOsUser('postgres');
  if (!user) throw new BackstopError('PERMISSION_DENIED', 'PostgreSQL refuses to run as root and there is no "postgres" OS user to run it as.');
  return user;
}

/** What a server's log says made it stop: its last FATAL or PANIC with the HINT that follows, else its last lines. */
export function whyStopped(log: string): string {
  const lines = log.trim().split('\n');
  // Not the refusals of the connection attempts made while it was starting ("the database system is starting up").
  const at = lines.findLastIndex((l) => /\b(FATAL|PANIC):\s/.test(l) && !/the database system is |not yet accepting connections/.test(l));
  if (at < 0) return lines.slice(-3).join(' | ');
  const said = (l: string) => l.replace(/^.*?\b(FATAL|PANIC|HINT|ERROR):\s+/, '$1: ');
  const hint = lines.slice(at + 1, at + 4).find((l) => /\bHINT:\s/.test(l));
  return [said(lines[at]!), ...(hint ? [said(hint)] : [])].join(' ');
}

export async function startDataDirectory(dataDir: string, opts: StartOptions): Promise<RunningCluster> {
  const search = { binDir: opts.toolPaths?.postgres ?? null };
  const postgres = findTool(['postgres'], 'postgres', search);
  const wanted = readFileSync(join(dataDir, 'PG_VERSION'), 'utf8').trim();
  const have = await toolVersion(postgres);
  if (have.major !== wanted) {
    throw new BackstopError('TOOL_MISSING', `The data directory needs PostgreSQL ${wanted} server binaries, but ${postgres} is version ${have.version}. Set the folder of the PostgreSQL ${wanted} tools in Settings.`);
  }
  const runAs = osUserForServer();
  const socketDir = mkdtempSync(join(tmpdir(), 'backstop-pgsock-'));
  if (runAs) {
    chownTree(dataDir, runAs.uid, runAs.gid);
    chownSync(socketDir, runAs.uid, runAs.gid);
  }
  const port = await freePort();
  let stderr = '';
  const host = opts.socketOnly ? socketDir : '127.0.0.1';
  const child = spawn(postgres, ['-D', dataDir, '-p', String(port), '-k', socketDir, '-c', `listen_addresses=${opts.socketOnly ? '' : '127.0.0.1'}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: childEnv(),
    // The server's OS user may not be allowed into our working directory.
    cwd: dataDir,
    ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    opts.onLog?.(d);
    if (stderr.length < 65536) stderr += d;
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (!stopped) {
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    }
    await exited;
    rmSync(socketDir, { recursive: true, force: true });
  };
  const conn = new PgConnection({ kind: 'postgres', host, port, user: opts.user, tls: 'disable' }, opts.password ?? null, search);
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new BackstopError('RESTORE_FAILED', `The restored cluster did not start: ${whyStopped(stderr)}`);
    }
    try {
      const rows = await conn.query(`SELECT encode(convert_to(datname, 'UTF8'), 'hex') FROM pg_database WHERE NOT datistemplate`, { action: 'checking the restored cluster', fallback: 'RESTORE_FAILED' });
      const databases = rows.map((r) => Buffer.from(r[0] ?? '', 'hex').toString('utf8')).sort();
      return { host, port, version: have.version, databases, stop };
    } catch (e) {
      const retry = e instanceof BackstopError && (e.code === 'UNREACHABLE' || /starting up|recovery|not accepting connections/i.test(e.message));
      if (!retry || Date.now() > deadline) {
        await stop();
        throw e instanceof BackstopError && !retry ? e : new BackstopError('RESTORE_FAILED', `The restored cluster did not accept connections in time: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
