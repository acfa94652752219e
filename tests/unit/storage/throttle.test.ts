/**
 * The upload limit measured the way the issue asks: bytes let through per time window
 * (not total wall time), for one upload and for two uploads sharing one destination's
 * budget, into a real local folder.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bodyChunks, LocalBackend, newUploadBudget, ThrottledBackend, type Backend, type PutBody, type PutOptions } from '../../../electron/engine/storage/index.ts';
import { PassThroughBackend } from '../../fixtures/storage/pass-through-backend.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

/** A local backend that notes when each piece of a put's body reached it. */
function tapped(dir: string): { backend: Backend; log: { atMs: number; bytes: number }[] } {
  const inner = new LocalBackend(dir);
  const log: { atMs: number; bytes: number }[] = [];
  const tap = async function* (body: PutBody) {
    for await (const c of bodyChunks(body)) {
      log.push({ atMs: Number(process.hrtime.bigint() / 1_000_000n), bytes: c.length });
      yield c;
    }
  };
  const backend: Backend = new (class extends PassThroughBackend {
    override put(key: string, body: PutBody, o?: PutOptions): Promise<void> {
      return this.inner.put(key, tap(body), o);
    }
  })(inner);
  return { backend, log };
}

/** Bytes per full window of `windowMs` from the first byte to the last. */
function perWindow(log: { atMs: number; bytes: number }[], windowMs: number): number[] {
  const t0 = log[0]!.atMs;
  const end = log.at(-1)!.atMs;
  const n = Math.floor((end - t0) / windowMs);
  const sums = new Array<number>(n).fill(0);
  for (const e of log) {
    const i = Math.floor((e.atMs - t0) / windowMs);
    if (i < n) sums[i]! += e.bytes;
  }
  return sums;
}

const RATE = 512 * 1024;
const WINDOW_MS = 1000;

function checkRate(windows: number[]): void {
  expect(windows.length).toBeGreaterThanOrEqual(4);
  const per = (RATE * WINDOW_MS) / 1000;
  // Never faster than the limit (a burst and a slice per sender, 1/50 s each, are the most a window may gain)…
  for (const w of windows) expect(w).toBeLessThanOrEqual(per * 1.1);
  // …and, on average, within 10 % of it.
  const mean = windows.reduce((a, b) => a + b, 0) / windows.length;
  expect(mean).toBeGreaterThanOrEqual(per * 0.9);
  expect(mean).toBeLessThanOrEqual(per * 1.1);
}

describe('upload throttle', () => {
  it('holds one upload to the limit per window, and the object arrives whole', async () => {
    const dir = tempDir();
    const { backend, log } = tapped(dir);
    const data = randomBytes(5 * RATE);
    await new ThrottledBackend(backend, newUploadBudget(RATE)).put('big', [data.subarray(0, 1_000_000), data.subarray(1_000_000)]);
    expect(readFileSync(join(dir, 'big')).equals(data)).toBe(true);
    checkRate(perWindow(log, WINDOW_MS));
  }, 60_000);

  it('two uploads to one destination share its budget', async () => {
    const dir = tempDir();
    const { backend, log } = tapped(dir);
    const budget = newUploadBudget(RATE);
    await Promise.all([new ThrottledBackend(backend, budget).put('a', randomBytes(RATE * 2.5)), new ThrottledBackend(backend, budget).put('b', randomBytes(RATE * 2.5))]);
    checkRate(perWindow(log, WINDOW_MS));
  }, 60_000);
});
