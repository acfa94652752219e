/**
 * The local chunk cache (repository/chunk-cache.ts) with real files: it stays within its
 * bound, a write fills it and the next incremental takes its bases from it (nothing read
 * from the destination), and a damaged cached chunk is dropped and read from the
 * destination instead, still restoring byte-identical.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { initRepository, LocalChunkCache } from '../../../electron/engine/repository/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { generateKey } from '../../../electron/engine/crypto/index.ts';
import { FAST, SMALL_CDC, SMALL_PACK, collect, dumpLike, pieces, pointOpts, sha256, tempDir } from './helpers.ts';

let dir: Awaited<ReturnType<typeof tempDir>>;
let cacheDir: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  dir = await tempDir();
  cacheDir = await tempDir('backstop-cache-');
});
afterEach(async () => {
  await dir.cleanup();
  await cacheDir.cleanup();
});

async function files(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) if (e.isFile()) out.push(join(e.parentPath, e.name));
  return out;
}

describe('local chunk cache', () => {
  it('stays within its size bound, dropping the oldest entries', async () => {
    const cache = new LocalChunkCache(cacheDir.path, 100_000);
    for (let i = 0; i < 40; i++) await cache.put('r1', Buffer.alloc(32, i), Buffer.alloc(10_000, i));
    let total = 0;
    for (const f of await files(cacheDir.path)) total += (await stat(f)).size;
    expect(total).toBeLessThanOrEqual(100_000);
    expect(await cache.get('r1', Buffer.alloc(32, 39))).toEqual(Buffer.alloc(10_000, 39));
    expect(await cache.get('r1', Buffer.alloc(32, 0))).toBeNull();
  });

  it('an incremental takes its bases from the cache; a damaged cached chunk is read from the destination instead', async () => {
    const key = generateKey();
    const repo = await initRepository(new LocalBackend(dir.path), { key, chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST, chunkCache: new LocalChunkCache(cacheDir.path) });
    const data = dumpLike(200_000, 17);
    const full = await repo.writePoint(pieces(data), pointOpts({ kind: 'full' }));
    const cached = await files(cacheDir.path);
    expect(cached.length).toBe(full.stats.chunksNew);
    // Sealed under the repository key: no plaintext row text in the cache.
    for (const f of cached.slice(0, 5)) expect((await readFile(f)).includes('INSERT INTO')).toBe(false);

    const one = Buffer.from(data);
    one[50_000] = 0x7e; // '~' never occurs in dumpLike text
    const a = await repo.writePoint(pieces(one), pointOpts({ kind: 'incremental' }));
    expect(a.stats).toMatchObject({ chunksDelta: 1, bytesBaseRead: 0 });

    for (const f of await files(cacheDir.path)) await writeFile(f, Buffer.from('not a chunk'));
    const two = Buffer.from(one);
    two[120_000] = 0x7c; // '|'
    const b = await repo.writePoint(pieces(two), pointOpts({ kind: 'incremental' }));
    expect(b.stats.chunksDelta).toBe(1);
    expect(b.stats.bytesBaseRead).toBeGreaterThan(0);
    expect(sha256(await collect(await repo.readPoint(b.id)))).toBe(sha256(two));
    expect((await repo.verify()).problems).toEqual([]);
  });
});
