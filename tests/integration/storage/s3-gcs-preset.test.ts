/**
 * The GCS preset of the S3 destination against s3rver behind a proxy that refuses what
 * Google Cloud Storage's XML API refuses (multi-object delete, flexible checksum headers):
 * the backend contract passes with the preset's settings, deletes (retention, GC) go one
 * object per request, and a task file's `"preset": "gcs"` fills in the settings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteObjectsCommand, S3Client } from '@aws-sdk/client-s3';
import { S3Backend } from '../../../electron/engine/storage/s3-backend.ts';
import { AlreadyThereError } from '../../../electron/engine/storage/index.ts';
import { initRepository, openRepository } from '../../../electron/engine/repository/index.ts';
import { GCS_S3_SETTINGS } from '../../../electron/shared/gcs.ts';
import { loadTaskFile } from '../../../electron/cli/commands/backup.ts';
import { runBackendContract } from '../../unit/storage/backend-contract.ts';
import { s3rverBackendOptions, startS3rver, S3RVER_CREDENTIALS, type S3rverHandle } from '../../fixtures/s3rver.ts';
import { startGcsProxy, type GcsProxy } from '../../fixtures/gcs-xml-proxy.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

let s3: S3rverHandle;
let gcs: GcsProxy;
let seq = 0;

beforeAll(async () => {
  s3 = await startS3rver(['gcs']);
  gcs = await startGcsProxy({ host: '127.0.0.1', port: s3.port });
});
afterAll(async () => {
  await gcs?.close();
  await s3?.stop();
});

const gcsBackend = (prefix: string) => new S3Backend(s3rverBackendOptions(s3, { ...GCS_S3_SETTINGS, endpoint: gcs.endpoint, bucket: 'gcs', prefix }));

runBackendContract('S3Backend with the GCS preset behind a GCS-like proxy', async () => {
  const backend = gcsBackend(`contract-${++seq}`);
  return { backend, cleanup: () => backend.close() };
});

describe('GCS preset', () => {
  it('the proxy refuses multi-object delete as GCS does (so the check below can fail)', async () => {
    const client = new S3Client({ region: 'auto', endpoint: gcs.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS, requestChecksumCalculation: 'WHEN_REQUIRED' });
    const before = gcs.seen.multiDeletes;
    await expect(client.send(new DeleteObjectsCommand({ Bucket: 'gcs', Delete: { Objects: [{ Key: 'a' }] } }))).rejects.toMatchObject({ name: 'NotImplemented' });
    expect(gcs.seen.multiDeletes).toBe(before + 1);
    client.destroy();
  });

  it('deletes what retention and GC remove one object per request, never by multi-object delete', async () => {
    const b = gcsBackend(`retention-${++seq}`);
    const keys = Array.from({ length: 12 }, (_, i) => `packs/0${i % 3}/p${i}.pack`);
    await Promise.all(keys.map((k) => b.put(k, Buffer.from(k))));
    const deletesBefore = gcs.seen.deletes;
    const multiBefore = gcs.seen.multiDeletes;
    for (const k of keys.slice(0, 9)) await b.delete(k);
    expect(gcs.seen.deletes - deletesBefore).toBe(9);
    expect(gcs.seen.multiDeletes).toBe(multiBefore);
    expect((await b.list('packs/')).map((o) => o.key).sort()).toEqual(keys.slice(9).sort());
    expect(gcs.seen.checksumRequests).toBe(0);
    await b.close();
  });

  it('a task file with "preset": "gcs" gets the endpoint, region "auto", path style and WHEN_REQUIRED checksums', () => {
    const dir = tempDir();
    process.env.BACKSTOP_TEST_GCS_ID = 'GOOG1EXAMPLE';
    process.env.BACKSTOP_TEST_GCS_SECRET = 'hmac-secret';
    const file = join(dir, 'task.json');
    writeFileSync(
      file,
      JSON.stringify({
        name: 'gcs',
        server: { kind: 'sqlite', folder: dir },
        type: 'logical',
        schedule: { full: '0 3 * * *' },
        destinations: [{ kind: 's3', preset: 'gcs', bucket: 'my-bucket', prefix: 'db', accessKeyIdEnv: 'BACKSTOP_TEST_GCS_ID', secretAccessKeyEnv: 'BACKSTOP_TEST_GCS_SECRET' }],
      }),
    );
    const { task, credentials } = loadTaskFile(file, undefined);
    delete process.env.BACKSTOP_TEST_GCS_ID;
    delete process.env.BACKSTOP_TEST_GCS_SECRET;
    expect(task.destinations[0]).toMatchObject({ kind: 's3', bucket: 'my-bucket', endpoint: 'https://storage.googleapis.com', region: 'auto', forcePathStyle: true, checksumMode: 'WHEN_REQUIRED' });
    expect(credentials[0]).toEqual({ accessKeyId: 'GOOG1EXAMPLE', secretAccessKey: 'hmac-secret' });
  });

  it('a server that does not implement If-None-Match: the header put goes again without it, and an existing header is still found by the check first', async () => {
    const plain = await startGcsProxy({ host: '127.0.0.1', port: s3.port }, { refuseConditionalPut: true });
    try {
      const backend = new S3Backend(s3rverBackendOptions(s3, { ...GCS_S3_SETTINGS, endpoint: plain.endpoint, bucket: 'gcs', prefix: `no-conditional-${++seq}` }));
      const first = await initRepository(backend, { workers: 0 });
      expect(plain.seen.conditionalPuts).toBe(1);
      // A second create-only put of the header is refused by the check, before any PUT.
      await expect(backend.put('backstop.repo', Buffer.from('another header'), { ifAbsent: true })).rejects.toBeInstanceOf(AlreadyThereError);
      expect(plain.seen.conditionalPuts).toBe(1);
      expect((await openRepository(backend, { workers: 0 })).info.repositoryId).toBe(first.info.repositoryId);
      await backend.close();
    } finally {
      await plain.close();
    }
  });
});

