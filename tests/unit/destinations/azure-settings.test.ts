/**
 * Azure settings without a server: the destination schema (Archive refused with a reason),
 * the keychain secret (exactly one credential), the CLI's azure:// locations and text, and
 * the storage classes a task may not use (Glacier Flexible Retrieval, Deep Archive).
 */
import { describe, expect, it } from 'vitest';
import { AzureDestination, Destination, DestinationSecret, type TaskInputParsed } from '../../../electron/shared/domain.ts';
import { destinationDisplay, destinationId, placeText } from '../../../electron/shared/location-text.ts';
import { loadAzureCredentials, Location, saveDestinationSecret } from '../../../electron/engine/destinations/index.ts';
import { checkTaskInput } from '../../../electron/engine/tasks/check-task-input.ts';
import { parseLocation } from '../../../electron/cli/location-url.ts';
import { MemorySecretStore } from '../../fixtures/memory-secret-store.ts';

const azure = AzureDestination.parse({ kind: 'azure', accountName: 'acct1', container: 'backups', prefix: 'nightly/', credentialsRef: 'azure.x' });

function thrown(fn: () => unknown): { code?: string; message: string } {
  try {
    fn();
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('expected a failure');
}

describe('Azure destination schema', () => {
  it('takes Hot, Cool and Cold and refuses Archive with the reason', () => {
    for (const tier of ['Hot', 'Cool', 'Cold']) expect(Destination.parse({ ...azure, accessTier: tier })).toMatchObject({ accessTier: tier });
    const r = Destination.safeParse({ ...azure, accessTier: 'Archive' });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toMatch(/Archive is refused: archived blobs cannot be read back without hours of rehydration/);
  });

  it('refuses account and container names Azure would refuse', () => {
    expect(Destination.safeParse({ ...azure, accountName: 'Has-Caps' }).success).toBe(false);
    expect(Destination.safeParse({ ...azure, container: 'a--b' }).success).toBe(false);
  });

  it('has a stable, secret-free id and azure:// text', () => {
    expect(destinationId(azure)).toBe('azure:acct1/backups/nightly');
    expect(placeText(azure, 'sales')).toBe('azure://backups/nightly/sales');
    expect(destinationDisplay({ ...azure, endpoint: 'http://127.0.0.1:10000/acct1' })).toBe('azure://backups/nightly in account acct1 at 127.0.0.1:10000');
    expect(Location.of(azure, { accountKey: 'k' }).child('sales').backupLocation).toEqual({
      kind: 'azure',
      accountName: 'acct1',
      container: 'backups',
      prefix: 'nightly/sales',
      endpoint: null,
      credentialsRef: 'azure.x',
    });
  });
});

describe('Azure secret in the keychain', () => {
  it('round-trips each kind of credential and refuses none or two', async () => {
    const secrets = new MemorySecretStore();
    for (const c of [{ accountKey: 'a2V5' }, { sasToken: 'sv=2024&sig=abc' }, { connectionString: 'AccountName=a;AccountKey=b' }]) {
      const ref = await saveDestinationSecret(secrets, { kind: 'azure', ...c });
      expect(ref).toMatch(/^azure\./);
      expect(await loadAzureCredentials(secrets, ref)).toEqual(c);
    }
    expect(DestinationSecret.safeParse({ kind: 'azure' }).success).toBe(false);
    expect(DestinationSecret.safeParse({ kind: 'azure', accountKey: 'a', sasToken: 'b' }).error?.issues[0]?.message).toBe('give exactly one of accountKey, sasToken or connectionString');
  });

  it('a destination without a stored credential fails VALIDATION when opened', () => {
    const e = thrown(() => Location.of({ ...azure, credentialsRef: null }, null).backend());
    expect(e.code).toBe('VALIDATION');
    expect(e.message).toBe('azure://backups/nightly in account acct1: no account key, SAS token or connection string is stored for this destination; enter one.');
  });
});

describe('azure:// locations (CLI)', () => {
  it('reads the account and credential from the usual environment variables and --endpoint', () => {
    const w = parseLocation('azure://c1/pre/fix/sales', { AZURE_STORAGE_ACCOUNT: 'acct1', AZURE_STORAGE_KEY: 'k3y' }, { endpoint: 'http://127.0.0.1:10000/acct1' });
    expect(w).toEqual({
      location: { kind: 'azure', accountName: 'acct1', container: 'c1', prefix: 'pre/fix/sales', endpoint: 'http://127.0.0.1:10000/acct1', credentialsRef: null },
      credentials: { accountKey: 'k3y' },
    });
    expect(parseLocation('azure://c1/p', { AZURE_STORAGE_ACCOUNT: 'acct1', AZURE_STORAGE_SAS_TOKEN: '?sv=1&sig=x' }).credentials).toEqual({ sasToken: 'sv=1&sig=x' });
    const cs = 'DefaultEndpointsProtocol=https;AccountName=fromcs;AccountKey=abc';
    expect(parseLocation('azure://c1/p', { AZURE_STORAGE_CONNECTION_STRING: cs })).toMatchObject({ location: { accountName: 'fromcs' }, credentials: { connectionString: cs } });
  });

  it('names what is missing or malformed', () => {
    const noCred = thrown(() => parseLocation('azure://c1/p', { AZURE_STORAGE_ACCOUNT: 'acct1' }));
    expect(noCred).toMatchObject({ code: 'AUTH_FAILED', message: 'Azure container c1: none of AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING is set.' });
    const noAccount = thrown(() => parseLocation('azure://c1/p', { AZURE_STORAGE_KEY: 'k' }));
    expect(noAccount).toMatchObject({ code: 'AUTH_FAILED', message: 'Azure container c1: the environment variable AZURE_STORAGE_ACCOUNT is not set.' });
    // A container alone is a destination root (a task without a prefix writes there); no container is malformed.
    expect(thrown(() => parseLocation('azure://onlycontainer', {}))).toMatchObject({ code: 'AUTH_FAILED', message: 'Azure container onlycontainer: the environment variable AZURE_STORAGE_ACCOUNT is not set.' });
    for (const bad of ['azure://', 'azure:///p']) {
      expect(thrown(() => parseLocation(bad, {}))).toMatchObject({ code: 'MALFORMED_REQUEST', message: `"${bad}" must look like azure://container/prefix/<database folder>.` });
    }
  });
});

describe('storage classes that cannot be read back', () => {
  const task = (storageClass: string | null): TaskInputParsed => ({
    name: 't',
    serverId: 'srv-1',
    type: 'logical',
    schedule: { full: '0 3 * * *', incremental: null, timezone: 'UTC' },
    retention: { minAgeDays: 0, keepLast: null },
    encryption: { mode: 'none' },
    destinations: [{ kind: 's3', bucket: 'bkt', prefix: '', region: 'us-east-1', endpoint: null, forcePathStyle: true, storageClass, checksumMode: 'WHEN_REQUIRED', credentialsRef: null }],
    excludeDatabases: [],
    enabled: true,
  });

  it('refuses GLACIER and DEEP_ARCHIVE with the reason, and takes the instantly readable classes', () => {
    for (const c of ['GLACIER', 'DEEP_ARCHIVE', 'deep_archive']) {
      const e = thrown(() => checkTaskInput(task(c)));
      expect(e.code).toBe('VALIDATION');
      expect(e.message).toMatch(new RegExp(`^destinations\\.0\\.storageClass: ${c} objects cannot be read without a restore request that takes hours`));
    }
    for (const c of [null, 'STANDARD', 'STANDARD_IA', 'GLACIER_IR', 'INTELLIGENT_TIERING']) expect(() => checkTaskInput(task(c))).not.toThrow();
  });
});
