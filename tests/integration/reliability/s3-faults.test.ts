/**
 * S3 faults at a steady rate — 500s, throttling (503 SlowDown), connection resets before
 * and during a response, slow bodies — injected by an HTTP proxy in front of s3rver on
 * the real S3 backend path (task file → engine → S3Backend → AWS SDK). Every run finishes
 * or fails cleanly (a known, non-INTERNAL code per database), nothing committed is lost:
 * all earlier points still verify through a fault-free connection, GC never takes a pack a
 * point needs, and the newest point restores with the right rows (fault-runs.ts).
 * Full storage: the proxy refuses every write as MinIO does when its drives are full (507
 * XMinioStorageFull): the run fails with DISK_FULL saying the quota is exhausted and what
 * to do, no object is added, the earlier point verifies and restores, the next run succeeds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Location } from '../../../electron/engine/destinations/index.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { Scratch } from '../../fixtures/reliability/common.ts';
import { faultyRunsLoseNothing, fullStoreFailsCleanly, setEnv } from '../../fixtures/reliability/fault-runs.ts';
import { startFaultProxy, type FaultProxy } from '../../fixtures/reliability/http-fault-proxy.ts';
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from '../../fixtures/s3rver.ts';

const SEED = Number(process.env.BACKSTOP_SOAK_SEED ?? 4242);
const scratch = new Scratch();
let s3: S3rverHandle;
let proxy: FaultProxy;
let full: FaultProxy;
let restoreEnv: (() => void) | undefined;

beforeAll(async () => {
  s3 = await startS3rver(['backstop']);
  proxy = await startFaultProxy({ host: '127.0.0.1', port: s3.port }, { rate: 0, seed: SEED });
  full = await startFaultProxy({ host: '127.0.0.1', port: s3.port }, { rate: 0, seed: SEED, kinds: ['quota'] });
  // Reads for checking go around the proxy (BACKSTOP_S3_ENDPOINT).
  restoreEnv = setEnv({ AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey, BACKSTOP_S3_ENDPOINT: s3.endpoint });
});
afterAll(async () => {
  restoreEnv?.();
  await proxy?.close();
  await full?.close();
  await s3?.stop();
  scratch.cleanup();
});

/** A fault-free backend on database `d`'s folder under `prefix`. */
const backendAt = (prefix: string, d: string) =>
  Location.at(
    { kind: 's3', bucket: 'backstop', prefix: `${prefix}/${encodeDatabaseFolder(d)}`, region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, checksumMode: 'WHEN_REQUIRED', credentialsRef: null },
    S3RVER_CREDENTIALS,
  ).backend();

describe('S3 faults at a steady rate', () => {
  it('runs finish or fail cleanly and nothing committed is lost', async () => {
    const { outcomes } = await faultyRunsLoseNothing({
      scratch,
      label: 's3',
      destination: { kind: 's3', bucket: 'backstop', prefix: 'rel', endpoint: proxy.endpoint, forcePathStyle: true },
      location: (d) => `s3://backstop/rel/${encodeDatabaseFolder(d)}`,
      backend: (d) => backendAt('rel', d),
      faults: { on: () => proxy.setRate(0.25), off: () => proxy.setRate(0) },
    });
    console.log('S3 faults injected:', proxy.stats, 'database outcomes:', outcomes.join(' '));
    expect(proxy.stats.error + proxy.stats.throttle + proxy.stats.reset + proxy.stats.midreset + proxy.stats.slow).toBeGreaterThan(10);
  }, 180_000);

  it('a full store (507 XMinioStorageFull on every write): DISK_FULL with the fix, nothing added, the earlier point intact', async () => {
    await fullStoreFailsCleanly({
      scratch,
      label: 's3-full',
      destination: { kind: 's3', bucket: 'backstop', prefix: 'full', endpoint: full.endpoint, forcePathStyle: true },
      location: (d) => `s3://backstop/full/${encodeDatabaseFolder(d)}`,
      backend: (d) => backendAt('full', d),
      full: { on: () => full.setRate(1), off: () => full.setRate(0) },
      message: ['S3 bucket backstop/full/a.db/', /ran out of space .* The point was not saved/, /the storage quota is exhausted \(XMinioStorageFull\)\. Free space or raise the quota/],
    });
    expect(full.stats.quota).toBeGreaterThan(0);
  }, 120_000);
});
