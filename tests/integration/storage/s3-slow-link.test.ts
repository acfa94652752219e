/**
 * The S3 backend over a slow or hanging uplink, against the real S3 protocol server (s3rver)
 * behind the HTTP fault proxy (tests/fixtures/reliability/http-fault-proxy.ts), which limits
 * request bodies to a link-wide rate or stops forwarding one mid-body.
 * Scaled down: objects of 256 KiB–1.5 MiB, request timeouts of 1.5 s, stall timeouts of 2–5 s, 512 KiB/s. On loopback the socket
 * buffers swallow a whole body at once (as a real kernel's send buffer holds megabytes), so the
 * body's wire time is spent waiting for the answer with no socket activity.
 * - A link that hangs mid-body fails the attempt within a bound, with a retryable STORAGE error
 *   naming the bucket; a retried put stores the object whole.
 * - A put that takes longer than the timeout but keeps moving completes, without the SDK's
 *   "exceeded the configured requestTimeout" warning on the console.
 * - A put reports its bytes (PutOptions.onProgress) slice by slice as they are sent, and an
 *   attempt the SDK (or RetryBackend) retries after a hang adds nothing already counted.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { S3Backend, createS3Backend, type S3BackendOptions } from '../../../electron/engine/storage/s3-backend.ts';
import { s3rverBackendOptions, startS3rver, type S3rverHandle } from '../../fixtures/s3rver.ts';
import { startFaultProxy, type FaultProxy } from '../../fixtures/reliability/http-fault-proxy.ts';
import { rejection } from '../../fixtures/servers/common.ts';

const KIB = 1024;
let s3: S3rverHandle;
let slow: FaultProxy;
let hang: FaultProxy;

beforeAll(async () => {
  s3 = await startS3rver(['work']);
  slow = await startFaultProxy({ host: '127.0.0.1', port: s3.port }, { rate: 0, seed: 1, bytesPerSecond: 512 * KIB });
  // One stall, then everything is forwarded (a test arms it with setRate(1)).
  hang = await startFaultProxy({ host: '127.0.0.1', port: s3.port }, { rate: 0, seed: 1, kinds: ['stall'], onFault: () => hang.setRate(0) });
}, 60_000);
afterAll(async () => {
  await slow?.close();
  await hang?.close();
  await s3?.stop();
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const direct = () => new S3Backend(s3rverBackendOptions(s3));
const via = (p: FaultProxy, over: Partial<S3BackendOptions> = {}) => s3rverBackendOptions({ endpoint: p.endpoint }, { maxAttempts: 1, requestTimeoutMs: 1_500, ...over });

describe('S3 over a slow or hanging uplink', () => {
  it('a link that hangs mid-body fails the attempt within the bound: retryable STORAGE naming the bucket', async () => {
    const b = new S3Backend(via(hang, { stallTimeoutMs: 2_000 }));
    hang.setRate(1);
    const started = Date.now();
    const e = await rejection(b.put('hang/x', randomBytes(256 * KIB)));
    expect(hang.stats.stall).toBe(1);
    expect(e.code).toBe('STORAGE');
    expect(e.retryable).toBe(true);
    expect(e.message).toMatch(/hang\/x/);
    expect(e.message).toMatch(/bucket "?work/);
    expect(e.message).toMatch(/the connection to http:\/\/127\.0\.0\.1:\d+ stalled, no bytes moved for 2 s \(TimeoutError\); it will be retried/);
    // A hang bound (the stall timeout works), not a speed claim: 3× the 2 s + 10 s of slack for a loaded machine.
    expect(Date.now() - started).toBeLessThan(3 * 2_000 + 10_000);
    // No "no object" check here: s3rver streams a PutObject body straight into the object's file,
    // so the cut-off request, still open upstream, shows as a 16 KiB object (S3 stores nothing).
    // The retried put below checks what matters: the object ends up whole.
  }, 40_000);

  it('a retried put after a hang stores the object whole', async () => {
    const b = createS3Backend(via(hang, { stallTimeoutMs: 2_000 }), { baseDelayMs: 10 });
    const data = randomBytes(256 * KIB + 123);
    const before = hang.stats.stall;
    hang.setRate(1);
    const deltas: number[] = [];
    await b.put('hang/y', data, { onProgress: (n) => deltas.push(n) });
    expect(hang.stats.stall).toBe(before + 1);
    // The retried put sends the body again, but its progress counts each 64 KiB slice once.
    expect(deltas).toEqual([...Array<number>(4).fill(64 * KIB), 123]);
    expect(sha(await direct().get('hang/y'))).toBe(sha(data));
  }, 40_000);

  it("a put reports its bytes 64 KiB at a time as they are sent; an attempt the SDK retries is not counted twice", async () => {
    // The first attempt hangs mid-body (the socket took some or all of it first); the SDK's second sends it all again.
    const b = new S3Backend(via(hang, { maxAttempts: 2, stallTimeoutMs: 2_000 }));
    const data = randomBytes(512 * KIB + 5);
    const deltas: number[] = [];
    const before = hang.stats.stall;
    hang.setRate(1);
    await b.put('hang/progress', data, { onProgress: (n) => deltas.push(n) });
    expect(hang.stats.stall).toBe(before + 1);
    // Slice by slice, each once: the retry's bytes count only past what the first attempt reached.
    expect(deltas).toEqual([...Array<number>(8).fill(64 * KIB), 5]);
    expect(sha(await direct().get('hang/progress'))).toBe(sha(data));
  }, 40_000);

  it('a put longer than the timeout that keeps moving completes, with no timeout warning', async () => {
    const warn = vi.spyOn(console, 'warn');
    try {
      // 1.5 MiB at 512 KiB/s: ~3 s, twice the request timeout; the body sits in the socket buffers, silent for ~3 s.
      const b = new S3Backend(via(slow, { stallTimeoutMs: 5_000 }));
      const data = randomBytes(1536 * KIB);
      const started = Date.now();
      await b.put('slow/x', data);
      expect(Date.now() - started).toBeGreaterThan(2_000);
      expect(sha(await direct().get('slow/x'))).toBe(sha(data));
      expect(warn.mock.calls.map((c) => String(c[0])).filter((m) => /requestTimeout/.test(m))).toEqual([]);
    } finally {
      warn.mockRestore();
    }
  }, 40_000);
});
