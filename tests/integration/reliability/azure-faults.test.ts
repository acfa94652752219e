/**
 * Azure faults at a steady rate — 500 InternalError, 503 ServerBusy, connection resets
 * before and during a response, slow bodies — injected by the HTTP fault proxy in front of
 * Azurite on the real Azure path (task file → engine → AzureBackend → @azure/storage-blob).
 * Every run finishes or fails cleanly (a known, non-INTERNAL code per database) and nothing
 * committed is lost: earlier points still verify through a fault-free connection, GC never
 * takes a needed pack, the newest point restores right (fault-runs.ts).
 * Full storage: the proxy refuses every write with 403 AccountLimitExceeded (Azure's Blob
 * error-code list names no capacity code; this is the shape the classifier expects): the
 * run fails with DISK_FULL (not PERMISSION_DENIED, as a blanket 403 would be) saying the
 * account is full and what to do, no blob is added, the earlier point verifies and
 * restores, and the next run succeeds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { createAzureBackend } from '../../../electron/engine/storage/index.ts';
import { AZURITE_ACCOUNT, AZURITE_KEY, azuriteBackendOptions, startAzurite, type AzuriteHandle } from '../../fixtures/azurite.ts';
import { Scratch } from '../../fixtures/reliability/common.ts';
import { faultyRunsLoseNothing, fullStoreFailsCleanly, setEnv } from '../../fixtures/reliability/fault-runs.ts';
import { startFaultProxy, type FaultProxy } from '../../fixtures/reliability/http-fault-proxy.ts';

const SEED = Number(process.env.BACKSTOP_SOAK_SEED ?? 4242);
const scratch = new Scratch();
let az: AzuriteHandle;
let proxy: FaultProxy;
let full: FaultProxy;
let restoreEnv: (() => void) | undefined;

beforeAll(async () => {
  az = await startAzurite(['backstop']);
  proxy = await startFaultProxy({ host: '127.0.0.1', port: az.port }, { rate: 0, seed: SEED, dialect: 'azure' });
  full = await startFaultProxy({ host: '127.0.0.1', port: az.port }, { rate: 0, seed: SEED, dialect: 'azure', kinds: ['quota'] });
  // The checking reads (azure:// locations) and the task file's accountKeyEnv.
  restoreEnv = setEnv({ AZURE_STORAGE_ACCOUNT: AZURITE_ACCOUNT, AZURE_STORAGE_KEY: AZURITE_KEY, BACKSTOP_TEST_AZURE_KEY: AZURITE_KEY });
}, 60_000);
afterAll(async () => {
  restoreEnv?.();
  await proxy?.close();
  await full?.close();
  await az?.stop();
  scratch.cleanup();
});

describe('Azure faults at a steady rate', () => {
  it('runs finish or fail cleanly and nothing committed is lost', async () => {
    const { outcomes } = await faultyRunsLoseNothing({
      scratch,
      label: 'azure',
      destination: { kind: 'azure', accountName: AZURITE_ACCOUNT, container: 'backstop', prefix: 'rel', accountKeyEnv: 'BACKSTOP_TEST_AZURE_KEY', endpoint: `${proxy.endpoint}/${AZURITE_ACCOUNT}` },
      location: (d) => `azure://backstop/rel/${encodeDatabaseFolder(d)}`,
      locationArgs: ['--endpoint', az.endpoint],
      backend: (d) => createAzureBackend(azuriteBackendOptions(az, { container: 'backstop', prefix: `rel/${encodeDatabaseFolder(d)}` })),
      faults: { on: () => proxy.setRate(0.25), off: () => proxy.setRate(0) },
      secrets: { 'account key': AZURITE_KEY },
    });
    console.log('Azure faults injected:', proxy.stats, 'database outcomes:', outcomes.join(' '));
    expect(proxy.stats.error + proxy.stats.throttle + proxy.stats.reset + proxy.stats.midreset + proxy.stats.slow).toBeGreaterThan(10);
  }, 240_000);

  it('a full storage account (403 AccountLimitExceeded on every write): DISK_FULL with the fix, nothing added, the earlier point intact', async () => {
    await fullStoreFailsCleanly({
      scratch,
      label: 'azure-full',
      destination: { kind: 'azure', accountName: AZURITE_ACCOUNT, container: 'backstop', prefix: 'full', accountKeyEnv: 'BACKSTOP_TEST_AZURE_KEY', endpoint: `${full.endpoint}/${AZURITE_ACCOUNT}` },
      location: (d) => `azure://backstop/full/${encodeDatabaseFolder(d)}`,
      locationArgs: ['--endpoint', az.endpoint],
      backend: (d) => createAzureBackend(azuriteBackendOptions(az, { container: 'backstop', prefix: `full/${encodeDatabaseFolder(d)}` })),
      full: { on: () => full.setRate(1), off: () => full.setRate(0) },
      message: ['backstop/full/a.db', /the storage account is full \(AccountLimitExceeded\)\. Free space or raise the account's limit/],
    });
    expect(full.stats.quota).toBeGreaterThan(0);
  }, 120_000);
});
