/**
 * Format 2 hashes each byte once: a version-2 manifest carries no SHA-256 of the whole
 * stream (its sealed list of keyed chunk ids and raw lengths pins the stream). These tests
 * show that nothing is lost by it: a flipped byte anywhere in a pack or a manifest is
 * still detected by verify and by a restore, with and without a key; manifests written
 * before (version 2 with the stream hash, and version 1) still restore and their hash is
 * still checked.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { initRepository, openRepository, type PointSummary, type Repository } from '../../../electron/engine/repository/index.ts';
import { decodeManifest, encodeManifest, ManifestDamagedError, ManifestVersionError, manifestLocations, type Manifest } from '../../../electron/engine/repository/manifest.ts';
import { AesGcmSealer, type Sealer } from '../../../electron/engine/crypto/seal.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { generateKey } from '../../../electron/engine/crypto/index.ts';
import { FAST, SMALL_CDC, collect, dumpLike, pieces, pointOpts, rejection, sha256, tempDir } from './helpers.ts';

let dir: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(() => dir.cleanup());

const PACK = 8 * 1024;

/** A format-2 repository with a full and an incremental that stores a delta chunk. */
async function twoPoints(key: Uint8Array | null): Promise<{ repo: Repository; full: PointSummary; inc: PointSummary; data: Buffer; changed: Buffer }> {
  const repo = await initRepository(new LocalBackend(dir.path), { ...(key ? { key } : {}), chunker: SMALL_CDC, packSize: PACK, ...FAST });
  const data = dumpLike(90_000, 21);
  const full = await repo.writePoint(pieces(data), pointOpts({ kind: 'full' }));
  const changed = Buffer.from(data);
  changed[45_000] = 0x23;
  const inc = await repo.writePoint(pieces(changed), pointOpts({ kind: 'incremental' }));
  expect(inc.stats.chunksDelta).toBe(1);
  return { repo, full, inc, data, changed };
}

/** The repository's own manifest sealer (its derived data key, or the checksum sealer). */
function manifestSealer(repo: Repository): Sealer {
  return (repo as unknown as { ctx: { sealer: Sealer } }).ctx.sealer;
}

function manifestPath(id: string): string {
  return join(dir.path, 'points', `${id}.point`);
}

async function packFiles(): Promise<string[]> {
  return (await new LocalBackend(dir.path).list('packs/')).map((o) => join(dir.path, o.key));
}

for (const encrypted of [true, false]) {
  const label = encrypted ? 'encrypted' : 'unencrypted';
  describe(`format 2 without the stream hash (${label})`, () => {
    it('writes version-2 manifests without sha256 and restores byte-identical', async () => {
      const key = encrypted ? generateKey() : null;
      const { repo, full, inc, data, changed } = await twoPoints(key);
      expect(full.sha256).toBeUndefined();
      expect(inc.sha256).toBeUndefined();
      const sealer = manifestSealer(repo);
      for (const p of [full, inc]) {
        const bytes = await readFile(manifestPath(p.id));
        expect(bytes.readUInt16LE(8)).toBe(2);
        expect(decodeManifest(bytes, p.id, sealer).info.sha256).toBeUndefined();
      }
      expect(sha256(await collect(await repo.readPoint(full.id)))).toBe(sha256(data));
      expect(sha256(await collect(await repo.readPoint(inc.id)))).toBe(sha256(changed));
      expect(await repo.verify()).toMatchObject({ ok: true, pointsChecked: 2, problems: [] });
    });

    it('a flipped byte anywhere in a pack is reported by verify; inside a chunk a restore fails with INTEGRITY naming the pack', async () => {
      const key = encrypted ? generateKey() : null;
      const { repo, full, inc } = await twoPoints(key);
      const backend = new LocalBackend(dir.path);
      const sealer = manifestSealer(repo);
      const locations = new Map<string, Manifest>();
      for (const p of [full, inc]) locations.set(p.id, decodeManifest(await readFile(manifestPath(p.id)), p.id, sealer));
      const files = await packFiles();
      expect(files.length).toBeGreaterThan(2);
      let restoresChecked = 0;
      for (const file of files) {
        const packId = file.slice(file.lastIndexOf('/') + 1, -'.pack'.length);
        const original = await readFile(file);
        // Every 331st byte, and the first and last: header, chunks, index and trailer.
        const positions = new Set([0, original.length - 1]);
        for (let at = 0; at < original.length; at += 331) positions.add(at);
        for (const at of positions) {
          const bad = Buffer.from(original);
          bad[at]! ^= 0x10;
          await writeFile(file, bad);
          const fresh = await openRepository(backend, { ...(key ? { key } : {}), ...FAST });
          const report = await fresh.verify();
          expect(report.ok).toBe(false);
          expect(report.problems.some((pr) => pr.packId === packId && pr.code === 'INTEGRITY')).toBe(true);
          // A restore reads only the chunks: a flip inside one of a point's chunks (or their bases) fails it.
          for (const [pointId, m] of locations) {
            const hit = manifestLocations(m).some((r) => r.packId === packId && at >= r.offset && at < r.offset + r.storedLength);
            if (!hit) continue;
            const err = await rejection(collect(await fresh.readPoint(pointId)));
            expect(err).toMatchObject({ code: 'INTEGRITY', message: expect.stringContaining(`Restore point ${pointId} is damaged: pack `) });
            restoresChecked++;
          }
        }
        await writeFile(file, original);
      }
      expect(restoresChecked).toBeGreaterThan(10);
      expect((await repo.verify()).problems).toEqual([]);
    });

    it('a flipped byte anywhere in a manifest makes that point unreadable (INTEGRITY or FORMAT_TOO_NEW), never a different stream', async () => {
      const key = encrypted ? generateKey() : null;
      const { repo, inc } = await twoPoints(key);
      const sealer = manifestSealer(repo);
      const original = await readFile(manifestPath(inc.id));
      for (let at = 0; at < original.length; at++) {
        for (const bit of [0x01, 0x80]) {
          const bad = Buffer.from(original);
          bad[at]! ^= bit;
          let thrown: unknown = null;
          try {
            decodeManifest(bad, inc.id, sealer);
          } catch (e) {
            thrown = e;
          }
          expect(thrown instanceof ManifestDamagedError || thrown instanceof ManifestVersionError, `byte ${at} bit ${bit}`).toBe(true);
        }
      }
      // Through the repository: the point is refused with a message naming it, the other point still restores.
      const bad = Buffer.from(original);
      bad[original.length - 40]! ^= 1;
      await writeFile(manifestPath(inc.id), bad);
      const fresh = await openRepository(new LocalBackend(dir.path), { ...(key ? { key } : {}), ...FAST });
      expect(await rejection(fresh.readPoint(inc.id))).toMatchObject({ code: 'INTEGRITY', message: expect.stringContaining(`Restore point ${inc.id} is damaged: its manifest points/${inc.id}.point`) });
      const report = await fresh.verify();
      expect(report.ok).toBe(false);
      expect(report.problems).toContainEqual(expect.objectContaining({ pointId: inc.id, code: 'INTEGRITY' }));
    });
  });
}

describe('manifests written before', () => {
  /** Re-seals `m` as the earlier version-2 writer did: the same layout, with the stream's SHA-256. */
  async function rewrite(id: string, sealer: Sealer, edit: (m: Manifest) => void): Promise<void> {
    const m = decodeManifest(await readFile(manifestPath(id)), id, sealer);
    edit(m);
    await writeFile(manifestPath(id), encodeManifest({ info: m.info, refs: m.refs }, sealer, 3, 2));
  }

  it('a version-2 manifest with the stream hash (the earlier writer) restores and verifies, and its hash is still checked', async () => {
    const key = generateKey();
    const { repo, full, inc, data, changed } = await twoPoints(key);
    const sealer = manifestSealer(repo);
    await rewrite(full.id, sealer, (m) => (m.info.sha256 = sha256(data)));
    await rewrite(inc.id, sealer, (m) => (m.info.sha256 = sha256(changed)));
    const fresh = await openRepository(new LocalBackend(dir.path), { key, ...FAST });
    expect((await fresh.listPoints()).map((p) => p.sha256)).toEqual([sha256(data), sha256(changed)]);
    expect(await collect(await fresh.readPoint(full.id))).toEqual(data);
    expect(await collect(await fresh.readPoint(inc.id))).toEqual(changed);
    expect(await fresh.verify()).toMatchObject({ ok: true, pointsChecked: 2, problems: [] });

    // A stream hash that does not match what the chunks give is still an error.
    await rewrite(inc.id, sealer, (m) => (m.info.sha256 = sha256(data)));
    const again = await openRepository(new LocalBackend(dir.path), { key, ...FAST });
    const err = await rejection(collect(await again.readPoint(inc.id)));
    expect(err).toMatchObject({ code: 'INTEGRITY', message: expect.stringContaining(`Restore point ${inc.id} is damaged: the restored stream's SHA-256`) });
  });

  it('a version-1 manifest without the stream hash is refused as damaged', () => {
    const sealer = new AesGcmSealer(generateKey());
    const id = '20240506T070809010Z-0a1b2c3d';
    const m: Manifest = {
      info: {
        id,
        database: 'sales',
        serverIdentity: 's',
        engineVersion: '15',
        dumpToolVersion: '15',
        kind: 'full',
        backupType: 'logical',
        createdAt: '2024-05-06T07:08:09.010Z',
        chainId: id,
        parentId: null,
        chunking: { kind: 'cdc', min: 1, avg: 2, max: 3 },
        length: 10,
        stats: { chunksNew: 1, chunksReused: 0, bytesNew: 10, bytesStored: 4, packsWritten: 1 },
        meta: {},
      },
      refs: [{ id: Buffer.alloc(32, 1), packId: 'aa'.repeat(32), offset: 32, storedLength: 4, rawLength: 10 }],
    };
    expect(decodeManifest(encodeManifest(m, sealer, 3, 2), id, sealer)).toEqual(m);
    expect(() => decodeManifest(encodeManifest(m, sealer, 3, 1), id, sealer)).toThrow(/version-1 manifest must carry the stream's sha256/);
    const withHash = { ...m, info: { ...m.info, sha256: 'cd'.repeat(32) } };
    expect(decodeManifest(encodeManifest(withHash, sealer, 3, 1), id, sealer)).toEqual(withHash);
  });
});
