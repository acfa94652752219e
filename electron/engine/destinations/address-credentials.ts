/**
 * A destination's address that carries a user name or password — an S3 or Azure endpoint
 * pasted whole (`https://key:secret@minio:9000`), an FTP host typed as a URL
 * (`ftp://backup:password@nas`) — would keep that secret in the app database and in every
 * message naming the destination. The secret belongs in the destination's credentials
 * (saved in the keychain).
 *
 * Contract: `checkAddressCredentials(d, field)` throws VALIDATION naming the field (never
 * its value) and where the secret goes; touches nothing. `field` is the destination's path
 * in the request ("destinations.1", "destination").
 */
import { isBareHost, type BackupLocation, type Destination } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';

function urlHasCredentials(text: string): boolean {
  try {
    const u = new URL(text);
    return u.username !== '' || u.password !== '';
  } catch {
    return false;
  }
}

export function checkAddressCredentials(d: Destination | BackupLocation, field: string): void {
  if ((d.kind === 's3' || d.kind === 'azure') && d.endpoint && urlHasCredentials(d.endpoint)) {
    throw new BackstopError(
      'VALIDATION',
      `${field}.endpoint: the endpoint URL carries a user name or password. Give the endpoint as scheme://host:port alone and enter the ${d.kind === 's3' ? 'access key and secret key' : 'account key or SAS token'} as the destination's credentials (kept in the OS keychain).`,
    );
  }
  if (d.kind === 'ftp' && !isBareHost(d.host)) {
    throw new BackstopError('VALIDATION', `${field}.host: must be a host name or address alone, not a URL or user@host; put the user and the password in their own fields (the password is kept in the OS keychain).`);
  }
}
