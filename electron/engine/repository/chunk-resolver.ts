/**
 * Raw bytes of single chunks by location, resolving delta bases (docs/FORMAT.md §6, §11).
 *
 * Contract: `raw(ref)` reads the chunk with one ranged read of its pack, reads its base
 * first when it is a delta (recursively, at most the manifest's chain of bases), and
 * returns the checked raw chunk (authenticated, decompressed, length and id verified).
 * Recently resolved chunks are kept in a bounded in-memory cache (`cacheBytes`), since a
 * base usually serves several chunks; `remember` adds a chunk its caller decoded itself.
 * `bytesRead` counts the bytes fetched from the destination (the download cost of bases
 * for an S3 destination). With a chunk cache (RuntimeOptions.chunkCache) a chunk is looked
 * up there first and what is downloaded is added to it; a cached copy that fails its checks
 * is dropped and read from the destination instead. Any failure throws ChunkUnreadableError naming the pack at
 * fault, which callers turn into INTEGRITY messages naming point and pack; other storage
 * errors (STORAGE, PERMISSION_DENIED) pass through.
 */
import { hasCode } from '../../shared/result.ts';
import { ChunkDamagedError, type ChunkDecoder } from './chunk-codec.ts';
import type { RepoContext } from './context.ts';
import { packKey } from './layout.ts';
import type { ChunkRef } from './manifest.ts';

export const DEFAULT_BASE_CACHE_BYTES = 64 * 1024 * 1024;

export class ChunkUnreadableError extends Error {
  constructor(
    readonly packId: string,
    readonly detail: string,
  ) {
    super(`pack ${packId} ${detail}`);
    this.name = 'ChunkUnreadableError';
  }
}

export class ChunkResolver {
  private readonly cache = new Map<string, Buffer>();
  private cached = 0;
  bytesRead = 0;

  constructor(
    private readonly ctx: RepoContext,
    private readonly decoder: ChunkDecoder,
    private readonly cacheBytes = DEFAULT_BASE_CACHE_BYTES,
  ) {}

  /** Keeps `raw` (the checked chunk `id`) for later `raw` calls, evicting the oldest entries. */
  remember(id: Uint8Array, raw: Buffer): void {
    if (raw.length > this.cacheBytes) return;
    const key = Buffer.from(id.buffer, id.byteOffset, id.length).toString('hex');
    if (this.cache.has(key)) return;
    this.cache.set(key, raw);
    this.cached += raw.length;
    for (const [k, v] of this.cache) {
      if (this.cached <= this.cacheBytes) break;
      this.cache.delete(k);
      this.cached -= v.length;
    }
  }

  async raw(ref: ChunkRef): Promise<Buffer> {
    const key = ref.id.toString('hex');
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key); // most recently used goes last
      this.cache.set(key, hit);
      return hit;
    }
    const base = ref.base ? { id: ref.base.id, raw: await this.raw(ref.base) } : null;
    const cache = this.ctx.options.chunkCache;
    const repoId = this.ctx.header.repositoryId;
    const local = cache ? await cache.get(repoId, ref.id) : null;
    if (local) {
      try {
        const raw = this.decoder.decode(ref.id, local, ref.rawLength, base);
        this.remember(ref.id, raw);
        return raw;
      } catch (e) {
        if (!(e instanceof ChunkDamagedError)) throw e;
        await cache!.drop(repoId, ref.id);
      }
    }
    let stored: Buffer;
    try {
      stored = await this.ctx.backend.get(packKey(ref.packId), { offset: ref.offset, length: ref.storedLength });
    } catch (e) {
      if (hasCode(e, 'NOT_FOUND')) throw new ChunkUnreadableError(ref.packId, `is missing (${packKey(ref.packId)})`);
      throw e;
    }
    this.bytesRead += stored.length;
    if (stored.length !== ref.storedLength) throw new ChunkUnreadableError(ref.packId, `is truncated (read ${stored.length} of ${ref.storedLength} bytes at offset ${ref.offset})`);
    let raw: Buffer;
    try {
      raw = this.decoder.decode(ref.id, stored, ref.rawLength, base);
    } catch (e) {
      if (e instanceof ChunkDamagedError) throw new ChunkUnreadableError(ref.packId, `holds a bad chunk at offset ${ref.offset}: ${e.message}`);
      throw e;
    }
    this.remember(ref.id, raw);
    if (cache) await cache.put(repoId, ref.id, stored);
    return raw;
  }
}
