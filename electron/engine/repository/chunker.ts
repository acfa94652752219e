/**
 * Stream chunkers: FastCDC content-defined chunking (gear hash, normalized chunking level
 * 2) and fixed-size blocks for page-structured snapshot streams.
 *
 * Contract: for the same parameters and bytes the cut points are identical whatever the
 * sizes of the input buffers (the format depends on it: docs/FORMAT.md §5). `cut`/`end`
 * give each chunk as the input views it is made of (no copy: valid as long as the input
 * buffers are left alone; consecutive views of one input buffer are merged into one);
 * `push`/`finish` give it as a fresh, non-pooled Buffer that owns its ArrayBuffer (safe
 * to transfer to a worker). Memory held: at most `max` bytes of pending input. Not
 * thread-safe; one instance per stream.
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

/** One chunk as consecutive views of the input buffers, `length` bytes in all. */
export interface ChunkPieces {
  pieces: Uint8Array[];
  length: number;
}

export interface Chunker {
  /** Feeds bytes; returns the chunks completed by them (possibly none), as views of the input. */
  cut(data: Uint8Array): ChunkPieces[];
  /** Ends the stream; returns the last, possibly short, chunk or null. */
  end(): ChunkPieces | null;
  /** `cut`, with each chunk copied into a Buffer of its own. */
  push(data: Uint8Array): Buffer[];
  /** `end`, copied into a Buffer of its own. */
  finish(): Buffer | null;
}

function topBitsMask(bits: number): number {
  return bits >= 32 ? -1 : (-1 << (32 - bits)) | 0;
}

/** A chunk's bytes copied into one fresh Buffer that owns its ArrayBuffer. */
export function assemble(chunk: ChunkPieces): Buffer {
  const out = Buffer.allocUnsafeSlow(chunk.length);
  let pos = 0;
  for (const p of chunk.pieces) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** The pending views of the chunk being cut, and the copying forms of `cut`/`end`. */
abstract class PieceCollector implements Chunker {
  protected pieces: Uint8Array[] = [];
  protected len = 0;

  abstract cut(data: Uint8Array): ChunkPieces[];

  /** Adds buf[from, to) to the pending chunk, extending the last view when it continues it. */
  protected collect(buf: Uint8Array, from: number, to: number): void {
    if (to <= from) return;
    const last = this.pieces[this.pieces.length - 1];
    if (last && last.buffer === buf.buffer && last.byteOffset + last.length === buf.byteOffset + from) {
      this.pieces[this.pieces.length - 1] = new Uint8Array(buf.buffer, last.byteOffset, last.length + (to - from));
    } else {
      this.pieces.push(buf.subarray(from, to));
    }
  }

  /** Emits the pending chunk and starts a new one. */
  protected emit(): ChunkPieces {
    const c = { pieces: this.pieces, length: this.len };
    this.pieces = [];
    this.len = 0;
    return c;
  }

  end(): ChunkPieces | null {
    return this.len === 0 ? null : this.emit();
  }

  push(data: Uint8Array): Buffer[] {
    return this.cut(data).map(assemble);
  }

  finish(): Buffer | null {
    const c = this.end();
    return c && assemble(c);
  }
}

export class FastCdcChunker extends PieceCollector {
  private readonly min: number;
  private readonly avg: number;
  private readonly max: number;
  private readonly maskS: number;
  private readonly maskL: number;
  private h = 0;

  constructor(params: CdcParams) {
    super();
    const err = validateCdcParams(params);
    if (err) throw new RangeError(err);
    this.min = params.min;
    this.avg = params.avg;
    this.max = params.max;
    const bits = Math.round(Math.log2(params.avg));
    this.maskS = topBitsMask(bits + 2);
    this.maskL = topBitsMask(bits - 2);
  }

  cut(buf: Uint8Array): ChunkPieces[] {
    const out: ChunkPieces[] = [];
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
      this.collect(buf, from, i);
      if (cut) {
        this.len = len;
        out.push(this.emit());
        len = 0;
        h = 0;
      }
    }
    this.len = len;
    this.h = h;
    return out;
  }

  override end(): ChunkPieces | null {
    this.h = 0;
    return super.end();
  }
}

export class FixedChunker extends PieceCollector {
  constructor(private readonly size: number) {
    super();
    const err = validateFixedSize(size);
    if (err) throw new RangeError(err);
  }

  cut(buf: Uint8Array): ChunkPieces[] {
    const out: ChunkPieces[] = [];
    let i = 0;
    while (i < buf.length) {
      const n = Math.min(this.size - this.len, buf.length - i);
      this.collect(buf, i, i + n);
      this.len += n;
      i += n;
      if (this.len === this.size) out.push(this.emit());
    }
    return out;
  }
}

export function createChunker(option: ChunkingOption, cdc: CdcParams): Chunker {
  return option.kind === 'fixed' ? new FixedChunker(option.size) : new FastCdcChunker(cdc);
}

/**
 * Chunks an async byte stream into views of its buffers; pulls input only as chunks are
 * consumed (backpressure). Strings (a text-mode stream) are encoded as UTF-8.
 */
export async function* chunkPieceStream(source: AsyncIterable<Uint8Array>, chunker: Chunker): AsyncGenerator<ChunkPieces> {
  for await (const data of source) {
    const u8 = typeof data === 'string' ? Buffer.from(data) : data;
    for (const c of chunker.cut(u8)) yield c;
  }
  const last = chunker.end();
  if (last) yield last;
}

/** `chunkPieceStream` with each chunk copied into a Buffer of its own. */
export async function* chunkStream(source: AsyncIterable<Uint8Array>, chunker: Chunker): AsyncGenerator<Buffer> {
  for await (const c of chunkPieceStream(source, chunker)) yield assemble(c);
}
