/**
 * A destination's secret in the OS keychain: one entry per destination (`<kind>.<id>`)
 * holding the kind's secret fields as JSON; destinations keep only the reference
 * (`credentialsRef`). One owner for every kind (S3 access keys, Azure account keys, SFTP
 * passwords, FTP passwords, ...); each kind says which fields it needs (`check`).
 *
 * Contract: `saveSecret` refuses a reference of another kind (VALIDATION) and returns the
 * reference; `loadSecret` returns null for no reference, AUTH_FAILED naming the fix when
 * the entry is missing or unreadable. Secrets never appear in errors.
 */
import { randomUUID } from 'node:crypto';
import { BackstopError } from '../../shared/result.ts';
import type { SecretStore } from '../secrets/index.ts';

export async function saveSecret(secrets: SecretStore, kind: string, value: object, ref?: string): Promise<string> {
  const credentialsRef = ref ?? `${kind}.${randomUUID()}`;
  if (!new RegExp(`^${kind}\\.[A-Za-z0-9-]{1,64}$`).test(credentialsRef)) throw new BackstopError('VALIDATION', `credentialsRef must look like ${kind}.<id>.`);
  await secrets.set(credentialsRef, JSON.stringify(value));
  return credentialsRef;
}

/**
 * The secret stored under `ref`, checked by `check` (which returns it typed, or null when a
 * field is missing); `what` names it in errors ("The S3 access key").
 */
export async function loadSecret<T>(secrets: SecretStore, ref: string | null, what: string, check: (v: Record<string, unknown>) => T | null): Promise<T | null> {
  if (!ref) return null;
  const text = await secrets.get(ref);
  if (text === null) throw new BackstopError('AUTH_FAILED', `${what} of this destination is missing from the keychain; enter it again.`);
  let value: T | null = null;
  try {
    const v: unknown = JSON.parse(text);
    if (v !== null && typeof v === 'object') value = check(v as Record<string, unknown>);
  } catch {
    value = null;
  }
  if (value === null) throw new BackstopError('AUTH_FAILED', `${what} stored for this destination is unreadable; enter it again.`);
  return value;
}
