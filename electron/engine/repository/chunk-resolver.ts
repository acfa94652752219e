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
 *
 * For a restore (`deferBaseCheck`): a base read from the destination is authenticated and
 * its length checked, but not hashed against its id — every use of it is a delta whose own
 * result is hashed against its id, and a wrong base cannot produce the right result. When
 * such a result fails its check, the caller asks `confirm(base)`, which hashes the chain's
 * unchecked bases and throws ChunkUnreadableError naming a base's pack if one is at fault.
 * (Copies from the local chunk cache are always checked: a bad one is dropped and read again.)
 * `fetchAhead(bases)` fetches the stored forms of bases not at hand in coalesced ranged
 * reads of nearby chunks of a pack (gaps ≤ 1 MiB; at most `limit` bytes), for `raw` to use,
 * so a point of deltas reads its bases in about as many requests as its own chunks.
 */
import { hasCode } from '../../shared/result.ts';
import { ChunkDamagedError, type ChunkDecoder } from './chunk-codec.ts';
import type { RepoContext } from './context.ts';
import { packKey } from './layout.ts';
import type { ChunkRef } from './manifest.ts';

export const DEFAULT_BASE_CACHE_BYTES = 64 * 1024 * 1024;
/** Bases of one pack this close are fetched in one read: a request costs more than this many bytes. */
const PREFETCH_GAP = 1024 * 1024;

export class ChunkUnreadableError extends Error {
  constructor(
    readonly packId: string,
    readonly detail: string,
  ) {
    super(`pack ${packId} ${detail}`);
    this.name = 'ChunkUnreadableError';
  }
}

interface Resolved {
  raw: Buffer;
  /** False: not yet hashed against its id (deferBaseCheck). */
  checked: boolean;
  packId: string;
  offset: number;
}

export class ChunkResolver {
  private readonly cache = new Map<string, Resolved>();
  private cached = 0;
  bytesRead = 0;

  constructor(
    private readonly ctx: RepoContext,
    private readonly decoder: ChunkDecoder,
    private readonly cacheBytes = DEFAULT_BASE_CACHE_BYTES,
    private readonly deferBaseCheck = false,
  ) {}

  /** Keeps `raw` (the checked chunk `id`) for later `raw` calls, evicting the oldest entries. */
  remember(id: Uint8Array, raw: Buffer): void {
    this.keep(Buffer.from(id.buffer, id.byteOffset, id.length).toString('hex'), { raw, checked: true, packId: '', offset: 0 });
  }

  private keep(key: string, entry: Resolved): void {
    if (entry.raw.length > this.cacheBytes) return;
    const had = this.cache.get(key);
    if (had) {
      if (entry.checked) had.checked = true;
      return;
    }
    this.cache.set(key, entry);
    this.cached += entry.raw.length;
    for (const [k, v] of this.cache) {
      if (this.cached <= this.cacheBytes) break;
      this.cache.delete(k);
      this.cached -= v.raw.length;
    }
  }

  /**
   * Fetches the stored forms of `refs` not already at hand, chunks of one pack close together
   * in one ranged read, at most `limit` bytes in all (the rest is read one by one by `raw`);
   * pass the result to `raw`. A read that finds its pack missing or short ends the fetch
   * early (`raw` then reports it); other storage errors reject.
   */
  async fetchAhead(refs: readonly ChunkRef[], limit: number): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    if (this.ctx.options.chunkCache) return out; // bases are likely local: nothing to download ahead
    const seen = new Set<string>();
    const want = refs
      .filter((r) => {
        const key = r.id.toString('hex');
        if (seen.has(key) || this.cache.has(key)) return false;
        seen.add(key);
        return true;
      })
      .sort((a, b) => (a.packId === b.packId ? a.offset - b.offset : a.packId < b.packId ? -1 : 1));
    let held = 0;
    let i = 0;
    while (i < want.length) {
      const first = want[i]!;
      if (held + first.storedLength > limit) break;
      let end = first.offset + first.storedLength;
      let j = i + 1;
      // Chunks of one pack at most PREFETCH_GAP apart share a read (the gap is read and dropped).
      while (j < want.length && want[j]!.packId === first.packId && want[j]!.offset >= end && want[j]!.offset - end <= PREFETCH_GAP) {
        const next = want[j]!.offset + want[j]!.storedLength;
        if (held + next - first.offset > limit) break;
        end = next;
        j++;
      }
      let buf: Buffer;
      try {
        buf = await this.ctx.backend.get(packKey(first.packId), { offset: first.offset, length: end - first.offset });
      } catch (e) {
        if (hasCode(e, 'NOT_FOUND')) return out;
        throw e;
      }
      this.bytesRead += buf.length;
      if (buf.length !== end - first.offset) return out;
      for (let k = i; k < j; k++) {
        const r = want[k]!;
        out.set(r.id.toString('hex'), buf.subarray(r.offset - first.offset, r.offset - first.offset + r.storedLength));
      }
      held += buf.length;
      i = j;
    }
    return out;
  }

  /**
   * After a chunk decoded against `ref` failed its checks: hashes `ref` and its bases that
   * were not yet checked, deepest first (a wrong base makes every delta above it wrong),
   * throwing ChunkUnreadableError for the first one at fault.
   */
  confirm(ref: ChunkRef): void {
    const chain: ChunkRef[] = [];
    for (let r: ChunkRef | null = ref; r; r = r.base ?? null) chain.unshift(r);
    for (const r of chain) {
      const entry = this.cache.get(r.id.toString('hex'));
      if (!entry || entry.checked) continue;
      try {
        this.decoder.checkId(r.id, entry.raw);
        entry.checked = true;
      } catch (e) {
        this.cache.delete(r.id.toString('hex'));
        this.cached -= entry.raw.length;
        throw new ChunkUnreadableError(entry.packId, `holds a bad chunk at offset ${entry.offset}: ${(e as Error).message}`);
      }
    }
  }

  /** `ahead`: stored forms from `fetchAhead`; an entry used is removed from it. */
  async raw(ref: ChunkRef, ahead?: Map<string, Buffer>): Promise<Buffer> {
    const key = ref.id.toString('hex');
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key); // most recently used goes last
      this.cache.set(key, hit);
      if (!hit.checked && !this.deferBaseCheck) this.confirm(ref);
      return hit.raw;
    }
    const base = ref.base ? { id: ref.base.id, raw: await this.raw(ref.base, ahead) } : null;
    const cache = this.ctx.options.chunkCache;
    const repoId = this.ctx.header.repositoryId;
    const local = cache ? await cache.get(repoId, ref.id) : null;
    if (local) {
      try {
        const raw = this.decoder.decode(ref.id, local, ref.rawLength, base);
        this.keep(key, { raw, checked: true, packId: ref.packId, offset: ref.offset });
        return raw;
      } catch (e) {
        if (!(e instanceof ChunkDamagedError)) throw e;
        await cache!.drop(repoId, ref.id);
      }
    }
    let stored = ahead?.get(key);
    if (stored) ahead!.delete(key);
    else {
      try {
        stored = await this.ctx.backend.get(packKey(ref.packId), { offset: ref.offset, length: ref.storedLength });
      } catch (e) {
        if (hasCode(e, 'NOT_FOUND')) throw new ChunkUnreadableError(ref.packId, `is missing (${packKey(ref.packId)})`);
        throw e;
      }
      this.bytesRead += stored.length;
    }
    if (stored.length !== ref.storedLength) throw new ChunkUnreadableError(ref.packId, `is truncated (read ${stored.length} of ${ref.storedLength} bytes at offset ${ref.offset})`);
    let raw: Buffer;
    try {
      raw = this.decoder.decode(ref.id, stored, ref.rawLength, base, !this.deferBaseCheck);
    } catch (e) {
      if (e instanceof ChunkDamagedError) {
        if (ref.base) this.confirm(ref.base); // a wrong base makes a good delta fail: name the base
        throw new ChunkUnreadableError(ref.packId, `holds a bad chunk at offset ${ref.offset}: ${e.message}`);
      }
      throw e;
    }
    this.keep(key, { raw, checked: !this.deferBaseCheck, packId: ref.packId, offset: ref.offset });
    if (cache) await cache.put(repoId, ref.id, stored);
    return raw;
  }
}
