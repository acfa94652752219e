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
import { checkRate, nowMs, perWindow } from '../../fixtures/rate-windows.ts';

/** A local backend that notes when each piece of a put's body reached it. */
function tapped(dir: string): { backend: Backend; log: { atMs: number; bytes: number }[] } {
  const inner = new LocalBackend(dir);
  const log: { atMs: number; bytes: number }[] = [];
  const tap = async function* (body: PutBody) {
    for await (const c of bodyChunks(body)) {
      log.push({ atMs: nowMs(), bytes: c.length });
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

const RATE = 512 * 1024;
const WINDOW_MS = 1000;

describe('upload throttle', () => {
  it('holds one upload to the limit per window, and the object arrives whole', async () => {
    const dir = tempDir();
    const { backend, log } = tapped(dir);
    const data = randomBytes(5 * RATE);
    await new ThrottledBackend(backend, newUploadBudget(RATE)).put('big', [data.subarray(0, 1_000_000), data.subarray(1_000_000)]);
    expect(readFileSync(join(dir, 'big')).equals(data)).toBe(true);
    checkRate(perWindow(log, WINDOW_MS), RATE, WINDOW_MS);
  }, 60_000);

  it('two uploads to one destination share its budget', async () => {
    const dir = tempDir();
    const { backend, log } = tapped(dir);
    const budget = newUploadBudget(RATE);
    await Promise.all([new ThrottledBackend(backend, budget).put('a', randomBytes(RATE * 2.5)), new ThrottledBackend(backend, budget).put('b', randomBytes(RATE * 2.5))]);
    checkRate(perWindow(log, WINDOW_MS), RATE, WINDOW_MS);
  }, 60_000);
});
