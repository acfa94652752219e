/**
 * SFTP secrets in the OS keychain (keychain-secret.ts, entries `sftp.<id>`): the login's
 * password and/or the private key's passphrase. The key file itself stays where the user
 * keeps it (the destination names it); the host key is pinned in the destination, not here.
 */
import type { SecretStore } from '../secrets/index.ts';
import { loadSecret, saveSecret } from './keychain-secret.ts';

export interface SftpCredentials {
  password?: string;
  passphrase?: string;
}

export function saveSftpCredentials(secrets: SecretStore, creds: SftpCredentials, ref?: string): Promise<string> {
  return saveSecret(secrets, 'sftp', { ...(creds.password ? { password: creds.password } : {}), ...(creds.passphrase ? { passphrase: creds.passphrase } : {}) }, ref);
}

export function loadSftpCredentials(secrets: SecretStore, ref: string | null): Promise<SftpCredentials | null> {
  return loadSecret(secrets, ref, 'The SFTP password or key passphrase', (v) => ({
    ...(typeof v.password === 'string' ? { password: v.password } : {}),
    ...(typeof v.passphrase === 'string' ? { passphrase: v.passphrase } : {}),
  }));
}
