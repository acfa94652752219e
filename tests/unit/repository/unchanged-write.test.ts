/**
 * writePointUnlessUnchanged against real repositories in temp folders (writer.ts,
 * unchanged-write.ts), with the real PostgreSQL header parser as the volatile test:
 *
 * - an incremental equal to the newest point apart from the header's time fields stores
 *   nothing (no file added, the in-flight marker gone) and says which point it equals;
 * - a same-length change outside those bytes, even in the header, is stored; so is any
 *   difference when the format names no volatile bytes, and a full always;
 * - a newest point written without the test (no masked id) is never "unchanged" unless
 *   byte-identical; the point written then carries it, so the next one is;
 * - a write that already handed a pack to an upload commits as usual (a whole point);
 * - a damaged manifest in the folder (maybe a newer point) means a point is stored.
 */
import { statSync } from 'node:fs';
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initRepository, type PointSummary, type Repository, type UnchangedWrite } from '../../../electron/engine/repository/index.ts';
import { newPointId, pointKey } from '../../../electron/engine/repository/layout.ts';
import { MASKED_ID_META } from '../../../electron/engine/repository/unchanged-write.ts';
import { pgArchiveVolatile } from '../../../electron/engine/servers/postgres/archive-header.ts';
import { NO_VOLATILE_BYTES } from '../../../electron/engine/servers/connector.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { generateKey } from '../../../electron/engine/crypto/index.ts';
import { filesUnder } from '../../fixtures/reliability/common.ts';
import { FAST, SMALL_CDC, SMALL_PACK, collect, dumpLike, pieces, pointOpts, pseudoRandom, tempDir } from './helpers.ts';

// The first bytes of a real `pg_dump -Fc -Z0` archive (PostgreSQL 15.18): time fields at [16, 51).
const HEADER = Buffer.from(
  '5047444d50010e000408010000000000002a000000002f00000000070000000005000000000b000000007e000000000000000000020000006431001e00000031352e3138202844656269616e2031352e31382d302b6465623132753129001e00000031352e3138202844656269616e2031352e31382d302b',
  'hex',
);

let dir: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(() => dir.cleanup());

/** A dump: the real header, then `body`; `second` sets tm_sec (byte 17). */
function dump(body: Buffer, second = 42): Buffer {
  const d = Buffer.concat([HEADER, body]);
  d[17] = second;
  return d;
}

function files(dir: string): Record<string, number> {
  return Object.fromEntries(filesUnder(dir).map((f) => [f, statSync(join(dir, f)).size]));
}

const isUnchanged = (r: PointSummary | UnchangedWrite): r is UnchangedWrite => 'unchanged' in r;

async function repo(key: Buffer | null = null): Promise<Repository> {
  return initRepository(new LocalBackend(dir.path), { chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST, key });
}

describe('writePointUnlessUnchanged', () => {
  const body = dumpLike(200_000, 7);

  for (const encrypted of [false, true]) {
    it(`stores nothing for an incremental that differs only in the header's time (${encrypted ? 'encrypted' : 'plain'})`, async () => {
      const r = await repo(encrypted ? generateKey() : null);
      const full = (await r.writePointUnlessUnchanged(pieces(dump(body, 10)), pointOpts({ kind: 'full' }), pgArchiveVolatile)) as PointSummary;
      expect(full.meta[MASKED_ID_META]).toMatch(/^[0-9a-f]{64}$/);
      const before = files(dir.path);
      const progress: { bytesStored: number; done: boolean }[] = [];
      const inc = await r.writePointUnlessUnchanged(pieces(dump(body, 11)), pointOpts({ kind: 'incremental', onProgress: (p) => progress.push(p) }), pgArchiveVolatile);
      expect(inc).toEqual({ unchanged: true, sameAs: full.id, length: HEADER.length + body.length });
      expect(files(dir.path)).toEqual(before); // no pack, no manifest, no in-flight marker
      expect((await r.listPoints()).map((p) => p.id)).toEqual([full.id]);
      expect(progress.at(-1)).toMatchObject({ done: true, bytesStored: 0 });
      // The point restores the first dump's bytes.
      expect((await collect(await r.readPoint(full.id))).equals(dump(body, 10))).toBe(true);
    });
  }

  it('stores a same-length change outside the time fields, in the body or in the header', async () => {
    const r = await repo();
    await r.writePointUnlessUnchanged(pieces(dump(body)), pointOpts({ kind: 'full' }), pgArchiveVolatile);
    const changedBody = Buffer.from(body);
    changedBody[150_000] = changedBody[150_000] === 0x31 ? 0x32 : 0x31;
    const a = await r.writePointUnlessUnchanged(pieces(dump(changedBody, 43)), pointOpts({ kind: 'incremental' }), pgArchiveVolatile);
    expect(isUnchanged(a)).toBe(false);
    expect((a as PointSummary).stats.bytesStored).toBeGreaterThan(0);
    const renamed = dump(changedBody, 44);
    renamed[57] = 0x32; // the database name "d1" → "d2", right after the time fields
    const b = await r.writePointUnlessUnchanged(pieces(renamed), pointOpts({ kind: 'incremental' }), pgArchiveVolatile);
    expect(isUnchanged(b)).toBe(false);
    expect((await collect(await r.readPoint((b as PointSummary).id))).equals(renamed)).toBe(true);
    expect(await r.listPoints()).toHaveLength(3);
  });

  it('a format naming no volatile bytes is unchanged only when byte-identical; a full always stores', async () => {
    const r = await repo();
    const full = (await r.writePointUnlessUnchanged(pieces(body), pointOpts({ kind: 'full' }), NO_VOLATILE_BYTES)) as PointSummary;
    expect(await r.writePointUnlessUnchanged(pieces(body), pointOpts({ kind: 'incremental' }), NO_VOLATILE_BYTES)).toEqual({ unchanged: true, sameAs: full.id, length: body.length });
    const oneByte = Buffer.from(body);
    oneByte[20] = oneByte[20]! ^ 1;
    expect(isUnchanged(await r.writePointUnlessUnchanged(pieces(oneByte), pointOpts({ kind: 'incremental' }), NO_VOLATILE_BYTES))).toBe(false);
    expect(isUnchanged(await r.writePointUnlessUnchanged(pieces(oneByte), pointOpts({ kind: 'full' }), NO_VOLATILE_BYTES))).toBe(false);
    // A parser that cannot tell (null) ignores nothing either.
    const r2full = await r.writePointUnlessUnchanged(pieces(dump(body)), pointOpts({ kind: 'full' }), () => null);
    expect((r2full as PointSummary).meta[MASKED_ID_META]).toBeUndefined();
    expect(isUnchanged(await r.writePointUnlessUnchanged(pieces(dump(body, 12)), pointOpts({ kind: 'incremental' }), () => null))).toBe(false);
    expect(await r.listPoints()).toHaveLength(5); // two fulls of the body, one incremental; a full and an incremental of the dump
  });

  it('a newest point written without the test is compared only byte for byte; the point written then carries the masked id', async () => {
    const r = await repo();
    await r.writePoint(pieces(dump(body, 1)), pointOpts({ kind: 'full' }));
    const first = await r.writePointUnlessUnchanged(pieces(dump(body, 2)), pointOpts({ kind: 'incremental' }), pgArchiveVolatile);
    expect(isUnchanged(first)).toBe(false);
    const second = await r.writePointUnlessUnchanged(pieces(dump(body, 3)), pointOpts({ kind: 'incremental' }), pgArchiveVolatile);
    expect(second).toEqual({ unchanged: true, sameAs: (first as PointSummary).id, length: HEADER.length + body.length });
  });

  it('commits as usual when a pack was already handed to an upload', async () => {
    // 4 KiB packs and 8 KiB incompressible blocks stored whole: the first block fills a pack by itself.
    const r = await initRepository(new LocalBackend(dir.path), { chunker: SMALL_CDC, packSize: 4096, ...FAST });
    const random = pseudoRandom(64 * 1024, 3);
    const opts = (kind: 'full' | 'incremental') => pointOpts({ kind, chunking: { kind: 'fixed', size: 8192 }, deltaBases: false });
    await r.writePointUnlessUnchanged(pieces(dump(random, 5)), opts('full'), pgArchiveVolatile);
    const inc = await r.writePointUnlessUnchanged(pieces(dump(random, 6)), opts('incremental'), pgArchiveVolatile);
    expect(isUnchanged(inc)).toBe(false);
    expect((inc as PointSummary).stats.packsWritten).toBe(1);
    expect((await r.verify()).ok).toBe(true);
    expect((await collect(await r.readPoint((inc as PointSummary).id))).equals(dump(random, 6))).toBe(true);
  });

  it('stores a point when the folder holds a damaged manifest (it may be the newest point)', async () => {
    const r = await repo();
    await r.writePointUnlessUnchanged(pieces(dump(body, 1)), pointOpts({ kind: 'full' }), pgArchiveVolatile);
    const damaged = join(dir.path, pointKey(newPointId(new Date(Date.now() + 60_000), 'deadbeef')));
    await mkdir(join(damaged, '..'), { recursive: true });
    await writeFile(damaged, Buffer.from('not a manifest'));
    const inc = await r.writePointUnlessUnchanged(pieces(dump(body, 2)), pointOpts({ kind: 'incremental' }), pgArchiveVolatile);
    expect(isUnchanged(inc)).toBe(false);
    expect((inc as PointSummary).stats.bytesStored).toBeGreaterThan(0);
  });
});
