/**
 * Azure faults at a steady rate — 500 InternalError, 503 ServerBusy, connection resets
 * before and during a response, slow bodies — injected by the HTTP fault proxy in front of
 * Azurite on the real Azure path (task file → engine → AzureBackend → @azure/storage-blob).
 * Every run finishes or fails cleanly (a known, non-INTERNAL code per database) and nothing
 * committed is lost: earlier points still verify through a fault-free connection, GC never
 * takes a needed pack, the newest point restores right (fault-runs.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { createAzureBackend } from '../../../electron/engine/storage/index.ts';
import { AZURITE_ACCOUNT, AZURITE_KEY, azuriteBackendOptions, startAzurite, type AzuriteHandle } from '../../fixtures/azurite.ts';
import { Scratch } from '../../fixtures/reliability/common.ts';
import { faultyRunsLoseNothing, setEnv } from '../../fixtures/reliability/fault-runs.ts';
import { startFaultProxy, type FaultProxy } from '../../fixtures/reliability/http-fault-proxy.ts';

const SEED = Number(process.env.BACKSTOP_SOAK_SEED ?? 4242);
const scratch = new Scratch();
let az: AzuriteHandle;
let proxy: FaultProxy;
let restoreEnv: (() => void) | undefined;

beforeAll(async () => {
  az = await startAzurite(['backstop']);
  proxy = await startFaultProxy({ host: '127.0.0.1', port: az.port }, { rate: 0, seed: SEED, dialect: 'azure' });
  // The checking reads (azure:// locations) and the task file's accountKeyEnv.
  restoreEnv = setEnv({ AZURE_STORAGE_ACCOUNT: AZURITE_ACCOUNT, AZURE_STORAGE_KEY: AZURITE_KEY, BACKSTOP_TEST_AZURE_KEY: AZURITE_KEY });
}, 60_000);
afterAll(async () => {
  restoreEnv?.();
  await proxy?.close();
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
});
