/**
 * The Azure backend over a slow uplink, against the real Azurite behind the HTTP fault proxy
 * (tests/fixtures/reliability/http-fault-proxy.ts) limiting request bodies to a link-wide rate.
 * Scaled down: blocks of 64 KiB–2 MiB, timeouts of 1.5–2 s, 512 KiB/s. On loopback the socket
 * buffers swallow a whole block at once (as a real kernel's send buffer holds megabytes), so a
 * block's wire time is spent waiting for the answer with no sign of progress.
 * - A link that hangs mid-upload (the proxy stops forwarding a block's body and never answers)
 *   fails the attempt within the timeout with a retryable STORAGE error naming the destination,
 *   leaves no blob, and a retried put (RetryBackend) stores the object whole.
 * - A put whose blocks share a slow link and so take longer together than the timeout, but never
 *   stop moving, completes, reporting progress as blocks land.
 * - Cancelling a slow put returns promptly with the abort reason and leaves no blob.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { AzureBackend, createAzureBackend, type AzureBackendOptions } from '../../../electron/engine/storage/azure-backend.ts';
import { AZURITE_ACCOUNT, azuriteBackendOptions, startAzurite, type AzuriteHandle } from '../../fixtures/azurite.ts';
import { startFaultProxy, type FaultProxy } from '../../fixtures/reliability/http-fault-proxy.ts';
import { rejection } from '../../fixtures/servers/common.ts';

const KIB = 1024;
const LINK = 512 * KIB; // bytes per second on the throttled uplink
let az: AzuriteHandle;
let slow: FaultProxy;
let hang: FaultProxy;
const slowUrls: string[] = [];

beforeAll(async () => {
  az = await startAzurite(['work']);
  slow = await startFaultProxy({ host: '127.0.0.1', port: az.port }, { rate: 0, seed: 1, dialect: 'azure', bytesPerSecond: LINK, onRequest: (_m, url) => slowUrls.push(url) });
  // One stall, then everything is forwarded (the test arms it with setRate(1)).
  hang = await startFaultProxy({ host: '127.0.0.1', port: az.port }, { rate: 0, seed: 1, dialect: 'azure', kinds: ['stall'], onFault: () => hang.setRate(0) });
}, 60_000);
afterAll(async () => {
  await slow?.close();
  await hang?.close();
  await az?.stop();
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const direct = () => new AzureBackend(azuriteBackendOptions(az));
const via = (p: FaultProxy, over: Partial<AzureBackendOptions> = {}) =>
  azuriteBackendOptions({ endpoint: `${p.endpoint}/${AZURITE_ACCOUNT}` }, { blockSize: 64 * KIB, blockConcurrency: 4, maxTries: 1, requestTimeoutMs: 2_000, ...over });

describe('Azure over a slow or hanging uplink', () => {
  it('a link that hangs mid-block fails the attempt within the bound: retryable STORAGE naming the container, no blob', async () => {
    const b = new AzureBackend(via(hang));
    hang.setRate(1);
    const started = Date.now();
    const e = await rejection(b.put('hang/x', randomBytes(256 * KIB)));
    expect(hang.stats.stall).toBe(1);
    expect(e.code).toBe('STORAGE');
    expect(e.retryable).toBe(true);
    expect(e.message).toMatch(/hang\/x/);
    expect(e.message).toMatch(/Azure container work\//);
    // The 64 KiB block is all in the socket buffers (loopback), so the wait is 2 s + 64 KiB at 16 KiB/s.
    expect(e.message).toMatch(/the connection to http:\/\/127\.0\.0\.1:\d+ stalled, no bytes moved for 6 s \(ETIMEDOUT\); it will be retried/);
    // A hang bound (the stall detection works, no minutes-long socket timeout), not a speed claim: 3× the 6 s + 10 s.
    expect(Date.now() - started).toBeLessThan(3 * 6_000 + 10_000);
    expect(await direct().stat('hang/x')).toBeNull();
  }, 60_000);

  it('a retried put after a hang stores the object whole', async () => {
    const b = createAzureBackend(via(hang), { baseDelayMs: 10 });
    const data = randomBytes(256 * KIB + 123);
    const before = hang.stats.stall;
    hang.setRate(1);
    const deltas: number[] = [];
    await b.put('hang/y', data, { onProgress: (n) => deltas.push(n) });
    expect(hang.stats.stall).toBe(before + 1);
    // The retried put sends the body again, but its progress counts each 64 KiB slice once.
    expect(deltas).toEqual([...Array<number>(4).fill(64 * KIB), 123]);
    expect(sha(await direct().get('hang/y'))).toBe(sha(data));
  }, 30_000);

  it('blocks sharing a slow link each take longer than the timeout but keep moving: the put completes, progress moves', async () => {
    const landed: number[] = [];
    const started = Date.now();
    // Two 1 MiB blocks at once over 512 KiB/s: each takes ~4 s on the wire, the timeout is 1.5 s.
    const b = new AzureBackend(via(slow, { blockSize: 1024 * KIB, blockConcurrency: 2, requestTimeoutMs: 1_500, onUploadProgress: () => landed.push(Date.now() - started) }));
    const data = randomBytes(2048 * KIB);
    const sent: number[] = [];
    await b.put('slow/x', data, { onProgress: (n) => sent.push(n) });
    const took = Date.now() - started;
    expect(took).toBeGreaterThan(3_000);
    expect(sha(await direct().get('slow/x'))).toBe(sha(data));
    expect(landed.length).toBe(2);
    // The put's own progress follows the bytes sent within each block, 64 KiB at a time, each once.
    expect(sent).toEqual(Array<number>(32).fill(64 * KIB));
    // No server-side `timeout=` either: Azure would cut a block still arriving after that long.
    expect(slowUrls.filter((u) => /comp=block(&|$)/.test(u)).length).toBe(2);
    expect(slowUrls.filter((u) => /[?&]timeout=/.test(u))).toEqual([]);
  }, 30_000);

  it('a slow single-block put (Put Blob) longer than the timeout completes', async () => {
    const b = new AzureBackend(via(slow, { blockSize: 2048 * KIB, requestTimeoutMs: 1_500 }));
    const data = randomBytes(1536 * KIB);
    const started = Date.now();
    await b.put('slow/one', data);
    expect(Date.now() - started).toBeGreaterThan(2_000);
    expect(sha(await direct().get('slow/one'))).toBe(sha(data));
  }, 30_000);

  it('cancelling a slow put returns promptly with the reason and leaves no blob', async () => {
    const ctl = new AbortController();
    const reason = new Error('cancelled by the user');
    // Cancelled when its first block has landed (an event: a timer may fire late on a loaded machine).
    let landed = 0;
    const b = new AzureBackend(via(slow, { onUploadProgress: () => {
      if (++landed === 1) ctl.abort(reason);
    } }));
    const blocks = () => slowUrls.filter((u) => u.includes('/slow/cancel?') && /comp=block(&|$)/.test(u)).length;
    await expect(b.put('slow/cancel', randomBytes(2048 * KIB), { signal: ctl.signal })).rejects.toBe(reason);
    // Promptly, told by what moved rather than by a clock: the put rejected before its 32 blocks could cross the
    // link (4 s at 512 KiB/s, which no machine's speed shortens), and started none after the cancel (the first
    // block, and the 3 others in flight with it, at most).
    expect(landed).toBeLessThan(32);
    expect(blocks()).toBeLessThanOrEqual(4);
    expect(await direct().stat('slow/cancel')).toBeNull();
  }, 30_000);
});
