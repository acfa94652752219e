/**
 * Reading a database's backup folder for restore: is it one (and if not, what is it),
 * is it encrypted and with which key, and what restore points does it hold.
 *
 * Contract: never writes. A folder that is not a repository gets NOT_A_BACKUP with what
 * to choose instead — in particular a task's common root (it holds database folders) is
 * recognised and named as such. An encrypted folder without a usable key reports
 * `needsKey` with the fingerprint rather than failing; a wrong key → KEY_MISMATCH.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BackupFolderInfo, BackupLocation, RestorePoint, ServerKind } from '../../shared/domain.ts';
import { BackstopError, isBackstopError } from '../../shared/result.ts';
import { decodeHeader } from '../repository/header.ts';
import { HEADER_KEY } from '../repository/layout.ts';
import { openRepository, type PointSummary, type Repository } from '../repository/index.ts';
import { listDatabaseFolders, openDatabaseFolder } from '../destinations/index.ts';
import { LocalBackend, type Backend, type S3Credentials } from '../storage/index.ts';

export function locationLabel(l: BackupLocation): string {
  return l.kind === 'local' ? l.path : `s3://${l.bucket}/${l.prefix}`;
}

export function openLocation(l: BackupLocation, credentials: S3Credentials | null = null): Backend {
  if (l.kind === 'local') return new LocalBackend(l.path);
  const { kind: _k, prefix, credentialsRef: _c, ...rest } = l;
  return openDatabaseFolder({ kind: 's3', ...rest, prefix: '', storageClass: null, credentialsRef: null }, prefix.replace(/^\/+|\/+$/g, ''), credentials);
}

/** postgres | mysql | sqlite from a point's stream format. */
export function serverKindOf(format: string): ServerKind | null {
  if (format.startsWith('pg-')) return 'postgres';
  if (format.startsWith('mysql')) return 'mysql';
  if (format.startsWith('sqlite')) return 'sqlite';
  return null;
}

export function toRestorePoint(p: PointSummary): RestorePoint {
  const format = typeof p.meta.format === 'string' ? p.meta.format : 'unknown';
  return { id: p.id, kind: p.kind, backupType: p.backupType, createdAt: p.createdAt, length: p.length, format, chainId: p.chainId, engineVersion: p.engineVersion };
}

/** The database folders directly inside an S3 location (those holding a repository header). */
async function s3DatabaseFolders(l: Extract<BackupLocation, { kind: 's3' }>, backend: Backend, credentials: S3Credentials | null): Promise<string[]> {
  const { kind: _k, credentialsRef: _c, ...rest } = l;
  const folders = await listDatabaseFolders({ kind: 's3', ...rest, storageClass: null, credentialsRef: null }, credentials).catch(() => []);
  const found: string[] = [];
  for (const f of folders) if ((await backend.stat(`${f}/${HEADER_KEY}`).catch(() => null)) !== null) found.push(f);
  return found;
}

/** Explains a local folder or S3 prefix that is not a repository (a task's common root lists its database folders). */
async function notABackup(l: BackupLocation, backend: Backend, credentials: S3Credentials | null): Promise<BackstopError> {
  let children: string[] = [];
  if (l.kind === 'local') {
    try {
      children = readdirSync(l.path).filter((n) => {
        try {
          return statSync(join(l.path, n, HEADER_KEY)).isFile();
        } catch {
          return false;
        }
      });
    } catch {
      return new BackstopError('NOT_A_BACKUP', `${l.path} does not exist or cannot be read. Choose the backup folder of one database.`);
    }
  } else {
    children = await s3DatabaseFolders(l, backend, credentials);
  }
  if (children.length > 0) {
    const where = l.kind === 'local' ? l.path : `s3://${l.bucket}/${l.prefix.replace(/^\/+|\/+$/g, '')}`;
    const names = children.slice(0, 5).join(', ') + (children.length > 5 ? ', …' : '');
    return new BackstopError(
      'NOT_A_BACKUP',
      `${where} is the common root of a task's backups: it holds ${children.length} database folder${children.length === 1 ? '' : 's'} (${names}). Choose one database's folder inside it.`,
    );
  }
  return new BackstopError(
    'NOT_A_BACKUP',
    `${locationLabel(l)} is not a Backstop backup folder. Choose the folder Backstop made for one database (it contains a file named ${HEADER_KEY}).`,
  );
}

export async function readHeaderInfo(backend: Backend, l: BackupLocation, credentials: S3Credentials | null = null): Promise<{ encrypted: boolean; keyFingerprint: string | null }> {
  let bytes: Buffer;
  try {
    bytes = await backend.get(HEADER_KEY);
  } catch (e) {
    if (isBackstopError(e) && e.code === 'NOT_FOUND') throw await notABackup(l, backend, credentials);
    throw e;
  }
  const header = decodeHeader(bytes, backend.location);
  return { encrypted: header.key !== null, keyFingerprint: header.key?.fingerprint ?? null };
}

/** Opens the repository at a location with the given key, or the keychain's for its fingerprint. */
export async function openForRestore(
  l: BackupLocation,
  key: Buffer | null,
  findKey: (fingerprint: string) => Promise<Buffer | null>,
  credentials: S3Credentials | null = null,
): Promise<{ repo: Repository | null; encrypted: boolean; keyFingerprint: string | null }> {
  const backend = openLocation(l, credentials);
  const h = await readHeaderInfo(backend, l, credentials);
  let useKey = key;
  if (h.encrypted && !useKey && h.keyFingerprint) useKey = await findKey(h.keyFingerprint);
  if (h.encrypted && !useKey) return { repo: null, ...h };
  const repo = await openRepository(backend, { key: h.encrypted ? useKey : null, workers: 0 });
  return { repo, ...h };
}

export async function inspectBackupFolder(
  l: BackupLocation,
  key: Buffer | null,
  findKey: (fingerprint: string) => Promise<Buffer | null>,
  credentials: S3Credentials | null = null,
): Promise<BackupFolderInfo> {
  const { repo, encrypted, keyFingerprint } = await openForRestore(l, key, findKey, credentials);
  if (!repo) return { location: locationLabel(l), database: null, serverIdentity: null, serverKind: null, encrypted, keyFingerprint, needsKey: true, points: [] };
  const points = await repo.listPoints({ skipDamaged: true });
  const newest = points.at(-1);
  return {
    location: locationLabel(l),
    database: newest?.database ?? null,
    serverIdentity: newest?.serverIdentity ?? null,
    serverKind: newest ? serverKindOf(toRestorePoint(newest).format) : null,
    encrypted,
    keyFingerprint,
    needsKey: false,
    points: points.map(toRestorePoint),
  };
}
