import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { initRepository, openRepository, type PointSummary, type Repository } from '../../../electron/engine/repository/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { FaultyBackend } from '../../fixtures/storage/faulty-backend.ts';
import { generateKey, keyFingerprint } from '../../../electron/engine/crypto/index.ts';
import { FAST, SMALL_CDC, SMALL_PACK, collect, dumpLike, pieces, pointOpts, rejection, sha256, tempDir } from './helpers.ts';

let dir: Awaited<ReturnType<typeof tempDir>>;
const key = generateKey();
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(() => dir.cleanup());

async function packIds(): Promise<Set<string>> {
  return new Set((await new LocalBackend(dir.path).list('packs/')).map((o) => o.key.split('/')[2]!.replace('.pack', '')));
}

/** Two points in two chains (no shared packs); `packsA` are the packs only point a uses. */
async function seeded(): Promise<{ repo: Repository; a: PointSummary; b: PointSummary; dataA: Buffer; dataB: Buffer; packsA: string[] }> {
  const repo = await initRepository(new LocalBackend(dir.path), { key, chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST });
  const dataA = dumpLike(150_000, 21);
  const dataB = dumpLike(150_000, 22);
  const a = await repo.writePoint(pieces(dataA), pointOpts());
  const packsA = [...(await packIds())];
  const b = await repo.writePoint(pieces(dataB), pointOpts());
  return { repo, a, b, dataA, dataB, packsA };
}

function packPath(packId: string): string {
  return join(dir.path, 'packs', packId.slice(0, 2), `${packId}.pack`);
}
async function flip(path: string, at: (size: number) => number): Promise<void> {
  const bytes = await readFile(path);
  bytes[at(bytes.length)]! ^= 0x01;
  await writeFile(path, bytes);
}
async function stillIntact(repo: Repository, p: PointSummary, data: Buffer): Promise<void> {
  expect(sha256(await collect(await repo.readPoint(p.id)))).toBe(sha256(data));
  const report = await repo.verify(p.id);
  expect(report.problems).toEqual([]);
}

describe('keys', () => {
  it('wrong key → KEY_MISMATCH naming the expected fingerprint, before any data is read', async () => {
    await seeded();
    const faulty = new FaultyBackend(new LocalBackend(dir.path));
    const wrong = generateKey();
    const e = await rejection(openRepository(faulty, { key: wrong, ...FAST }));
    expect(e).toMatchObject({ code: 'KEY_MISMATCH' });
    expect(e.message).toContain(keyFingerprint(key));
    expect(e.message).toContain(keyFingerprint(wrong));
    expect(faulty.log).toEqual([{ op: 'get', key: 'backstop.repo' }]);
  });

  it('encrypted repository without a key → KEY_REQUIRED with the fingerprint', async () => {
    await seeded();
    const e = await rejection(openRepository(new LocalBackend(dir.path), FAST));
    expect(e).toMatchObject({ code: 'KEY_REQUIRED', message: expect.stringContaining(keyFingerprint(key)) });
  });

  it('unencrypted repository opened with a key → KEY_MISMATCH', async () => {
    await initRepository(new LocalBackend(dir.path), FAST);
    await expect(openRepository(new LocalBackend(dir.path), { key, ...FAST })).rejects.toMatchObject({ code: 'KEY_MISMATCH', message: expect.stringMatching(/not encrypted/) });
  });
});

describe('not a repository / too new', () => {
  it('empty or missing folder → NOT_A_BACKUP', async () => {
    await expect(openRepository(new LocalBackend(dir.path), FAST)).rejects.toMatchObject({ code: 'NOT_A_BACKUP', message: expect.stringMatching(/empty or does not exist/) });
    await expect(openRepository(new LocalBackend(join(dir.path, 'nope')), FAST)).rejects.toMatchObject({ code: 'NOT_A_BACKUP' });
  });

  it('a folder of other files → NOT_A_BACKUP', async () => {
    await writeFile(join(dir.path, 'dump.sql'), 'select 1;');
    await expect(openRepository(new LocalBackend(dir.path), FAST)).rejects.toMatchObject({ code: 'NOT_A_BACKUP', message: expect.stringMatching(/has files but no backstop.repo/) });
    await writeFile(join(dir.path, 'backstop.repo'), 'this is not a header');
    await expect(openRepository(new LocalBackend(dir.path), FAST)).rejects.toMatchObject({ code: 'NOT_A_BACKUP' });
  });

  it('a newer format version → FORMAT_TOO_NEW', async () => {
    await seeded();
    const path = join(dir.path, 'backstop.repo');
    const bytes = await readFile(path);
    bytes.writeUInt16LE(3, 8);
    await writeFile(path, bytes);
    await expect(openRepository(new LocalBackend(dir.path), { key, ...FAST })).rejects.toMatchObject({ code: 'FORMAT_TOO_NEW', message: expect.stringMatching(/format version 3.*Update Backstop/) });
  });

  it('a newer manifest version → FORMAT_TOO_NEW for that point', async () => {
    const { repo, a, b, dataB } = await seeded();
    const path = join(dir.path, 'points', `${a.id}.point`);
    const bytes = await readFile(path);
    bytes.writeUInt16LE(3, 8);
    await writeFile(path, bytes);
    const fresh = await openRepository(new LocalBackend(dir.path), { key, ...FAST });
    await expect(fresh.readPoint(a.id)).rejects.toMatchObject({ code: 'FORMAT_TOO_NEW' });
    await expect(fresh.listPoints()).rejects.toMatchObject({ code: 'FORMAT_TOO_NEW' });
    expect((await fresh.listPoints({ skipDamaged: true })).map((p) => p.id)).toEqual([b.id]);
    await stillIntact(repo, b, dataB);
  });
});

describe('tampering → INTEGRITY naming point and pack', () => {
  it('a flipped byte in a pack chunk: verify and readPoint name point and pack; other points intact', async () => {
    const { a, b, dataB, packsA } = await seeded();
    const pack = packsA[0]!;
    await flip(packPath(pack), () => 100);
    const repo = await openRepository(new LocalBackend(dir.path), { key, ...FAST });
    const report = await repo.verify();
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([expect.objectContaining({ pointId: a.id, packId: pack, code: 'INTEGRITY' })]);
    expect(report.problems[0]!.message).toMatch(new RegExp(`Restore point ${a.id} is damaged: pack ${pack}`));
    const e = await rejection(repo.readPoint(a.id).then(collect));
    expect(e).toMatchObject({ code: 'INTEGRITY' });
    expect(e.message).toContain(a.id);
    expect(e.message).toContain(pack);
    await stillIntact(repo, b, dataB);
  });

  it('a flipped byte in a pack index is found by verify; readPoint still returns only correct bytes', async () => {
    const { a, dataA, packsA } = await seeded();
    const pack = packsA[0]!;
    await flip(packPath(pack), (n) => n - 20);
    const repo = await openRepository(new LocalBackend(dir.path), { key, ...FAST });
    const report = await repo.verify(a.id);
    expect(report.problems).toEqual([expect.objectContaining({ pointId: a.id, packId: pack, message: expect.stringMatching(/damaged/) })]);
    expect(sha256(await collect(await repo.readPoint(a.id)))).toBe(sha256(dataA));
  });

  it('a flipped byte in a manifest', async () => {
    const { a, b, dataB } = await seeded();
    await flip(join(dir.path, 'points', `${a.id}.point`), (n) => n - 5);
    const repo = await openRepository(new LocalBackend(dir.path), { key, ...FAST });
    const report = await repo.verify();
    expect(report.problems).toEqual([expect.objectContaining({ pointId: a.id, packId: null, code: 'INTEGRITY', message: expect.stringMatching(/manifest points\/.*failed authentication/) })]);
    await expect(repo.readPoint(a.id)).rejects.toMatchObject({ code: 'INTEGRITY', message: expect.stringContaining(a.id) });
    await expect(repo.listPoints()).rejects.toMatchObject({ code: 'INTEGRITY', message: expect.stringContaining(a.id) });
    // GC must not guess: with an unreadable manifest nothing is collected.
    const gc = await repo.collectGarbage();
    expect(gc.skipped).toMatch(a.id);
    await stillIntact(repo, b, dataB);
  });

  it('a flipped byte in the header', async () => {
    await seeded();
    await flip(join(dir.path, 'backstop.repo'), (n) => n - 40);
    await expect(openRepository(new LocalBackend(dir.path), { key, ...FAST })).rejects.toMatchObject({ code: 'INTEGRITY', message: expect.stringMatching(/header .* is damaged/) });
  });

  it('a truncated pack fails readPoint before any byte and is named by verify', async () => {
    const { a, b, dataB, packsA } = await seeded();
    const pack = packsA[0]!;
    await truncate(packPath(pack), 200);
    const repo = await openRepository(new LocalBackend(dir.path), { key, ...FAST });
    await expect(repo.readPoint(a.id)).rejects.toMatchObject({ code: 'INTEGRITY', message: expect.stringMatching(new RegExp(`${a.id} is damaged: pack ${pack} is truncated`)) });
    const report = await repo.verify();
    expect(report.problems).toEqual([expect.objectContaining({ pointId: a.id, packId: pack })]);
    await stillIntact(repo, b, dataB);
  });

  it('a deleted pack fails readPoint and is named by verify', async () => {
    const { a, b, dataB, packsA } = await seeded();
    const pack = packsA[0]!;
    await rm(packPath(pack));
    const repo = await openRepository(new LocalBackend(dir.path), { key, ...FAST });
    await expect(repo.readPoint(a.id)).rejects.toMatchObject({ code: 'INTEGRITY', message: expect.stringMatching(new RegExp(`pack ${pack} is missing`)) });
    const report = await repo.verify(a.id);
    expect(report.problems).toEqual([expect.objectContaining({ pointId: a.id, packId: pack, message: expect.stringMatching(/is missing/) })]);
    await stillIntact(repo, b, dataB);
  });

  it('verify of an unknown point → NOT_FOUND', async () => {
    const { repo } = await seeded();
    await expect(repo.verify('20200101T000000000Z-00000000')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('disk full', () => {
  for (const target of ['packs/', 'points/'] as const) {
    it(`ENOSPC while writing ${target} → DISK_FULL, nothing committed, earlier points intact`, async () => {
      const { a, dataA } = await seeded();
      const before = (await new LocalBackend(dir.path).list('')).map((o) => o.key).sort();
      const faulty = new FaultyBackend(new LocalBackend(dir.path)).inject({ op: 'put', keyPrefix: target, after: target === 'packs/' ? 1 : 0, error: 'ENOSPC' });
      const repo = await openRepository(faulty, { key, ...FAST });
      const e = await rejection(repo.writePoint(pieces(dumpLike(1_500_000, 30)), pointOpts()));
      expect(e.code).toBe('DISK_FULL');
      expect(e.message).toMatch(/ran out of space.*not saved \(nothing was committed\).*earlier restore points are intact/);
      const after = (await new LocalBackend(dir.path).list('')).map((o) => o.key).sort();
      expect(after).toEqual(before); // its packs and marker were removed again
      const fresh = await openRepository(new LocalBackend(dir.path), { key, ...FAST });
      expect((await fresh.listPoints()).map((p) => p.id)).toContain(a.id);
      await stillIntact(fresh, a, dataA);
    });
  }
});

describe('cancel', () => {
  it('before the start → CANCELED, nothing written', async () => {
    const { repo } = await seeded();
    const ac = new AbortController();
    ac.abort();
    await expect(repo.writePoint(pieces(dumpLike(1000)), pointOpts({ signal: ac.signal }))).rejects.toMatchObject({ code: 'CANCELED' });
  });

  it('mid-stream → CANCELED, nothing committed, its packs removed, earlier points intact', async () => {
    const { repo, a, dataA } = await seeded();
    const before = (await new LocalBackend(dir.path).list('')).map((o) => o.key).sort();
    const ac = new AbortController();
    const data = dumpLike(600_000, 31);
    async function* source() {
      let n = 0;
      for await (const p of pieces(data, 4096)) {
        n += p.length;
        if (n > 400_000) ac.abort();
        yield p;
      }
    }
    const e = await rejection(repo.writePoint(source(), pointOpts({ signal: ac.signal })));
    expect(e).toMatchObject({ code: 'CANCELED', message: expect.stringMatching(/canceled; no restore point .* was written/) });
    expect((await new LocalBackend(dir.path).list('')).map((o) => o.key).sort()).toEqual(before);
    await stillIntact(repo, a, dataA);
  });

  it('a stalled source is abandoned promptly', async () => {
    const { repo } = await seeded();
    const ac = new AbortController();
    async function* stalled() {
      yield Buffer.alloc(10_000, 1);
      await new Promise(() => {}); // the dump tool hangs
    }
    setTimeout(() => ac.abort(), 50);
    const t0 = Date.now();
    await expect(repo.writePoint(stalled(), pointOpts({ signal: ac.signal }))).rejects.toMatchObject({ code: 'CANCELED' });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(await repo.listPoints()).toHaveLength(2);
  });

  it('reading can be canceled', async () => {
    const { repo, a } = await seeded();
    const ac = new AbortController();
    const stream = await repo.readPoint(a.id, { signal: ac.signal });
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    ac.abort();
    await expect((async () => {
      for (;;) if ((await it.next()).done) return;
    })()).rejects.toMatchObject({ code: 'CANCELED' });
  });
});
