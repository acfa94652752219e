/**
 * Whole-server restore in the window against a real engine, on SQLite files: the demo
 * task's destination is chosen, the plan lists every database with its point and size,
 * one name already taken on the target is shown as such and left untouched, the others are
 * restored under a prefix with per-database progress and a summary, and a second plan
 * says they are already restored.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'libsql';
import { dispatch } from '../../electron/engine/api/dispatch.ts';
import { expect, test } from './fixtures/harness';
import { runToEnd } from './fixtures/engine-setup';
import { RestorePage } from './pages/restore-page';

test.describe.configure({ timeout: 120_000 });

test('restores every database of a task destination onto another SQLite folder, never over an existing file', async ({ page, engine, tempDir }) => {
  const demo = await dispatch(engine.handlers, 'demo.setup', undefined);
  if (!demo.ok) throw new Error(`demo.setup: ${demo.code} ${demo.message}`);
  await runToEnd(engine, demo.data.taskId, 'full');
  const sources = (await readdir(demo.data.folder)).sort();
  expect(sources.length).toBeGreaterThan(1);

  const target = join(tempDir, 'target');
  await mkdir(target);
  // The first database's new name is already taken on the target by someone else's database.
  const taken = `copy-${sources[0]!}`;
  const theirs = new Database(join(target, taken));
  theirs.exec("CREATE TABLE mine (v TEXT); INSERT INTO mine VALUES ('theirs')");
  theirs.close();
  const server = await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: 'Target files', folder: target });
  if (!server.ok) throw new Error(server.message);

  const restore = new RestorePage(page);
  await restore.planWholeServer(server.data.id, 'copy-');

  const rows = page.getByTestId('ws-plan-row');
  await expect(rows).toHaveCount(sources.length);
  await expect(page.locator(`[data-testid="ws-plan-row"][data-status="exists"]`)).toContainText('DATABASE_EXISTS');
  await expect(page.locator(`[data-testid="ws-plan-row"][data-status="ready"]`)).toHaveCount(sources.length - 1);
  await expect(page.getByTestId('ws-totals')).toContainText(`${sources.length - 1} database`);

  await page.getByTestId('ws-start').click();
  await expect(page.getByTestId('ws-summary-counts')).toHaveText(`${sources.length - 1} restored · 0 failed · 0 skipped`, { timeout: 60_000 });
  expect((await readdir(target)).sort()).toEqual(sources.map((s) => `copy-${s}`).sort());
  const untouched = new Database(join(target, taken), { readonly: true });
  expect(untouched.prepare('SELECT v FROM mine').all()).toEqual([{ v: 'theirs' }]);
  untouched.close();

  // Planned again: the restored ones are done, the taken one still taken.
  await page.getByTestId('ws-plan').click();
  await expect(page.locator(`[data-testid="ws-plan-row"][data-status="done"]`)).toHaveCount(sources.length - 1);
  await expect(page.getByTestId('ws-start')).toBeDisabled();
});
