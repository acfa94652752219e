import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { GEAR, gearScan, lastScanHash } from '../../../electron/engine/repository/gear-scan.ts';
import { dumpLike, pseudoRandom } from './helpers.ts';

/** The one-byte loop of docs/FORMAT.md §5: the definition the WebAssembly scan must match. */
function referenceScan(buf: Uint8Array, i: number, end: number, h: number, mask: number): { at: number; h: number } {
  while (i < end) {
    h = ((h << 1) + GEAR[buf[i]!]!) | 0;
    i++;
    if ((h & mask) === 0) return { at: i, h };
  }
  return { at: -1, h };
}

function topBits(bits: number): number {
  return (-1 << (32 - bits)) | 0;
}

describe('gearScan (WebAssembly)', () => {
  it('finds every cut the reference loop finds, with the same hash, across many masks and offsets', () => {
    const data = Buffer.concat([pseudoRandom(300_000, 3), dumpLike(300_000, 4), Buffer.alloc(5000, 0x20)]);
    for (const bits of [4, 8, 12, 16, 20]) {
      const mask = topBits(bits);
      let pos = 7;
      let h = 0x1234567;
      let cuts = 0;
      for (;;) {
        const want = referenceScan(data, pos, data.length, h, mask);
        const got = gearScan(data, pos, data.length, h, mask);
        expect(got).toBe(want.at);
        expect(lastScanHash()).toBe(want.h);
        if (got < 0) break;
        cuts++;
        pos = got;
        h = 0;
      }
      expect(cuts).toBeGreaterThan(bits <= 12 ? 50 : 0);
    }
  });

  it('carries the hash across a scan that ends without a cut, and across its 1 MiB windows', () => {
    const data = pseudoRandom(2_600_000, 9);
    const never = -1; // all 32 bits: effectively no cut, so the whole range is scanned
    const whole = referenceScan(data, 0, data.length, 0, never);
    const a = gearScan(data, 0, 1_000_003, 0, never);
    const b = gearScan(data, 1_000_003, data.length, lastScanHash(), never);
    if (whole.at < 0) {
      expect([a, b]).toEqual([-1, -1]);
      expect(lastScanHash()).toBe(whole.h);
    } else {
      expect(a >= 0 ? a : b).toBe(whole.at);
    }
    expect(gearScan(data, 5, 5, 42, never)).toBe(-1);
    expect(lastScanHash()).toBe(42);
  });

  it('is built from gear-scan.wat (the committed module is not stale)', () => {
    const out = execFileSync(process.execPath, ['scripts/build-gear-wasm.mjs', '--check'], { encoding: 'utf8' });
    expect(out).toMatch(/up to date/);
  });
});
