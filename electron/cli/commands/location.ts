/**
 * Commands on one database's backup folder: `points`, `verify`, `restore`, `extract`,
 * `prune`. `<location>` is a local folder path or a destination URL (location-url.ts), or a
 * task's server-level folder `<root>/~server` when the command can tell which of its
 * streams is meant (the only one; `restore`: the cluster snapshot `base.tar`).
 *
 * Contract: the key comes from --key-file, BACKSTOP_KEY, or the keychain by the folder's
 * key fingerprint; a wrong key → KEY_MISMATCH before any data is read. `extract` writes
 * the plain dump/snapshot stream, verified, so a backup is usable without Backstop; a
 * file output is written under a temporary name and given its name only once complete,
 * never over a file (one created meanwhile included: CONFLICT).
 */
import { createWriteStream, existsSync, linkSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { canceledOnInterrupt, interruptSignal, RESTORE_LEFT } from '../interrupt.ts';
import type { RestorePoint, VerifySummary } from '../../shared/domain.ts';
import { BackstopError, hasCode } from '../../shared/result.ts';
import type { Engine } from '../../engine/index.ts';
import type { Repository } from '../../engine/repository/index.ts';
import { applyRetention, type RetentionResult } from '../../engine/retention/index.ts';
import { BINLOG_STREAM } from '../../engine/servers/mysql/binlog.ts';
import { openForRestore, resolveServerFolder, toRestorePoint } from '../../engine/restore/backup-folder.ts';
import { PG_BASEBACKUP_STREAM } from '../../engine/servers/index.ts';
import { runRestore, runVerify, type RestoreJobSpec, type RestoreOutcome } from '../../engine/restore/run-restore.ts';
import { restoreFromWal } from './restore-at.ts';
import { hardLinksUnsupported } from '../../engine/storage/hard-links.ts';
import { errnoCode } from '../../engine/storage/errors.ts';
import { pointsOnly, restoreAt } from '../../engine/restore/restore-at.ts';
import { howToGetKey, keyFromOptions } from '../cli-secrets.ts';
import { parseLocation, type LocationArg, type Where } from '../location-url.ts';
import { DURATION, errorInFileTerms, readJsonFile, retentionFrom, ServerFile } from '../task-file.ts';
import { serverFromFile } from './backup.ts';

/** Opens the repository at `where` (a task's `~server` folder holding one stream: that stream; `where` is updated). */
export async function open(engine: Engine, where: Where, keyFile: string | undefined): Promise<{ repo: Repository; key: Buffer | null }> {
  where.location = resolveServerFolder(where.location, null);
  const given = keyFromOptions(keyFile);
  const findKey = (fp: string) => engine.keys.findByFingerprint(fp).catch(() => null);
  // A remote folder's manifests read before (by the app's runs or an earlier command) come from the local cache.
  const opened = await openForRestore(where.location, given, findKey, where.credentials, engine.localCache);
  if (!opened.repo) {
    throw new BackstopError('KEY_REQUIRED', `This backup is encrypted with key ${opened.keyFingerprint}. ${howToGetKey(opened.keyFingerprint)}`);
  }
  const key = opened.encrypted ? (given ?? (await engine.keys.findByFingerprint(opened.keyFingerprint!))) : null;
  return { repo: opened.repo, key };
}

export async function pointId(repo: Repository, id: string): Promise<string> {
  if (id !== 'latest') return (await repo.getPoint(id)).id;
  const newest = await repo.latestPoint(new Date());
  if (!newest) throw new BackstopError('NOT_FOUND', 'This backup folder holds no restore points yet.');
  return newest.id;
}

export async function pointsCommand(engine: Engine, where: LocationArg, keyFile?: string): Promise<RestorePoint[]> {
  const { repo } = await open(engine, parseLocation(where), keyFile);
  return (await repo.listPoints()).map(toRestorePoint);
}

export async function verifyCommand(engine: Engine, text: LocationArg, point: string | undefined, keyFile?: string): Promise<VerifySummary> {
  const where = parseLocation(text);
  const { repo, key } = await open(engine, where, keyFile);
  const id = point ? await pointId(repo, point) : null;
  return canceledOnInterrupt(
    runVerify({ op: 'verify', location: where.location, pointId: id, keyBase64: key ? key.toString('base64') : null, credentials: where.credentials }, interruptSignal()),
    'The verify',
    'the backups were only read.',
  );
}

/** The usage error a cluster snapshot restore gives for options that name a database or server. */
export const CLUSTER_RESTORE_USAGE =
  'A cluster snapshot restores the whole cluster into a new data directory: use --folder DIR, or take one database out of it with --source-database NAME --server server.json --database NEW.';

export interface RestoreCommandResult extends RestoreOutcome {
  /** True for a PostgreSQL cluster snapshot (a new data directory, no database on a server). */
  cluster: boolean;
}

/**
 * `restore`: a database folder into a NEW database on the server in --server; a cluster
 * snapshot (`<root>/~server` or `<root>/~server/base.tar`) into the new data directory
 * --folder, with no --server and no --database (MALFORMED_REQUEST when given).
 */
export async function restoreCommand(
  engine: Engine,
  where: LocationArg,
  opts: {
    /** Exactly one of point and asOf (the CLI enforces it). */
    point?: string;
    asOf?: Date;
    serverFile?: string;
    database?: string;
    keyFile?: string;
    jobs?: number;
    folder?: string;
    noOwner?: boolean;
    noPrivileges?: boolean;
    roleMap?: Record<string, string>;
    createRoles?: boolean;
    osUser?: string;
    /** A PostgreSQL cluster backup: the database to take out of it into --database. */
    sourceDatabase?: string;
  },
): Promise<RestoreCommandResult> {
  const w = parseLocation(where);
  w.location = resolveServerFolder(w.location, PG_BASEBACKUP_STREAM.name);
  const { repo, key } = await open(engine, w, opts.keyFile);
  const walRestore = await restoreFromWal(engine, w, repo, key, opts);
  if (walRestore) return walRestore;
  // MySQL/MariaDB: a full plus the binary log stored beside the database folder (restore-to-moment.ts).
  if (opts.asOf !== undefined && (await repo.listPoints()).some((p) => p.meta.format === 'mysql-sql')) {
    return momentRestore(engine, w, repo, key, opts.asOf, opts);
  }
  if (opts.asOf !== undefined || opts.point === undefined) {
    const e = pointsOnly();
    throw new BackstopError(e.code, `${e.message} On the command line: --point ID|latest ("backstop points <location>" lists them).`);
  }
  const id = await pointId(repo, opts.point);
  const cluster = toRestorePoint(await repo.getPoint(id)).format === PG_BASEBACKUP_STREAM.format;
  const usage = (m: string): never => {
    throw new BackstopError('MALFORMED_REQUEST', `${m} Run "backstop --help".`);
  };
  let target: { server: RestoreJobSpec['server']; password: string | null; database: string };
  if (cluster) {
    if (opts.database !== undefined || opts.serverFile !== undefined) usage(CLUSTER_RESTORE_USAGE);
    if (!opts.folder) usage('A cluster snapshot restores the whole cluster into a new data directory: restore needs --folder DIR (a new or empty folder).');
    target = { server: null, password: null, database: '' };
  } else {
    if (opts.osUser !== undefined) usage('--os-user applies only to a PostgreSQL cluster snapshot.');
    if (!opts.serverFile) usage('restore needs --server.');
    if (!opts.database) usage('restore needs --database.');
    const { server, password } = serverFromFile(readJsonFile(opts.serverFile!, ServerFile, 'The server file'), 'cli-restore-target', dirname(resolve(opts.serverFile!)));
    target = { server, password, database: opts.database! };
  }
  const settings = await engine.call('settings.get', undefined);
  const spec: RestoreJobSpec = {
    op: 'restore',
    restoreId: 'cli',
    location: w.location,
    credentials: w.credentials,
    pointId: id,
    ...target,
    toolPaths: settings.ok ? settings.data.toolPaths : {},
    keyBase64: key ? key.toString('base64') : null,
    options: {
      jobs: opts.jobs ?? 1,
      noOwner: opts.noOwner ?? false,
      noPrivileges: opts.noPrivileges ?? false,
      roleMap: opts.roleMap ?? {},
      createRoles: opts.createRoles ?? false,
      folder: opts.folder ? resolve(opts.folder) : null,
    },
    ...(opts.osUser ? { osUser: opts.osUser } : {}),
  };
  const outcome = await engine.restoreHistory.restore(spec, () => canceledOnInterrupt(runRestore(spec, interruptSignal(), () => {}), 'The restore', RESTORE_LEFT)).catch((e: unknown) => {
    // The engine names the choices in words; here they are flags.
    if (hasCode(e, 'ROLE_MISSING') && e.message.includes('Choose one:')) {
      throw new BackstopError(e.code, `${e.message} On the command line: --create-roles, --map-role OLD=NEW (repeatable), --no-owner, --no-privileges.`, { cause: e });
    }
    // "Check the server settings" becomes the keys of the server file to change.
    throw opts.serverFile ? errorInFileTerms(e, opts.serverFile, '') : e;
  });
  return { ...outcome, cluster };
}

/** `restore --as-of` of a MySQL/MariaDB database folder into a NEW database on --server. */
async function momentRestore(engine: Engine, w: Where, repo: Repository, key: Buffer | null, asOf: Date, opts: { serverFile?: string; database?: string; folder?: string; osUser?: string }): Promise<RestoreCommandResult> {
  const usage = (m: string): never => {
    throw new BackstopError('MALFORMED_REQUEST', `${m} Run "backstop --help".`);
  };
  if (opts.folder !== undefined || opts.osUser !== undefined) usage('--folder and --os-user do not apply to a MySQL/MariaDB database restore.');
  if (!opts.serverFile) usage('restore needs --server.');
  if (!opts.database) usage('restore needs --database.');
  const { server, password } = serverFromFile(readJsonFile(opts.serverFile!, ServerFile, 'The server file'), 'cli-restore-target', dirname(resolve(opts.serverFile!)));
  const settings = await engine.call('settings.get', undefined);
  const spec: RestoreJobSpec = {
    op: 'restore',
    restoreId: 'cli',
    location: w.location,
    credentials: w.credentials,
    pointId: 'latest',
    server,
    password,
    database: opts.database!,
    toolPaths: settings.ok ? settings.data.toolPaths : {},
    keyBase64: key ? key.toString('base64') : null,
    options: { jobs: 1, noOwner: false, noPrivileges: false, roleMap: {}, createRoles: false, folder: null },
    asOf: asOf.toISOString(),
  };
  const outcome = await engine.restoreHistory.restore(spec, () => canceledOnInterrupt(restoreAt(repo, spec, interruptSignal(), () => {}), 'The restore', RESTORE_LEFT)).catch((e: unknown) => {
    throw errorInFileTerms(e, opts.serverFile!, '');
  });
  return { ...outcome, cluster: false };
}

/** Gives the finished `temp` the name `target`, unless a file took that name meanwhile (CONFLICT: never overwritten). */
function publishNew(temp: string, target: string): void {
  const taken = () => new BackstopError('CONFLICT', `${target} appeared while the point was being extracted; it was left as it is (backstop never overwrites). Choose another file.`);
  try {
    linkSync(temp, target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw taken();
    if (!hardLinksUnsupported(e)) throw e;
    // Without hard links: checked just before the rename (the window left is the rename's own).
    if (existsSync(target)) throw taken();
    renameSync(temp, target);
    return;
  }
  rmSync(temp, { force: true });
}

/** A failure to write `extract --out FILE` as the error a DBA can act on, naming the file (a BackstopError passes through). */
function extractWriteError(target: string, e: unknown): unknown {
  if (e instanceof BackstopError) return e;
  const code = errnoCode(e);
  if (code === 'ENOSPC' || code === 'EDQUOT') return new BackstopError('DISK_FULL', `Cannot write ${target}: no space left (${code}); nothing was kept. Free space or choose another --out.`, { cause: e });
  if (code === 'EACCES' || code === 'EPERM') return new BackstopError('PERMISSION_DENIED', `Cannot write ${target}: permission denied (${code}). Choose a folder the user running backstop may write to.`, { cause: e });
  if (code === 'EROFS') return new BackstopError('READ_ONLY', `Cannot write ${target}: the file system is read-only (EROFS). Choose another --out.`, { cause: e });
  if (code) return new BackstopError('STORAGE', `Cannot write ${target} (${code}): ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  return e;
}

export async function extractCommand(engine: Engine, where: LocationArg, point: string, out: string, keyFile?: string): Promise<{ point: string; bytes: number; out: string }> {
  const { repo } = await open(engine, parseLocation(where), keyFile);
  const id = await pointId(repo, point);
  const summary = await repo.getPoint(id);
  const signal = interruptSignal();
  const target = resolve(out);
  // Before the read starts: a refused extract leaves no reading marker behind.
  if (out !== '-' && existsSync(target)) throw new BackstopError('CONFLICT', `${target} already exists; choose another file (backstop never overwrites).`);
  if (out !== '-' && !statSync(dirname(target), { throwIfNoEntry: false })?.isDirectory()) {
    throw new BackstopError('STORAGE', `Cannot write ${target}: ${dirname(target)} is not an existing folder. Create it, or give --out a file in an existing folder.`);
  }
  const stream = await repo.readPoint(id, { signal });
  if (out === '-') {
    await pipeline(stream, process.stdout, { end: false, signal }).catch((e: unknown) => {
      // `extract --out - | head`: the reader went away; say so instead of INTERNAL.
      if (errnoCode(e) === 'EPIPE') {
        throw new BackstopError('STORAGE', `The program reading the extract from standard output closed it before the end, so what it got is incomplete (the backup itself is fine). Let it read everything, or extract to a file with --out FILE.`, { cause: e });
      }
      throw e;
    });
    return { point: id, bytes: summary.length, out };
  }
  const temp = `${target}.partial-${process.pid}`;
  try {
    await canceledOnInterrupt(pipeline(stream, createWriteStream(temp, { flags: 'wx' }), { signal }), 'The extract', `nothing was written to ${target}.`);
    publishNew(temp, target);
  } catch (e) {
    rmSync(temp, { force: true });
    throw extractWriteError(target, e);
  }
  return { point: id, bytes: summary.length, out: target };
}

export async function pruneCommand(
  engine: Engine,
  where: LocationArg,
  opts: { minAge: string; keepLast?: number; dryRun: boolean; keyFile?: string },
): Promise<RetentionResult> {
  if (!DURATION.test(opts.minAge)) {
    throw new BackstopError('MALFORMED_REQUEST', `--min-age "${opts.minAge}" must be a duration with its unit: hours, days or weeks, like 36h, 7d or 2w (0d for no minimum age).`);
  }
  const { repo } = await open(engine, parseLocation(where), opts.keyFile);
  if ((await repo.listPoints({ skipDamaged: true })).at(-1)?.meta.format === BINLOG_STREAM.format) {
    throw new BackstopError(
      'VALIDATION',
      "This folder is a MySQL/MariaDB server's stored binary log, which every kept dump of its databases rolls forward from: it is not pruned by age or count. Prune the database folders instead; the task's next run then deletes the log no kept dump needs.",
    );
  }
  return applyRetention(repo, retentionFrom(opts.minAge, opts.keepLast), new Date(), { dryRun: opts.dryRun });
}
