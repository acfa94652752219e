/**
 * A task file's destination as the engine's: one place per kind for what `backstop backup
 * --config` (the secret given to the run) and `backstop tasks add|update` (the secret moved into
 * the keychain) both need. Secrets come from the environment variables the file names, never
 * from the file.
 *
 * Contract: `fileDestination` resolves relative paths against `base` (the file's folder) and
 * keeps `credentialsRef` (null: the secret is given to the run directly); `fileSecret` reads
 * the named variables (AUTH_FAILED naming one that is unset, cli-secrets.ts) and is null when
 * the destination names none (an SFTP key without a passphrase); `fileSecretGiven` says
 * whether any of them is set, so an update keeps a stored secret while they are not.
 */
import { resolve } from 'node:path';
import type { Destination, DestinationSecret } from '../shared/domain.ts';
import { GCS_S3_SETTINGS } from '../shared/gcs.ts';
import { secretFromEnv } from './cli-secrets.ts';
import type { TaskFile } from './task-file.ts';

export type FileDestination = TaskFile['destinations'][number];
export type RemoteFileDestination = Exclude<FileDestination, { kind: 'local' }>;

/** How messages name the destination: "S3 bucket b", "Azure container c", "FTP server h", "SFTP server h". */
export function fileDestinationLabel(d: RemoteFileDestination): string {
  switch (d.kind) {
    case 's3':
      return `S3 bucket ${d.bucket}`;
    case 'azure':
      return `Azure container ${d.container}`;
    case 'ftp':
      return `FTP server ${d.host}`;
    case 'sftp':
      return `SFTP server ${d.host}`;
  }
}

export function fileDestination(d: FileDestination, base: string, credentialsRef: string | null): Destination {
  const limits = d.limits ? { limits: d.limits } : {};
  switch (d.kind) {
    case 'local':
      return { kind: 'local', path: resolve(base, d.path), ...limits };
    case 's3':
      return {
        kind: 's3',
        bucket: d.bucket,
        prefix: d.prefix,
        region: d.region,
        endpoint: d.endpoint ?? null,
        forcePathStyle: d.forcePathStyle,
        storageClass: d.storageClass ?? null,
        checksumMode: d.checksumMode,
        ...(d.preset === 'gcs' ? { ...GCS_S3_SETTINGS, endpoint: d.endpoint ?? GCS_S3_SETTINGS.endpoint } : {}),
        credentialsRef,
        ...limits,
      };
    case 'azure':
      return { kind: 'azure', accountName: d.accountName, container: d.container, prefix: d.prefix, endpoint: d.endpoint ?? null, accessTier: d.accessTier ?? null, credentialsRef, ...limits };
    case 'ftp':
      return { kind: 'ftp', host: d.host, port: d.port, user: d.user, path: d.path, tls: d.tls, certificateFingerprint: d.certificateFingerprint ?? null, credentialsRef, ...limits };
    case 'sftp':
      return {
        kind: 'sftp',
        host: d.host,
        port: d.port,
        user: d.user,
        path: d.path,
        hostKey: d.hostKey ?? null,
        privateKeyFile: d.privateKeyFile ? resolve(base, d.privateKeyFile) : null,
        credentialsRef,
        ...limits,
      };
  }
}

/** The variables a destination names for its secret (S3: the key id and secret, not the optional session token). */
function secretVariables(d: RemoteFileDestination): string[] {
  switch (d.kind) {
    case 's3':
      return [d.accessKeyIdEnv, d.secretAccessKeyEnv];
    case 'azure':
      return [d.accountKeyEnv, d.sasTokenEnv, d.connectionStringEnv].filter((v): v is string => v !== undefined);
    case 'ftp':
      return [d.passwordEnv];
    case 'sftp':
      return [d.passwordEnv, d.passphraseEnv].filter((v): v is string => v !== undefined);
  }
}

export function fileSecretGiven(d: RemoteFileDestination, env: NodeJS.ProcessEnv = process.env): boolean {
  return secretVariables(d).some((v) => Boolean(env[v]));
}

/** The destination's secret from the variables it names; `what` says where in messages. */
export function fileSecret(d: RemoteFileDestination, what: string): DestinationSecret | null {
  const read = (name: string) => secretFromEnv(name, what)!;
  switch (d.kind) {
    case 's3':
      return { kind: 's3', accessKeyId: read(d.accessKeyIdEnv), secretAccessKey: read(d.secretAccessKeyEnv), ...(d.sessionTokenEnv ? { sessionToken: read(d.sessionTokenEnv) } : {}) };
    case 'azure':
      if (d.accountKeyEnv) return { kind: 'azure', accountKey: read(d.accountKeyEnv) };
      if (d.sasTokenEnv) return { kind: 'azure', sasToken: read(d.sasTokenEnv) };
      return { kind: 'azure', connectionString: read(d.connectionStringEnv!) };
    case 'ftp':
      return { kind: 'ftp', password: read(d.passwordEnv) };
    case 'sftp': {
      if (!d.passwordEnv && !d.passphraseEnv) return null;
      return { kind: 'sftp', ...(d.passwordEnv ? { password: read(d.passwordEnv) } : {}), ...(d.passphraseEnv ? { passphrase: read(d.passphraseEnv) } : {}) };
    }
  }
}
