import { describe, expect, it } from 'vitest';
import { initRepository, openRepository, type Repository } from '../../../electron/engine/repository/index.ts';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalBackend, type Backend } from '../../../electron/engine/storage/index.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { MemoryBackend } from '../../fixtures/storage/memory-backend.ts';
import { FaultyBackend, SimulatedCrash } from '../../fixtures/storage/faulty-backend.ts';
import { generateKey } from '../../../electron/engine/crypto/index.ts';
import { FAST, SMALL_CDC, collect, dumpLike, pieces, pointOpts, sha256 } from './helpers.ts';

const key = generateKey();
const base = dumpLike(200_000, 41);
const next = Buffer.concat([base, dumpLike(150_000, 42)]);

async function seededMemory(): Promise<{ inner: MemoryBackend; fullId: string }> {
  const inner = new MemoryBackend();
  const repo = await initRepository(inner, { key, chunker: SMALL_CDC, packSize: 16 * 1024, ...FAST });
  const full = await repo.writePoint(pieces(base), pointOpts());
  return { inner, fullId: full.id };
}

async function keys(b: Backend, prefix: string): Promise<string[]> {
  return (await b.list(prefix)).map((o) => o.key).sort();
}

/** Every pack in storage is referenced by some point, and every point verifies. */
async function assertClean(repo: Repository, b: Backend): Promise<void> {
  const report = await repo.verify();
  expect(report.problems).toEqual([]);
  expect(report.packsChecked).toBe((await keys(b, 'packs/')).length);
  expect(await keys(b, 'inflight/')).toEqual([]);
}

describe('commit protocol: a crash at any step', () => {
  for (const kind of ['full', 'incremental'] as const) {
    it(`${kind}: leaves the point either absent or whole, earlier points intact, and only collectable leftovers`, async () => {
      // Count the mutations of a clean write first.
      const probe = await seededMemory();
      const counter = new FaultyBackend(probe.inner);
      await (await openRepository(counter, { key, ...FAST })).writePoint(pieces(next), pointOpts({ kind }));
      const steps = counter.log.filter((l) => l.op === 'put' || l.op === 'delete').length;
      expect(steps).toBeGreaterThan(4); // marker, ≥2 packs (+ marker updates), manifest, marker delete

      for (let k = 0; k <= steps; k++) {
        const { inner, fullId } = await seededMemory();
        const faulty = new FaultyBackend(inner).crashAfter(k);
        const writer = await openRepository(faulty, { key, ...FAST });
        let committedId: string | null = null;
        try {
          committedId = (await writer.writePoint(pieces(next), pointOpts({ kind }))).id;
        } catch (e) {
          expect(e, `step ${k}`).toBeInstanceOf(SimulatedCrash);
        }
        // "Restart": a new process opens the same storage.
        const after = await openRepository(inner, { key, ...FAST, markerStaleMs: 0 });
        const points = await after.listPoints();
        const ids = points.map((p) => p.id);
        expect(ids[0], `step ${k}`).toBe(fullId);
        expect(sha256(await collect(await after.readPoint(fullId)))).toBe(sha256(base));
        expect(ids.length, `step ${k}`).toBeLessThanOrEqual(2);
        if (ids.length === 2) {
          // The manifest landed: the point is complete even if the crash came right after.
          expect(sha256(await collect(await after.readPoint(ids[1]!)))).toBe(sha256(next));
        }
        if (committedId) expect(ids).toContain(committedId);
        // The next prune (the dead writer's marker is stale) removes every leftover.
        await after.collectGarbage();
        await assertClean(after, inner);
      }
    });
  }

  it('the next write removes leftovers of a crashed write', async () => {
    const { inner } = await seededMemory();
    const faulty = new FaultyBackend(inner).crashAfter(4);
    await expect((await openRepository(faulty, { key, ...FAST })).writePoint(pieces(next), pointOpts())).rejects.toBeInstanceOf(SimulatedCrash);
    const orphans = (await keys(inner, 'packs/')).length;
    const repo = await openRepository(inner, { key, ...FAST, markerStaleMs: 0 });
    expect((await repo.verify()).packsChecked).toBeLessThan(orphans); // leftovers exist
    await repo.writePoint(pieces(dumpLike(10_000, 43)), pointOpts({ kind: 'incremental' }));
    await assertClean(repo, inner);
  });

  it('the next write after a dead writer also removes the temporary file its cut-short put left (local folder), never a young one', async () => {
    const dir = tempDir();
    const local = new LocalBackend(dir);
    const repo = await initRepository(local, { key, chunker: SMALL_CDC, packSize: 16 * 1024, ...FAST });
    const full = await repo.writePoint(pieces(base), pointOpts());
    // What a kill -9 in the middle of a pack's put leaves: the writer's marker and the pack's
    // temporary file, neither written for two hours.
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    await local.put('inflight/dead-writer.json', Buffer.from(JSON.stringify({ writeId: 'dead-writer', startedAt: twoHoursAgo.toISOString(), basePoints: [full.id], packs: [] })));
    utimesSync(join(dir, 'inflight', 'dead-writer.json'), twoHoursAgo, twoHoursAgo);
    mkdirSync(join(dir, 'packs', 'ee'), { recursive: true });
    const dead = join(dir, 'packs', 'ee', '.ee01.pack.tmp-0123456789ab');
    writeFileSync(dead, Buffer.alloc(100_000, 1));
    utimesSync(dead, twoHoursAgo, twoHoursAgo);
    // Written by the dead writer after its last marker refresh (less than a heartbeat, 5 min,
    // before it died): younger than markerStaleMs when the marker turns stale, still its.
    const lastWritten = join(dir, 'packs', 'ee', '.ee03.pack.tmp-00112233aabb');
    writeFileSync(lastWritten, Buffer.alloc(5_000, 3));
    const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000);
    utimesSync(lastWritten, minutesAgo(58), minutesAgo(58));
    // A put someone is writing right now (its file is young): never touched.
    const young = join(dir, 'packs', 'ee', '.ee02.pack.tmp-ba9876543210');
    writeFileSync(young, Buffer.alloc(10, 2));

    const again = await openRepository(local, { key, ...FAST });
    const inc = await again.writePoint(pieces(next), pointOpts({ kind: 'incremental' }));
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(lastWritten)).toBe(false);
    expect(existsSync(young)).toBe(true);
    expect(await keys(local, 'inflight/')).toEqual([]);
    expect(sha256(await collect(await again.readPoint(inc.id)))).toBe(sha256(next));
    expect((await again.verify()).problems).toEqual([]);
  });

  it('a retention collection and a write without a dead writer leave temporary files alone (the folder is walked for them only after a dead writer)', async () => {
    const dir = tempDir();
    const local = new LocalBackend(dir);
    let sweeps = 0;
    const sweep = local.sweepTempFiles.bind(local);
    local.sweepTempFiles = (olderThanMs, now) => {
      sweeps++;
      return sweep(olderThanMs, now);
    };
    const repo = await initRepository(local, { key, chunker: SMALL_CDC, packSize: 16 * 1024, ...FAST });
    const full = await repo.writePoint(pieces(base), pointOpts());
    mkdirSync(join(dir, 'packs', 'ee'), { recursive: true });
    const old = join(dir, 'packs', 'ee', '.ee01.pack.tmp-0123456789ab');
    writeFileSync(old, Buffer.alloc(1_000, 1));
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    utimesSync(old, twoHoursAgo, twoHoursAgo);
    await repo.writePoint(pieces(next), pointOpts({ kind: 'incremental' }));
    const second = await repo.writePoint(pieces(base), pointOpts());
    const gc = await repo.deletePoints([full.id]);
    expect(gc).toMatchObject({ deleted: [full.id], tempFilesDeleted: 0, skipped: null });
    expect(sweeps).toBe(0);
    expect(existsSync(old)).toBe(true);
    expect((await repo.listPoints()).map((p) => p.id)).toContain(second.id);
    expect((await repo.verify()).problems).toEqual([]);
  });

  it('a normal full write reads no other manifest (collection only after a dead writer)', async () => {
    const { inner } = await seededMemory();
    const logged = new FaultyBackend(inner);
    await (await openRepository(logged, { key, ...FAST })).writePoint(pieces(base), pointOpts());
    expect(logged.log.filter((l) => l.op === 'get' && l.key.startsWith('points/'))).toEqual([]);
  });

  it('a torn pack on a non-atomic store is never referenced and is removed', async () => {
    const { inner, fullId } = await seededMemory();
    const faulty = new FaultyBackend(inner).inject({ op: 'put', keyPrefix: 'packs/', after: 1, error: 'EIO', partialBytes: 1000 });
    const repo = await openRepository(faulty, { key, ...FAST });
    await expect(repo.writePoint(pieces(next), pointOpts())).rejects.toMatchObject({ code: 'STORAGE' });
    const fresh = await openRepository(inner, { key, ...FAST });
    expect((await fresh.listPoints()).map((p) => p.id)).toEqual([fullId]);
    await assertClean(fresh, inner); // the writer deleted its packs, the torn one included
  });
});

describe('concurrent writer protection', () => {
  async function startPausedWrite(inner: Backend) {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let reached!: () => void;
    const halfway = new Promise<void>((r) => (reached = r));
    async function* source() {
      yield* pieces(next.subarray(0, 330_000));
      reached();
      await gate;
      yield* pieces(next.subarray(330_000));
    }
    const writer = await openRepository(inner, { key, ...FAST, maxChunksInFlight: 1 });
    const done = writer.writePoint(source(), pointOpts({ kind: 'incremental' }));
    await halfway;
    await new Promise((r) => setTimeout(r, 20));
    return { release, done };
  }

  it('GC keeps packs named by a live in-flight marker; deleting its base point is refused', async () => {
    const { inner, fullId } = await seededMemory();
    const packsBefore = await keys(inner, 'packs/');
    const { release, done } = await startPausedWrite(inner);
    const inflightPacks = (await keys(inner, 'packs/')).filter((k) => !packsBefore.includes(k));
    expect(inflightPacks.length).toBeGreaterThan(0);
    const other = await openRepository(inner, { key, ...FAST });
    const gc = await other.collectGarbage();
    expect(gc.packsDeleted).toBe(0);
    await expect(other.deletePoints([fullId])).rejects.toMatchObject({
      code: 'CONFLICT',
      message: `Restore point ${fullId} is in use: a backup is running that builds on it; nothing was deleted. Try again when it has finished.`,
    });
    release();
    const p = await done;
    expect(sha256(await collect(await other.readPoint(p.id)))).toBe(sha256(next));
    await assertClean(other, inner);
  });

  it('control: once the marker counts as stale, those packs would be collected', async () => {
    const { inner } = await seededMemory();
    const packsBefore = await keys(inner, 'packs/');
    const { release, done } = await startPausedWrite(inner);
    const inflightPacks = (await keys(inner, 'packs/')).filter((k) => !packsBefore.includes(k));
    expect(inflightPacks.length).toBeGreaterThan(0);
    const careless = await openRepository(inner, { key, ...FAST, markerStaleMs: 0 });
    const gc = await careless.collectGarbage();
    expect(gc.packsDeleted).toBe(inflightPacks.length);
    release();
    await done.catch(() => {});
  });

  it('unreferenced packs younger than the grace period survive', async () => {
    let now = 1_700_000_000_000;
    const inner = new MemoryBackend('clocked', { now: () => now });
    const repo = await initRepository(inner, { key, chunker: SMALL_CDC, packSize: 16 * 1024, ...FAST, gcGraceMs: 60_000, markerStaleMs: 1, now: () => now });
    const faulty = new FaultyBackend(inner).crashAfter(3);
    await expect((await openRepository(faulty, { key, ...FAST, now: () => now })).writePoint(pieces(base), pointOpts())).rejects.toBeInstanceOf(SimulatedCrash);
    now += 10;
    const orphans = (await keys(inner, 'packs/')).length;
    expect(orphans).toBeGreaterThan(0);
    expect((await repo.collectGarbage()).packsDeleted).toBe(0);
    now += 60_000;
    expect((await repo.collectGarbage()).packsDeleted).toBe(orphans);
  });
});
