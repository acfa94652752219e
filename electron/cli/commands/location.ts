/**
 * Commands on one database's backup folder: `points`, `verify`, `restore`, `extract`,
 * `prune`. `<location>` is a local folder path (S3 locations arrive with S3 support).
 *
 * Contract: the key comes from --key-file, BACKSTOP_KEY, or the keychain by the folder's
 * key fingerprint; a wrong key → KEY_MISMATCH before any data is read. `extract` writes
 * the plain dump/snapshot stream, verified, so a backup is usable without Backstop; a
 * file output is written under a temporary name and renamed only once complete.
 */
import { createWriteStream, existsSync, renameSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { BackupLocation, RestorePoint, VerifySummary } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';
import type { Engine } from '../../engine/index.ts';
import type { Repository } from '../../engine/repository/index.ts';
import { applyRetention, type RetentionResult } from '../../engine/retention/index.ts';
import { openForRestore, toRestorePoint } from '../../engine/restore/backup-folder.ts';
import { runRestore, runVerify, type RestoreOutcome } from '../../engine/restore/run-restore.ts';
import { keyFromOptions, secretFromEnv } from '../cli-secrets.ts';
import type { S3Credentials } from '../../engine/storage/index.ts';
import { durationDays, readJsonFile, ServerFile } from '../task-file.ts';
import { serverFromFile } from './backup.ts';

export interface Where {
  location: BackupLocation;
  credentials: S3Credentials | null;
}

/**
 * A local folder path, or `s3://bucket/prefix/<database folder>` with the credentials in
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), the region in
 * AWS_REGION and an S3-compatible endpoint in BACKSTOP_S3_ENDPOINT (path-style addressing).
 */
export function parseLocation(text: string, env: NodeJS.ProcessEnv = process.env): Where {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(text);
  if (text.startsWith('s3://') && !m) throw new BackstopError('MALFORMED_REQUEST', `"${text}" must look like s3://bucket/prefix/<database folder>.`);
  if (!m) return { location: { kind: 'local', path: resolve(text) }, credentials: null };
  const accessKeyId = secretFromEnv('AWS_ACCESS_KEY_ID', `S3 bucket ${m[1]}`, env)!;
  const secretAccessKey = secretFromEnv('AWS_SECRET_ACCESS_KEY', `S3 bucket ${m[1]}`, env)!;
  return {
    location: {
      kind: 's3',
      bucket: m[1]!,
      prefix: m[2]!.replace(/\/+$/, ''),
      region: env.AWS_REGION ?? 'us-east-1',
      endpoint: env.BACKSTOP_S3_ENDPOINT ?? null,
      forcePathStyle: true,
      checksumMode: 'WHEN_REQUIRED',
      credentialsRef: null,
    },
    credentials: { accessKeyId, secretAccessKey, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) },
  };
}

async function open(engine: Engine, where: Where, keyFile: string | undefined): Promise<{ repo: Repository; key: Buffer | null }> {
  const given = keyFromOptions(keyFile);
  const opened = await openForRestore(where.location, given, (fp) => engine.keys.findByFingerprint(fp).catch(() => null), where.credentials);
  if (!opened.repo) {
    throw new BackstopError('KEY_REQUIRED', `This backup is encrypted with key ${opened.keyFingerprint}; give it with --key-file FILE or BACKSTOP_KEY.`);
  }
  const key = opened.encrypted ? (given ?? (await engine.keys.findByFingerprint(opened.keyFingerprint!))) : null;
  return { repo: opened.repo, key };
}

async function pointId(repo: Repository, id: string): Promise<string> {
  if (id !== 'latest') return (await repo.getPoint(id)).id;
  const newest = (await repo.listPoints()).at(-1);
  if (!newest) throw new BackstopError('NOT_FOUND', 'This backup folder holds no restore points yet.');
  return newest.id;
}

export async function pointsCommand(engine: Engine, where: string, keyFile?: string): Promise<RestorePoint[]> {
  const { repo } = await open(engine, parseLocation(where), keyFile);
  return (await repo.listPoints()).map(toRestorePoint);
}

export async function verifyCommand(engine: Engine, text: string, point: string | undefined, keyFile?: string): Promise<VerifySummary> {
  const where = parseLocation(text);
  const { repo, key } = await open(engine, where, keyFile);
  const id = point ? await pointId(repo, point) : null;
  return runVerify({ op: 'verify', location: where.location, pointId: id, keyBase64: key ? key.toString('base64') : null, credentials: where.credentials }, new AbortController().signal);
}

export async function restoreCommand(
  engine: Engine,
  where: string,
  opts: {
    point: string;
    serverFile: string;
    database: string;
    keyFile?: string;
    jobs?: number;
    folder?: string;
    noOwner?: boolean;
    noPrivileges?: boolean;
    roleMap?: Record<string, string>;
    createRoles?: boolean;
  },
): Promise<RestoreOutcome> {
  const w = parseLocation(where);
  const { repo, key } = await open(engine, w, opts.keyFile);
  const id = await pointId(repo, opts.point);
  const { server, password } = serverFromFile(readJsonFile(opts.serverFile, ServerFile, 'The server file'), 'cli-restore-target');
  const settings = await engine.call('settings.get', undefined);
  return runRestore(
    {
      op: 'restore',
      restoreId: 'cli',
      location: w.location,
      credentials: w.credentials,
      pointId: id,
      server,
      password,
      toolPaths: settings.ok ? settings.data.toolPaths : {},
      database: opts.database,
      keyBase64: key ? key.toString('base64') : null,
      options: {
        jobs: opts.jobs ?? 1,
        noOwner: opts.noOwner ?? false,
        noPrivileges: opts.noPrivileges ?? false,
        roleMap: opts.roleMap ?? {},
        createRoles: opts.createRoles ?? false,
        folder: opts.folder ? resolve(opts.folder) : null,
      },
    },
    new AbortController().signal,
    () => {},
  ).catch((e: unknown) => {
    // The engine names the choices in words; here they are flags.
    if (e instanceof BackstopError && e.code === 'ROLE_MISSING' && e.message.includes('Choose one:')) {
      throw new BackstopError(e.code, `${e.message} On the command line: --create-roles, --map-role OLD=NEW (repeatable), --no-owner, --no-privileges.`, { cause: e });
    }
    throw e;
  });
}

export async function extractCommand(engine: Engine, where: string, point: string, out: string, keyFile?: string): Promise<{ point: string; bytes: number; out: string }> {
  const { repo } = await open(engine, parseLocation(where), keyFile);
  const id = await pointId(repo, point);
  const summary = await repo.getPoint(id);
  const stream = await repo.readPoint(id);
  if (out === '-') {
    await pipeline(stream, process.stdout, { end: false });
    return { point: id, bytes: summary.length, out };
  }
  const target = resolve(out);
  if (existsSync(target)) throw new BackstopError('CONFLICT', `${target} already exists; choose another file (backstop never overwrites).`);
  const temp = `${target}.partial-${process.pid}`;
  try {
    await pipeline(stream, createWriteStream(temp, { flags: 'wx' }));
    renameSync(temp, target);
  } catch (e) {
    rmSync(temp, { force: true });
    throw e;
  }
  return { point: id, bytes: summary.length, out: target };
}

export async function pruneCommand(
  engine: Engine,
  where: string,
  opts: { minAge: string; keepLast?: number; dryRun: boolean; keyFile?: string },
): Promise<RetentionResult> {
  if (!/^\d+[dhw]$/.test(opts.minAge)) throw new BackstopError('MALFORMED_REQUEST', `--min-age "${opts.minAge}" must be a duration like 7d, 36h or 2w.`);
  const { repo } = await open(engine, parseLocation(where), opts.keyFile);
  return applyRetention(repo, { minAgeDays: durationDays(opts.minAge), keepLast: opts.keepLast ?? null }, new Date(), { dryRun: opts.dryRun });
}
