/**
 * The real `backstop` command against Azurite: a task file's Azure destination (credential by
 * environment variable name) backs up, its output names each database's azure:// folder,
 * `points` and `verify` read that folder with AZURE_STORAGE_CONNECTION_STRING, and no output
 * carries the account key.
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { CHINOOK, oneJsonDocument, runBackstop, writeTaskFile } from '../../fixtures/cli.ts';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, type AzuriteHandle } from '../../fixtures/azurite.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

let az: AzuriteHandle;
beforeAll(async () => {
  az = await startAzurite(['backstop']);
}, 60_000);
afterAll(async () => {
  await az?.stop();
});

describe('backstop with an Azure destination', () => {
  it('backs up to azure://, then lists and verifies the folder with the usual Azure variables', async () => {
    const folder = tempDir();
    copyFileSync(CHINOOK, join(folder, 'chinook.sqlite'));
    const task = writeTaskFile(tempDir(), {
      name: 'azure',
      server: { kind: 'sqlite', folder },
      destinations: [{ kind: 'azure', container: 'backstop', prefix: 'nightly', accountName: AZURITE_ACCOUNT, accountKeyEnv: 'MY_AZURE_KEY', endpoint: az.endpoint, accessTier: 'Cool' }],
    });
    const dataDir = tempDir();
    const backup = await runBackstop(['backup', '--config', task, '--data-dir', dataDir, '--json'], { env: { MY_AZURE_KEY: AZURITE_KEY } });
    expect(backup.code, backup.stdout + backup.stderr).toBe(0);
    const doc = oneJsonDocument(backup.stdout) as { databases: { database: string; location: string; status: string }[] };
    const location = `azure://backstop/nightly/${encodeDatabaseFolder('chinook.sqlite')}`;
    expect(doc.databases).toEqual([expect.objectContaining({ database: 'chinook.sqlite', status: 'ok', location })]);

    const env = { AZURE_STORAGE_CONNECTION_STRING: az.connectionString };
    const points = await runBackstop(['points', location, '--data-dir', dataDir, '--json'], { env });
    expect(points.code, points.stdout + points.stderr).toBe(0);
    expect(oneJsonDocument(points.stdout)).toHaveLength(1);
    const verify = await runBackstop(['verify', location, '--data-dir', dataDir, '--json'], { env });
    expect(oneJsonDocument(verify.stdout)).toMatchObject({ ok: true, pointsChecked: 1, problems: [] });

    const missing = await runBackstop(['points', location, '--data-dir', dataDir, '--json'], { env: { AZURE_STORAGE_ACCOUNT: AZURITE_ACCOUNT } });
    expect(missing.code).toBe(1);
    expect(oneJsonDocument(missing.stdout)).toEqual({
      error: { code: 'AUTH_FAILED', message: 'Azure container backstop: none of AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING is set.' },
    });
    for (const r of [backup, points, verify, missing]) expect(r.stdout + r.stderr).not.toContain(AZURITE_KEY.slice(0, 30));
  }, 240_000);
});
