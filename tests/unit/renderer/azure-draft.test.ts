/** Azure destinations in the task editor's draft: round trip, validation, the typed secret; and the S3 draft's refused storage classes. */
import { describe, expect, it } from 'vitest';
import { TaskInput, type Task } from '@shared/domain.ts';
import { azureSecret, draftErrors, draftFromTask, draftToInput, emptyAzureDraft, emptyDraft, emptyS3Draft } from '../../../renderer/src/components/task-draft';

const task: Task = {
  id: 't1',
  name: 'Nightly',
  serverId: 's1',
  type: 'logical',
  schedule: { full: '0 2 * * *', incremental: null, timezone: 'UTC' },
  retention: { minAgeDays: 30, keepLast: null },
  encryption: { mode: 'none' },
  destinations: [{ kind: 'azure', accountName: 'acme', container: 'backups', prefix: 'prod', endpoint: null, accessTier: 'Cool', credentialsRef: 'azure.cred' }],
  excludeDatabases: [],
  enabled: true,
  createdAt: '2026-01-01T00:00:00Z',
  updatedAt: '2026-01-01T00:00:00Z',
};

describe('Azure drafts', () => {
  it('a saved Azure destination round-trips through the editor unchanged', () => {
    const input = draftToInput(draftFromTask(task));
    const { id: _id, createdAt: _c, updatedAt: _u, ...fields } = task;
    expect(input).toEqual(fields);
    expect(TaskInput.safeParse(input).success).toBe(true);
  });

  it('names the first thing missing, in order', () => {
    const d = { ...emptyDraft('s1'), name: 'n', destinations: [emptyAzureDraft()] };
    expect(draftErrors(d)['destination-0']).toBe('Enter the storage account name (3 to 24 lowercase letters and digits).');
    d.destinations = [{ ...emptyAzureDraft(), accountName: 'acme' }];
    expect(draftErrors(d)['destination-0']).toBe('Enter the container name (3 to 63 lowercase letters, digits and hyphens).');
    d.destinations = [{ ...emptyAzureDraft(), accountName: 'acme', container: 'backups', endpoint: 'not a url' }];
    expect(draftErrors(d)['destination-0']).toBe('Enter the endpoint as a full URL, e.g. http://127.0.0.1:10000/devstoreaccount1.');
    d.destinations = [{ ...emptyAzureDraft(), accountName: 'acme', container: 'backups' }];
    expect(draftErrors(d)['destination-0']).toBe('Enter the account key, a SAS token or a connection string.');
    d.destinations = [{ ...emptyAzureDraft(), accountName: 'acme', container: 'backups', auth: 'sasToken', secret: '?sv=1&sig=x' }];
    expect(draftErrors(d)['destination-0']).toBeUndefined();
  });

  it('turns the typed secret into the keychain secret of the chosen kind', () => {
    expect(azureSecret({ ...emptyAzureDraft(), auth: 'sasToken', secret: ' ?sv=1&sig=x ' })).toEqual({ kind: 'azure', sasToken: 'sv=1&sig=x' });
    expect(azureSecret({ ...emptyAzureDraft(), auth: 'accountKey', secret: 'k3y' })).toEqual({ kind: 'azure', accountKey: 'k3y' });
    expect(azureSecret({ ...emptyAzureDraft(), secret: '  ' })).toBeNull();
  });
});

describe('S3 storage classes in the draft', () => {
  it('refuses GLACIER and DEEP_ARCHIVE before saving, with the reason', () => {
    const s3 = { ...emptyS3Draft(), bucket: 'bkt', accessKeyId: 'a', secretAccessKey: 'b' };
    const d = { ...emptyDraft('s1'), name: 'n', destinations: [{ ...s3, storageClass: 'DEEP_ARCHIVE' }] };
    expect(draftErrors(d)['destination-0']).toBe('DEEP_ARCHIVE objects cannot be read without a restore request that takes hours, so a restore would fail. Choose another storage class (GLACIER_IR reads instantly).');
    d.destinations = [{ ...s3, storageClass: 'GLACIER_IR' }];
    expect(draftErrors(d)['destination-0']).toBeUndefined();
  });
});
