/**
 * A bounded local cache of stored chunks, so an incremental to a remote destination (S3)
 * reads its delta bases from the local disk instead of downloading them (docs/FORMAT.md §6a),
 * and of manifests, so a run lists a remote folder's points without downloading every
 * manifest again each time (ManifestStore).
 *
 * Contract: entries are the chunks' *stored* form (sealed: AES-256-GCM under the
 * repository's data key for an encrypted repository, so the cache holds no plaintext the
 * destination does not), filed under `<dir>/<repositoryId>/<id[0..2]>/<chunk id>`. `get`
 * returns the bytes or null (missing/unreadable: the caller reads the destination); the
 * caller authenticates and checks them like any chunk, and `drop`s an entry that fails.
 * `put` is atomic (temp file + rename) and best effort: a full or unwritable disk only
 * costs downloads, never a backup, and leaves no temp file. When the cache grows beyond
 * `maxBytes` the least recently used (read or written: a hit touches the file) are removed (and temp files of a process
 * that died mid-write, once an hour old). Safe to share between repositories (keyed by
 * repository id) and between processes (writes are atomic, eviction tolerates races).
 * A manifest is filed under `<dir>/<repositoryId>/points/<point id>@<size>@<modified ms>`:
 * the destination listing's size and time name the object's version, so a manifest put
 * again, replaced or tampered with at the destination is a miss and read from there; the
 * caller decodes (authenticates) the bytes like any manifest and drops an entry that fails,
 * and after each listing `keepManifests` removes those of points deleted elsewhere;
 * an entry of another size than its name says (cut short) is dropped by `getManifest`.
 * A manifest this machine just committed has no listed time yet (a run does not list its
 * folder again to learn it): `putCommitted` files it under `<point id>@<size>@committed`, and
 * the first look that lists that point at that size takes it as that version (the bytes are
 * the ones this machine stored under that id, and are authenticated when read like any other).
 */
import { mkdir, readdir, readFile, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export const DEFAULT_CHUNK_CACHE_BYTES = 512 * 1024 * 1024;

/** The app's one local cache folder in its data folder. */
export function localCacheDir(dataDir: string): string {
  return join(dataDir, 'chunk-cache');
}

export interface ChunkCache {
  get(repositoryId: string, id: Uint8Array): Promise<Buffer | null>;
  put(repositoryId: string, id: Uint8Array, stored: Uint8Array): Promise<void>;
  drop(repositoryId: string, id: Uint8Array): Promise<void>;
}

/** One version of a manifest object at the destination: its size and last-modified time as listed. */
export interface ObjectVersion {
  size: number;
  modifiedMs: number;
}

export interface ManifestCache {
  getManifest(repositoryId: string, pointId: string, version: ObjectVersion): Promise<Buffer | null>;
  putManifest(repositoryId: string, pointId: string, version: ObjectVersion, bytes: Uint8Array): Promise<void>;
  dropManifest(repositoryId: string, pointId: string, version: ObjectVersion): Promise<void>;
  /** A manifest this machine just committed (`bytes` as stored), before any listing gave its version. */
  putCommitted(repositoryId: string, pointId: string, bytes: Uint8Array): Promise<void>;
  /** Removes the repository's cached manifests of any other point or version than `listed` (the destination's whole listing). */
  keepManifests(repositoryId: string, listed: ReadonlyMap<string, ObjectVersion>): Promise<void>;
}

/** The open option that reads a remote location's manifests through `cache`; none for a local folder (its reads cost nothing). */
export function remoteCache(location: { kind: string }, cache: ManifestCache | null): { manifestCache?: ManifestCache } {
  return cache && location.kind !== 'local' ? { manifestCache: cache } : {};
}

/** A write in progress: `.<random>.tmp` beside the entry, renamed into place when whole. */
const TEMP_SUFFIX = '.tmp';
/** A temp file older than this belongs to a process that died mid-write (a write takes milliseconds). */
const STALE_TEMP_MS = 60 * 60 * 1000;

/** The cache's subfolder of manifests in a repository's folder (chunk fan-outs are two hex digits). */
const MANIFESTS = 'points';

/** Marks an entry used now: eviction removes the least recently used (read or written) first. */
const touch = (path: string) => {
  const now = new Date();
  return utimes(path, now, now).catch(() => {});
};

const hex = (id: Uint8Array) => Buffer.from(id.buffer, id.byteOffset, id.length).toString('hex');

export class LocalChunkCache implements ChunkCache, ManifestCache {
  private total: number | null = null;
  private evicting: Promise<void> | null = null;

  constructor(
    readonly dir: string,
    readonly maxBytes = DEFAULT_CHUNK_CACHE_BYTES,
  ) {}

  private path(repositoryId: string, id: Uint8Array): string {
    const h = hex(id);
    return join(this.dir, repositoryId, h.slice(0, 2), h);
  }

  async get(repositoryId: string, id: Uint8Array): Promise<Buffer | null> {
    const path = this.path(repositoryId, id);
    const bytes = await readFile(path).catch(() => null);
    if (bytes) await touch(path);
    return bytes;
  }

  async drop(repositoryId: string, id: Uint8Array): Promise<void> {
    await unlink(this.path(repositoryId, id)).catch(() => {});
  }

  async put(repositoryId: string, id: Uint8Array, stored: Uint8Array): Promise<void> {
    await this.store(this.path(repositoryId, id), stored);
  }

  private manifestPath(repositoryId: string, pointId: string, v: ObjectVersion): string {
    return join(this.dir, repositoryId, MANIFESTS, `${pointId}@${v.size}@${Math.trunc(v.modifiedMs)}`);
  }

  /** Where `putCommitted` files a manifest until a listing names its version. */
  private committedPath(repositoryId: string, pointId: string, size: number): string {
    return join(this.dir, repositoryId, MANIFESTS, `${pointId}@${size}@committed`);
  }

  async getManifest(repositoryId: string, pointId: string, version: ObjectVersion): Promise<Buffer | null> {
    const path = this.manifestPath(repositoryId, pointId, version);
    let bytes = await readFile(path).catch(() => null);
    if (!bytes) {
      // Committed here and listed now at the size committed: filed under the version listed from now on.
      const committed = this.committedPath(repositoryId, pointId, version.size);
      bytes = await readFile(committed).catch(() => null);
      if (bytes) await rename(committed, path).catch(() => {});
    }
    if (!bytes) return null;
    if (bytes.length === version.size) {
      await touch(path);
      return bytes;
    }
    // Cut short (a power loss soon after the rename): removed, so the read that follows puts it again.
    await unlink(path).catch(() => {});
    return null;
  }

  async putManifest(repositoryId: string, pointId: string, version: ObjectVersion, bytes: Uint8Array): Promise<void> {
    if (bytes.length === version.size) await this.store(this.manifestPath(repositoryId, pointId, version), bytes);
  }

  async putCommitted(repositoryId: string, pointId: string, bytes: Uint8Array): Promise<void> {
    await this.store(this.committedPath(repositoryId, pointId, bytes.length), bytes);
  }

  async dropManifest(repositoryId: string, pointId: string, version: ObjectVersion): Promise<void> {
    await unlink(this.manifestPath(repositoryId, pointId, version)).catch(() => {});
    await unlink(this.committedPath(repositoryId, pointId, version.size)).catch(() => {});
  }

  async keepManifests(repositoryId: string, listed: ReadonlyMap<string, ObjectVersion>): Promise<void> {
    const folder = join(this.dir, repositoryId, MANIFESTS);
    const keep = new Set([...listed].flatMap(([id, v]) => [basename(this.manifestPath(repositoryId, id, v)), basename(this.committedPath(repositoryId, id, v.size))]));
    for (const name of await readdir(folder).catch(() => [] as string[])) {
      if (!name.startsWith('.') && !keep.has(name)) await unlink(join(folder, name)).catch(() => {});
    }
  }

  private async store(path: string, stored: Uint8Array): Promise<void> {
    let tmp: string | null = null;
    try {
      if (await stat(path).catch(() => null)) return;
      const folder = join(path, '..');
      await mkdir(folder, { recursive: true });
      tmp = join(folder, `.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
      await writeFile(tmp, stored);
      await rename(tmp, path);
      tmp = null;
      // The first measure counts the entry just renamed into place.
      this.total = this.total === null ? await this.measure() : this.total + stored.length;
      if (this.total > this.maxBytes) await (this.evicting ??= this.evict().finally(() => (this.evicting = null)));
    } catch {
      // Best effort: the chunk is in the destination; only a later download is lost. A temp
      // file a full disk cut short is removed (it is never counted, so never evicted).
      if (tmp) await unlink(tmp).catch(() => {});
    }
  }

  private async entries(): Promise<{ path: string; size: number; mtimeMs: number }[]> {
    const out: { path: string; size: number; mtimeMs: number }[] = [];
    for (const repo of await readdir(this.dir).catch(() => [] as string[])) {
      for (const fan of await readdir(join(this.dir, repo)).catch(() => [] as string[])) {
        for (const name of await readdir(join(this.dir, repo, fan)).catch(() => [] as string[])) {
          const path = join(this.dir, repo, fan, name);
          if (name.startsWith('.')) {
            // A temp file of a process that died mid-write is removed once surely not in use.
            if (name.endsWith(TEMP_SUFFIX)) {
              const s = await stat(path).catch(() => null);
              if (s && Date.now() - s.mtimeMs > STALE_TEMP_MS) await rm(path, { force: true });
            }
            continue;
          }
          const s = await stat(path).catch(() => null);
          if (s) out.push({ path, size: s.size, mtimeMs: s.mtimeMs });
        }
      }
    }
    return out;
  }

  private async measure(): Promise<number> {
    return (await this.entries()).reduce((n, e) => n + e.size, 0);
  }

  /** Removes the least recently used entries until the cache is at most 3/4 full. */
  private async evict(): Promise<void> {
    const all = (await this.entries()).sort((a, b) => a.mtimeMs - b.mtimeMs);
    let total = all.reduce((n, e) => n + e.size, 0);
    for (const e of all) {
      if (total <= this.maxBytes * 0.75) break;
      await rm(e.path, { force: true });
      total -= e.size;
    }
    this.total = total;
  }
}
