/**
 * Chunk framing: raw chunk → stored blob and back (docs/FORMAT.md §6).
 *
 *   frame  = compression id (u8: 0 none, 1 zstd) ‖ payload
 *          | 2 (zstd against a base, format 2) ‖ base chunk id (32) ‖ zstd frame made with
 *            the base's raw bytes as raw-content dictionary
 *   stored = seal(frame, aad = chunk id)
 *
 * zstd is used unless it does not shrink the chunk. `encodeAgainst` stores a chunk as a
 * delta when that pays (see DELTA_PAYS) and falls back to `encode` otherwise; decoding a
 * delta needs its base's raw bytes (`decode(…, base)`), and `baseIdOf` tells, after
 * authentication, which base a stored chunk needs. `decode` authenticates, decompresses
 * and checks the chunk id and raw length; any mismatch throws ChunkDamagedError (callers
 * add the point and pack to the message). One encoder/decoder per thread (the zstd
 * contexts are not shareable); used inline and by the chunk-encoder worker.
 *
 * `ChunkIntake` is the write side's per-chunk step: id the raw chunk, then encode it
 * unless the id is in a known set (the chain's chunks, as a sorted id list). It keeps no
 * chunk between calls (a chunk given in pieces is joined in a reused buffer), so a repeat
 * within one write is encoded again and the writer, which sees every id in stream order,
 * keeps the first. Neither `encode` result refers to the raw bytes. With `sketches` in the
 * config, a new chunk also gets its resemblance sketch (sketch.ts), computed here so that
 * it runs in the encoder worker, never on the write's main loop.
 */
import { Decompressor } from 'zstd-napi';
import zstdBinding from 'zstd-napi/binding.js';
import { createSealer, type Sealer } from '../crypto/seal.ts';
import { CHUNK_ID_LENGTH, chunkIdFunction, type ChunkIdFn } from '../crypto/chunk-id.ts';
import { COMPRESSION } from './algorithms.ts';
import { unframe } from './frame.ts';
import { chunkSketch } from './sketch.ts';

// The binding is CommonJS without named ESM exports: take them from its exports object.
const { CCtx, DCtx, CParameter, ResetDirective, compressBound } = zstdBinding;
type CCtx = InstanceType<typeof CCtx>;
type DCtx = InstanceType<typeof DCtx>;

/** A delta is stored only when it is at most this fraction of the chunk stored on its own. */
export const DELTA_PAYS = 0.75;
/** A delta this small (fraction of the raw chunk) is kept without trying the plain encoding. */
const DELTA_CLEARLY_PAYS = 1 / 16;
const DELTA_HEADER = 1 + CHUNK_ID_LENGTH;

/** A base chunk for delta coding: its id and raw bytes. */
export interface DeltaBase {
  id: Uint8Array;
  raw: Uint8Array;
}

export interface ChunkCodecConfig {
  /** ENCRYPTION algorithm id. */
  encryption: number;
  /** Derived data key (null when not encrypted). */
  dataKey: Uint8Array | null;
  /** Derived chunk-id key (null when not encrypted). Needed only to decode. */
  chunkIdKey: Uint8Array | null;
  /** zstd level; 0 disables compression. */
  level: number;
  /** Write side, format 2: also compute each new chunk's resemblance sketch (sketch.ts). */
  sketches?: boolean;
}

export class ChunkDamagedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChunkDamagedError';
  }
}

/**
 * Compresses into one scratch buffer that grows to the largest chunk seen (the frame is
 * built in place: id byte, then the zstd output), so a chunk costs no allocation but the
 * sealed result. Relies on `Sealer.seal` returning new memory, never a view of its input.
 */
export class ChunkEncoder {
  private readonly sealer: Sealer;
  private readonly cctx: CCtx | null;
  private readonly level: number;
  private deltaCctx: CCtx | null = null;
  private scratch: Buffer = Buffer.alloc(0);

  constructor(config: ChunkCodecConfig) {
    this.sealer = createSealer(config.encryption, config.dataKey);
    this.level = config.level;
    this.cctx = config.level !== 0 ? new CCtx() : null;
  }

  /** `level`: this chunk's zstd level (the config's by default; ignored when compression is off). */
  encode(id: Uint8Array, raw: Uint8Array, level: number = this.level): Buffer {
    const need = 1 + Math.max(raw.length, this.cctx ? compressBound(raw.length) : 0);
    if (this.scratch.length < need) this.scratch = Buffer.allocUnsafeSlow(need);
    const frame = this.scratch;
    let length = 0;
    if (this.cctx) {
      const z = this.cctx.compress(frame.subarray(1), raw, level);
      if (z < raw.length) {
        frame[0] = COMPRESSION.ZSTD;
        length = 1 + z;
      }
    }
    if (length === 0) {
      frame[0] = COMPRESSION.NONE;
      frame.set(raw, 1);
      length = 1 + raw.length;
    }
    return this.sealer.seal(frame.subarray(0, length), id);
  }

  /**
   * The chunk stored as a delta against `base` when that pays (≤ DELTA_PAYS of its plain
   * stored size), else exactly what `encode` stores. `delta` tells which was chosen.
   */
  encodeAgainst(id: Uint8Array, raw: Uint8Array, base: DeltaBase | null): { stored: Buffer; delta: boolean } {
    if (!base || !this.cctx) return { stored: this.encode(id, raw), delta: false };
    const need = DELTA_HEADER + compressBound(raw.length);
    if (this.scratch.length < need) this.scratch = Buffer.allocUnsafeSlow(need);
    const frame = this.scratch;
    const z = this.compressAgainst(frame.subarray(DELTA_HEADER), raw, base.raw);
    const deltaLength = DELTA_HEADER + z;
    if (deltaLength > raw.length * DELTA_CLEARLY_PAYS) {
      const plain = this.encode(id, raw); // reuses the scratch buffer: compare lengths only
      if (deltaLength > (plain.length - this.sealer.overhead) * DELTA_PAYS) return { stored: plain, delta: false };
      this.compressAgainst(frame.subarray(DELTA_HEADER), raw, base.raw);
    }
    frame[0] = COMPRESSION.ZSTD_DELTA;
    frame.set(base.id, 1);
    return { stored: this.sealer.seal(frame.subarray(0, deltaLength), id), delta: true };
  }

  /**
   * zstd with `base` as raw-content dictionary, a window that spans base and chunk (the
   * level's default window, 2 MiB at level 3, would put a large base out of reach) and hash
   * tables a quarter of the window (at most 4 Mi entries).
   */
  private compressAgainst(out: Buffer, raw: Uint8Array, base: Uint8Array): number {
    const d = (this.deltaCctx ??= new CCtx());
    d.reset(ResetDirective.sessionAndParameters);
    d.setParameter(CParameter.compressionLevel, this.level);
    const windowLog = Math.max(10, Math.min(27, Math.ceil(Math.log2(raw.length + base.length + 1))));
    d.setParameter(CParameter.windowLog, windowLog);
    // Hash tables sized to the base: the level's own (128 Ki entries at level 3) keep only the
    // base's last few hundred KiB once it is loaded, so an early change would find no match.
    d.setParameter(CParameter.hashLog, Math.min(22, windowLog - 2));
    d.setParameter(CParameter.chainLog, Math.min(22, windowLog - 2));
    d.loadDictionary(base);
    return d.compress2(out, raw);
  }
}

export class ChunkDecoder {
  private readonly sealer: Sealer;
  private readonly decompressor = new Decompressor();
  private dctx: DCtx | null = null;
  readonly chunkId: ChunkIdFn;

  constructor(config: ChunkCodecConfig) {
    this.sealer = createSealer(config.encryption, config.dataKey);
    this.chunkId = chunkIdFunction(config.chunkIdKey);
  }

  /** Authenticates a stored chunk and returns its frame (ChunkDamagedError if it fails). */
  open(id: Uint8Array, stored: Uint8Array): Buffer {
    try {
      return this.sealer.open(stored, id);
    } catch (e) {
      throw new ChunkDamagedError(`chunk ${short(id)}… failed authentication (${(e as Error).message})`);
    }
  }

  /** The id of the base an opened frame is a delta against, or null when it is stored whole. */
  baseIdOf(id: Uint8Array, frame: Buffer): Buffer | null {
    if (frame[0] !== COMPRESSION.ZSTD_DELTA) return null;
    if (frame.length < DELTA_HEADER) throw new ChunkDamagedError(`chunk ${short(id)}…: its delta frame is too short`);
    return Buffer.from(frame.subarray(1, DELTA_HEADER));
  }

  /** The raw chunk; `base` is required for a delta chunk and must be the base it names. */
  decode(id: Uint8Array, stored: Uint8Array, rawLength: number, base: DeltaBase | null = null, checkId = true): Buffer {
    return this.decodeFrame(id, this.open(id, stored), rawLength, base, checkId);
  }

  /**
   * `decode` of a frame `open` returned. `checkId` false skips hashing the result against its
   * id (for a base whose every use is itself checked: see ChunkResolver's `deferBaseCheck`);
   * the length is always checked.
   */
  decodeFrame(id: Uint8Array, frame: Buffer, rawLength: number, base: DeltaBase | null = null, checkId = true): Buffer {
    const raw = frame[0] === COMPRESSION.ZSTD_DELTA ? this.undelta(id, frame, rawLength, base) : unframe(frame, this.decompressor, (reason) => new ChunkDamagedError(`chunk ${short(id)}…: ${reason}`));
    if (raw.length !== rawLength) throw new ChunkDamagedError(`chunk is ${raw.length} bytes, expected ${rawLength}`);
    if (checkId) this.checkId(id, raw);
    return raw;
  }

  /** ChunkDamagedError unless `raw` hashes to `id`. */
  checkId(id: Uint8Array, raw: Uint8Array): void {
    if (!this.chunkId(raw).equals(id)) throw new ChunkDamagedError('chunk content does not match its id');
  }

  private undelta(id: Uint8Array, frame: Buffer, rawLength: number, base: DeltaBase | null): Buffer {
    if (frame.length < DELTA_HEADER) throw new ChunkDamagedError(`chunk ${short(id)}…: its delta frame is too short`);
    const named = frame.subarray(1, DELTA_HEADER);
    if (!base) throw new ChunkDamagedError(`chunk ${short(id)}… is a delta against chunk ${short(named)}…, which the manifest does not provide`);
    if (!named.equals(base.id)) throw new ChunkDamagedError(`chunk ${short(id)}… is a delta against chunk ${short(named)}…, not against ${short(base.id)}… as the manifest says`);
    this.dctx ??= new DCtx();
    const out = Buffer.allocUnsafe(rawLength);
    let n: number;
    try {
      n = this.dctx.decompressUsingDict(out, frame.subarray(DELTA_HEADER), base.raw);
    } catch (e) {
      throw new ChunkDamagedError(`chunk ${short(id)}…: its delta does not decompress against its base (${(e as Error).message})`);
    }
    return out.subarray(0, n);
  }
}

function short(id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.length).toString('hex').slice(0, 16);
}

/** Chunk ids as one ascending, duplicate-free list (n × 32 bytes), for `hasId`. */
export function sortedIds(ids: Iterable<Uint8Array>): Uint8Array {
  const list = [...ids].map((id) => Buffer.from(id.buffer, id.byteOffset, id.length)).sort(Buffer.compare);
  const out = Buffer.allocUnsafe(list.length * CHUNK_ID_LENGTH);
  let n = 0;
  for (const id of list) {
    if (id.length !== CHUNK_ID_LENGTH) throw new RangeError('chunk ids are 32 bytes');
    if (n > 0 && out.compare(id, 0, CHUNK_ID_LENGTH, (n - 1) * CHUNK_ID_LENGTH, n * CHUNK_ID_LENGTH) === 0) continue;
    id.copy(out, n * CHUNK_ID_LENGTH);
    n++;
  }
  return out.subarray(0, n * CHUNK_ID_LENGTH);
}

/** Binary search in a `sortedIds` list. */
export function hasId(sorted: Uint8Array, id: Uint8Array): boolean {
  const list = Buffer.from(sorted.buffer, sorted.byteOffset, sorted.length);
  let lo = 0;
  let hi = Math.floor(list.length / CHUNK_ID_LENGTH) - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = list.compare(id, 0, CHUNK_ID_LENGTH, mid * CHUNK_ID_LENGTH, (mid + 1) * CHUNK_ID_LENGTH);
    if (c === 0) return true;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** A chunk encoded for the writer: its id, and its stored form unless it was known. */
export interface EncodedChunk {
  id: Buffer;
  /** null: the id is in the known set, nothing was encoded — or `raw` is set. */
  stored: Buffer | null;
  /**
   * Set only when the caller asked to keep a new chunk for delta coding: the chunk was not
   * encoded, here are its raw bytes (a copy) for `encodeAgainst`.
   */
  raw?: Buffer;
  /** True when `stored` is a delta against a base. */
  delta?: boolean;
  /** The new chunk's resemblance sketch, when the config asks for sketches (null: too small). */
  sketch?: Uint32Array | null;
}

export class ChunkIntake {
  private readonly encoder: ChunkEncoder;
  private readonly chunkId: ChunkIdFn;
  private readonly sketches: boolean;
  /** Where a chunk that arrives in pieces is joined; grows to the largest such chunk. */
  private joined: Buffer = Buffer.alloc(0);

  /** `known`: a `sortedIds` list of the chunks the chain already stores. */
  constructor(
    config: ChunkCodecConfig,
    private readonly known: Uint8Array,
  ) {
    this.encoder = new ChunkEncoder(config);
    this.chunkId = chunkIdFunction(config.chunkIdKey);
    this.sketches = config.sketches === true;
  }

  /**
   * `keepRaw`: a new chunk is returned raw (copied) instead of encoded, for `encodeAgainst`.
   * `level`: the zstd level to compress it at (the config's when absent; adaptive-level.ts).
   */
  encode(raw: Uint8Array, keepRaw = false, level?: number): EncodedChunk {
    const id = this.chunkId(raw);
    if (hasId(this.known, id)) return { id, stored: null };
    const out: EncodedChunk = keepRaw ? { id, stored: null, raw: Buffer.from(raw) } : { id, stored: this.encoder.encode(id, raw, level) };
    if (this.sketches) out.sketch = chunkSketch(raw);
    return out;
  }

  /** The new chunk `raw` (id `id`) stored against `base` when that pays (ChunkEncoder.encodeAgainst). */
  encodeAgainst(id: Uint8Array, raw: Uint8Array, base: DeltaBase | null): EncodedChunk {
    const { stored, delta } = this.encoder.encodeAgainst(id, raw, base);
    return { id: Buffer.from(id.buffer, id.byteOffset, id.length), stored, delta };
  }

  /** `encode` of the chunk made of `pieces` in order (joined in a reused buffer, not kept). */
  encodePieces(pieces: readonly Uint8Array[], keepRaw = false, level?: number): EncodedChunk {
    if (pieces.length === 1) return this.encode(pieces[0]!, keepRaw, level);
    let length = 0;
    for (const p of pieces) length += p.length;
    if (this.joined.length < length) this.joined = Buffer.allocUnsafeSlow(length);
    let at = 0;
    for (const p of pieces) {
      this.joined.set(p, at);
      at += p.length;
    }
    return this.encode(this.joined.subarray(0, length), keepRaw, level);
  }
}
