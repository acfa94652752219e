/**
 * The restore-point picker over a real folder with many points (120 hourly points written
 * by the repository, its clock stepped an hour a point): the picker renders a page of them
 * (rows counted, not timed), older ones on request, or the newest up to a chosen day; a
 * point chosen there stays chosen and listed when the day is cleared, and "Verify this
 * point" checks exactly that point in the engine.
 */
import { join } from 'node:path';
import { initRepository } from '../../electron/engine/repository/index.ts';
import { encodeDatabaseFolder } from '../../electron/engine/servers/index.ts';
import { LocalBackend } from '../../electron/engine/storage/index.ts';
import { expect, test } from './fixtures/harness';
import { RestorePage } from './pages/restore-page';

test.use({ timezoneId: 'UTC' });

const POINTS = 120;
const PAGE = 50;
const HOUR = 3_600_000;
const START = Date.UTC(2026, 0, 1, 0, 30);
const DATABASE = 'Übersicht_東京_archive.db';

test('a folder with many points: a page listed, older on request, a day chosen, that point verified', async ({ page, tempDir }) => {
  test.setTimeout(90_000);
  const folder = join(tempDir, encodeDatabaseFolder(DATABASE));
  let clock = START;
  const repo = await initRepository(new LocalBackend(folder), { key: null, workers: 0, now: () => clock });
  const ids: string[] = [];
  for (let i = 0; i < POINTS; i++) {
    clock = START + i * HOUR;
    const p = await repo.writePoint(
      (async function* () {
        yield Buffer.from(`SQLite point ${i} `.repeat(64));
      })(),
      { database: DATABASE, serverIdentity: 'sqlite:/data', engineVersion: '3.45', dumpToolVersion: 'backstop', kind: i % 24 === 0 ? 'full' : 'incremental', backupType: 'logical', meta: { format: 'sqlite-file' } },
    );
    ids.push(p.id);
  }

  const restore = new RestorePage(page);
  await restore.open();
  await restore.readPath(folder);
  await expect(page.getByTestId('restore-database')).toHaveText(DATABASE);
  await expect(page.getByTestId('restore-point-count')).toHaveText(`${POINTS} points in this folder`);
  await expect(restore.points).toHaveCount(PAGE);
  await expect(restore.points.first().locator('input')).toHaveAttribute('value', ids[POINTS - 1]!);

  await page.getByTestId('restore-points-older').click();
  await expect(restore.points).toHaveCount(2 * PAGE);
  await expect(page.getByTestId('restore-points-older')).toHaveText(`Show ${POINTS - 2 * PAGE} older (${POINTS - 2 * PAGE} not listed)`);

  // Up to Jan 4 (UTC): the newest listed is that day's last point (23:30 → point 95).
  await page.getByTestId('restore-point-up-to').fill('2026-01-04');
  await expect(restore.points).toHaveCount(PAGE);
  await expect(restore.points.first().locator('input')).toHaveAttribute('value', ids[95]!);
  const chosen = ids[50]!;
  await page.locator(`#point-${chosen}`).check();
  await page.getByTestId('restore-point-up-to').fill('');
  await expect(restore.points).toHaveCount(PAGE + 1);
  await expect(page.locator(`#point-${chosen}`)).toBeChecked();

  await page.getByTestId('restore-verify').click();
  await expect(page.getByTestId('restore-verify-result')).toHaveText(/^OK — 1 point,/);
});
