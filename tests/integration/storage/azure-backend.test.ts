/**
 * The Azure Blob Storage backend against Azurite (Microsoft's emulator, a child process):
 * the shared backend contract with and without a prefix and with each way to authenticate,
 * staged-block round trips, atomicity of failed and aborted block uploads, the access tier
 * on packs, error mapping (bad key, missing container, SAS without a permission, server
 * down) and the probe's steps and hints.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { ContainerSASPermissions, generateBlobSASQueryParameters, StorageSharedKeyCredential, SASProtocol } from '@azure/storage-blob';
import { AzureBackend, createAzureBackend, type AzureBackendOptions } from '../../../electron/engine/storage/azure-backend.ts';
import { probeAzure } from '../../../electron/engine/storage/azure-probe.ts';
import { runBackendContract } from '../../unit/storage/backend-contract.ts';
import { AZURITE_ACCOUNT, AZURITE_KEY, azuriteBackendOptions, startAzurite, type AzuriteHandle } from '../../fixtures/azurite.ts';

const KIB = 1024;
let az: AzuriteHandle;
let seq = 0;

beforeAll(async () => {
  az = await startAzurite(['shared', 'work']);
}, 60_000);
afterAll(async () => {
  await az?.stop();
});

function options(over: Partial<AzureBackendOptions> = {}): AzureBackendOptions {
  return azuriteBackendOptions(az, { maxTries: 1, ...over });
}

/** A container SAS token with the given permissions (e.g. "racwl" = no delete). */
function sas(container: string, permissions: string, expiresInMs = 3_600_000): string {
  return generateBlobSASQueryParameters(
    { containerName: container, permissions: ContainerSASPermissions.parse(permissions), expiresOn: new Date(Date.now() + expiresInMs), startsOn: new Date(Date.now() - 60_000), protocol: SASProtocol.HttpsAndHttp },
    new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
  ).toString();
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function* stream(data: Buffer, chunk: number, hook?: (sent: number) => Promise<void> | void): AsyncGenerator<Buffer> {
  for (let off = 0; off < data.length; off += chunk) {
    await hook?.(off);
    yield data.subarray(off, Math.min(data.length, off + chunk));
  }
}

async function failure(p: Promise<unknown>): Promise<{ code?: string; message: string; retryable?: boolean }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('expected a failure');
}

runBackendContract('AzureBackend on Azurite, account key, no prefix', async () => {
  const container = `contract-${++seq}`;
  await az.createContainer(container);
  return { backend: new AzureBackend(options({ container })) };
});

runBackendContract('createAzureBackend on Azurite, connection string, with a prefix', async () => {
  const backend = createAzureBackend(options({ container: 'shared', prefix: `/tenant/run-${++seq}/`, credentials: { connectionString: az.connectionString } }), { sleep: async () => {} });
  return { backend };
});

runBackendContract('AzureBackend on Azurite, SAS token, with a prefix', async () => {
  return { backend: new AzureBackend(options({ container: 'shared', prefix: `sas/run-${++seq}`, credentials: { sasToken: sas('shared', 'racwdl') } })) };
});

describe('AzureBackend specifics (Azurite)', () => {
  it('keeps keys under the prefix and a secret-free location', async () => {
    const b = new AzureBackend(options({ prefix: 'backups/sales' }));
    await b.put('db1/packs/x.pack', Buffer.from('hello'));
    const props = await az.service().getContainerClient('work').getBlobClient('backups/sales/db1/packs/x.pack').getProperties();
    expect(props.contentLength).toBe(5);
    expect((await b.list('db1/')).map((o) => o.key)).toEqual(['db1/packs/x.pack']);
    expect(b.location).toBe(`Azure container work/backups/sales/ in account devstoreaccount1 at 127.0.0.1:${az.port}`);
    expect(b.location).not.toContain(AZURITE_KEY);
  });

  it('stages a streamed body as blocks, commits them in order and round-trips byte-exact, with progress', async () => {
    const data = randomBytes(700 * KIB + 123);
    let reported = 0;
    const b = new AzureBackend(options({ blockSize: 64 * KIB, blockConcurrency: 3, onUploadProgress: (n) => (reported += n) }));
    await b.put('big/blocks.bin', stream(data, 10_001));
    const blocks = await az.service().getContainerClient('work').getBlockBlobClient('big/blocks.bin').getBlockList('committed');
    expect(blocks.committedBlocks?.length).toBe(Math.ceil(data.length / (64 * KIB)));
    expect(sha(await b.get('big/blocks.bin'))).toBe(sha(data));
    expect(reported).toBe(data.length);
    expect(await b.get('big/blocks.bin', { offset: 64 * KIB - 5, length: 10 })).toEqual(data.subarray(64 * KIB - 5, 64 * KIB + 5));
  });

  it('a body stream failing mid-upload leaves no blob (staged blocks stay invisible)', async () => {
    const b = new AzureBackend(options({ blockSize: 64 * KIB }));
    const data = randomBytes(400 * KIB);
    const e = await failure(
      b.put(
        'torn/x.pack',
        stream(data, 50 * KIB, (sent) => {
          if (sent >= 300 * KIB) throw new Error('producer failed');
        }),
      ),
    );
    expect(e.code).toBe('STORAGE');
    expect(await b.stat('torn/x.pack')).toBeNull();
    expect(await b.list('torn/')).toEqual([]);
  });

  it('an aborted put rejects with the abort reason and leaves nothing; an existing blob stays whole', async () => {
    const b = new AzureBackend(options({ blockSize: 64 * KIB }));
    await b.put('abort/x', Buffer.from('old'));
    const ctl = new AbortController();
    const reason = new Error('stop now');
    const e = await failure(
      b.put(
        'abort/x',
        stream(randomBytes(400 * KIB), 64 * KIB, (sent) => {
          if (sent >= 200 * KIB) ctl.abort(reason);
        }),
        { signal: ctl.signal },
      ),
    );
    expect(e).toBe(reason);
    expect((await b.get('abort/x')).toString()).toBe('old');
  });

  it('sets the access tier on packs only', async () => {
    const b = new AzureBackend(options({ prefix: 'tiered', accessTier: 'Cool' }));
    await b.put('packs/aa/p.pack', Buffer.from('pack'));
    await b.put('index/i', Buffer.from('index'));
    const c = az.service().getContainerClient('work');
    expect((await c.getBlobClient('tiered/packs/aa/p.pack').getProperties()).accessTier).toBe('Cool');
    expect((await c.getBlobClient('tiered/index/i').getProperties()).accessTier).not.toBe('Cool');
  });

  it('lists and lists folders across pages', async () => {
    const b = new AzureBackend(options({ prefix: `many-${++seq}`, listPageSize: 4 }));
    const keys = Array.from({ length: 11 }, (_, i) => `k${i % 6}/${String(i).padStart(5, '0')}`);
    await Promise.all(keys.map((k) => b.put(k, Buffer.from('x'))));
    expect((await b.list('k')).map((o) => o.key).sort()).toEqual([...keys].sort());
    expect(await b.listFolders()).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5']);
  });

  it('maps a wrong account key to PERMISSION_DENIED without leaking the key', async () => {
    const wrong = randomBytes(64).toString('base64');
    const b = new AzureBackend(options({ credentials: { accountKey: wrong } }));
    const e = await failure(b.put('x', Buffer.from('x')));
    expect(e.code).toBe('PERMISSION_DENIED');
    expect(e.message).toMatch(/rejected the credentials .*re-enter the account key, SAS token or connection string/);
    expect(e.message).not.toContain(wrong);
  });

  it('maps a missing container to NOT_FOUND naming it, also for stat', async () => {
    const b = new AzureBackend(options({ container: 'nosuch' }));
    const put = await failure(b.put('x', Buffer.from('x')));
    expect(put.code).toBe('NOT_FOUND');
    expect(put.message).toMatch(/the container "nosuch" does not exist at http:\/\/127\.0\.0\.1:\d+\. Create it/);
    expect((await failure(b.stat('x'))).code).toBe('NOT_FOUND');
    expect((await failure(b.list(''))).message).toMatch(/container "nosuch"/);
  });

  it('maps a SAS token lacking delete to PERMISSION_DENIED naming the permissions, without the token', async () => {
    const token = sas('work', 'racwl');
    const b = new AzureBackend(options({ credentials: { sasToken: token } }));
    await b.put('sas/x', Buffer.from('x'));
    const e = await failure(b.delete('sas/x'));
    expect(e.code).toBe('PERMISSION_DENIED');
    expect(e.message).toMatch(/may delete blobs in container "work" \(a SAS token needs read, add, create, write, delete and list\)/);
    const sig = new URLSearchParams(token).get('sig')!;
    expect(e.message).not.toContain(sig);
  });

  it('an expired SAS token (stat, put, list, get): PERMISSION_DENIED saying to generate a new one, without the token', async () => {
    const good = new AzureBackend(options({ container: 'work' }));
    await good.put('expired/x', Buffer.from('x'));
    await good.close();
    const token = sas('work', 'racwdl', -60_000);
    const b = new AzureBackend(options({ credentials: { sasToken: token } }));
    const sig = new URLSearchParams(token).get('sig')!;
    const expiry = new URLSearchParams(token).get('se')!;
    for (const call of [() => b.stat('expired/x'), () => b.put('expired/y', Buffer.from('y')), () => b.list('expired/'), () => b.get('expired/x')]) {
      const e = await failure(call());
      expect(e.code).toBe('PERMISSION_DENIED');
      expect(e.message).toMatch(/in Azure container work\/ in account devstoreaccount1 at 127\.0\.0\.1:\d+ failed/);
      expect(e.message).toContain(`the SAS token expired at ${expiry}`);
      expect(e.message).toMatch(/Generate a new SAS token and enter it for this destination/);
      expect(e.message).not.toContain(sig);
    }
    await b.close();
    // Still not written: the refused put left no blob.
    const check = new AzureBackend(options({ container: 'work' }));
    expect(await check.stat('expired/y')).toBeNull();
    await check.close();
  });

  it('maps a server that is down to retryable STORAGE naming the endpoint', async () => {
    const b = new AzureBackend(options({ endpoint: 'http://127.0.0.1:9/devstoreaccount1' }));
    const e = await failure(b.get('x'));
    expect(e.code).toBe('STORAGE');
    expect(e.retryable).toBe(true);
    expect(e.message).toMatch(/could not talk to http:\/\/127\.0\.0\.1:9 .*Check the network and the endpoint/);
  });

  it('maps a host name that does not resolve to retryable STORAGE naming that host', async () => {
    const b = new AzureBackend(options({ endpoint: 'http://no-such-account.invalid:10000/devstoreaccount1' }));
    const e = await failure(b.get('x'));
    expect(e.code).toBe('STORAGE');
    expect(e.retryable).toBe(true);
    expect(e.message).toContain('failed: the host name no-such-account.invalid did not resolve (ENOTFOUND). Check the account name and the endpoint.');
  });
});

describe('probeAzure (Azurite)', () => {
  it('passes every step with good settings', async () => {
    const r = await probeAzure(options({ prefix: 'probe' }));
    expect(r).toEqual({ ok: true, steps: ['put', 'get', 'list', 'delete'].map((step) => ({ step, ok: true })) });
  });

  it('names a bad key, a missing container, a SAS without delete and an unreachable endpoint', async () => {
    const badKey = await probeAzure(options({ credentials: { accountKey: randomBytes(64).toString('base64') } }));
    expect(badKey.ok).toBe(false);
    expect(badKey.steps[0]).toMatchObject({ step: 'put', ok: false, code: 'PERMISSION_DENIED' });
    expect(badKey.hint).toMatch(/account name and key/);
    const noContainer = await probeAzure(options({ container: 'missing-one' }));
    expect(noContainer.hint).toMatch(/Container "missing-one" does not exist/);
    const noDelete = await probeAzure(options({ credentials: { sasToken: sas('work', 'racwl') } }));
    expect(noDelete.steps.map((s) => [s.step, s.ok])).toEqual([
      ['put', true],
      ['get', true],
      ['list', true],
      ['delete', false],
    ]);
    expect(noDelete.hint).toMatch(/SAS token lacks the delete \(d\) permission/);
    const down = await probeAzure(options({ endpoint: 'http://127.0.0.1:9/devstoreaccount1' }));
    expect(down.hint).toMatch(/Could not reach http:\/\/127\.0\.0\.1:9/);
  });
});
