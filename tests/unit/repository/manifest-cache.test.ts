/**
 * The local manifest cache (RuntimeOptions.manifestCache, used for remote destinations): a
 * listing downloads only the manifests it has not read before — every run used to download
 * every manifest of the folder, several times (its chain, retention, the unchanged check),
 * which on S3 is a GET per point per look. A cached copy is only used for the version the
 * destination lists (size and time), is authenticated like any manifest, and never hides what
 * the destination holds: a replaced manifest is read again, a damaged local copy is replaced,
 * and verify always reads the destination.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { initRepository, LocalChunkCache, openRepository, type PointSummary } from '../../../electron/engine/repository/index.ts';
import { pointKey } from '../../../electron/engine/repository/layout.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { generateKey } from '../../../electron/engine/crypto/index.ts';
import { dumpLike, FAST, pieces, pointOpts, tempDir } from './helpers.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** The real local backend, counting the manifests it is asked for. */
class CountingBackend extends LocalBackend {
  manifestGets = 0;
  override async get(key: string, range?: { offset: number; length: number }): Promise<Buffer> {
    if (key.startsWith('points/')) this.manifestGets++;
    return super.get(key, range);
  }
}

async function folderOfPoints(n: number): Promise<{ dest: string; cacheDir: string; written: PointSummary[] }> {
  const dir = await tempDir();
  cleanups.push(dir.cleanup);
  const dest = join(dir.path, 'dest');
  const repo = await initRepository(new LocalBackend(dest), FAST);
  const written: PointSummary[] = [];
  for (let i = 0; i < n; i++) {
    const data = dumpLike(64 * 1024, 3);
    data.write(`version ${i}`, 100);
    written.push(await repo.writePoint(pieces(data), pointOpts({ kind: i === 0 ? 'full' : 'incremental' })));
  }
  return { dest, cacheDir: join(dir.path, 'cache'), written };
}

async function openCounted(dest: string, cache: LocalChunkCache | null) {
  const backend = new CountingBackend(dest);
  const repo = await openRepository(backend, { ...FAST, ...(cache ? { manifestCache: cache } : {}) });
  return { backend, repo };
}

/** The cached manifest files: name → path. */
function cachedFiles(cacheDir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const repo of readdirSync(cacheDir)) {
    const folder = join(cacheDir, repo, 'points');
    for (const name of readdirSync(folder)) out.set(name, join(folder, name));
  }
  return out;
}

describe('local manifest cache', () => {
  it('a second listing downloads no manifest it read before, and lists the same points', async () => {
    const { dest, cacheDir, written } = await folderOfPoints(5);
    const cache = new LocalChunkCache(cacheDir);
    const first = await openCounted(dest, cache);
    const listed = await first.repo.listPoints();
    expect(first.backend.manifestGets).toBe(5);
    expect(listed.map((p) => p.id)).toEqual(written.map((p) => p.id));

    const second = await openCounted(dest, cache);
    expect(await second.repo.listPoints()).toEqual(listed);
    expect(await second.repo.chains()).toEqual(await first.repo.chains());
    expect(second.backend.manifestGets).toBe(0);
    // Without the cache every listing downloads every manifest.
    const uncached = await openCounted(dest, null);
    expect(await uncached.repo.listPoints()).toEqual(listed);
    expect(uncached.backend.manifestGets).toBe(5);
    // The points still read back from the cached manifests.
    expect((await second.repo.readPoint(written[4]!.id)).readable).toBe(true);
  });

  it('a cached copy damaged on the local disk is read again from the destination and replaced', async () => {
    const { dest, cacheDir, written } = await folderOfPoints(3);
    const cache = new LocalChunkCache(cacheDir);
    const listed = await (await openCounted(dest, cache)).repo.listPoints();
    const [name, path] = [...cachedFiles(cacheDir)].find(([n]) => n.startsWith(written[1]!.id))!;
    const bytes = readFileSync(path);
    writeFileSync(path, Buffer.alloc(bytes.length, 0x5a)); // same size: only decoding can tell
    const again = await openCounted(dest, cache);
    expect(await again.repo.listPoints()).toEqual(listed);
    expect(again.backend.manifestGets).toBe(1);
    expect(readFileSync(cachedFiles(cacheDir).get(name)!)).toEqual(bytes);
  });

  it('a cached copy cut short (a power loss after the rename: an empty file) is read once from the destination and replaced, not missed on every look', async () => {
    const { dest, cacheDir, written } = await folderOfPoints(3);
    const cache = new LocalChunkCache(cacheDir);
    const listed = await (await openCounted(dest, cache)).repo.listPoints();
    const [name, path] = [...cachedFiles(cacheDir)].find(([n]) => n.startsWith(written[1]!.id))!;
    const bytes = readFileSync(path);
    writeFileSync(path, Buffer.alloc(0));
    for (const expectedGets of [1, 0]) {
      const again = await openCounted(dest, cache);
      expect(await again.repo.listPoints()).toEqual(listed);
      expect(again.backend.manifestGets).toBe(expectedGets);
    }
    expect(readFileSync(cachedFiles(cacheDir).get(name)!)).toEqual(bytes);
  });

  it('a manifest replaced at the destination is read from there: a damaged one is reported, never hidden by the cached copy', async () => {
    const { dest, cacheDir, written } = await folderOfPoints(3);
    const cache = new LocalChunkCache(cacheDir);
    await (await openCounted(dest, cache)).repo.listPoints();
    const remote = join(dest, pointKey(written[2]!.id));
    const size = statSync(remote).size;
    writeFileSync(remote, Buffer.alloc(size, 0x5a));
    const later = new Date(Date.now() + 60_000);
    utimesSync(remote, later, later); // a rewrite: the listing gives it another time
    const again = await openCounted(dest, cache);
    const { points, unreadable } = await again.repo.scanPoints();
    expect(points.map((p) => p.id)).toEqual(written.slice(0, 2).map((p) => p.id));
    expect(unreadable.map((d) => [d.id, d.code])).toEqual([[written[2]!.id, 'INTEGRITY']]);
    expect(again.backend.manifestGets).toBe(1);
  });

  it('verify reads every manifest from the destination, even one whose cached copy has the same size and time', async () => {
    const { dest, cacheDir, written } = await folderOfPoints(2);
    const remote = join(dest, pointKey(written[1]!.id));
    const whole = Math.floor(Date.now() / 1000); // a time in whole seconds, set again exactly below
    utimesSync(remote, whole, whole);
    const cache = new LocalChunkCache(cacheDir);
    await (await openCounted(dest, cache)).repo.listPoints();
    writeFileSync(remote, Buffer.alloc(statSync(remote).size, 0x5a));
    utimesSync(remote, whole, whole); // bit rot: the listing cannot tell
    const again = await openCounted(dest, cache);
    // The scan trusts the copy of the version the destination lists; verify does not.
    expect((await again.repo.scanPoints()).unreadable).toEqual([]);
    expect(again.backend.manifestGets).toBe(0);
    const report = await again.repo.verify();
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => [p.pointId, p.code])).toEqual([[written[1]!.id, 'INTEGRITY']]);
  });

  it('a cache smaller than the folder lists every point right, reading each once per look (no eviction loop), and sweeps a dead writer\'s temp files', async () => {
    const { dest, cacheDir, written } = await folderOfPoints(4);
    const warm = await openCounted(dest, new LocalChunkCache(cacheDir));
    const listed = await warm.repo.listPoints();
    const repoId = readdirSync(cacheDir)[0]!;
    const entry = Math.max(...readdirSync(join(cacheDir, repoId, 'points')).map((n) => statSync(join(cacheDir, repoId, 'points', n)).size));
    const tinyDir = join(cacheDir, '..', 'tiny');
    const repoDir = join(tinyDir, repoId, 'points');
    mkdirSync(repoDir, { recursive: true });
    const stale = join(repoDir, '.deadwriter1.tmp');
    const fresh = join(repoDir, '.livewriter1.tmp');
    writeFileSync(stale, 'half a manifest');
    writeFileSync(fresh, 'half a manifest');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    utimesSync(stale, twoHoursAgo, twoHoursAgo);
    // Room for about one and a half manifests: every put evicts.
    const tiny = new LocalChunkCache(tinyDir, Math.floor(entry * 1.5));
    for (let look = 0; look < 2; look++) {
      const { backend, repo } = await openCounted(dest, tiny);
      expect(await repo.listPoints()).toEqual(listed);
      expect(await repo.chains()).toEqual(await warm.repo.chains());
      expect(backend.manifestGets).toBeLessThanOrEqual(written.length);
    }
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(fresh)).toBe(true); // possibly a write in progress in another process
    expect(readdirSync(repoDir).filter((n) => !n.startsWith('.')).length).toBeLessThanOrEqual(1);
  });

  it('an encrypted repository: the cache holds the sealed manifests as stored, no plaintext; two keys\' folders sharing the cache never mix', async () => {
    const dir = await tempDir();
    cleanups.push(dir.cleanup);
    const cacheDir = join(dir.path, 'cache');
    const folders = ['old-key', 'new-key'].map((n) => join(dir.path, n));
    const ids: string[][] = [];
    for (const [i, dest] of folders.entries()) {
      const key = generateKey();
      const repo = await initRepository(new LocalBackend(dest), { ...FAST, key });
      const written = [];
      for (let j = 0; j < 2; j++) written.push((await repo.writePoint(pieces(dumpLike(32 * 1024, i * 10 + j)), pointOpts({ database: 'payroll_confidential', kind: j === 0 ? 'full' : 'incremental' }))).id);
      ids.push(written);
      const cache = new LocalChunkCache(cacheDir);
      for (let look = 0; look < 2; look++) {
        const backend = new CountingBackend(dest);
        const opened = await openRepository(backend, { ...FAST, key, manifestCache: cache });
        expect((await opened.listPoints()).map((p) => [p.id, p.database])).toEqual(written.map((id) => [id, 'payroll_confidential']));
        expect(backend.manifestGets).toBe(look === 0 ? 2 : 0);
      }
      // A key that does not open this folder cannot read its cached manifests either.
      await expect(openRepository(new LocalBackend(dest), { ...FAST, key: generateKey(), manifestCache: cache })).rejects.toMatchObject({ code: 'KEY_MISMATCH' });
    }
    const files = cachedFiles(cacheDir);
    expect(files.size).toBe(4);
    expect(readdirSync(cacheDir)).toHaveLength(2); // one folder per repository
    for (const [name, path] of files) {
      const bytes = readFileSync(path);
      const id = name.split('@')[0]!;
      const dest = folders[ids.findIndex((w) => w.includes(id))]!;
      expect(bytes).toEqual(readFileSync(join(dest, pointKey(id))));
      expect(bytes.includes('payroll_confidential')).toBe(false);
      expect(bytes.includes('pg_dump')).toBe(false);
    }
  });

  it("points another machine deleted (its retention or prune) leave this machine's cache at the next listing, and are never listed", async () => {
    const { dest, cacheDir, written } = await folderOfPoints(3);
    const cache = new LocalChunkCache(cacheDir);
    await (await openCounted(dest, cache)).repo.listPoints();
    expect(cachedFiles(cacheDir).size).toBe(3);
    const elsewhere = await openRepository(new LocalBackend(dest), FAST); // the other machine: no access to this cache
    await elsewhere.deletePoints([written[0]!.id, written[1]!.id]);
    const again = await openCounted(dest, cache);
    expect((await again.repo.listPoints()).map((p) => p.id)).toEqual([written[2]!.id]);
    expect(again.backend.manifestGets).toBe(0);
    expect([...cachedFiles(cacheDir).keys()].map((n) => n.split('@')[0])).toEqual([written[2]!.id]);
  });

  it('eviction goes by use, not by write time: manifests every look reads stay, chunks nobody read since are evicted first', async () => {
    const { dest, cacheDir, written } = await folderOfPoints(4);
    await (await openCounted(dest, new LocalChunkCache(cacheDir))).repo.listPoints();
    const repoId = readdirSync(cacheDir)[0]!;
    const manifests = [...cachedFiles(cacheDir).values()];
    const m = manifests.reduce((n, f) => n + statSync(f).size, 0);
    const cache = new LocalChunkCache(cacheDir, Math.floor(3.5 * m));
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3600_000);
    for (const f of manifests) utimesSync(f, hoursAgo(3), hoursAgo(3)); // cached three hours ago
    const roomy = new LocalChunkCache(cacheDir);
    for (let i = 0; i < 2; i++) await roomy.put(repoId, Buffer.alloc(32, i + 1), Buffer.alloc(m, 7)); // chunks two hours ago
    for (let i = 0; i < 2; i++) {
      const h = Buffer.alloc(32, i + 1).toString('hex');
      utimesSync(join(cacheDir, repoId, h.slice(0, 2), h), hoursAgo(2), hoursAgo(2));
    }
    const look = await openCounted(dest, cache); // the manifests are read now
    expect((await look.repo.listPoints()).map((p) => p.id)).toEqual(written.map((p) => p.id));
    expect(look.backend.manifestGets).toBe(0);
    await cache.put(repoId, Buffer.alloc(32, 9), Buffer.alloc(m, 7)); // a new chunk: over the limit, evicts
    const next = await openCounted(dest, cache);
    expect((await next.repo.listPoints()).map((p) => p.id)).toEqual(written.map((p) => p.id));
    expect(next.backend.manifestGets).toBe(0);
    expect(await cache.get(repoId, Buffer.alloc(32, 1))).toBeNull();
    expect(await cache.get(repoId, Buffer.alloc(32, 9))).not.toBeNull();
  });

  it("a deleted point's cached copy is removed with it", async () => {
    const { dest, cacheDir, written } = await folderOfPoints(3);
    const cache = new LocalChunkCache(cacheDir);
    const { repo } = await openCounted(dest, cache);
    await repo.listPoints();
    expect(cachedFiles(cacheDir).size).toBe(3);
    await repo.deletePoints([written[2]!.id]);
    await new Promise((r) => setImmediate(r));
    expect([...cachedFiles(cacheDir).keys()].map((n) => n.split('@')[0])).toEqual(written.slice(0, 2).map((p) => p.id).sort());
  });
});
