/**
 * Repository.latestPoint: the rule (shared/latest-point.ts) applied to the readable manifests —
 * a chain's last point whatever the dates, a point written while the clock was ahead included —
 * and the full listing's error when an unreadable manifest may be the latest.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { initRepository, latestPoint, openRepository, type Repository } from '../../../electron/engine/repository/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { pointKey } from '../../../electron/engine/repository/layout.ts';
import { FAST, pieces, pointOpts, rejection, tempDir } from './helpers.ts';

const HOUR = 3_600_000;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0)) await c();
});

/** A repository with points written at `times` (ms) — fulls at the first and at the indexes `fulls` names —, and its folder. */
async function repoWith(times: number[], fulls: number[] = []): Promise<{ dir: string; ids: string[]; open: (clock?: number) => Promise<{ repo: Repository; reads: string[] }> }> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  let now = times[0] ?? 0;
  const repo = await initRepository(new LocalBackend(t.path), { ...FAST, now: () => now });
  const ids: string[] = [];
  for (const [i, at] of times.entries()) {
    now = at;
    ids.push((await repo.writePoint(pieces(Buffer.from(`point ${i}`)), pointOpts({ kind: i === 0 || fulls.includes(i) ? 'full' : 'incremental' }))).id);
  }
  const open = async (clock?: number) => {
    const backend = new LocalBackend(t.path);
    const reads: string[] = [];
    const get = backend.get.bind(backend);
    vi.spyOn(backend, 'get').mockImplementation((key, ...rest) => {
      if (key.startsWith('points/')) reads.push(key);
      return get(key, ...rest);
    });
    return { repo: await openRepository(backend, clock === undefined ? FAST : { ...FAST, now: () => clock }), reads };
  };
  return { dir: t.path, ids, open };
}

const now = new Date('2026-12-06T12:00:00.000Z');

describe('Repository.latestPoint', () => {
  it('agrees with the rule on the full listing: a chain\'s last point is the latest whatever the dates, and among unrelated points one dated ahead of the clock is not', async () => {
    // A chain whose last point was written with the clock 400 days ahead: it continues the others, so it was written last.
    const r = await repoWith([now.getTime() - 3 * HOUR, now.getTime() - 2 * HOUR, now.getTime() - HOUR, now.getTime() + 400 * 24 * HOUR]);
    const a = await r.open();
    expect((await a.repo.latestPoint(now))?.id).toBe(r.ids[3]);
    expect(new Set(a.reads)).toEqual(new Set(r.ids.map(pointKey)));
    expect((await a.repo.latestPoint(now))?.id).toBe(latestPoint(await a.repo.listPoints(), now)?.id);
    // The clock set back an hour after the full: the incremental written then is dated before it, and is the latest.
    const back = await repoWith([now.getTime() - HOUR, now.getTime() - 2 * HOUR]);
    expect((await (await back.open()).repo.latestPoint(now))?.id).toBe(back.ids[1]);
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

  it('read with a clock two hours behind the writer\'s: an older damaged manifest (a readable point continues it) does not stop "latest", which is the last point written', async () => {
    const t = now.getTime();
    const r = await repoWith([t - 4 * HOUR, t - 3 * HOUR, t - 2 * HOUR, t - 5 * 60_000]);
    const file = join(r.dir, pointKey(r.ids[1]!));
    const bytes = readFileSync(file);
    bytes[bytes.length - 3]! ^= 0xff;
    writeFileSync(file, bytes);
    // The last point is dated more than an hour after this clock; the damaged one is continued by the next.
    expect((await (await r.open()).repo.latestPoint(new Date(t - 2 * HOUR)))?.id).toBe(r.ids[3]);
  });

  it('with this clock two hours behind the writer\'s, chains() orders this week\'s chain (its last point dated ahead) after last week\'s, as "latest" does', async () => {
    const t = now.getTime();
    const r = await repoWith([t - 8 * 24 * HOUR, t - 7 * 24 * HOUR, t - 24 * HOUR, t - 3 * HOUR, t - 5 * 60_000], [2]);
    const { repo } = await r.open(t - 2 * HOUR);
    const chains = await repo.chains();
    expect(chains.map((c) => [c.chainId, c.newest.id])).toEqual([
      [r.ids[0], r.ids[1]],
      [r.ids[2], r.ids[4]],
    ]);
    expect((await repo.latestPoint(new Date(t - 2 * HOUR)))?.id).toBe(chains.at(-1)!.newest.id);
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
