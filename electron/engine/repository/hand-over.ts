/**
 * Handing a chunk to a worker thread: the chunk's views of the input become one message.
 *
 * postMessage copies the whole ArrayBuffer behind every view it clones, so each piece of a
 * parcel either lies in an ArrayBuffer that is *moved* with it (listed in `transfer`, and
 * detached for the sender) or is a copy of its own (also moved). An input buffer can be
 * moved only if the input handed it over (`HandedOver.add`: a whole ArrayBuffer that
 * nothing else references, such as a pipe read) and only with the chunk whose piece
 * reaches its end: earlier chunks cut from the same buffer get copies of their part, so no
 * chunk ever sees a detached buffer. Without handed-over buffers, a chunk is assembled into
 * one new buffer (the copy every chunk used to cost on the writer's thread).
 */
import { assemble, type ChunkPieces } from './chunker.ts';

export interface ChunkParcel {
  /** The chunk's bytes, in order. */
  pieces: Uint8Array[];
  /** The ArrayBuffers behind `pieces`, to move with the message. */
  transfer: ArrayBuffer[];
}

/** True when `data` is a view of all of an (unshared) ArrayBuffer, so moving that buffer moves exactly `data`. */
export function coversWholeBuffer(data: Uint8Array): data is Uint8Array<ArrayBuffer> {
  return data.buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
}

/** ArrayBuffers of the input that may be moved to a worker (see the header). */
export class HandedOver {
  private readonly buffers = new WeakSet<ArrayBufferLike>();

  /** Records `data`'s ArrayBuffer if `data` covers all of it; a view of shared or pooled memory is ignored. */
  add(data: unknown): void {
    if (data instanceof Uint8Array && coversWholeBuffer(data)) this.buffers.add(data.buffer);
  }

  /** True once, for a piece that ends its handed-over buffer: the buffer may now move (and is forgotten here). */
  release(piece: Uint8Array): boolean {
    if (piece.byteOffset + piece.byteLength !== piece.buffer.byteLength || !this.buffers.has(piece.buffer)) return false;
    this.buffers.delete(piece.buffer);
    return true;
  }
}

export function handOver(chunk: ChunkPieces, handed: HandedOver | null): ChunkParcel {
  if (!handed) {
    const whole = assemble(chunk);
    return { pieces: [whole], transfer: [whole.buffer as ArrayBuffer] };
  }
  const moved = new Set<ArrayBufferLike>();
  for (const p of chunk.pieces) if (handed.release(p)) moved.add(p.buffer);
  const pieces = chunk.pieces.map((p) => (moved.has(p.buffer) ? p : new Uint8Array(p)));
  const transfer = new Set<ArrayBuffer>();
  for (const p of pieces) transfer.add(p.buffer as ArrayBuffer);
  return { pieces, transfer: [...transfer] };
}

/** A parcel of one buffer, moved if it covers its whole ArrayBuffer and cloned otherwise. */
export function parcelOf(data: Uint8Array): ChunkParcel {
  return { pieces: [data], transfer: coversWholeBuffer(data) ? [data.buffer] : [] };
}
