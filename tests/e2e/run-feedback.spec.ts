/**
 * Honest run feedback through the window with real runs of a real SQLite folder (issue 17
 * §5, §6, §13): "Run now ▸ Incremental" of a snapshot task that has no full yet shows, in
 * the task card and in History, what actually ran ("full (incremental requested)", the
 * databases counted once); a database a Backstop restore created is named as a restored
 * copy after the next run, and "Exclude from this task" adds it to the task's exclude list.
 */
import { join } from 'node:path';
import type { Engine } from '../../electron/engine/index.ts';
import { dispatch } from '../../electron/engine/api/dispatch.ts';
import { encodeDatabaseFolder } from '../../electron/engine/servers/index.ts';
import { restoreAndWait } from '../fixtures/restores.ts';
import { expect, test } from './fixtures/harness';
import { attachScreenshot } from './fixtures/screenshots';
import { makeSqliteFolder } from './fixtures/sqlite-files';
import { HistoryPage } from './pages/history-page';
import { TasksPage } from './pages/tasks-page';

test.describe.configure({ timeout: 120_000 });

async function setup(engine: Engine, tempDir: string) {
  const folder = join(tempDir, 'dbs');
  const backups = join(tempDir, 'backups');
  await makeSqliteFolder(folder, ['shop.sqlite', 'crm.sqlite'], 2000);
  const server = await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: 'Files', folder });
  if (!server.ok) throw new Error(server.message);
  const task = await dispatch(engine.handlers, 'tasks.create', {
    name: 'All files',
    serverId: server.data.id,
    type: 'snapshot',
    schedule: { full: '0 2 * * 0', incremental: '0 3 * * *', timezone: 'UTC' },
    destinations: [{ kind: 'local', path: backups }],
  });
  if (!task.ok) throw new Error(task.message);
  return { folder, backups, server: server.data, task: task.data };
}

test('Run now ▸ Incremental without a full shows the full that ran; a restored copy can be excluded from the task', async ({ page, engine, tempDir }, testInfo) => {
  const { backups, server, task } = await setup(engine, tempDir);
  const tasks = new TasksPage(page);
  await tasks.open();
  await tasks.runNow('All files', 'incremental');
  await tasks.waitForLastResult('All files', 'Succeeded');
  await expect(tasks.row('All files').getByTestId('task-last-result')).toContainText('2 ok ·');

  const history = new HistoryPage(page);
  await history.open();
  const row = history.rows.first();
  await expect(row.getByTestId('history-row-kind')).toHaveText('full (incremental requested)');
  await expect(row.getByTestId('history-row-databases')).toHaveText('2 ok');
  await row.getByTestId('history-row-toggle').click();
  for (const db of ['shop.sqlite', 'crm.sqlite']) {
    const detail = history.detail.locator(`[data-testid="run-detail-row"][data-database="${db}"]`);
    await expect(detail).toContainText('full');
    await expect(detail).toContainText('first backup at this destination');
  }

  const restored = await restoreAndWait(engine, {
    location: { kind: 'local', path: join(backups, encodeDatabaseFolder('shop.sqlite')) },
    pointId: 'latest',
    serverId: server.id,
    database: 'shop2.sqlite',
  });
  expect(restored.status).toBe('success');

  await tasks.open();
  await tasks.runNow('All files', 'incremental');
  const notice = page.getByTestId('new-database').filter({ has: page.getByText('shop2.sqlite') });
  await expect(notice).toBeVisible({ timeout: 60_000 });
  await expect(notice).toHaveAttribute('data-restored', 'true');
  await expect(notice).toContainText('New database shop2.sqlite was created by a Backstop restore on');
  await attachScreenshot(page, testInfo, 'tasks-restored-copy');
  await tasks.waitForLastResult('All files', 'Succeeded');

  await notice.getByRole('button', { name: 'Exclude shop2.sqlite from All files' }).click();
  await expect(page.getByTestId('new-databases')).toBeHidden();
  await expect(page.getByTestId('tasks-status')).toHaveText('“All files” no longer backs up shop2.sqlite; its existing backups are kept.');
  const saved = await dispatch(engine.handlers, 'tasks.list', undefined);
  expect(saved.ok && saved.data.find((t) => t.id === task.id)!.excludeDatabases).toEqual(['shop2.sqlite']);
});
