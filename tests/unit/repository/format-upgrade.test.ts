/**
 * Format 1 → 2 upgrade (format-upgrade.ts) on the format-1 fixture (written by the format-1
 * code): a full upgrades the header only, old points still restore and verify, the next
 * incremental writes deltas; a failed header put leaves a format-1 repository that a later
 * full upgrades; a crash after any number of mutations of the upgrading full leaves either a
 * format-1 repository with only version-1 manifests or a format-2 one, every earlier point
 * restorable.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cp, readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openRepository, type Repository } from '../../../electron/engine/repository/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { FaultyBackend, SimulatedCrash } from '../../fixtures/storage/faulty-backend.ts';
import { FAST, collect, pieces, pointOpts, rejection, sha256, tempDir } from './helpers.ts';

const fixture = join(import.meta.dirname, '../../fixtures/repository/v1-encrypted');
const expected = JSON.parse(readFileSync(`${fixture}.json`, 'utf8')) as { keyByte: number; points: { id: string; length: number; sha256: string }[] };
const key = Buffer.alloc(32, expected.keyByte);

let dir: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  dir = await tempDir();
  await cp(fixture, dir.path, { recursive: true });
});
afterEach(() => dir.cleanup());

async function headerVersion(): Promise<number> {
  return (await readFile(join(dir.path, 'backstop.repo'))).readUInt16LE(8);
}

async function manifestVersion(id: string): Promise<number> {
  return (await readFile(join(dir.path, 'points', `${id}.point`))).readUInt16LE(8);
}

/** Every fixture point restores byte-identical and verifies. */
async function oldPointsIntact(repo: Repository): Promise<void> {
  for (const p of expected.points) expect(sha256(await collect(await repo.readPoint(p.id)))).toBe(p.sha256);
  expect((await repo.verify()).problems).toEqual([]);
}

async function lastStream(repo: Repository): Promise<Buffer> {
  return collect(await repo.readPoint(expected.points[expected.points.length - 1]!.id));
}

describe('format 1 → 2 upgrade', () => {
  it('a full upgrades a format-1 repository: header version 2 with the same body, old points restore, the next incremental writes deltas', async () => {
    const before = await readFile(join(dir.path, 'backstop.repo'));
    const repo = await openRepository(new LocalBackend(dir.path), { key, ...FAST });
    expect(repo.info.formatVersion).toBe(1);
    const data = await lastStream(repo);
    const full = await repo.writePoint(pieces(data), pointOpts({ kind: 'full' }));
    expect(repo.info.formatVersion).toBe(2);
    expect(await headerVersion()).toBe(2);
    const after = await readFile(join(dir.path, 'backstop.repo'));
    // Only the version field and the checksum changed.
    expect(after.length).toBe(before.length);
    expect(after.subarray(10, after.length - 32)).toEqual(before.subarray(10, before.length - 32));
    expect(await manifestVersion(full.id)).toBe(2);
    for (const p of expected.points) expect(await manifestVersion(p.id)).toBe(1); // no existing point rewritten

    const changed = Buffer.from(data);
    changed[30_000] = 0x2a;
    const inc = await repo.writePoint(pieces(changed), pointOpts({ kind: 'incremental' }));
    expect(inc.stats.chunksDelta).toBeGreaterThan(0);

    const fresh = await openRepository(new LocalBackend(dir.path), { key, ...FAST });
    expect(fresh.info.formatVersion).toBe(2);
    await oldPointsIntact(fresh);
    expect(sha256(await collect(await fresh.readPoint(full.id)))).toBe(sha256(data));
    expect(sha256(await collect(await fresh.readPoint(inc.id)))).toBe(sha256(changed));
    expect((await fresh.listPoints()).map((p) => p.id)).toEqual([...expected.points.map((p) => p.id), full.id, inc.id]);
  });

  it('upgradeFormat: false keeps a format-1 repository format 1 through a full', async () => {
    const repo = await openRepository(new LocalBackend(dir.path), { key, ...FAST, upgradeFormat: false });
    const full = await repo.writePoint(pieces(await lastStream(repo)), pointOpts({ kind: 'full' }));
    expect(repo.info.formatVersion).toBe(1);
    expect(await headerVersion()).toBe(1);
    expect(await manifestVersion(full.id)).toBe(1);
  });

  it('an incremental does not upgrade: only a full, where a new chain starts, does', async () => {
    const repo = await openRepository(new LocalBackend(dir.path), { key, ...FAST });
    const inc = await repo.writePoint(pieces(await lastStream(repo)), pointOpts({ kind: 'incremental' }));
    expect(await headerVersion()).toBe(1);
    expect(await manifestVersion(inc.id)).toBe(1);
  });

  it('a failed header put leaves the repository format 1 and the full committed as a version-1 point; the next full upgrades', async () => {
    const faulty = new FaultyBackend(new LocalBackend(dir.path)).inject({ op: 'put', keyPrefix: 'backstop.repo', error: 'EIO', times: 1 });
    const repo = await openRepository(faulty, { key, ...FAST });
    const data = await lastStream(repo);
    const full = await repo.writePoint(pieces(data), pointOpts({ kind: 'full' }));
    expect(repo.info.formatVersion).toBe(1);
    expect(await headerVersion()).toBe(1);
    expect(await manifestVersion(full.id)).toBe(1);
    expect(full.stats.chunksDelta).toBeUndefined();
    await oldPointsIntact(await openRepository(new LocalBackend(dir.path), { key, ...FAST }));

    const again = await repo.writePoint(pieces(data), pointOpts({ kind: 'full' }));
    expect(await headerVersion()).toBe(2);
    expect(await manifestVersion(again.id)).toBe(2);
    const fresh = await openRepository(new LocalBackend(dir.path), { key, ...FAST });
    await oldPointsIntact(fresh);
    expect(sha256(await collect(await fresh.readPoint(full.id)))).toBe(sha256(data));
  });

  it('a header put that failed after reaching the destination leaves a format-2 header over a version-1 point: valid, and picked up by the next write', async () => {
    const bytes = (await readFile(join(dir.path, 'backstop.repo'))).length;
    const faulty = new FaultyBackend(new LocalBackend(dir.path)).inject({ op: 'put', keyPrefix: 'backstop.repo', error: 'ECONNRESET', times: 1, partialBytes: bytes });
    const repo = await openRepository(faulty, { key, ...FAST });
    const data = await lastStream(repo);
    const full = await repo.writePoint(pieces(data), pointOpts({ kind: 'full' }));
    expect(await headerVersion()).toBe(2);
    expect(await manifestVersion(full.id)).toBe(1);
    const fresh = await openRepository(new LocalBackend(dir.path), { key, ...FAST });
    expect(fresh.info.formatVersion).toBe(2);
    await oldPointsIntact(fresh);
    expect(sha256(await collect(await fresh.readPoint(full.id)))).toBe(sha256(data));
    // The writer that saw the failure learns the version at its next full.
    const next = await repo.writePoint(pieces(data), pointOpts({ kind: 'full' }));
    expect(repo.info.formatVersion).toBe(2);
    expect(await manifestVersion(next.id)).toBe(2);
  });

  it('a crash after any number of mutations of the upgrading full leaves a repository this build reads, format 1 holding only version-1 manifests', async () => {
    let crashes = 0;
    for (let n = 0; ; n++) {
      await dir.cleanup();
      await cp(fixture, dir.path, { recursive: true });
      const faulty = new FaultyBackend(new LocalBackend(dir.path)).crashAfter(n);
      const repo = await openRepository(faulty, { key, ...FAST });
      // Read before the crash counter matters: a read's marker is a mutation too.
      const data = await lastStream(await openRepository(new LocalBackend(dir.path), { key, ...FAST }));
      let done = false;
      try {
        await repo.writePoint(pieces(data), pointOpts({ kind: 'full' }));
        done = true;
      } catch (e) {
        expect(e).toBeInstanceOf(SimulatedCrash);
        crashes++;
      }
      const version = await headerVersion();
      expect([1, 2]).toContain(version);
      const fresh = await openRepository(new LocalBackend(dir.path), { key, ...FAST });
      const points = await fresh.listPoints();
      // Format 1 stays readable by format-1 builds: every manifest in it is version 1.
      if (version === 1) for (const p of points) expect(await manifestVersion(p.id)).toBe(1);
      await oldPointsIntact(fresh);
      expect(points.length).toBe(expected.points.length + (done ? 1 : 0));
      if (done) break;
    }
    expect(crashes).toBeGreaterThanOrEqual(3); // header, marker, pack(s), manifest
  });

  it('an upgraded repository still refuses to open without its key, and a corrupted header is INTEGRITY, not a silent downgrade', async () => {
    const repo = await openRepository(new LocalBackend(dir.path), { key, ...FAST });
    await repo.writePoint(pieces(await lastStream(repo)), pointOpts({ kind: 'full' }));
    expect(await rejection(openRepository(new LocalBackend(dir.path), FAST))).toMatchObject({ code: 'KEY_REQUIRED' });
    const path = join(dir.path, 'backstop.repo');
    const bytes = await readFile(path);
    bytes.writeUInt16LE(1, 8); // a "downgrade" without the checksum fails the checksum
    await new LocalBackend(dir.path).put('backstop.repo', bytes);
    expect(await rejection(openRepository(new LocalBackend(dir.path), { key, ...FAST }))).toMatchObject({ code: 'INTEGRITY', message: expect.stringContaining('checksum mismatch') });
  });
});
