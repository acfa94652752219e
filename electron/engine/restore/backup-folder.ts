/**
 * Reading a database's backup folder for restore: is it one (and if not, what is it),
 * is it encrypted and with which key, and what restore points does it hold.
 *
 * Contract: never writes. A folder that is not a repository gets NOT_A_BACKUP with what
 * to choose instead — in particular a task's common root (it holds database folders) is
 * recognised and named as such. An encrypted folder without a usable key reports
 * `needsKey` with the fingerprint rather than failing; a wrong key → KEY_MISMATCH.
 * A task's server-level folder (`~server`) is named as such with the streams it holds;
 * `resolveServerFolder` picks one of its streams for commands given that folder.
 * `listBackupFolders` lists what can be restored under a destination root (database
 * folders and the `~server` streams), each with the location to inspect it at.
 * `inspectBackupFolder` also names the moments the folder reaches (moment-ranges.ts).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { BackupFolderChoice, BackupFolderInfo, BackupLocation, Destination, RestorePoint, ServerKind } from '../../shared/domain.ts';
import { BackstopError, hasCode } from '../../shared/result.ts';
import { decodeHeader } from '../repository/header.ts';
import { HEADER_KEY } from '../repository/layout.ts';
import { openRepository, remoteCache, type ManifestCache, type PointSummary, type Repository } from '../repository/index.ts';
import { Location, placeText, type Credentials } from '../destinations/index.ts';
import { isValidKey } from '../storage/index.ts';
import { momentRangesOf } from './moment-ranges.ts';
import { mapLimit } from '../runtime/map-limit.ts';
import { databaseNameOf, PG_BASEBACKUP_STREAM, PG_GLOBALS_STREAM, SERVER_FOLDER } from '../servers/index.ts';

/** postgres | mysql | sqlite from a point's stream format. */
export function serverKindOf(format: string): ServerKind | null {
  if (format.startsWith('pg-')) return 'postgres';
  if (format.startsWith('mysql')) return 'mysql';
  if (format.startsWith('sqlite')) return 'sqlite';
  return null;
}

export function toRestorePoint(p: PointSummary): RestorePoint {
  const format = typeof p.meta.format === 'string' ? p.meta.format : 'unknown';
  return {
    id: p.id,
    kind: p.kind,
    backupType: p.backupType,
    createdAt: p.createdAt,
    length: p.length,
    format,
    chainId: p.chainId,
    parentId: p.parentId,
    engineVersion: p.engineVersion,
    bytesAdded: p.stats.bytesStored,
  };
}

function isLocalRepository(path: string): boolean {
  try {
    return statSync(join(path, HEADER_KEY)).isFile();
  } catch {
    return false;
  }
}

/** How many folders of a remote destination the restore browser looks into at once (each is a connection). */
const BROWSE_CONNECTIONS = 4;

/**
 * Whether folder `name` under `l` holds a repository header. A name that is a valid key (most:
 * `sales`, `app_db`) is looked into on `l`'s own connection; any other (`Chinook~…`, a name with
 * spaces) needs a backend of its own (an SSH or FTP login, an S3 client), closed at once. Callers
 * look into BROWSE_CONNECTIONS folders at a time, so a destination with hundreds of databases
 * never holds hundreds of connections (OpenSSH drops logins beyond MaxStartups, 10 by default).
 */
async function holdsHeader(l: Location, name: string): Promise<boolean> {
  const key = `${name}/${HEADER_KEY}`;
  const info = isValidKey(key) ? await l.backend().stat(key) : await l.child(name).use((c) => c.backend().stat(HEADER_KEY));
  return info !== null;
}

/**
 * What can be restored under a destination root: its database folders and the server-level
 * streams in `~server` (a `~server` folder given as the root lists its streams). A folder
 * counts when it holds a repository header (or is `~server`).
 */
export async function listBackupFolders(d: Destination, credentials: Credentials | null = null): Promise<BackupFolderChoice[]> {
  const root = Location.of(d, credentials);
  const opened: Location[] = [root];
  const children = async (l: Location): Promise<Location[]> => {
    let names: string[];
    try {
      names = await l.backend().listFolders();
    } catch (e) {
      if (!hasCode(e, 'NOT_FOUND')) throw e;
      throw new BackstopError('NOT_A_BACKUP', `${l.text} does not exist or cannot be read. If it is a task's destination, has the task run yet (and is its disk mounted)?`);
    }
    const found = await mapLimit(names, BROWSE_CONNECTIONS, async (n) => {
      if (n === SERVER_FOLDER) {
        const server = l.child(n);
        opened.push(server); // its streams are listed next
        return server;
      }
      return (await holdsHeader(l, n)) ? l.child(n) : null;
    });
    return found.filter((c): c is Location => c !== null);
  };
  const streams = async (l: Location, prefix: string): Promise<BackupFolderChoice[]> =>
    (await children(l)).filter((c) => c.name !== SERVER_FOLDER).map((c) => ({ folder: `${prefix}${c.name}`, database: databaseNameOf(c.name) ?? c.name, serverStream: true, location: c.backupLocation }));
  try {
    if (root.name === SERVER_FOLDER) return await streams(root, '');
    const out: BackupFolderChoice[] = [];
    for (const c of await children(root)) {
      if (c.name === SERVER_FOLDER) out.push(...(await streams(c, `${c.name}/`)));
      else out.push({ folder: c.name, database: databaseNameOf(c.name), serverStream: false, location: c.backupLocation });
    }
    return out;
  } finally {
    await Promise.all(opened.map((l) => l.close()));
  }
}

/** The repositories directly inside a local folder (null when the folder cannot be read). */
function childRepositories(path: string): string[] | null {
  try {
    return readdirSync(path)
      .filter((n) => isLocalRepository(join(path, n)))
      .sort();
  } catch {
    return null;
  }
}

const STREAM_MEANING: Record<string, string> = {
  [PG_BASEBACKUP_STREAM.name]: 'the PostgreSQL cluster snapshot',
  [PG_GLOBALS_STREAM.name]: 'the PostgreSQL roles and tablespaces',
  'grants.sql': 'the MySQL/MariaDB users, roles and grants',
  binlog: 'the MySQL/MariaDB binary log',
};

function describeStreams(path: string, streams: string[]): string {
  return streams.map((s) => `${join(path, s)} (${STREAM_MEANING[s] ?? 'a server-level stream'})`).join(', ');
}

function serverFolderError(path: string, streams: string[], what: string): BackstopError {
  if (streams.length === 0) return new BackstopError('NOT_A_BACKUP', `${path} is a task's server-level folder, but it holds no backups yet.`);
  return new BackstopError('NOT_A_BACKUP', `${path} is a task's server-level folder; it holds ${describeStreams(path, streams)}. ${what}`);
}

/**
 * A command given a task's server-level folder (`<root>/~server`, local) instead of one of
 * its streams: `want` names the stream the command needs (`base.tar` for a cluster restore,
 * `globals.sql` for apply-globals) or null for "the only one there is". Any other location
 * is returned unchanged. NOT_A_BACKUP names what the folder holds when the choice fails.
 */
export function resolveServerFolder(l: BackupLocation, want: string | null): BackupLocation {
  if (l.kind !== 'local' || basename(l.path) !== SERVER_FOLDER || existsSync(join(l.path, HEADER_KEY))) return l;
  const streams = childRepositories(l.path);
  if (streams === null) return l;
  if (want !== null) {
    if (streams.includes(want)) return { kind: 'local', path: join(l.path, want) };
    throw serverFolderError(l.path, streams, `It holds no ${want} (${STREAM_MEANING[want] ?? 'stream'}), which this command needs.`);
  }
  if (streams.length === 1) return { kind: 'local', path: join(l.path, streams[0]!) };
  throw serverFolderError(l.path, streams, 'Choose one of them.');
}

/** The database folders directly inside a location (those holding a repository header). */
async function databaseFolders(l: Location): Promise<string[]> {
  const names = await l.listFolders().catch(() => [] as string[]);
  const held = await mapLimit(names, BROWSE_CONNECTIONS, (n) => holdsHeader(l, n).catch(() => false));
  return names.filter((_, i) => held[i]);
}

/** Explains a local folder or S3 prefix that is not a repository (a task's common root lists its database folders). */
async function notABackup(l: BackupLocation, at: Location): Promise<BackstopError> {
  let children: string[] = [];
  if (l.kind === 'local') {
    const local = childRepositories(l.path);
    if (local === null) {
      return new BackstopError('NOT_A_BACKUP', `${l.path} does not exist or cannot be read. Choose the backup folder of one database.`);
    }
    if (basename(l.path) === SERVER_FOLDER) return serverFolderError(l.path, local, 'Choose one of them.');
    children = local;
  } else {
    children = await databaseFolders(at);
  }
  if (children.length > 0) {
    const where = placeText(l);
    const names = children.slice(0, 5).join(', ') + (children.length > 5 ? ', …' : '');
    return new BackstopError(
      'NOT_A_BACKUP',
      `${where} is the common root of a task's backups: it holds ${children.length} database folder${children.length === 1 ? '' : 's'} (${names}). Choose one database's folder inside it.`,
    );
  }
  return new BackstopError(
    'NOT_A_BACKUP',
    `${placeText(l)} is not a Backstop backup folder. Choose the folder Backstop made for one database (it contains a file named ${HEADER_KEY}).`,
  );
}

async function readHeaderInfo(at: Location, l: BackupLocation): Promise<{ encrypted: boolean; keyFingerprint: string | null }> {
  const backend = at.backend();
  let bytes: Buffer;
  try {
    bytes = await backend.get(HEADER_KEY);
  } catch (e) {
    if (hasCode(e, 'NOT_FOUND')) throw await notABackup(l, at);
    throw e;
  }
  const header = decodeHeader(bytes, backend.location);
  return { encrypted: header.key !== null, keyFingerprint: header.key?.fingerprint ?? null };
}

/**
 * Opens the repository at a location with the given key, or the keychain's for its
 * fingerprint. The repository's backend stays open for the caller; a failure closes it.
 */
export async function openForRestore(
  l: BackupLocation,
  key: Buffer | null,
  findKey: (fingerprint: string) => Promise<Buffer | null>,
  credentials: Credentials | null = null,
  manifestCache: ManifestCache | null = null,
): Promise<{ repo: Repository | null; encrypted: boolean; keyFingerprint: string | null }> {
  const at = Location.at(l, credentials);
  try {
    return await openAt(at, l, key, findKey, manifestCache);
  } catch (e) {
    await at.close();
    throw e;
  }
}

async function openAt(
  at: Location,
  l: BackupLocation,
  key: Buffer | null,
  findKey: (fingerprint: string) => Promise<Buffer | null>,
  manifestCache: ManifestCache | null,
): Promise<{ repo: Repository | null; encrypted: boolean; keyFingerprint: string | null; key?: Buffer | null }> {
  const backend = at.backend();
  const h = await readHeaderInfo(at, l);
  let useKey = key;
  if (h.encrypted && !useKey && h.keyFingerprint) useKey = await findKey(h.keyFingerprint);
  if (h.encrypted && !useKey) return { repo: null, ...h };
  const repo = await openRepository(backend, { key: h.encrypted ? useKey : null, workers: 0, ...remoteCache(l, manifestCache) });
  return { repo, ...h, key: h.encrypted ? useKey : null };
}

export async function inspectBackupFolder(
  l: BackupLocation,
  key: Buffer | null,
  findKey: (fingerprint: string) => Promise<Buffer | null>,
  credentials: Credentials | null = null,
  manifestCache: ManifestCache | null = null,
): Promise<BackupFolderInfo> {
  return Location.at(l, credentials).use(async (at) => {
    const { repo, encrypted, keyFingerprint, key: usedKey } = await openAt(at, l, key, findKey, manifestCache);
    if (!repo) return { location: placeText(l), database: null, serverIdentity: null, serverKind: null, encrypted, keyFingerprint, needsKey: true, points: [] };
    // One unreadable manifest among thousands hides none of the others, and is named (`unreadable`).
    const { points, unreadable } = await repo.scanPoints();
    const newest = points.at(-1);
    return {
      location: placeText(l),
      database: newest?.database ?? null,
      serverIdentity: newest?.serverIdentity ?? null,
      serverKind: newest ? serverKindOf(toRestorePoint(newest).format) : null,
      encrypted,
      keyFingerprint,
      needsKey: false,
      points: points.map(toRestorePoint),
      momentRanges: await momentRangesOf(l, repo, usedKey ?? null, at.credentials, manifestCache),
      ...(unreadable.length > 0 ? { unreadable: unreadable.map((d) => ({ id: d.id, code: d.code, message: d.message })) } : {}),
    };
  });
}
