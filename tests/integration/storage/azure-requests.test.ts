/**
 * Requests to Azure per GB (#23: ≤ 64 objects per GB stored and ≤ 64 reads per GB restored):
 * a 96 MiB point written to Azurite through the Azure backend and read back, the backend's
 * calls counted by a decorator (pack reads per GB; the per-point reads of header and manifest
 * are a few whatever the size).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { BackendDecorator, type Backend, type ByteRange, type PutBody, type PutOptions } from '../../../electron/engine/storage/index.ts';
import { AzureBackend } from '../../../electron/engine/storage/azure-backend.ts';
import { initRepository, openRepository } from '../../../electron/engine/repository/index.ts';
import { generateKey } from '../../../electron/engine/crypto/index.ts';
import { FAST, collect, pointOpts, sha256 } from '../../unit/repository/helpers.ts';
import { azuriteBackendOptions, startAzurite, type AzuriteHandle } from '../../fixtures/azurite.ts';

class Counting extends BackendDecorator {
  puts = 0;
  gets = 0;
  packGets = 0;
  constructor(inner: Backend) {
    super(inner);
  }
  override put(key: string, body: PutBody, options?: PutOptions): Promise<void> {
    this.puts++;
    return super.put(key, body, options);
  }
  override get(key: string, range?: ByteRange): Promise<Buffer> {
    this.gets++;
    if (key.startsWith('packs/')) this.packGets++;
    return super.get(key, range);
  }
}

let az: AzuriteHandle;
beforeAll(async () => {
  az = await startAzurite(['work']);
}, 60_000);
afterAll(async () => {
  await az?.stop();
});

describe('Azure requests per GB', () => {
  it('stores and restores a 96 MiB point with ≤ 64 objects and ≤ 64 reads per GB', async () => {
    const MIB = 1024 * 1024;
    const size = 96 * MIB;
    const data = randomBytes(size);
    const key = generateKey();
    const backend = new Counting(new AzureBackend(azuriteBackendOptions(az, { prefix: 'requests' })));
    const repo = await initRepository(backend, { key, ...FAST });
    async function* body() {
      for (let off = 0; off < size; off += MIB) yield data.subarray(off, off + MIB);
    }
    const point = await repo.writePoint(body(), pointOpts());
    const objects = (await backend.list('')).length;
    const gb = size / 1024 ** 3;
    expect(objects / gb).toBeLessThanOrEqual(64);
    const reopened = await openRepository(backend, { key, ...FAST });
    backend.gets = 0;
    backend.packGets = 0;
    expect(sha256(await collect(await reopened.readPoint(point.id)))).toBe(sha256(data));
    // Pack reads grow with the data; the few other reads (header, manifest) are per point.
    expect(backend.packGets / gb).toBeLessThanOrEqual(64);
    expect(backend.gets - backend.packGets).toBeLessThanOrEqual(4);
    // Reported for the record (docs/destinations/azure.md): objects and GETs per GB.
    console.info(`azure: ${objects} objects (${(objects / gb).toFixed(1)}/GB), ${backend.gets} reads to restore, ${backend.packGets} of packs (${(backend.packGets / gb).toFixed(1)}/GB)`);
  }, 180_000);
});
