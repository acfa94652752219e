/**
 * The read limit on the dump side (issue #24 item 4), measured as the upload limit's test
 * does: bytes let through per time window (not total wall time), for one real file read and
 * for two reads sharing one run's budget; the bytes come through whole and in order, and a
 * source's error ends the throttled stream with that error.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { newUploadBudget, throttledStream } from '../../../electron/engine/storage/index.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const RATE = 512 * 1024;
const WINDOW_MS = 1000;

/** Reads `stream` to the end, noting when each piece arrived; returns the bytes. */
async function drain(stream: Readable, log: { atMs: number; bytes: number }[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) {
    log.push({ atMs: Number(process.hrtime.bigint() / 1_000_000n), bytes: c.length });
    parts.push(c);
  }
  return Buffer.concat(parts);
}

/** Bytes per full window of `windowMs` from the first byte to the last. */
function perWindow(log: { atMs: number; bytes: number }[], windowMs: number): number[] {
  const sorted = [...log].sort((a, b) => a.atMs - b.atMs);
  const t0 = sorted[0]!.atMs;
  const n = Math.floor((sorted.at(-1)!.atMs - t0) / windowMs);
  const sums = new Array<number>(n).fill(0);
  for (const e of sorted) {
    const i = Math.floor((e.atMs - t0) / windowMs);
    if (i < n) sums[i]! += e.bytes;
  }
  return sums;
}

function checkRate(windows: number[]): void {
  expect(windows.length).toBeGreaterThanOrEqual(4);
  const per = (RATE * WINDOW_MS) / 1000;
  for (const w of windows) expect(w).toBeLessThanOrEqual(per * 1.1);
  const mean = windows.reduce((a, b) => a + b, 0) / windows.length;
  expect(mean).toBeGreaterThanOrEqual(per * 0.9);
  expect(mean).toBeLessThanOrEqual(per * 1.1);
}

function fileOf(bytes: Buffer): string {
  const path = join(tempDir(), 'data.sqlite');
  writeFileSync(path, bytes);
  return path;
}

describe('read throttle', () => {
  it('holds a file read to the limit per window, and every byte comes through in order', async () => {
    const data = randomBytes(5 * RATE);
    const log: { atMs: number; bytes: number }[] = [];
    const out = await drain(throttledStream(createReadStream(fileOf(data)), newUploadBudget(RATE)), log);
    expect(out.equals(data)).toBe(true);
    checkRate(perWindow(log, WINDOW_MS));
  }, 60_000);

  it("two databases' dumps share the run's read budget", async () => {
    const budget = newUploadBudget(RATE);
    const log: { atMs: number; bytes: number }[] = [];
    const a = randomBytes(RATE * 2.5);
    const b = randomBytes(RATE * 2.5);
    const [outA, outB] = await Promise.all([drain(throttledStream(createReadStream(fileOf(a)), budget), log), drain(throttledStream(createReadStream(fileOf(b)), budget), log)]);
    expect(outA.equals(a) && outB.equals(b)).toBe(true);
    checkRate(perWindow(log, WINDOW_MS));
  }, 60_000);

  it("ends with the source's error (a dump tool that failed), not a short stream", async () => {
    const source = new Readable({ read() {} });
    source.push(randomBytes(4096));
    setTimeout(() => source.destroy(new Error('pg_dump exited with code 1')), 50);
    await expect(drain(throttledStream(source, newUploadBudget(RATE)), [])).rejects.toThrow('pg_dump exited with code 1');
  });
});
