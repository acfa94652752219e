/**
 * Upload bandwidth limits: a token bucket (GCRA form) whose state lives in a
 * SharedArrayBuffer, so every backup job writing to one destination during a run — each in
 * its own worker thread — draws from the same budget, and a backend wrapper that feeds a
 * put's body through it in small slices, so the rate is smooth rather than bursty.
 *
 * Contract: over any window, the bytes let through are at most rate × window plus one
 * burst (1/50 s of the rate) and one slice (1/50 s, at most 64 KiB) per sender; a sender that falls behind (a slow disk, a busy CPU) may catch
 * up by at most one burst, never more. Reads, lists and deletes are not limited.
 * The same bucket limits the dump side (a task's read limit): `throttledStream` lets a dump
 * tool's output (or a SQLite file being read) through at the budget's rate, with the same bound.
 */
import { Readable } from 'node:stream';
import type { Backend, PutBody, PutOptions } from './backend.ts';
import { BackendDecorator } from './backend-decorator.ts';
import { bodyChunks } from './backend.ts';

/** The shared state: [theoretical arrival time in ns (process.hrtime clock), rate in bytes/s]. */
export function newUploadBudget(bytesPerSecond: number): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(16);
  const a = new BigInt64Array(sab);
  a[0] = 0n;
  a[1] = BigInt(Math.max(1, Math.floor(bytesPerSecond)));
  return sab;
}

export function budgetRate(sab: SharedArrayBuffer): number {
  return Number(new BigInt64Array(sab)[1]);
}

function sliceBytes(rate: number): number {
  return Math.max(1024, Math.min(64 * 1024, Math.floor(rate / 50)));
}

/** Waits until `n` bytes may go (n ≤ one slice), then accounts for them. */
export async function take(sab: SharedArrayBuffer, n: number, signal?: AbortSignal): Promise<void> {
  const a = new BigInt64Array(sab);
  const rate = a[1]!;
  const burstNs = 20_000_000n;
  const cost = (BigInt(n) * 1_000_000_000n) / rate;
  for (;;) {
    const tat = Atomics.load(a, 0);
    const now = process.hrtime.bigint();
    const start = tat > now - burstNs ? tat : now - burstNs;
    const next = start + cost;
    if (Atomics.compareExchange(a, 0, tat, next) !== tat) continue;
    const waitNs = next - burstNs - now;
    if (waitNs > 0n) {
      if (signal?.aborted) return;
      await new Promise((r) => setTimeout(r, Number(waitNs / 1_000_000n)));
    }
    return;
  }
}

/** `body` re-cut into slices, each let through when the budget allows. */
export async function* throttledBody(body: PutBody, sab: SharedArrayBuffer, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const slice = sliceBytes(budgetRate(sab));
  for await (const chunk of bodyChunks(body)) {
    for (let off = 0; off < chunk.length; off += slice) {
      const part = chunk.subarray(off, Math.min(chunk.length, off + slice));
      await take(sab, part.length, signal);
      yield part;
    }
  }
}

/** A backend whose uploads (puts) draw from `sab`; everything else passes straight through. */
export class ThrottledBackend extends BackendDecorator {
  constructor(
    inner: Backend,
    private readonly sab: SharedArrayBuffer,
  ) {
    super(inner);
  }

  override put(key: string, body: PutBody, options?: PutOptions): Promise<void> {
    return this.inner.put(key, throttledBody(body, this.sab, options?.signal), options);
  }
}

/**
 * `stream` (a dump tool's output, a file being read) re-cut into slices, each let through when
 * the budget allows; its error ends the returned stream with that error, and destroying the
 * returned stream destroys `stream`. The slices share the source's buffers: a consumer must
 * not take them over (move them to another thread).
 */
export function throttledStream(stream: Readable, sab: SharedArrayBuffer, signal?: AbortSignal): Readable {
  return Readable.from(throttledBody(stream as AsyncIterable<Uint8Array>, sab, signal), { objectMode: false });
}
