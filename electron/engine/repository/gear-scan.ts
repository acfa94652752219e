/**
 * The FastCDC gear-hash scan, run as WebAssembly (gear-scan.wat): about three times the
 * speed of the same loop in JavaScript, and the chunker's scan is the hottest per-byte
 * work of a backup.
 *
 * Contract: `gearScan(buf, i, end, h, mask)` rolls h = (h << 1) + GEAR[b] (int32) over
 * buf[i, end) and returns the index just past the first byte after which (h & mask) === 0,
 * or -1; the hash after the last byte scanned is then `lastScanHash()`. Identical results
 * to the one-byte reference loop (tests/unit/repository/gear-scan.test.ts). One module
 * instance per thread; calls are synchronous, so concurrent chunkers on a thread share it.
 * The bytes are copied into the module's memory one window (≤ 1 MiB) at a time.
 */
import { createHash } from 'node:crypto';
import { GEAR_SCAN_WASM_BASE64 } from './gear-scan-wasm.ts';

/** Gear table: entry i = first 4 bytes (little-endian, as int32) of SHA-256("backstop/v1/gear/" + i). */
export const GEAR: Int32Array = (() => {
  const t = new Int32Array(256);
  for (let i = 0; i < 256; i++) t[i] = createHash('sha256').update(`backstop/v1/gear/${i}`).digest().readInt32LE(0);
  return t;
})();

/** Where the data window starts in the module's memory (the gear table is below it). */
const DATA_OFFSET = 1024;
const WINDOW = 1024 * 1024;

interface GearScanExports {
  memory: { buffer: ArrayBuffer };
  h: { value: number };
  scan(i: number, end: number, h: number, mask: number): number;
}

// The WebAssembly global as far as this module uses it (the Node typings here have no DOM lib).
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
};

let wasm: { exports: GearScanExports; heap: Uint8Array } | null = null;
let scanHash = 0;

function instance(): { exports: GearScanExports; heap: Uint8Array } {
  if (wasm) return wasm;
  const module = new WebAssembly.Module(Buffer.from(GEAR_SCAN_WASM_BASE64, 'base64'));
  const exports = new WebAssembly.Instance(module, {}).exports as GearScanExports;
  if (exports.memory.buffer.byteLength < DATA_OFFSET + WINDOW) throw new Error('gear-scan.wasm memory is too small');
  const table = new DataView(exports.memory.buffer, 0, DATA_OFFSET);
  for (let i = 0; i < 256; i++) table.setInt32(i * 4, GEAR[i]!, true);
  wasm = { exports, heap: new Uint8Array(exports.memory.buffer) };
  return wasm;
}

export function gearScan(buf: Uint8Array, i: number, end: number, h: number, mask: number): number {
  const { exports, heap } = instance();
  while (i < end) {
    const n = Math.min(end - i, WINDOW);
    heap.set(buf.subarray(i, i + n), DATA_OFFSET);
    const at = exports.scan(0, n, h, mask);
    h = exports.h.value;
    if (at >= 0) {
      scanHash = h;
      return i + at;
    }
    i += n;
  }
  scanHash = h;
  return -1;
}

/**
 * Rolls the gear hash from h = 0 over all of `buf` and writes into `out` the hash after each
 * byte at index ≥ `from` where (h & mask) === 0, in order (at most out.length of them);
 * returns how many. One copy of each window; the scan resumes where it stopped.
 */
export function gearSamples(buf: Uint8Array, mask: number, from: number, out: Int32Array): number {
  const { exports, heap } = instance();
  let h = 0;
  let count = 0;
  for (let base = 0; base < buf.length && count < out.length; base += WINDOW) {
    const n = Math.min(buf.length - base, WINDOW);
    heap.set(buf.subarray(base, base + n), DATA_OFFSET);
    let i = 0;
    while (i < n) {
      const at = exports.scan(i, n, h, mask);
      h = exports.h.value;
      if (at < 0) break;
      if (base + at - 1 >= from) {
        out[count++] = h;
        if (count === out.length) break;
      }
      i = at;
    }
  }
  return count;
}

/** The hash after the last byte the previous gearScan call looked at. */
export function lastScanHash(): number {
  return scanHash;
}
