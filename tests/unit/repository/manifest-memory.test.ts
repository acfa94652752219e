/**
 * A folder of many points of a large database: a scan (listings, chains, the choice of an
 * incremental's chain, garbage collection) keeps no chunk lists, and whole manifests are kept
 * only up to `cachedLocations` chunk locations — every point's list at once was ~200 bytes a
 * chunk times every point (GBs for a month of hourly dumps of a 10 GB database). What is
 * listed, chained, deduplicated and collected stays the same under a bound far below one
 * chain's size.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { initRepository, openRepository, type PointSummary } from '../../../electron/engine/repository/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { collect, dumpLike, FAST, pieces, pointOpts, sha256, tempDir } from './helpers.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const FIXED = { kind: 'fixed', size: 4096 } as const;
const PAGES = 64;

/** Version `n` of a 64-page "database": page n changed. */
function version(n: number): Buffer {
  const b = dumpLike(PAGES * 4096, 11);
  if (n > 0) b.write(`CHANGED ${n}`, (n % PAGES) * 4096 + 10);
  return b;
}

describe('manifests in bounded memory', () => {
  it('a chain of 9 points under a bound of about one manifest: the same listing, chain, dedup, reads and garbage collection', async () => {
    const dir = await tempDir();
    cleanups.push(dir.cleanup);
    const write = await initRepository(new LocalBackend(dir.path), { ...FAST, packSize: 64 * 1024, cachedLocations: PAGES });
    const written: PointSummary[] = [];
    for (let n = 0; n < 9; n++) {
      written.push(await write.writePoint(pieces(version(n)), pointOpts({ kind: n === 0 ? 'full' : 'incremental', backupType: 'snapshot', chunking: FIXED })));
    }
    // Each incremental stored only its changed page: the whole chain was known though the store holds about one manifest.
    expect(written.slice(1).map((p) => p.stats.chunksNew)).toEqual(Array(8).fill(1));
    expect(written.slice(1).every((p) => p.chainId === written[0]!.id)).toBe(true);

    const bounded = await openRepository(new LocalBackend(dir.path), { ...FAST, cachedLocations: PAGES });
    const unbounded = await openRepository(new LocalBackend(dir.path), FAST);
    expect(await bounded.listPoints()).toEqual(await unbounded.listPoints());
    expect(await bounded.chains()).toEqual(await unbounded.chains());
    expect((await bounded.listPoints()).map((p) => p.chunkCount)).toEqual(Array(9).fill(PAGES));
    // After listing nine points, the store holds at most the bound's worth of whole manifests (one may exceed it alone).
    const held = (bounded as unknown as { ctx: { manifests: { cached(): { manifests: number; locations: number } } } }).ctx.manifests.cached();
    expect(held.manifests).toBe(1);
    expect(held.locations).toBeLessThan(2 * PAGES); // its pages, and the delta bases they name

    for (const [n, p] of written.entries()) expect(sha256(await collect(await bounded.readPoint(p.id)))).toBe(sha256(version(n)));
    // Garbage collection sees every point's packs from the scan alone: nothing referenced is collected.
    expect((await bounded.collectGarbage()).packsDeleted).toBe(0);
    for (const [n, p] of written.entries()) expect(sha256(await collect(await unbounded.readPoint(p.id)))).toBe(sha256(version(n)));
  });
});
