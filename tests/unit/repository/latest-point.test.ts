/**
 * Repository.latestPoint: "latest" from the point ids (their creation time) and one manifest,
 * the same answer as the rule applied to the full listing — a point written while the clock
 * was ahead included — and the full listing's answer (or error) whenever the chosen manifest
 * cannot be trusted: damaged, or not dated as its id says.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { initRepository, latestPoint, openRepository, type Repository } from '../../../electron/engine/repository/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { createSealer } from '../../../electron/engine/crypto/seal.ts';
import { ENCRYPTION } from '../../../electron/engine/repository/algorithms.ts';
import { decodeManifest, encodeManifest } from '../../../electron/engine/repository/manifest.ts';
import { pointKey } from '../../../electron/engine/repository/layout.ts';
import { FAST, pieces, pointOpts, rejection, tempDir } from './helpers.ts';

const HOUR = 3_600_000;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0)) await c();
});

/** A repository with points written at `times` (ms), and its folder. */
async function repoWith(times: number[]): Promise<{ dir: string; ids: string[]; open: () => Promise<{ repo: Repository; reads: string[] }> }> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  let now = times[0] ?? 0;
  const repo = await initRepository(new LocalBackend(t.path), { ...FAST, now: () => now });
  const ids: string[] = [];
  for (const [i, at] of times.entries()) {
    now = at;
    ids.push((await repo.writePoint(pieces(Buffer.from(`point ${i}`)), pointOpts({ kind: i === 0 ? 'full' : 'incremental' }))).id);
  }
  const open = async () => {
    const backend = new LocalBackend(t.path);
    const reads: string[] = [];
    const get = backend.get.bind(backend);
    vi.spyOn(backend, 'get').mockImplementation((key, ...rest) => {
      if (key.startsWith('points/')) reads.push(key);
      return get(key, ...rest);
    });
    return { repo: await openRepository(backend, FAST), reads };
  };
  return { dir: t.path, ids, open };
}

const now = new Date('2026-12-06T12:00:00.000Z');

describe('Repository.latestPoint', () => {
  it('reads only the chosen manifest and agrees with the rule on the full listing, a point dated ahead of the clock included', async () => {
    const r = await repoWith([now.getTime() - 3 * HOUR, now.getTime() - 2 * HOUR, now.getTime() - HOUR, now.getTime() + 400 * 24 * HOUR]);
    const a = await r.open();
    expect((await a.repo.latestPoint(now))?.id).toBe(r.ids[2]);
    expect(a.reads).toEqual([pointKey(r.ids[2]!)]);
    expect((await a.repo.latestPoint(now))?.id).toBe(latestPoint(await a.repo.listPoints(), now)?.id);
    // This clock behind every point: the newest, as the rule says.
    const b = await r.open();
    expect((await b.repo.latestPoint(new Date('2020-01-01T00:00:00Z')))?.id).toBe(r.ids[3]);
    expect(b.reads).toEqual([pointKey(r.ids[3]!)]);
  });

  it('an empty folder has none', async () => {
    const r = await repoWith([]);
    expect(await (await r.open()).repo.latestPoint(now)).toBeUndefined();
  });

  it('the newest manifest damaged: INTEGRITY from the full listing (it may be the newest point); skipDamaged gives the newest readable', async () => {
    const r = await repoWith([now.getTime() - 2 * HOUR, now.getTime() - HOUR]);
    const file = join(r.dir, pointKey(r.ids[1]!));
    const bytes = readFileSync(file);
    bytes[bytes.length - 3]! ^= 0xff;
    writeFileSync(file, bytes);
    const e = await rejection((await r.open()).repo.latestPoint(now));
    expect(e).toMatchObject({ code: 'INTEGRITY', message: expect.stringContaining(`cannot be read: ${r.ids[1]}.`) });
    expect(e.message).toContain(`Readable points here (newest last): ${r.ids[0]}; restore one of them by its id.`);
    expect((await (await r.open()).repo.latestPoint(now, { skipDamaged: true }))?.id).toBe(r.ids[0]);
  });

  it('a manifest not dated as its id says is not trusted: the answer comes from every manifest', async () => {
    const r = await repoWith([now.getTime() - 2 * HOUR, now.getTime() - HOUR]);
    // The older point re-encoded (a valid manifest) claiming a later time than the newest id.
    const sealer = createSealer(ENCRYPTION.NONE_SHA256_TAG, null);
    const file = join(r.dir, pointKey(r.ids[1]!));
    const m = decodeManifest(readFileSync(file), r.ids[1]!, sealer);
    writeFileSync(file, encodeManifest({ ...m, info: { ...m.info, createdAt: new Date(now.getTime() - 3 * HOUR).toISOString() } }, sealer, 3));
    const o = await r.open();
    expect((await o.repo.latestPoint(now))?.id).toBe(r.ids[0]);
    expect(new Set(o.reads)).toEqual(new Set(r.ids.map(pointKey)));
  });

  it('a file in points/ shaped like an id but naming no real time (month 13): no crash, the full listing names it', async () => {
    const r = await repoWith([now.getTime() - HOUR]);
    const foreign = '20261301T000000000Z-0123abcd';
    writeFileSync(join(r.dir, pointKey(foreign)), 'not a manifest');
    const e = await rejection((await r.open()).repo.latestPoint(now));
    expect(e).toMatchObject({ code: 'INTEGRITY', message: expect.stringContaining(foreign) });
    expect((await (await r.open()).repo.latestPoint(now, { skipDamaged: true }))?.id).toBe(r.ids[0]);
  });
});
