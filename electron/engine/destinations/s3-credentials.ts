/**
 * S3 credentials in the OS keychain: one entry per destination (`s3.<id>`) holding the
 * access key id, secret and optional session token as JSON. Destinations keep only the
 * reference (`credentialsRef`).
 */
import { randomUUID } from 'node:crypto';
import { BackstopError } from '../../shared/result.ts';
import type { SecretStore } from '../secrets/index.ts';
import type { S3Credentials } from '../storage/index.ts';

export async function saveS3Credentials(secrets: SecretStore, creds: S3Credentials, ref?: string): Promise<string> {
  const credentialsRef = ref ?? `s3.${randomUUID()}`;
  if (!/^s3\.[A-Za-z0-9-]{1,64}$/.test(credentialsRef)) throw new BackstopError('VALIDATION', 'credentialsRef must look like s3.<id>.');
  await secrets.set(credentialsRef, JSON.stringify({ accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, ...(creds.sessionToken ? { sessionToken: creds.sessionToken } : {}) }));
  return credentialsRef;
}

export async function loadS3Credentials(secrets: SecretStore, ref: string | null): Promise<S3Credentials | null> {
  if (!ref) return null;
  const text = await secrets.get(ref);
  if (text === null) throw new BackstopError('AUTH_FAILED', 'The S3 access key of this destination is missing from the keychain; enter it again.');
  try {
    const v = JSON.parse(text) as S3Credentials;
    if (typeof v.accessKeyId !== 'string' || typeof v.secretAccessKey !== 'string') throw new Error('shape');
    return v;
  } catch {
    throw new BackstopError('AUTH_FAILED', 'The S3 access key stored for this destination is unreadable; enter it again.');
  }
}
