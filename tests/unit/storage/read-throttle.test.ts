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
import { checkRate, nowMs, perWindow, type Arrival } from '../../fixtures/rate-windows.ts';

const RATE = 512 * 1024;
const WINDOW_MS = 1000;

/** Reads `stream` to the end, noting when each piece arrived; returns the bytes. */
async function drain(stream: Readable, log: Arrival[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) {
    log.push({ atMs: nowMs(), bytes: c.length });
    parts.push(c);
  }
  return Buffer.concat(parts);
}

function fileOf(bytes: Buffer): string {
  const path = join(tempDir(), 'data.sqlite');
  writeFileSync(path, bytes);
  return path;
}

describe('read throttle', () => {
  it('holds a file read to the limit per window, and every byte comes through in order', async () => {
    const data = randomBytes(5 * RATE);
    const log: Arrival[] = [];
    const out = await drain(throttledStream(createReadStream(fileOf(data)), newUploadBudget(RATE)), log);
    expect(out.equals(data)).toBe(true);
    checkRate(perWindow(log, WINDOW_MS), RATE, WINDOW_MS);
  }, 60_000);

  it("two databases' dumps share the run's read budget", async () => {
    const budget = newUploadBudget(RATE);
    const log: Arrival[] = [];
    const a = randomBytes(RATE * 2.5);
    const b = randomBytes(RATE * 2.5);
    const [outA, outB] = await Promise.all([drain(throttledStream(createReadStream(fileOf(a)), budget), log), drain(throttledStream(createReadStream(fileOf(b)), budget), log)]);
    expect(outA.equals(a) && outB.equals(b)).toBe(true);
    checkRate(perWindow(log, WINDOW_MS), RATE, WINDOW_MS);
  }, 60_000);

  it("ends with the source's error (a dump tool that failed), not a short stream", async () => {
    const source = new Readable({ read() {} });
    source.push(randomBytes(4096));
    setTimeout(() => source.destroy(new Error('pg_dump exited with code 1')), 50);
    await expect(drain(throttledStream(source, newUploadBudget(RATE)), [])).rejects.toThrow('pg_dump exited with code 1');
  });
});
