/** "Test connection" of a local destination, and the keychain-secret store's refusals (every kind shares both). */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadS3Credentials, probeDestination, saveDestinationSecret } from '../../../electron/engine/destinations/index.ts';
import { hasCode } from '../../../electron/shared/result.ts';
import { MemorySecretStore } from '../../fixtures/memory-secret-store.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

describe('probeDestination (local folder)', () => {
  it('passes every step in a writable folder and leaves nothing behind', async () => {
    const dir = tempDir();
    const report = await probeDestination(new MemorySecretStore(), { kind: 'local', path: dir });
    expect(report).toEqual({ ok: true, steps: ['put', 'get', 'list', 'delete'].map((step) => ({ step, ok: true })) });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('fails put (and skips get and delete) where the folder is a file, with a hint', async () => {
    const file = join(tempDir(), 'not-a-folder');
    writeFileSync(file, 'x');
    const report = await probeDestination(new MemorySecretStore(), { kind: 'local', path: file });
    expect(report.ok).toBe(false);
    expect(report.steps.map((s) => [s.step, s.ok, s.skipped ?? false])).toEqual([
      ['put', false, false],
      ['get', false, true],
      ['list', true, false],
      ['delete', false, true],
    ]);
    expect(report.steps[0]!.code).toMatch(/^(STORAGE|NOT_FOUND|PERMISSION_DENIED)$/);
    expect(report.hint).toMatch(/folder/);
  });
});

describe('saveDestinationSecret / loadSecret', () => {
  it('round-trips an S3 key and refuses a reference of another kind', async () => {
    const secrets = new MemorySecretStore();
    const ref = await saveDestinationSecret(secrets, { kind: 's3', accessKeyId: 'AKIA1', secretAccessKey: 'sekret' });
    expect(ref).toMatch(/^s3\.[0-9a-f-]+$/);
    expect(await loadS3Credentials(secrets, ref)).toEqual({ accessKeyId: 'AKIA1', secretAccessKey: 'sekret' });
    const refused = await saveDestinationSecret(secrets, { kind: 's3', accessKeyId: 'A', secretAccessKey: 'B' }, 'azure.x').catch((e: unknown) => e);
    expect(hasCode(refused, 'VALIDATION')).toBe(true);
    expect((refused as Error).message).toBe('credentialsRef must look like s3.<id>.');
  });

  it('says the entry is missing or unreadable (AUTH_FAILED) without the secret', async () => {
    const secrets = new MemorySecretStore();
    const missing = await loadS3Credentials(secrets, 's3.gone').catch((e: unknown) => e);
    expect(hasCode(missing, 'AUTH_FAILED')).toBe(true);
    expect((missing as Error).message).toBe('The S3 access key of this destination is missing from the keychain; enter it again.');
    await secrets.set('s3.bad', JSON.stringify({ accessKeyId: 'AKIA1' }));
    const unreadable = await loadS3Credentials(secrets, 's3.bad').catch((e: unknown) => e);
    expect(hasCode(unreadable, 'AUTH_FAILED')).toBe(true);
    expect((unreadable as Error).message).toBe('The S3 access key stored for this destination is unreadable; enter it again.');
    expect((unreadable as Error).message).not.toContain('AKIA1');
  });
});
