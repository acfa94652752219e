/**
 * Chunk framing: raw chunk → stored blob and back (docs/FORMAT.md §6).
 *
 *   frame  = compression id (u8: 0 none, 1 zstd) ‖ payload
 *   stored = seal(frame, aad = chunk id)
 *
 * zstd is used unless it does not shrink the chunk. `decode` authenticates, decompresses
 * and checks the chunk id and raw length; any mismatch throws ChunkDamagedError (callers
 * add the point and pack to the message). One encoder/decoder per thread (the zstd
 * contexts are not shareable); used inline and by the chunk-encoder worker.
 */
import { Compressor, Decompressor } from 'zstd-napi';
import { createSealer, type Sealer } from '../crypto/seal.ts';
import { chunkIdFunction, type ChunkIdFn } from '../crypto/chunk-id.ts';
import { COMPRESSION } from './algorithms.ts';

export interface ChunkCodecConfig {
  /** ENCRYPTION algorithm id. */
  encryption: number;
  /** Derived data key (null when not encrypted). */
  dataKey: Uint8Array | null;
  /** Derived chunk-id key (null when not encrypted). Needed only to decode. */
  chunkIdKey: Uint8Array | null;
  /** zstd level; 0 disables compression. */
  level: number;
}

export class ChunkDamagedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChunkDamagedError';
  }
}

export class ChunkEncoder {
  private readonly sealer: Sealer;
  private readonly compressor: Compressor | null;

  constructor(config: ChunkCodecConfig) {
    this.sealer = createSealer(config.encryption, config.dataKey);
    if (config.level !== 0) {
      this.compressor = new Compressor();
      this.compressor.setParameters({ compressionLevel: config.level });
    } else {
      this.compressor = null;
    }
  }

  encode(id: Uint8Array, raw: Uint8Array): Buffer {
    let frame: Buffer;
    const z = this.compressor ? this.compressor.compress(raw) : null;
    if (z && z.length < raw.length) {
      frame = Buffer.allocUnsafeSlow(1 + z.length);
      frame[0] = COMPRESSION.ZSTD;
      z.copy(frame, 1);
    } else {
      frame = Buffer.allocUnsafeSlow(1 + raw.length);
      frame[0] = COMPRESSION.NONE;
      frame.set(raw, 1);
    }
    return this.sealer.seal(frame, id);
  }
}

export class ChunkDecoder {
  private readonly sealer: Sealer;
  private readonly decompressor = new Decompressor();
  readonly chunkId: ChunkIdFn;

  constructor(config: ChunkCodecConfig) {
    this.sealer = createSealer(config.encryption, config.dataKey);
    this.chunkId = chunkIdFunction(config.chunkIdKey);
  }

  decode(id: Uint8Array, stored: Uint8Array, rawLength: number): Buffer {
    let frame: Buffer;
    try {
      frame = this.sealer.open(stored, id);
    } catch (e) {
      throw new ChunkDamagedError(`chunk ${Buffer.from(id).toString('hex').slice(0, 16)}… failed authentication (${(e as Error).message})`);
    }
    if (frame.length < 1) throw new ChunkDamagedError('chunk frame is empty');
    let raw: Buffer;
    if (frame[0] === COMPRESSION.NONE) {
      raw = frame.subarray(1);
    } else if (frame[0] === COMPRESSION.ZSTD) {
      try {
        raw = this.decompressor.decompress(frame.subarray(1));
      } catch (e) {
        throw new ChunkDamagedError(`chunk does not decompress (${(e as Error).message})`);
      }
    } else {
      throw new ChunkDamagedError(`chunk uses unknown compression id ${frame[0]}`);
    }
    if (raw.length !== rawLength) throw new ChunkDamagedError(`chunk is ${raw.length} bytes, expected ${rawLength}`);
    if (!this.chunkId(raw).equals(id)) throw new ChunkDamagedError('chunk content does not match its id');
    return raw;
  }
}
