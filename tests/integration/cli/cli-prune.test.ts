/**
 * `backstop prune` on real backups of a real SQLite folder: minimum ages are honoured to
 * the hour (h, d, w), `--min-age 0d --keep-last N` keeps exactly the newest N, and bad
 * options are refused with a message that names the fix. The clock is moved forward (only
 * `Date`) to age the points; the backups themselves are real.
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { CHINOOK, cliInProcess as cli, writeTaskFile } from '../../fixtures/cli.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

async function threePoints() {
  const folder = tempDir();
  const backups = tempDir();
  const dataDir = tempDir();
  copyFileSync(CHINOOK, join(folder, 'chinook.sqlite'));
  const task = writeTaskFile(tempDir(), { server: { kind: 'sqlite', folder }, destinations: [{ kind: 'local', path: backups }] });
  for (let i = 0; i < 3; i++) expect((await cli('backup', '--config', task, '--data-dir', dataDir, '--json')).code).toBe(0);
  const location = join(backups, encodeDatabaseFolder('chinook.sqlite'));
  const ids = (JSON.parse((await cli('points', location, '--data-dir', dataDir, '--json')).out) as { id: string }[]).map((p) => p.id);
  expect(ids).toHaveLength(3);
  return { location, dataDir, newestFirst: ids.reverse() };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('backstop prune', () => {
  it('honours hours exactly: 40-hour-old points go with --min-age 36h and stay with 2d', async () => {
    const s = await threePoints();
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 40 * 3_600_000 });
    const hours = await cli('prune', s.location, '--min-age', '36h', '--dry-run', '--data-dir', s.dataDir, '--json');
    expect(hours.code).toBe(0);
    expect(JSON.parse(hours.out).plan).toEqual([
      { id: s.newestFirst[0], action: 'keep', reason: 'newest point' },
      { id: s.newestFirst[1], action: 'delete', reason: 'older than 36 hours' },
      { id: s.newestFirst[2], action: 'delete', reason: 'older than 36 hours' },
    ]);
    const days = await cli('prune', s.location, '--min-age', '2d', '--dry-run', '--data-dir', s.dataDir, '--json');
    expect(JSON.parse(days.out).plan.slice(1)).toEqual([
      { id: s.newestFirst[1], action: 'keep', reason: 'younger than 2 days' },
      { id: s.newestFirst[2], action: 'keep', reason: 'younger than 2 days' },
    ]);
    const weeks = await cli('prune', s.location, '--min-age', '1w', '--data-dir', s.dataDir, '--json');
    expect(JSON.parse(weeks.out)).toMatchObject({ deleted: [], plan: [{ action: 'keep' }, { reason: 'younger than 7 days' }, { reason: 'younger than 7 days' }] });
  });

  it('--min-age 0d --keep-last 2 keeps exactly the newest 2 and deletes the rest', async () => {
    const s = await threePoints();
    const r = await cli('prune', s.location, '--min-age', '0d', '--keep-last', '2', '--data-dir', s.dataDir, '--json');
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out);
    expect(res.plan).toEqual([
      { id: s.newestFirst[0], action: 'keep', reason: 'newest point' },
      { id: s.newestFirst[1], action: 'keep', reason: 'one of the newest 2' },
      { id: s.newestFirst[2], action: 'delete', reason: 'not one of the newest 2' },
    ]);
    expect(res.deleted).toEqual([s.newestFirst[2]]);
    // The document as docs/CLI.md gives it ("Output and exit codes"); nothing was in use.
    expect(Object.keys(res).sort()).toEqual(['bytesFreed', 'deleted', 'deletedPoints', 'inUse', 'plan']);
    expect(res.inUse).toEqual([]);
    expect(res.deletedPoints).toEqual([{ id: s.newestFirst[2], createdAt: expect.any(String), kind: 'full', reason: 'not one of the newest 2' }]);
    expect(res.bytesFreed).toBe(0); // the three points of an unchanged file share every chunk
    const left = JSON.parse((await cli('points', s.location, '--data-dir', s.dataDir, '--json')).out) as { id: string }[];
    expect(left.map((p) => p.id)).toEqual([s.newestFirst[1], s.newestFirst[0]]);
    expect(JSON.parse((await cli('verify', s.location, '--data-dir', s.dataDir, '--json')).out)).toMatchObject({ ok: true, pointsChecked: 2 });
  });

  it('refuses a keep-last below 1, a negative one, and an age without a unit, deleting nothing', async () => {
    const s = await threePoints();
    const zero = await cli('prune', s.location, '--min-age', '0d', '--keep-last', '0', '--data-dir', s.dataDir, '--json');
    expect(zero.code).toBe(2);
    expect(JSON.parse(zero.out).error).toEqual({ code: 'MALFORMED_REQUEST', message: '--keep-last must be a whole number of at least 1, not "0". Run "backstop --help".' });
    const negative = await cli('prune', s.location, '--min-age', '7d', '--keep-last', '-1', '--data-dir', s.dataDir, '--json');
    expect(negative.code).toBe(2);
    expect(JSON.parse(negative.out).error).toEqual({ code: 'MALFORMED_REQUEST', message: '--keep-last must be a whole number of at least 1, not "-1". Run "backstop --help".' });
    const unitless = await cli('prune', s.location, '--min-age', '36', '--data-dir', s.dataDir, '--json');
    expect(unitless.code).toBe(2);
    expect(JSON.parse(unitless.out).error.message).toContain('must be a duration with its unit: hours, days or weeks, like 36h, 7d or 2w');
    expect(JSON.parse((await cli('points', s.location, '--data-dir', s.dataDir, '--json')).out)).toHaveLength(3);
  });
});
