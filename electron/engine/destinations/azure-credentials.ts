/**
 * Azure credentials in the OS keychain (keychain-secret.ts, entries `azure.<id>`): exactly
 * one of an account key, a SAS token or a connection string.
 */
import type { DestinationSecret } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';
import type { SecretStore } from '../secrets/index.ts';
import type { AzureCredentials } from '../storage/azure-backend.ts';
import { loadSecret, saveSecret } from './keychain-secret.ts';

type AzureSecret = Extract<DestinationSecret, { kind: 'azure' }>;

/** The one credential in an Azure secret; VALIDATION when it holds none or more than one. */
export function azureCredentialsOf(s: Omit<AzureSecret, 'kind'>): AzureCredentials {
  const given = [s.accountKey !== undefined, s.sasToken !== undefined, s.connectionString !== undefined].filter(Boolean).length;
  if (given !== 1) throw new BackstopError('VALIDATION', 'Give exactly one of an account key, a SAS token or a connection string for this Azure destination.');
  if (s.accountKey !== undefined) return { accountKey: s.accountKey };
  if (s.sasToken !== undefined) return { sasToken: s.sasToken.replace(/^\?/, '') };
  return { connectionString: s.connectionString! };
}

export function saveAzureCredentials(secrets: SecretStore, secret: AzureSecret, ref?: string): Promise<string> {
  return saveSecret(secrets, 'azure', azureCredentialsOf(secret), ref);
}

export function loadAzureCredentials(secrets: SecretStore, ref: string | null): Promise<AzureCredentials | null> {
  return loadSecret(secrets, ref, 'The Azure account key, SAS token or connection string', (v) => {
    try {
      return azureCredentialsOf({
        ...(typeof v.accountKey === 'string' ? { accountKey: v.accountKey } : {}),
        ...(typeof v.sasToken === 'string' ? { sasToken: v.sasToken } : {}),
        ...(typeof v.connectionString === 'string' ? { connectionString: v.connectionString } : {}),
      });
    } catch {
      return null;
    }
  });
}
