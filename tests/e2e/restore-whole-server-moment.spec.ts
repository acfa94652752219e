/**
 * Whole-server restore "as of a moment" in the window against a real engine, on SQLite
 * files: after a plan of the latest points, "As of a moment" states the range every
 * database reaches and names the database that limits it (one added after the moment); the
 * plan for the moment lists that database as unable to reach it; the others are restored
 * from their points at or before the moment (the content from before a later change).
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'libsql';
import { dispatch } from '../../electron/engine/api/dispatch.ts';
import { expect, test } from './fixtures/harness';
import { runToEnd } from './fixtures/engine-setup';
import { RestorePage } from './pages/restore-page';

test.describe.configure({ timeout: 120_000 });

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A date as a datetime-local value, in the local time zone, to the second. */
const localValue = (d: Date) => {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
};

test('restores every database as of a moment; a database added later is listed as unable to reach it', async ({ page, engine, tempDir }) => {
  const demo = await dispatch(engine.handlers, 'demo.setup', undefined);
  if (!demo.ok) throw new Error(`demo.setup: ${demo.code} ${demo.message}`);
  const sources = (await readdir(demo.data.folder)).sort();
  const marked = new Database(join(demo.data.folder, sources[0]!));
  marked.exec("CREATE TABLE marker (v TEXT); INSERT INTO marker VALUES ('before')");
  marked.close();
  await runToEnd(engine, demo.data.taskId, 'full');
  await pause(1500);
  const moment = new Date(Math.floor(Date.now() / 1000) * 1000);
  await pause(1100);
  const later = new Database(join(demo.data.folder, sources[0]!));
  later.exec("UPDATE marker SET v = 'after'");
  later.close();
  const added = new Database(join(demo.data.folder, 'added-later.db'));
  added.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
  added.close();
  await runToEnd(engine, demo.data.taskId, 'full');

  const target = join(tempDir, 'target');
  await mkdir(target);
  const server = await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: 'Target files', folder: target });
  if (!server.ok) throw new Error(server.message);

  const restore = new RestorePage(page);
  await restore.planWholeServer(server.data.id, 'then-');
  await expect(page.getByTestId('ws-plan-row')).toHaveCount(sources.length + 1);

  await page.getByTestId('ws-at-moment').check();
  await expect(page.getByTestId('ws-range')).toContainText('added-later.db, the database that limits it');
  await page.getByTestId('ws-moment').fill(localValue(moment));
  await expect(page.getByTestId('ws-plan-card')).toHaveCount(0); // a new moment drops the plan
  await page.getByTestId('ws-plan').click();
  await expect(page.getByTestId('ws-out-of-range')).toHaveText('1 database cannot reach that moment and will not be restored: added-later.db.');
  await expect(page.locator('[data-testid="ws-plan-row"][data-status="failed"]')).toContainText('OUT_OF_RANGE');
  await expect(page.locator('[data-testid="ws-plan-row"][data-status="ready"]')).toHaveCount(sources.length);

  await page.getByTestId('ws-start').click();
  await expect(page.getByTestId('ws-summary-counts')).toHaveText(`${sources.length} restored · 0 failed · 0 skipped`, { timeout: 60_000 });
  expect((await readdir(target)).sort()).toEqual(sources.map((s) => `then-${s}`).sort());
  const copy = new Database(join(target, `then-${sources[0]!}`), { readonly: true });
  expect(copy.prepare('SELECT v FROM marker').all()).toEqual([{ v: 'before' }]);
  copy.close();
});
