/**
 * FTP passwords in the OS keychain (keychain-secret.ts, entries `ftp.<id>`), and the
 * backend settings of an FTP destination (what "Test connection" probes too).
 *
 * Contract: a destination without a password → VALIDATION naming the fix; plain FTP is
 * opened only when the destination says `tls: "none"` (the schema requires `tls`).
 */
import type { Destination } from '../../shared/domain.ts';
import { destinationDisplay, joinPath } from '../../shared/location-text.ts';
import { BackstopError } from '../../shared/result.ts';
import type { SecretStore } from '../secrets/index.ts';
import type { FtpBackendOptions } from '../storage/index.ts';
import { loadSecret, saveSecret } from './keychain-secret.ts';

export type FtpDestination = Extract<Destination, { kind: 'ftp' }>;

export interface FtpCredentials {
  password: string;
}

export function saveFtpCredentials(secrets: SecretStore, creds: FtpCredentials, ref?: string): Promise<string> {
  return saveSecret(secrets, 'ftp', { password: creds.password }, ref);
}

export function loadFtpCredentials(secrets: SecretStore, ref: string | null): Promise<FtpCredentials | null> {
  return loadSecret(secrets, ref, 'The FTP password', (v) => (typeof v.password === 'string' ? { password: v.password } : null));
}

export function isFtpCredentials(c: unknown): c is FtpCredentials {
  return typeof c === 'object' && c !== null && typeof (c as { password?: unknown }).password === 'string';
}

/** The FtpBackend settings for `path` under an FTP destination's folder. */
export function ftpBackendOptions(d: FtpDestination, path: string, credentials: unknown): FtpBackendOptions {
  if (!isFtpCredentials(credentials)) {
    throw new BackstopError('VALIDATION', `${destinationDisplay(d)}: no password is stored for this destination; enter the FTP user's password.`);
  }
  return {
    host: d.host,
    port: d.port,
    user: d.user,
    password: credentials.password,
    tls: d.tls,
    certificateFingerprint: d.certificateFingerprint,
    root: `/${joinPath(d.path, path)}`,
  };
}
