/**
 * A place at a destination: the owner of "a database's folder at a destination".
 *
 * A `Location` is a destination (a task's local folder or S3 bucket + prefix), a folder
 * under its root ('' = the root itself) and the destination's credentials. It opens the
 * folder's backend on first use and closes it (`close()`), finds the folder of a database
 * (`database(name)`: the readable encoding of servers/database-folder.ts, or the earlier
 * encoding's folder when a repository already lives there), its sibling for
 * a changed key (`sibling(key)`: `<folder>~key-<fingerprint>` or `<folder>~plain`), lists
 * the folders under it, and says where it is (`text`, `id`) with electron/shared/location-text.ts.
 *
 * Contract:
 * - Every database gets its own child folder under the destination's common root
 *   (`<root>/<database folder>/`, `<prefix>/<database folder>/` on S3); the server-level
 *   folder is the reserved SERVER_FOLDER.
 * - Credentials come from the keychain (`loadCredentials`) or from the caller (CLI task
 *   files and locations read them from the environment). A destination that needs
 *   credentials and has none → VALIDATION when its backend is opened.
 * - `close()` closes the backend this Location opened (children and siblings are Locations
 *   of their own and close themselves); it is idempotent.
 * Adding a destination kind: its Backend, one entry in KINDS below (and in SECRETS when it
 * has a secret) and one in the text table of location-text.ts (all exhaustive over the kinds).
 */
import type { BackupLocation, Destination, DestinationSecret, ProbeReport, ProbeStep } from '../../shared/domain.ts';
import { destinationDisplay, destinationId, joinPath, placeText, trimSlashes } from '../../shared/location-text.ts';
import { BackstopError, hasCode } from '../../shared/result.ts';
import { keyFingerprint } from '../crypto/index.ts';
import type { SecretStore } from '../secrets/index.ts';
import { HEADER_KEY } from '../repository/layout.ts';
import { encodeDatabaseFolder, legacyDatabaseFolder } from '../servers/database-folder.ts';
import { createAzureBackend, createFtpBackend, createS3Backend, createSftpBackend, LocalBackend, probeAzure, probeBackend, probeFtp, probeS3, probeSftp, type AzureBackendOptions, type AzureCredentials, type Backend, type S3BackendOptions, type S3Credentials, type SftpBackendOptions } from '../storage/index.ts';
import { PACKS_PREFIX } from '../repository/layout.ts';
import { azureCredentialsOf, loadAzureCredentials, saveAzureCredentials } from './azure-credentials.ts';
import { loadS3Credentials, saveS3Credentials } from './s3-credentials.ts';
import { ftpBackendOptions, loadFtpCredentials, saveFtpCredentials, type FtpCredentials } from './ftp-credentials.ts';
import { loadSftpCredentials, saveSftpCredentials, type SftpCredentials } from './sftp-credentials.ts';
import { join } from 'node:path';

/** What a destination needs to be reached besides its settings (S3: an access key; Azure: a key, SAS token or connection string; FTP: a password; SFTP: a password or key passphrase); null when nothing. */
export type Credentials = S3Credentials | AzureCredentials | FtpCredentials | SftpCredentials;

export type S3Destination = Extract<Destination, { kind: 's3' }>;
export type AzureDestination = Extract<Destination, { kind: 'azure' }>;
export type SftpDestination = Extract<Destination, { kind: 'sftp' }>;

interface Kind<D extends Destination> {
  /** The backend whose root is `path` ('/'-separated, '' = the root) under the destination's root. */
  open(d: D, path: string, credentials: Credentials | null): Backend;
  /** The destination's credentials from the keychain; null when it needs none. */
  credentials(d: D, secrets: SecretStore): Promise<Credentials | null>;
  /** Two destinations with the same key are the same place (a task may not list one twice). */
  sameKey(d: D, resolvePath: (p: string) => string): string;
  /** `path` under the destination's root as a backup folder's location (what the restore browser hands back). */
  backupLocation(d: D, path: string): BackupLocation;
  /** "Test connection" at the destination's root (storage/probe.ts with the kind's own hints). */
  probe(d: D, credentials: Credentials | null): Promise<ProbeReport>;
}

const KINDS: { [K in Destination['kind']]: Kind<Extract<Destination, { kind: K }>> } = {
  local: {
    open: (d, path) => new LocalBackend(path ? join(d.path, ...path.split('/')) : d.path),
    credentials: async () => null,
    sameKey: (d, resolvePath) => `local:${resolvePath(d.path)}`,
    backupLocation: (d, path) => ({ kind: 'local', path: path ? join(d.path, ...path.split('/')) : d.path }),
    probe: (d) => probeBackend(new LocalBackend(d.path), { classify: () => null, hint: localProbeHint }),
  },
  s3: {
    open: (d, path, credentials) => createS3Backend(s3BackendOptions(d, path, credentials)),
    credentials: (d, secrets) => loadS3Credentials(secrets, d.credentialsRef),
    sameKey: (d) => `s3:${d.endpoint ?? ''}/${d.bucket}/${trimSlashes(d.prefix)}`,
    backupLocation: ({ storageClass: _s, ...d }, path) => ({ ...d, prefix: joinPath(d.prefix, path) }),
    probe: (d, credentials) => probeS3(s3BackendOptions(d, '', credentials)),
  },
  azure: {
    open: (d, path, credentials) => createAzureBackend(azureBackendOptions(d, path, credentials)),
    credentials: (d, secrets) => loadAzureCredentials(secrets, d.credentialsRef),
    sameKey: (d) => `azure:${d.endpoint ?? ''}/${d.accountName}/${d.container}/${trimSlashes(d.prefix)}`,
    backupLocation: ({ accessTier: _t, limits: _l, ...d }, path) => ({ ...d, prefix: joinPath(d.prefix, path) }),
    probe: (d, credentials) => probeAzure(azureBackendOptions(d, '', credentials)),
  },
  ftp: {
    open: (d, path, credentials) => createFtpBackend(ftpBackendOptions(d, path, credentials)),
    credentials: (d, secrets) => loadFtpCredentials(secrets, d.credentialsRef),
    sameKey: (d) => `ftp:${d.user}@${d.host.toLowerCase()}:${d.port}/${trimSlashes(d.path)}`,
    backupLocation: ({ limits: _l, ...d }, path) => ({ ...d, path: `/${joinPath(d.path, path)}` }),
    probe: (d, credentials) => probeFtp(ftpBackendOptions(d, '', credentials)),
  },
  sftp: {
    open: (d, path, credentials) => createSftpBackend(sftpBackendOptions(d, path, credentials)),
    credentials: (d, secrets) => loadSftpCredentials(secrets, d.credentialsRef),
    sameKey: (d) => destinationId(d),
    backupLocation: ({ limits: _l, ...d }, path) => ({ ...d, path: joinSftpPath(d.path, path) }),
    probe: (d, credentials) => probeSftp(sftpBackendOptions(d, '', credentials)),
  },
};

/** What each kind's secret is saved as in the keychain (the reference its destinations keep). */
const SECRETS: { [K in DestinationSecret['kind']]: (secrets: SecretStore, s: Extract<DestinationSecret, { kind: K }>, ref?: string) => Promise<string> } = {
  s3: (secrets, { kind: _k, ...creds }, ref) => saveS3Credentials(secrets, creds, ref),
  azure: (secrets, secret, ref) => saveAzureCredentials(secrets, secret, ref),
  ftp: (secrets, { password }, ref) => saveFtpCredentials(secrets, { password }, ref),
  sftp: (secrets, { kind: _k, ...creds }, ref) => saveSftpCredentials(secrets, creds, ref),
};

function localProbeHint(steps: ProbeStep[]): string | undefined {
  const failed = steps.find((s) => !s.ok && !s.skipped);
  if (failed?.code === 'NOT_FOUND') return 'The folder does not exist. Create it, or choose another folder.';
  if (failed?.code === 'PERMISSION_DENIED') return 'This folder cannot be written by the user Backstop runs as. Fix its permissions, or choose another folder.';
  if (failed?.code === 'DISK_FULL') return 'The disk holding this folder is full. Free space, or choose a folder on another disk.';
  return failed ? 'The folder could not be used. See the failed step for details.' : undefined;
}

function kindOf<D extends Destination>(d: D): Kind<D> {
  return KINDS[d.kind] as unknown as Kind<D>;
}

/** The S3 client settings for `path` under an S3 destination's prefix (also what the connection test probes). */
export function s3BackendOptions(d: S3Destination, path: string, credentials: Credentials | null): S3BackendOptions {
  if (!credentials || !('accessKeyId' in credentials)) {
    throw new BackstopError('VALIDATION', `${destinationDisplay(d)}: no access key is stored for this destination; enter its access key id and secret.`);
  }
  return {
    bucket: d.bucket,
    prefix: joinPath(d.prefix, path),
    region: d.region,
    endpoint: d.endpoint,
    forcePathStyle: d.forcePathStyle,
    storageClass: d.storageClass,
    checksumMode: d.checksumMode,
    credentials,
  };
}

/** The Azure client settings for `path` under an Azure destination's prefix (also what the connection test probes). */
export function azureBackendOptions(d: AzureDestination, path: string, credentials: Credentials | null): AzureBackendOptions {
  if (!credentials || !('accountKey' in credentials || 'sasToken' in credentials || 'connectionString' in credentials)) {
    throw new BackstopError('VALIDATION', `${destinationDisplay(d)}: no account key, SAS token or connection string is stored for this destination; enter one.`);
  }
  return {
    accountName: d.accountName,
    container: d.container,
    prefix: joinPath(d.prefix, path),
    endpoint: d.endpoint,
    credentials,
    accessTier: d.accessTier,
    tierPrefix: PACKS_PREFIX,
  };
}

/** `path` under an SFTP base folder, keeping it absolute or relative to the login folder. */
function joinSftpPath(base: string, path: string): string {
  const joined = joinPath(base, path);
  return base.startsWith('/') ? `/${joined}` : joined;
}

/** The SFTP client settings for `path` under an SFTP destination's folder (also what the connection test probes). */
export function sftpBackendOptions(d: SftpDestination | Extract<BackupLocation, { kind: 'sftp' }>, path: string, credentials: Credentials | null): SftpBackendOptions {
  const c: SftpCredentials = credentials && ('password' in credentials || 'passphrase' in credentials) ? credentials : {};
  if (!d.privateKeyFile && !c.password) {
    throw new BackstopError('VALIDATION', `${destinationDisplay(d)}: no password is stored and no private key file is set for this destination; enter the password or choose a key file.`);
  }
  return {
    host: d.host,
    port: d.port,
    user: d.user,
    root: joinSftpPath(d.path, path),
    base: d.path,
    hostKey: d.hostKey,
    privateKeyFile: d.privateKeyFile,
    ...(c.password ? { password: c.password } : {}),
    ...(c.passphrase ? { passphrase: c.passphrase } : {}),
  };
}

/** The credentials a destination (or a backup folder's location) needs, from the keychain; null when it needs none. */
export function credentialsOf(secrets: SecretStore, place: Destination | BackupLocation): Promise<Credentials | null> {
  const d = destinationOf(place);
  return kindOf(d).credentials(d, secrets);
}

/** The credentials of each destination, same order (null for those that need none). */
export function loadCredentials(secrets: SecretStore, destinations: readonly Destination[]): Promise<(Credentials | null)[]> {
  return Promise.all(destinations.map((d) => credentialsOf(secrets, d)));
}

/** A secret as entered (the window, a task file) as the credentials its backend takes. */
export function credentialsOfSecret(secret: DestinationSecret): Credentials {
  if (secret.kind === 'azure') return azureCredentialsOf(secret);
  const { kind: _k, ...given } = secret;
  return given;
}

/** Stores a destination's secret in the keychain; the reference its destination keeps. */
export function saveDestinationSecret(secrets: SecretStore, secret: DestinationSecret, ref?: string): Promise<string> {
  const save = SECRETS[secret.kind] as (secrets: SecretStore, s: DestinationSecret, ref?: string) => Promise<string>;
  return save(secrets, secret, ref);
}

/** "Test connection" for a destination, its credentials loaded from the keychain. */
export async function probeDestination(secrets: SecretStore, d: Destination): Promise<ProbeReport> {
  return kindOf(d).probe(d, await credentialsOf(secrets, d));
}

/** The destination behind a backup folder's location: its folder is the destination's root. */
export function destinationOf(l: BackupLocation | Destination): Destination {
  if (l.kind === 'local' || l.kind === 'ftp' || l.kind === 'sftp') return l;
  if (l.kind === 'azure') return 'accessTier' in l ? l : { ...l, accessTier: null };
  if ('storageClass' in l) return l;
  return { ...l, storageClass: null };
}

/** Identity for "the same destination is listed twice" (local paths resolved with `resolvePath`). */
export function sameDestinationKey(d: Destination, resolvePath: (p: string) => string): string {
  return kindOf(d).sameKey(d, resolvePath);
}

/** The sibling-folder suffix for a key: what a chain under a changed key is kept in. */
export function keyFolderSuffix(key: Buffer | null): string {
  return key ? `~key-${keyFingerprint(key)}` : '~plain';
}

export class Location {
  private opened: Backend | undefined;

  private constructor(
    readonly destination: Destination,
    /** The folder under the destination's root, '/'-separated; '' for the root. */
    readonly folder: string,
    readonly credentials: Credentials | null,
  ) {}

  /** A destination's root (or `folder` under it), with credentials already at hand. */
  static of(destination: Destination, credentials: Credentials | null, folder = ''): Location {
    return new Location(destination, trimSlashes(folder), credentials);
  }

  /** A destination's root, its credentials loaded from the keychain. */
  static async load(destination: Destination, secrets: SecretStore): Promise<Location> {
    return new Location(destination, '', await credentialsOf(secrets, destination));
  }

  /** A backup folder's location as given by the user or the restore browser. */
  static at(l: BackupLocation, credentials: Credentials | null): Location {
    return new Location(destinationOf(l), '', credentials);
  }

  /** The destination's id in history (the destination's, whatever the folder). */
  get id(): string {
    return destinationId(this.destination);
  }

  /** A local path or s3:// URL of this folder, for output and scripts. */
  get text(): string {
    return placeText(this.destination, this.folder);
  }

  /** `name` under this folder ('/'-separated). */
  child(name: string): Location {
    return new Location(this.destination, joinPath(this.folder, name), this.credentials);
  }

  /**
   * The folder of database `name` under this one: its readable folder — or the folder the
   * earlier encoding gave the name (`~43hinook` for `Chinook`) when a repository lives there
   * and none in the readable one, so existing backups are continued, never duplicated.
   * A failure to look (e.g. the destination is unreachable) rejects: guessing could start a
   * second chain.
   */
  async database(name: string): Promise<Location> {
    const readable = this.child(encodeDatabaseFolder(name));
    const legacyName = legacyDatabaseFolder(name);
    if (legacyName === encodeDatabaseFolder(name)) return readable;
    const legacy = this.child(legacyName);
    const holdsRepository = (l: Location) => l.use(async (x) => (await x.backend().stat(HEADER_KEY)) !== null);
    if (!(await holdsRepository(legacy))) return readable;
    return (await holdsRepository(readable)) ? readable : legacy;
  }

  /** This folder's sibling for a changed key (`<folder>~key-<fingerprint>`, `<folder>~plain`). */
  sibling(key: Buffer | null): Location {
    return new Location(this.destination, this.folder + keyFolderSuffix(key), this.credentials);
  }

  /**
   * `read` on this folder, or — when `key` does not open its repository (KEY_MISMATCH,
   * KEY_REQUIRED) — on its sibling for `key`, opened for the call and closed after: where a
   * chain under a changed key is read (what prepare-destination.ts writes to).
   */
  async readWithKey<T>(key: Buffer | null, read: (l: Location) => Promise<T>): Promise<T> {
    try {
      return await read(this);
    } catch (e) {
      if (!hasCode(e, 'KEY_MISMATCH', 'KEY_REQUIRED')) throw e;
      return this.sibling(key).use(read);
    }
  }

  /** This folder as a backup folder's location (for the restore browser and commands given a location). */
  get backupLocation(): BackupLocation {
    return kindOf(this.destination).backupLocation(this.destination, this.folder);
  }

  /** The name of this folder (the last segment of its path; the destination root's own last segment for the root). */
  get name(): string {
    return this.text.split(/[\\/]/).filter((s) => s.length > 0).at(-1) ?? '';
  }

  /** This folder's backend, opened on first use. */
  backend(): Backend {
    this.opened ??= kindOf(this.destination).open(this.destination, this.folder, this.credentials);
    return this.opened;
  }

  /** The folders directly under this one, sorted (none when it does not exist). */
  async listFolders(): Promise<string[]> {
    try {
      return await this.backend().listFolders();
    } catch (e) {
      if (hasCode(e, 'NOT_FOUND')) return [];
      throw e;
    }
  }

  async close(): Promise<void> {
    const b = this.opened;
    this.opened = undefined;
    await b?.close();
  }

  /** Runs `fn` with this Location and closes it afterwards, also when `fn` fails. */
  async use<T>(fn: (l: this) => Promise<T>): Promise<T> {
    try {
      return await fn(this);
    } finally {
      await this.close();
    }
  }
}
