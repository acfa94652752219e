/**
 * S3 credentials in the OS keychain (keychain-secret.ts, entries `s3.<id>`): the access key
 * id, secret and optional session token.
 */
import type { SecretStore } from '../secrets/index.ts';
import type { S3Credentials } from '../storage/index.ts';
import { loadSecret, saveSecret } from './keychain-secret.ts';

export function saveS3Credentials(secrets: SecretStore, creds: S3Credentials, ref?: string): Promise<string> {
  return saveSecret(secrets, 's3', { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, ...(creds.sessionToken ? { sessionToken: creds.sessionToken } : {}) }, ref);
}

export function loadS3Credentials(secrets: SecretStore, ref: string | null): Promise<S3Credentials | null> {
  return loadSecret(secrets, ref, 'The S3 access key', (v) =>
    typeof v.accessKeyId === 'string' && typeof v.secretAccessKey === 'string'
      ? { accessKeyId: v.accessKeyId, secretAccessKey: v.secretAccessKey, ...(typeof v.sessionToken === 'string' ? { sessionToken: v.sessionToken } : {}) }
      : null,
  );
}
