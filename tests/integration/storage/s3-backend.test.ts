/**
 * The S3 backend against a real S3 protocol server (s3rver in a child process): the
 * shared backend contract with and without a prefix, multipart round trips, atomicity
 * of failed and aborted multipart uploads, pagination, error mapping and the probe.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AbortMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { sweepLeftovers } from '../../../electron/engine/storage/backend.ts';
import { S3Backend, createS3Backend, type S3BackendOptions } from '../../../electron/engine/storage/s3-backend.ts';
import { probeS3 } from '../../../electron/engine/storage/s3-probe.ts';
import { runBackendContract } from '../../unit/storage/backend-contract.ts';
import { S3RVER_NO_DELETE_CREDENTIALS, s3rverBackendOptions, startS3rver, type S3rverHandle } from '../../fixtures/s3rver.ts';
import { until } from '../../fixtures/until.ts';

const MIB = 1024 * 1024;
let s3: S3rverHandle;
let seq = 0;

beforeAll(async () => {
  s3 = await startS3rver(['shared', 'work']);
});
afterAll(async () => {
  await s3?.stop();
});

function options(over: Partial<S3BackendOptions> = {}): S3BackendOptions {
  return s3rverBackendOptions(s3, over);
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Yields `data` in odd-sized chunks; calls `hook(bytesSoFar)` before each chunk (may throw or wait). */
async function* stream(data: Buffer, chunk: number, hook?: (sent: number) => Promise<void> | void): AsyncGenerator<Buffer> {
  for (let off = 0; off < data.length; off += chunk) {
    await hook?.(off);
    yield data.subarray(off, Math.min(data.length, off + chunk));
  }
}

async function openUploads(bucket: string): Promise<string[]> {
  const res = await s3.client().send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (res.Uploads ?? []).map((u) => u.Key ?? '');
}

async function failure(p: Promise<unknown>): Promise<{ code?: string; message: string; retryable?: boolean; name?: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('expected a failure');
}

// A fresh empty bucket per test, keys at the bucket root.
runBackendContract('S3Backend on s3rver, no prefix', async () => {
  const bucket = `contract-${++seq}`;
  await s3.createBucket(bucket);
  const backend = new S3Backend(options({ bucket }));
  return { backend, cleanup: () => backend.close() };
});

// A fresh prefix per test in a shared bucket, through createS3Backend (retrying wrapper).
runBackendContract('createS3Backend on s3rver, with a prefix', async () => {
  const backend = createS3Backend(options({ bucket: 'shared', prefix: `/tenant/run-${++seq}/` }), { sleep: async () => {} });
  return { backend, cleanup: () => backend.close() };
});

describe('S3Backend specifics (s3rver)', () => {
  it('keeps keys under the prefix and a secret-free location', async () => {
    const b = new S3Backend(options({ prefix: 'backups/sales', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } }));
    await b.put('db1/packs/x.pack', Buffer.from('hello'));
    const raw = await s3.client().send(new HeadObjectCommand({ Bucket: 'work', Key: 'backups/sales/db1/packs/x.pack' }));
    expect(raw.ContentLength).toBe(5);
    expect((await b.list('db1/')).map((o) => o.key)).toEqual(['db1/packs/x.pack']);
    expect(b.location).toBe(`S3 bucket work/backups/sales/ at ${s3.endpoint}`);
    const withSecret = new S3Backend(options({ credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'very-secret-value' } }));
    expect(withSecret.location).not.toContain('very-secret-value');
    await b.close();
    await withSecret.close();
  });

  it('multipart upload of a streamed 17 MiB body round-trips byte-exact (no aws-chunked framing), with progress', async () => {
    const data = randomBytes(17 * MIB + 12345);
    const progress: number[] = [];
    const own: number[] = [];
    const b = new S3Backend(options({ prefix: 'mp', onUploadProgress: (n) => progress.push(n) }));
    await b.put('big.pack', stream(data, MIB + 7), { onProgress: (n) => own.push(n) });
    const head = await s3.client().send(new HeadObjectCommand({ Bucket: 'work', Key: 'mp/big.pack' }));
    expect(head.ContentLength).toBe(data.length);
    // One progress delta per part: two full 8 MiB parts and the tail, so it really went multipart.
    expect(progress.sort((x, y) => x - y)).toEqual([MIB + 12345, 8 * MIB, 8 * MIB]);
    // The put's own listener (PutOptions.onProgress: what the repository writer counts) gets the bytes
    // as they are sent, 64 KiB slices of each part (the tail's last slice shorter), summing to the body.
    expect(own.reduce((a, n) => a + n, 0)).toBe(data.length);
    expect(own.filter((n) => n === 64 * 1024)).toHaveLength(Math.floor(data.length / (64 * 1024)));
    expect(own.filter((n) => n !== 64 * 1024)).toEqual([(MIB + 12345) % (64 * 1024)]);
    // Read the stored bytes with a plain client too, so a backend bug on both sides cannot cancel out.
    const raw = await s3.client().send(new GetObjectCommand({ Bucket: 'work', Key: 'mp/big.pack' }));
    expect(sha(await raw.Body!.transformToByteArray())).toBe(sha(data));
    expect(sha(await b.get('big.pack'))).toBe(sha(data));
    const across = await b.get('big.pack', { offset: 8 * MIB - 10, length: 20 });
    expect(across.equals(data.subarray(8 * MIB - 10, 8 * MIB + 10))).toBe(true);
    expect(await openUploads('work')).toEqual([]);
    await b.close();
  });

  it('multipart with checksum mode WHEN_SUPPORTED and 5 MiB parts round-trips too', async () => {
    const data = randomBytes(11 * MIB);
    const progress: number[] = [];
    const b = new S3Backend(options({ prefix: 'mp2', checksumMode: 'WHEN_SUPPORTED', partSize: 5 * MIB, partConcurrency: 2, onUploadProgress: (n) => progress.push(n) }));
    await b.put('x', [data.subarray(0, 3 * MIB), data.subarray(3 * MIB)]);
    expect(sha(await b.get('x'))).toBe(sha(data));
    expect(progress.length).toBe(3);
    await b.close();
  });

  it('a body stream failing mid-multipart leaves no object and no open multipart upload', async () => {
    const data = randomBytes(20 * MIB);
    const b = new S3Backend(options({ prefix: 'fail', partSize: 5 * MIB, partConcurrency: 2 }));
    let openWhileRunning: string[] = [];
    const body = stream(data, MIB, async (sent) => {
      if (sent === 12 * MIB) {
        // The upload open mid-way: waited for, not given a fixed 300 ms (a loaded machine may take longer to open it).
        openWhileRunning = await until('the multipart upload open', async () => {
          const open = await openUploads('work');
          return open.length > 0 && open;
        });
        throw new Error('dump process died');
      }
    });
    const err = await failure(b.put('obj.pack', body));
    expect(err.code).toBe('STORAGE');
    expect(err.message).toMatch(/dump process died/);
    expect(openWhileRunning).toEqual(['fail/obj.pack']); // the upload existed mid-way…
    expect(await openUploads('work')).toEqual([]); // …and was aborted before put rejected
    expect(await b.stat('obj.pack')).toBeNull();
    expect(await b.list('')).toEqual([]);
    await b.close();
  });

  it('a multipart upload whose abort never reached the server (process killed, link lost) is aborted by the sweep once stale: its parts stop costing storage; a live one and one outside the folder stay', async () => {
    const client = s3.client();
    const begin = async (key: string, bytes: number) => {
      const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'work', Key: key }));
      await client.send(new UploadPartCommand({ Bucket: 'work', Key: key, UploadId, PartNumber: 1, Body: randomBytes(bytes), ContentLength: bytes }));
      return UploadId!;
    };
    await begin('sweep/db/packs/cut.pack', 1000);
    const other = await begin('elsewhere/other-app.bin', 10);
    const b = new S3Backend(options({ prefix: 'sweep/db' }));
    expect(await sweepLeftovers(b, 60 * 60_000)).toEqual({ removed: 0, bytes: 0 }); // just written: may be a live put
    expect((await openUploads('work')).sort()).toEqual(['elsewhere/other-app.bin', 'sweep/db/packs/cut.pack']);
    expect(await sweepLeftovers(b, 60 * 60_000, Date.now() + 2 * 60 * 60_000)).toEqual({ removed: 1, bytes: 1000 });
    expect(await openUploads('work')).toEqual(['elsewhere/other-app.bin']);
    expect(await b.list('')).toEqual([]);
    await b.close();
    await client.send(new AbortMultipartUploadCommand({ Bucket: 'work', Key: 'elsewhere/other-app.bin', UploadId: other }));
  });

  it('an aborted multipart put rejects with the abort reason and leaves nothing', async () => {
    const data = randomBytes(16 * MIB);
    const ac = new AbortController();
    const b = new S3Backend(options({ prefix: 'abort', partSize: 5 * MIB }));
    const body = stream(data, MIB, (sent) => {
      if (sent === 11 * MIB) ac.abort();
    });
    const err = await failure(b.put('obj', body, { signal: ac.signal }));
    expect(err.name).toBe('AbortError');
    expect(await openUploads('work')).toEqual([]);
    expect(await b.stat('obj')).toBeNull();
    await b.close();
  });

  it('lists more than 1000 keys across pages', async () => {
    const b = new S3Backend(options({ prefix: 'many' }));
    const keys = Array.from({ length: 1234 }, (_, i) => `idx/${String(i).padStart(5, '0')}`);
    for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => b.put(k, Buffer.from(k))));
    await b.put('other/x', Buffer.from('x'));
    const listed = (await b.list('idx/')).map((o) => o.key).sort();
    expect(listed).toEqual(keys);
    expect((await b.list('')).length).toBe(1235);
    await b.close();
  });

  it('maps a wrong secret and an unknown key id to PERMISSION_DENIED without leaking the secret', async () => {
    const secret = 'wrongSecret/Value+123';
    const b = new S3Backend(options({ credentials: { accessKeyId: 'S3RVER', secretAccessKey: secret } }));
    // stat too: a HEAD's 403 has no body, so the backend asks the reason with a GET (a run's first request is a stat).
    for (const call of [() => b.put('k', Buffer.from('v')), () => b.get('k'), () => b.list(''), () => b.delete('k'), () => b.stat('k')]) {
      const e = await failure(call());
      expect(e.code).toBe('PERMISSION_DENIED');
      expect(e.message).toMatch(/secret access key is probably wrong/);
      expect(e.message).not.toContain(secret);
      expect(JSON.stringify(e)).not.toContain(secret);
    }
    const unknown = new S3Backend(options({ credentials: { accessKeyId: 'NOBODY', secretAccessKey: secret } }));
    for (const call of [() => unknown.list(''), () => unknown.stat('k')]) {
      const e = await failure(call());
      expect(e.code).toBe('PERMISSION_DENIED');
      expect(e.message).toMatch(/access key ID/);
    }
    await b.close();
    await unknown.close();
  });

  it('maps a missing bucket to NOT_FOUND naming the bucket', async () => {
    const b = new S3Backend(options({ bucket: 'no-such-bucket-here' }));
    for (const call of [() => b.put('k', Buffer.from('v')), () => b.get('k'), () => b.list('')]) {
      const e = await failure(call());
      expect(e.code).toBe('NOT_FOUND');
      expect(e.message).toMatch(/bucket "no-such-bucket-here" does not exist/);
    }
    await b.close();
  });

  it('maps a server that is down to retryable STORAGE, and createS3Backend retries it', async () => {
    const gone = await startS3rver([]);
    await gone.stop();
    const retries: string[] = [];
    const b = createS3Backend(options({ endpoint: gone.endpoint, maxAttempts: 1 }), { attempts: 3, sleep: async () => {}, onRetry: (i) => retries.push(i.op) });
    const e = await failure(b.get('k'));
    expect(e.code).toBe('STORAGE');
    expect(e.retryable).toBe(true);
    expect(e.message).toMatch(/could not talk to .*ECONNREFUSED/);
    expect(retries).toEqual(['get', 'get']);
    expect((await failure(b.put('k', Buffer.from('v')))).code).toBe('STORAGE');
    (b.inner as S3Backend).close();
  });
});

describe('probeS3 (Test connection) against s3rver', () => {
  it('reports every step ok for a good configuration and removes its probe object', async () => {
    const r = await probeS3(options({ prefix: 'probe-good' }));
    expect(r).toEqual({ ok: true, steps: ['put', 'get', 'list', 'delete'].map((step) => ({ step, ok: true })) });
    const b = new S3Backend(options({ prefix: 'probe-good' }));
    expect(await b.list('')).toEqual([]);
    await b.close();
  });

  it('reports a wrong secret with a credentials hint and no secret in the report', async () => {
    const secret = 'Probe-Wrong-Secret-987';
    const r = await probeS3(options({ credentials: { accessKeyId: 'S3RVER', secretAccessKey: secret } }));
    expect(r.ok).toBe(false);
    expect(r.steps.map((s) => [s.step, s.ok, s.code ?? (s.skipped ? 'skipped' : '')])).toEqual([
      ['put', false, 'PERMISSION_DENIED'],
      ['get', false, 'skipped'],
      ['list', false, 'PERMISSION_DENIED'],
      ['delete', false, 'skipped'],
    ]);
    expect(r.hint).toMatch(/secret access key does not match/);
    expect(JSON.stringify(r)).not.toContain(secret);
  });

  it('reports a missing bucket by name', async () => {
    const r = await probeS3(options({ bucket: 'not-created' }));
    expect(r.ok).toBe(false);
    expect(r.steps[0]).toMatchObject({ step: 'put', ok: false, code: 'NOT_FOUND' });
    expect(r.hint).toMatch(/bucket "not-created" does not exist/);
  });

  it('reports put/get/list allowed but delete denied as a missing s3:DeleteObject permission', async () => {
    const r = await probeS3(options({ prefix: 'probe-nodelete', credentials: { ...S3RVER_NO_DELETE_CREDENTIALS } }));
    expect(r.ok).toBe(false);
    expect(r.steps.map((s) => [s.step, s.ok])).toEqual([
      ['put', true],
      ['get', true],
      ['list', true],
      ['delete', false],
    ]);
    expect(r.steps[3]).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(r.hint).toMatch(/may put, get, list but not delete\. Grant s3:DeleteObject/);
  });

  it('suggests path-style addressing when <bucket>.<endpoint host> does not resolve', async () => {
    // "work.localhost" has no DNS entry here, so virtual-host requests fail like they do on MinIO.
    const r = await probeS3(options({ endpoint: s3.endpoint.replace('127.0.0.1', 'localhost'), forcePathStyle: false, maxAttempts: 1 }));
    expect(r.ok).toBe(false);
    expect(r.steps[0]).toMatchObject({ step: 'put', ok: false, code: 'STORAGE' });
    expect(r.hint).toMatch(/host work\.localhost does not exist.*Turn on path-style addressing/);
    expect((await probeS3(options({ endpoint: s3.endpoint.replace('127.0.0.1', 'localhost'), forcePathStyle: true }))).ok).toBe(true);
  });

  it('reports an unreachable endpoint', async () => {
    const gone = await startS3rver([]);
    await gone.stop();
    const r = await probeS3(options({ endpoint: gone.endpoint, maxAttempts: 1 }));
    expect(r.ok).toBe(false);
    expect(r.steps[0]).toMatchObject({ step: 'put', code: 'STORAGE' });
    expect(r.hint).toMatch(/Could not connect to http:\/\/127\.0\.0\.1:\d+/);
  });
});

/**
 * Error replies s3rver cannot produce (throttling, quota, region, checksum), from a tiny
 * HTTP server that answers every request with one canned S3 error document. The reply
 * still goes through the real SDK: signing, HTTP, XML error parsing, retries.
 */
async function cannedS3Error(status: number, code: string, extra = '', headers: Record<string, string> = {}) {
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'application/xml', ...headers });
      res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>canned ${code}</Message>${extra}</Error>`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    requests: () => requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('error replies from other S3 servers (canned)', () => {
  it('SlowDown (503) is retryable STORAGE and createS3Backend retries it', async () => {
    const srv = await cannedS3Error(503, 'SlowDown');
    try {
      const b = createS3Backend(options({ endpoint: srv.endpoint, maxAttempts: 1 }), { attempts: 3, sleep: async () => {} });
      const e = await failure(b.list(''));
      expect(e).toMatchObject({ code: 'STORAGE', retryable: true });
      expect(e.message).toMatch(/busy or failing \(SlowDown\)/);
      expect(srv.requests()).toBe(3);
      (b.inner as S3Backend).close();
    } finally {
      await srv.close();
    }
  });

  it('a quota error is DISK_FULL and not retried', async () => {
    const srv = await cannedS3Error(403, 'QuotaExceeded');
    try {
      const b = createS3Backend(options({ endpoint: srv.endpoint, maxAttempts: 1 }), { attempts: 3, sleep: async () => {} });
      expect(await failure(b.put('k', Buffer.from('v')))).toMatchObject({ code: 'DISK_FULL', retryable: false });
      expect(srv.requests()).toBe(1);
      (b.inner as S3Backend).close();
    } finally {
      await srv.close();
    }
  });

  it('a wrong region is reported with the bucket\'s real region, by the backend and the probe', async () => {
    const srv = await cannedS3Error(400, 'AuthorizationHeaderMalformed', '<Region>eu-central-1</Region>');
    try {
      const b = new S3Backend(options({ endpoint: srv.endpoint, maxAttempts: 1 }));
      const e = await failure(b.put('k', Buffer.from('v')));
      expect(e).toMatchObject({ code: 'STORAGE', retryable: false });
      expect(e.message).toMatch(/it is in "eu-central-1"\. Set the region to eu-central-1/);
      await b.close();
      const r = await probeS3(options({ endpoint: srv.endpoint }));
      expect(r.ok).toBe(false);
      expect(r.hint).toBe('The bucket is in region "eu-central-1", not "us-east-1". Set the region to eu-central-1.');
    } finally {
      await srv.close();
    }
  });

  it('rejected checksum headers lead the probe to suggest WHEN_REQUIRED', async () => {
    const srv = await cannedS3Error(400, 'InvalidArgument', '<ArgumentName>x-amz-checksum-crc32</ArgumentName>');
    try {
      const r = await probeS3(options({ endpoint: srv.endpoint, checksumMode: 'WHEN_SUPPORTED' }));
      expect(r.steps[0]).toMatchObject({ step: 'put', ok: false, code: 'STORAGE' });
      expect(r.hint).toMatch(/checksum mode to WHEN_REQUIRED/);
    } finally {
      await srv.close();
    }
  });
});
