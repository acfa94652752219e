/**
 * Bytes downloaded by an S3-only incremental, counted at the backend (every GET of the
 * repository, manifests and header included) against the real S3 protocol server, with the
 * default chunker (1 MiB chunks): with the local chunk cache the incremental downloads
 * fewer bytes than its delta chunks save (what a format-1 repository uploads for the same
 * incremental, minus what format 2 uploads). With the cache cleared after the full, every
 * base is downloaded: a base costs about what storing the chunk whole would, so downloads
 * are bounded by about the bytes saved (the miss PERFORMANCE.md reports), never more.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { createS3Backend } from '../../../electron/engine/storage/s3-backend.ts';
import { CountingBackend } from '../../fixtures/storage/counting-backend.ts';
import { initRepository, LocalChunkCache } from '../../../electron/engine/repository/index.ts';
import { generateKey } from '../../../electron/engine/crypto/index.ts';
import { s3rverBackendOptions, startS3rver, type S3rverHandle } from '../../fixtures/s3rver.ts';
import { collect, dumpLike, pieces, pointOpts, sha256, tempDir } from '../../unit/repository/helpers.ts';

let s3: S3rverHandle;
let seq = 0;
beforeAll(async () => {
  s3 = await startS3rver(['bytes']);
});
afterAll(async () => {
  await s3?.stop();
});

const key = generateKey();
const data = dumpLike(6_000_000, 77);
const changed = Buffer.from(data);
for (let at = 4_000; at < changed.length; at += 9_973) changed[at] = 0x37; // a scattered 1% update: every chunk changes

type Case = 'format 1' | 'cache' | 'cache cleared';

async function incremental(which: Case, cacheDir: string): Promise<{ downloaded: number; uploaded: number; deltas: number; restored: string }> {
  const backend = new CountingBackend(createS3Backend(s3rverBackendOptions(s3, { bucket: 'bytes', prefix: `case-${seq++}` })));
  const repo = await initRepository(backend, { key, workers: 0, formatVersion: which === 'format 1' ? 1 : 2, upgradeFormat: which !== 'format 1', chunkCache: which === 'format 1' ? null : new LocalChunkCache(cacheDir) });
  await repo.writePoint(pieces(data, 1 << 20), pointOpts({ kind: 'full', expectedSize: data.length }));
  if (which === 'cache cleared') rmSync(cacheDir, { recursive: true, force: true });
  backend.reset();
  const inc = await repo.writePoint(pieces(changed, 1 << 20), pointOpts({ kind: 'incremental', expectedSize: data.length }));
  const counted = { downloaded: backend.downloaded, uploaded: backend.uploaded };
  const restored = sha256(await collect(await repo.readPoint(inc.id)));
  return { ...counted, deltas: inc.stats.chunksDelta ?? 0, restored };
}

describe('S3-only incremental: bytes downloaded against bytes saved, counted at the backend', () => {
  it('with the local chunk cache downloads fewer bytes than it saves; with the cache cleared, about as many', async () => {
    const dir = await tempDir('backstop-s3-bytes-');
    try {
      const v1 = await incremental('format 1', `${dir.path}/v1`);
      const cached = await incremental('cache', `${dir.path}/cached`);
      const cleared = await incremental('cache cleared', `${dir.path}/cleared`);
      const saved = (r: { uploaded: number }) => v1.uploaded - r.uploaded;
      console.log(
        `S3-only incremental: format 1 uploads ${v1.uploaded} B; with the cache ${cached.uploaded} B up, ${cached.downloaded} B down; ` +
          `cache cleared ${cleared.uploaded} B up, ${cleared.downloaded} B down (ratio ${(cleared.downloaded / saved(cleared)).toFixed(3)})`,
      );
      expect(cached.deltas).toBeGreaterThanOrEqual(4);
      expect(cleared.deltas).toBe(cached.deltas);
      expect(saved(cached)).toBeGreaterThan(v1.uploaded * 0.9);
      expect(cached.downloaded).toBeLessThan(saved(cached));
      expect(cached.downloaded / saved(cached)).toBeLessThan(0.05); // manifests and the header only
      // Cache cleared: every base is downloaded once; that costs about what the deltas save, not more.
      expect(cleared.downloaded).toBeGreaterThan(saved(cleared) * 0.9);
      expect(cleared.downloaded).toBeLessThan(saved(cleared) * 1.1);
      for (const r of [v1, cached, cleared]) expect(r.restored).toBe(sha256(changed));
    } finally {
      await dir.cleanup();
    }
  });
});
