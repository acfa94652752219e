/**
 * Format 2 delta chunks on an S3-only destination (a real S3 protocol server): without a
 * local cache every base is downloaded (reported as stats.bytesBaseRead); with the local
 * chunk cache the bases come from the data dir, so the incremental downloads nothing and
 * downloads / bytes saved < 1. Points restore byte-identical from S3 and verify.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { createS3Backend } from '../../../electron/engine/storage/s3-backend.ts';
import { initRepository, LocalChunkCache, type Repository } from '../../../electron/engine/repository/index.ts';
import { generateKey } from '../../../electron/engine/crypto/index.ts';
import { s3rverBackendOptions, startS3rver, type S3rverHandle } from '../../fixtures/s3rver.ts';
import { collect, dumpLike, pieces, pointOpts, SMALL_CDC, sha256, tempDir } from '../../unit/repository/helpers.ts';

let s3: S3rverHandle;
let seq = 0;
beforeAll(async () => {
  s3 = await startS3rver(['work']);
});
afterAll(async () => {
  await s3?.stop();
});

const key = generateKey();
const data = dumpLike(600_000, 31);
const changed = Buffer.from(data);
for (let at = 3_000; at < changed.length; at += 40_000) changed[at] = 0x37; // ~15 scattered one-byte updates

async function repo(formatVersion: number, cacheDir: string | null): Promise<Repository> {
  const backend = createS3Backend(s3rverBackendOptions(s3, { prefix: `delta-${Date.now()}-${seq++}` }));
  return initRepository(backend, { key, chunker: SMALL_CDC, packSize: 256 * 1024, workers: 0, formatVersion, upgradeFormat: formatVersion >= 2, chunkCache: cacheDir ? new LocalChunkCache(cacheDir) : null });
}

describe('delta chunks on an S3-only destination', () => {
  it('downloads bases without a cache, nothing with one; downloads stay below the bytes saved', async () => {
    const v1 = await repo(1, null);
    await v1.writePoint(pieces(data), pointOpts({ kind: 'full' }));
    const whole = await v1.writePoint(pieces(changed), pointOpts({ kind: 'incremental' }));

    const plain = await repo(2, null);
    await plain.writePoint(pieces(data), pointOpts({ kind: 'full' }));
    const noCache = await plain.writePoint(pieces(changed), pointOpts({ kind: 'incremental' }));

    const dir = await tempDir('backstop-chunk-cache-');
    try {
      const cached = await repo(2, dir.path);
      await cached.writePoint(pieces(data), pointOpts({ kind: 'full' }));
      expect(readdirSync(dir.path)).toEqual([cached.info.repositoryId]);
      const inc = await cached.writePoint(pieces(changed), pointOpts({ kind: 'incremental' }));

      const saved = whole.stats.bytesStored - inc.stats.bytesStored;
      console.log(
        `S3-only incremental (${inc.stats.chunksNew} changed chunks): stored ${whole.stats.bytesStored} B whole (format 1) vs ${inc.stats.bytesStored} B as deltas; ` +
          `bases downloaded ${noCache.stats.bytesBaseRead} B without the cache (ratio ${(noCache.stats.bytesBaseRead! / saved).toFixed(2)}), ${inc.stats.bytesBaseRead} B with it`,
      );
      expect(inc.stats.chunksDelta).toBeGreaterThan(5);
      expect(noCache.stats.chunksDelta).toBe(inc.stats.chunksDelta);
      expect(noCache.stats.bytesBaseRead).toBeGreaterThan(0);
      expect(inc.stats.bytesBaseRead).toBe(0);
      expect(saved).toBeGreaterThan(whole.stats.bytesStored / 2);
      expect(inc.stats.bytesBaseRead! / saved).toBeLessThan(1);

      for (const r of [plain, cached]) {
        const points = await r.listPoints();
        expect(sha256(await collect(await r.readPoint(points[1]!.id)))).toBe(sha256(changed));
        expect(await r.verify()).toMatchObject({ ok: true, problems: [] });
      }
    } finally {
      await dir.cleanup();
    }
  });
});
