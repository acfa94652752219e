/**
 * Stream chunkers: FastCDC content-defined chunking (gear hash, normalized chunking level
 * 2) and fixed-size blocks for page-structured snapshot streams.
 *
 * Contract: for the same parameters and bytes the cut points are identical whatever the
 * sizes of the input buffers (the format depends on it: docs/FORMAT.md §5). Every emitted
 * chunk is a fresh, non-pooled Buffer that owns its ArrayBuffer (safe to transfer to a
 * worker). Memory held: at most `max` bytes of pending input. Not thread-safe; one
 * instance per stream.
 */
import { GEAR, gearScan, lastScanHash } from './gear-scan.ts';

export { GEAR };

export interface CdcParams {
  min: number;
  avg: number;
  max: number;
}

export const DEFAULT_CDC: Readonly<CdcParams> = { min: 512 * 1024, avg: 1024 * 1024, max: 8 * 1024 * 1024 };

export type ChunkingOption = { kind: 'cdc' } | { kind: 'fixed'; size: number };

export const FIXED_MIN = 512;
export const FIXED_MAX = 16 * 1024 * 1024;

export function validateCdcParams(p: CdcParams): string | null {
  const ints = [p.min, p.avg, p.max].every((v) => Number.isInteger(v));
  if (!ints) return 'chunker sizes must be integers';
  if (p.min < 64) return 'chunker min must be at least 64 bytes';
  if (!(p.min < p.avg && p.avg < p.max)) return 'chunker sizes must satisfy min < avg < max';
  if ((p.avg & (p.avg - 1)) !== 0) return 'chunker avg must be a power of two';
  if (p.avg < 256 || p.avg > 2 ** 28) return 'chunker avg must be between 256 B and 256 MiB';
  if (p.max > 64 * 1024 * 1024) return 'chunker max must be at most 64 MiB';
  return null;
}

export function validateFixedSize(size: number): string | null {
  if (!Number.isInteger(size) || size < FIXED_MIN || size > FIXED_MAX) {
    return `fixed chunk size must be an integer between ${FIXED_MIN} and ${FIXED_MAX} bytes`;
  }
  return null;
}

export interface Chunker {
  /** Feeds bytes; returns the chunks completed by them (possibly none). */
  push(data: Uint8Array): Buffer[];
  /** Ends the stream; returns the last, possibly short, chunk or null. */
  finish(): Buffer | null;
}

function topBitsMask(bits: number): number {
  return bits >= 32 ? -1 : (-1 << (32 - bits)) | 0;
}

function assemble(pieces: Uint8Array[], len: number): Buffer {
  const out = Buffer.allocUnsafeSlow(len);
  let pos = 0;
  for (const p of pieces) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

export class FastCdcChunker implements Chunker {
  private readonly min: number;
  private readonly avg: number;
  private readonly max: number;
  private readonly maskS: number;
  private readonly maskL: number;
  private pieces: Uint8Array[] = [];
  private len = 0;
  private h = 0;

  constructor(params: CdcParams) {
    const err = validateCdcParams(params);
    if (err) throw new RangeError(err);
    this.min = params.min;
    this.avg = params.avg;
    this.max = params.max;
    const bits = Math.round(Math.log2(params.avg));
    this.maskS = topBitsMask(bits + 2);
    this.maskL = topBitsMask(bits - 2);
  }

  push(buf: Uint8Array): Buffer[] {
    const out: Buffer[] = [];
    const n = buf.length;
    const { min, avg, max, maskS, maskL } = this;
    let len = this.len;
    let h = this.h;
    let i = 0;
    while (i < n) {
      const from = i;
      let cut = false;
      if (len < min) {
        const s = Math.min(min - len, n - i);
        i += s;
        len += s;
      } else if (len < max) {
        // Normalized chunking: the stricter mask up to avg (inclusive), the looser one up to max.
        const strict = len < avg;
        const end = Math.min(n, i + ((strict ? avg : max) - len));
        const at = gearScan(buf, i, end, h, strict ? maskS : maskL);
        h = lastScanHash();
        cut = at >= 0;
        const stop = cut ? at : end;
        len += stop - i;
        i = stop;
      }
      if (len >= max) cut = true;
      if (i > from) this.pieces.push(buf.subarray(from, i));
      if (cut) {
        out.push(assemble(this.pieces, len));
        this.pieces = [];
        len = 0;
        h = 0;
      }
    }
    this.len = len;
    this.h = h;
    return out;
  }

  finish(): Buffer | null {
    if (this.len === 0) return null;
    const c = assemble(this.pieces, this.len);
    this.pieces = [];
    this.len = 0;
    this.h = 0;
    return c;
  }
}

export class FixedChunker implements Chunker {
  private pieces: Uint8Array[] = [];
  private len = 0;

  constructor(private readonly size: number) {
    const err = validateFixedSize(size);
    if (err) throw new RangeError(err);
  }

  push(buf: Uint8Array): Buffer[] {
    const out: Buffer[] = [];
    let i = 0;
    while (i < buf.length) {
      const take = Math.min(this.size - this.len, buf.length - i);
      this.pieces.push(buf.subarray(i, i + take));
      this.len += take;
      i += take;
      if (this.len === this.size) {
        out.push(assemble(this.pieces, this.len));
        this.pieces = [];
        this.len = 0;
      }
    }
    return out;
  }

  finish(): Buffer | null {
    if (this.len === 0) return null;
    const c = assemble(this.pieces, this.len);
    this.pieces = [];
    this.len = 0;
    return c;
  }
}

export function createChunker(option: ChunkingOption, cdc: CdcParams): Chunker {
  return option.kind === 'fixed' ? new FixedChunker(option.size) : new FastCdcChunker(cdc);
}

/** Chunks an async byte stream; pulls input only as chunks are consumed (backpressure). */
export async function* chunkStream(source: AsyncIterable<Uint8Array>, chunker: Chunker): AsyncGenerator<Buffer> {
  for await (const data of source) {
    const u8 = typeof data === 'string' ? Buffer.from(data) : data;
    for (const c of chunker.push(u8)) yield c;
  }
  const last = chunker.finish();
  if (last) yield last;
}
