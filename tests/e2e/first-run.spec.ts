/**
 * First run against a real engine: the empty Tasks view offers sample databases; the demo
 * task runs for real (live progress, then the result) and History shows the run with every
 * database of the sample folder.
 */
import { dispatch } from '../../electron/engine/api/dispatch.ts';
import { expect, test } from './fixtures/harness';
import { attachScreenshot } from './fixtures/screenshots';
import { HistoryPage } from './pages/history-page';
import { TasksPage } from './pages/tasks-page';

// A real backup of the sample databases takes several seconds on the build machines.
test.describe.configure({ timeout: 120_000 });

test('Try with sample databases → Run it now → progress → History shows the successful run', async ({ page, engine }, testInfo) => {
  const tasks = new TasksPage(page);
  await tasks.open();
  await expect(tasks.emptyNoServers).toBeVisible();
  await attachScreenshot(page, testInfo, 'tasks-first-run');

  await tasks.emptyNoServers.getByRole('button', { name: 'Try with sample databases' }).click();
  await expect(tasks.demoReady).toBeVisible();
  await expect(tasks.rows).toHaveCount(1);

  const listed = await dispatch(engine.handlers, 'tasks.list', undefined);
  expect(listed.ok).toBe(true);
  if (!listed.ok) return;
  const demoTask = listed.data[0]!;
  const databases = await dispatch(engine.handlers, 'servers.databases', { id: demoTask.serverId });
  expect(databases.ok && databases.data.length).toBeGreaterThan(0);
  if (!databases.ok) return;

  const row = tasks.row(demoTask.name);
  // The schedule in words and the next runs come from the engine's task status.
  await expect(row.getByTestId('task-schedule')).not.toBeEmpty();
  await expect(row.getByTestId('task-next-full')).not.toHaveText('…');
  await expect(row.getByTestId('task-last-result')).toContainText('Never run');

  await tasks.demoReady.getByRole('button', { name: 'Run it now' }).click();
  // Live progress while it runs (one bar per database), or — on a fast machine — already the result.
  await expect(row.getByTestId('run-progress').or(row.getByTestId('task-last-result').getByText('Succeeded'))).toBeVisible();
  await tasks.waitForLastResult(demoTask.name, 'Succeeded');
  await expect(row.getByTestId('task-last-result')).toContainText(`${databases.data.length} ok`);
  await expect(row.getByTestId('run-progress')).toBeHidden();
  await expect(row.getByTestId('task-stored')).not.toHaveText('0 B');
  await attachScreenshot(page, testInfo, 'tasks-after-run');

  const history = new HistoryPage(page);
  await history.open();
  await expect(history.rows).toHaveCount(1);
  await expect(history.rows.first().getByTestId('history-row-status')).toHaveText('Succeeded');
  await expect(history.rows.first().getByTestId('history-row-databases')).toHaveText(`${databases.data.length} ok`);
  await history.rows.first().getByTestId('history-row-toggle').click();
  await expect(history.detail).toBeVisible();
  const detailRows = history.detail.getByTestId('run-detail-row');
  await expect(detailRows).toHaveCount(databases.data.length * demoTask.destinations.length);
  for (const name of databases.data) {
    await expect(detailRows.filter({ has: page.getByRole('rowheader', { name, exact: true }) }).getByTestId('run-detail-status')).toHaveText('success');
  }
  await expect(history.charts.getByRole('img').first()).toHaveAttribute('aria-label', /1 backups/);
  await attachScreenshot(page, testInfo, 'history-run-detail');
});

test('History filters: a status with no runs shows none, clearing shows them again', async ({ page, engine }) => {
  const demo = await dispatch(engine.handlers, 'demo.setup', undefined);
  expect(demo.ok).toBe(true);
  if (!demo.ok) return;
  const started = await dispatch(engine.handlers, 'tasks.runNow', { id: demo.data.taskId, kind: 'full' });
  expect(started.ok).toBe(true);
  await expect.poll(async () => {
    const active = await dispatch(engine.handlers, 'runs.active', undefined);
    return active.ok && active.data.length;
  }, { timeout: 30_000 }).toBe(0);

  const history = new HistoryPage(page);
  await history.open();
  await expect(history.rows).toHaveCount(1);
  await page.getByTestId('filter-status').selectOption('failed');
  await expect(history.rows).toHaveCount(0);
  await expect(history.root.getByText('No run matches these filters.')).toBeVisible();
  await expect(history.count).toHaveText('0 matching runs');
  await page.getByTestId('filter-status').selectOption('success');
  await expect(history.rows).toHaveCount(1);
  await history.root.getByRole('button', { name: 'Clear' }).click();
  await expect(page.getByTestId('filter-status')).toHaveValue('');
});
