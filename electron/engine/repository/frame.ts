/**
 * The compression frame shared by chunks and manifests (docs/FORMAT.md §6, §8):
 *
 *   frame = compression id (u8: COMPRESSION.NONE 0, COMPRESSION.ZSTD 1) ‖ payload
 *
 * `frame` writes one (zstd at `level`, or none at level 0); `unframe` reads one and throws
 * the caller's damaged-error for an empty frame, an unknown id or a payload that does not
 * decompress. Chunk encoding writes its frames into a reused scratch buffer itself
 * (chunk-codec.ts) for speed; every reader goes through `unframe`.
 */
import { Compressor, type Decompressor } from 'zstd-napi';
import { COMPRESSION } from './algorithms.ts';

export function frame(payload: Buffer, level: number): Buffer {
  if (level === 0) return Buffer.concat([Buffer.from([COMPRESSION.NONE]), payload]);
  const c = new Compressor();
  c.setParameters({ compressionLevel: level });
  return Buffer.concat([Buffer.from([COMPRESSION.ZSTD]), c.compress(payload)]);
}

export function unframe(frame: Buffer, decompressor: Decompressor, damaged: (reason: string) => Error): Buffer {
  if (frame.length < 1) throw damaged('its frame is empty');
  if (frame[0] === COMPRESSION.NONE) return frame.subarray(1);
  if (frame[0] !== COMPRESSION.ZSTD) throw damaged(`it uses unknown compression id ${String(frame[0])}`);
  try {
    return decompressor.decompress(frame.subarray(1));
  } catch (e) {
    throw damaged(`it does not decompress (${(e as Error).message})`);
  }
}
