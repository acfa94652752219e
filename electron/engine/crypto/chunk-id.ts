/**
 * Chunk ids: HMAC-SHA-256 of the raw chunk under the derived chunk-id key (encrypted
 * repositories), plain SHA-256 otherwise. 32 bytes. A keyed id keeps an observer of an
 * encrypted repository from confirming that it holds a known piece of data.
 *
 * Contract: deterministic for (key, bytes); pure; safe on any thread.
 */
import { createHash, createHmac } from 'node:crypto';

export const CHUNK_ID_LENGTH = 32;

export type ChunkIdFn = (data: Uint8Array) => Buffer;

export function chunkIdFunction(chunkIdKey: Uint8Array | null): ChunkIdFn {
  if (chunkIdKey) {
    const key = Buffer.from(chunkIdKey);
    return (data) => createHmac('sha256', key).update(data).digest();
  }
  return (data) => createHash('sha256').update(data).digest();
}
