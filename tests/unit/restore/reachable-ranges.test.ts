/**
 * The moments a PostgreSQL WAL chain reaches (restore/pitr.ts reachableRanges, planRecovery),
 * on real repositories in temp folders holding points with the meta wal-backup.ts records:
 * - a base backup that recorded `consistentTime` reaches from it (rounded up to the second),
 *   and a moment between it and the end of the first WAL point plans that first WAL point
 *   with the moment as the recovery target;
 * - an older base backup without it reaches from the end of its first WAL point, as before;
 * - a chain with no WAL point reaches no moment; a moment outside every range is
 *   OUT_OF_RANGE naming the ranges.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initRepository, type Repository } from '../../../electron/engine/repository/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { planRecovery, reachableRanges } from '../../../electron/engine/restore/pitr.ts';
import { FAST, pieces, pointOpts, pseudoRandom, rejection, tempDir } from '../repository/helpers.ts';

let dir: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(() => dir.cleanup());

const wal = { slot: 'backstop_t_00000000', systemId: '7311', timeline: 1, segmentSize: 16 << 20, bootstrapRole: 'postgres' };

async function repo(): Promise<Repository> {
  return initRepository(new LocalBackend(dir.path), { ...FAST, key: null });
}

async function full(r: Repository, extra: Record<string, string> = {}): Promise<string> {
  const p = await r.writePoint(pieces(pseudoRandom(4096, 1)), pointOpts({ database: 'base.tar', kind: 'full', backupType: 'snapshot', meta: { format: 'pg-basebackup-tar', wal: { ...wal, startLsn: '0/2000028', startTime: '2026-12-05T10:00:00.000000Z', ...extra } } }));
  return p.id;
}

async function walPoint(r: Repository, startLsn: string, endLsn: string, endTime: string): Promise<string> {
  const p = await r.writePoint(pieces(pseudoRandom(1024, 2)), pointOpts({ database: 'base.tar', kind: 'incremental', backupType: 'snapshot', meta: { format: 'pg-wal-tar', wal: { ...wal, startLsn, endLsn, endTime } } }));
  return p.id;
}

describe('reachableRanges / planRecovery', () => {
  it('a base backup with its consistent moment reaches from it; a moment before its first WAL point ends replays that point to the moment', async () => {
    const r = await repo();
    const fullId = await full(r, { consistentTime: '2026-12-05T10:00:04.250000Z' });
    // A chain with its base backup only reaches no moment yet.
    expect(await reachableRanges(r)).toEqual([]);
    const alone = await rejection(planRecovery(r, { asOf: new Date('2026-12-05T10:00:05Z') }));
    expect(alone).toMatchObject({ code: 'OUT_OF_RANGE', message: '2026-12-05 10:00:05 UTC is outside what the backups of this server reach. No moment is reachable yet: a moment needs a WAL backup (an incremental) after a base backup; restore the base backup itself with --point. Nothing was created.' });

    const w1 = await walPoint(r, '0/2000000', '0/3000000', '2026-12-05T11:00:00.500000Z');
    const w2 = await walPoint(r, '0/3000000', '0/4000000', '2026-12-05T12:00:00.000000Z');
    // Shown and entered to the second: the start rounds up, so its second restores.
    expect(await reachableRanges(r)).toEqual([{ fullPointId: fullId, from: '2026-12-05T10:00:05.000Z', to: '2026-12-05T12:00:00.000000Z' }]);

    const between = await planRecovery(r, { asOf: new Date('2026-12-05T10:30:00Z') });
    expect(between.full.id).toBe(fullId);
    expect(between.wal.map((p) => p.id)).toEqual([w1]);
    expect(between.target?.toISOString()).toBe('2026-12-05T10:30:00.000Z');
    expect((await planRecovery(r, { asOf: new Date('2026-12-05T10:00:05Z') })).wal.map((p) => p.id)).toEqual([w1]);
    expect((await planRecovery(r, { asOf: new Date('2026-12-05T11:30:00Z') })).wal.map((p) => p.id)).toEqual([w1, w2]);

    // Before the consistent moment (even within its second): refused, naming the range.
    for (const early of ['2026-12-05T10:00:04.900Z', '2026-12-05T09:00:00Z']) {
      const e = await rejection(planRecovery(r, { asOf: new Date(early) }));
      expect(e.code).toBe('OUT_OF_RANGE');
      expect(e.message).toContain('is outside what the backups of this server reach. The backups reach 2026-12-05 10:00:05 UTC to 2026-12-05 12:00:00 UTC. Nothing was created.');
    }
    expect((await rejection(planRecovery(r, { asOf: new Date('2026-12-05T12:00:01Z') }))).code).toBe('OUT_OF_RANGE');
  });

  it('an older base backup without the consistent moment reaches from the end of its first WAL point, as before', async () => {
    const r = await repo();
    const fullId = await full(r);
    await walPoint(r, '0/2000000', '0/3000000', '2026-12-05T11:00:00.000000Z');
    const w2 = await walPoint(r, '0/3000000', '0/4000000', '2026-12-05T12:00:00.000000Z');
    expect(await reachableRanges(r)).toEqual([{ fullPointId: fullId, from: '2026-12-05T11:00:00.000Z', to: '2026-12-05T12:00:00.000000Z' }]);
    const e = await rejection(planRecovery(r, { asOf: new Date('2026-12-05T10:30:00Z') }));
    expect(e).toMatchObject({ code: 'OUT_OF_RANGE', message: '2026-12-05 10:30:00 UTC is outside what the backups of this server reach. The backups reach 2026-12-05 11:00:00 UTC to 2026-12-05 12:00:00 UTC. Nothing was created.' });
    expect((await planRecovery(r, { asOf: new Date('2026-12-05T11:00:00Z') })).wal).toHaveLength(1);
    expect((await planRecovery(r, { asOf: new Date('2026-12-05T11:00:01Z') })).wal.at(-1)!.id).toBe(w2);
  });

  it('a newer chain reaches from its own base backup; the newest chain holding a moment is the one planned', async () => {
    const r = await repo();
    const first = await full(r, { consistentTime: '2026-12-05T10:00:00.000000Z' });
    await walPoint(r, '0/2000000', '0/3000000', '2026-12-05T11:00:00.000000Z');
    const second = await full(r, { consistentTime: '2026-12-05T13:00:00.000000Z' });
    expect((await reachableRanges(r)).map((x) => [x.fullPointId, x.from])).toEqual([[first, '2026-12-05T10:00:00.000Z']]);
    await walPoint(r, '0/5000000', '0/6000000', '2026-12-05T14:00:00.000000Z');
    expect((await reachableRanges(r)).map((x) => [x.fullPointId, x.from, x.to])).toEqual([
      [first, '2026-12-05T10:00:00.000Z', '2026-12-05T11:00:00.000000Z'],
      [second, '2026-12-05T13:00:00.000Z', '2026-12-05T14:00:00.000000Z'],
    ]);
    expect((await planRecovery(r, { asOf: new Date('2026-12-05T13:30:00Z') })).full.id).toBe(second);
    const gap = await rejection(planRecovery(r, { asOf: new Date('2026-12-05T12:00:00Z') }));
    expect(gap.message).toContain('The backups reach 2026-12-05 10:00:00 UTC to 2026-12-05 11:00:00 UTC; 2026-12-05 13:00:00 UTC to 2026-12-05 14:00:00 UTC.');
  });

  it('a first WAL point that ends within the second of the consistent moment: the range starts no later than its end, so that end restores', async () => {
    // A base backup and its first incremental within one second (a fast machine, a small change):
    // rounding the start up to the next second would pass the point's end, and "restore up to the end
    // of the point before" (pitr.ts, a refused tablespace) would name a moment the range refuses.
    const r = await repo();
    const fullId = await full(r, { consistentTime: '2026-12-05T10:00:04.250000Z' });
    const w1 = await walPoint(r, '0/2000000', '0/3000000', '2026-12-05T10:00:04.800123Z');
    expect(await reachableRanges(r)).toEqual([{ fullPointId: fullId, from: '2026-12-05T10:00:04.800Z', to: '2026-12-05T10:00:04.800123Z' }]);
    expect((await planRecovery(r, { asOf: new Date('2026-12-05T10:00:04.800123Z') })).wal.map((p) => p.id)).toEqual([w1]);
    await walPoint(r, '0/3000000', '0/4000000', '2026-12-05T10:00:09.000000Z');
    expect((await reachableRanges(r))[0]!.from).toBe('2026-12-05T10:00:04.800Z');
    expect((await planRecovery(r, { asOf: new Date('2026-12-05T10:00:04.800Z') })).wal.map((p) => p.id)).toEqual([w1]);
    expect((await rejection(planRecovery(r, { asOf: new Date('2026-12-05T10:00:04.700Z') }))).code).toBe('OUT_OF_RANGE');
  });
});
