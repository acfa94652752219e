/**
 * The Databases view (issue #24 item 2) with many real databases: 200 SQLite files on two
 * servers, seen by real runs (one database each, to keep the spec fast), one task paused,
 * listed from `databases.list` in one table; search and the status filter narrow it; "Back up now" on one row starts a run of just that database (History shows
 * one database), "History" opens the History view filtered on it and "Restore" opens its
 * folder with its point.
 */
import { join } from 'node:path';
import type { Engine } from '../../electron/engine/index.ts';
import { dispatch } from '../../electron/engine/api/dispatch.ts';
import { waitForRun } from '../fixtures/runs.ts';
import { expect, test } from './fixtures/harness';
import { makeSqliteFolder } from './fixtures/sqlite-files';
import { AppShell } from './pages/app-shell';

test.describe.configure({ timeout: 180_000 });

const NAMES = Array.from({ length: 180 }, (_, i) => `db${String(i).padStart(3, '0')}.sqlite`);
const ARCHIVE = Array.from({ length: 20 }, (_, i) => `arch${String(i).padStart(2, '0')}.sqlite`);

/** A SQLite server over `names` and a task over it, run once for `first` only (the run still records every database it saw). */
async function serverAndTask(engine: Engine, folder: string, names: string[], name: string, enabled: boolean, backups: string) {
  await makeSqliteFolder(folder, names, 1);
  const server = await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: `${name} server`, folder });
  if (!server.ok) throw new Error(server.message);
  const task = await dispatch(engine.handlers, 'tasks.create', {
    name,
    serverId: server.data.id,
    type: 'snapshot',
    schedule: { full: '0 2 * * *', incremental: null, timezone: 'UTC' },
    destinations: [{ kind: 'local', path: backups }],
    enabled,
  });
  if (!task.ok) throw new Error(task.message);
  const started = await dispatch(engine.handlers, 'tasks.runNow', { id: task.data.id, kind: 'full', databases: [names[0]!] });
  if (!started.ok) throw new Error(started.message);
  const run = await waitForRun(engine, started.data.runId);
  if (run.status !== 'success') throw new Error(`setup run ended ${run.status}`);
}

async function setup(engine: Engine, tempDir: string): Promise<void> {
  await serverAndTask(engine, join(tempDir, 'dbs'), NAMES, 'Nightly files', true, join(tempDir, 'backups'));
  await serverAndTask(engine, join(tempDir, 'archive'), ARCHIVE, 'Paused archive', false, join(tempDir, 'archive-backups'));
}

test('200 databases: search, status filter, back up one database now, open its history and restore it', async ({ page, engine, tempDir }) => {
  await setup(engine, tempDir);
  const view = await new AppShell(page).open('databases');
  const rows = view.getByTestId('database-row');
  await expect(rows).toHaveCount(200);
  await expect(view.getByTestId('databases-count')).toHaveText('200 of 200 databases');
  const first = view.locator('[data-testid="database-row"][data-database="db000.sqlite"]');
  await expect(first.getByTestId('database-freshness')).toHaveText('Fresh');
  await expect(first).toContainText('Nightly files server');
  await expect(first).toContainText('just now');
  await expect(view.locator('[data-testid="database-row"][data-database="db001.sqlite"]')).toContainText('Never');

  await view.getByTestId('databases-search').fill('db15');
  await expect(rows).toHaveCount(10);
  await expect(view.getByTestId('databases-count')).toHaveText('10 of 200 databases');
  await view.getByTestId('databases-search').fill('');
  await view.getByTestId('databases-status').selectOption('unscheduled');
  await expect(rows).toHaveCount(20);
  await expect(rows.first()).toContainText('Paused archive');
  await view.getByTestId('databases-search').fill('arch0');
  await expect(rows).toHaveCount(10);
  await view.getByTestId('databases-status').selectOption('stale');
  await expect(rows).toHaveCount(0);
  await view.getByTestId('databases-status').selectOption('');

  await view.getByTestId('databases-search').fill('db150.sqlite');
  const row = view.locator('[data-testid="database-row"][data-database="db150.sqlite"]');
  await expect(rows).toHaveCount(1);
  await row.getByRole('button', { name: 'Back up db150.sqlite now' }).click();
  await expect(view.getByTestId('databases-run-started')).toBeVisible();

  // The run is of db150.sqlite alone; when it ends the row counts its first run.
  await expect(row.locator('td.num')).toHaveAttribute('title', '1 successful backup run', { timeout: 60_000 });
  const runs = await dispatch(engine.handlers, 'history.list', { limit: 10 });
  if (!runs.ok) throw new Error(runs.message);
  expect(runs.data[0]!.status).toBe('success');
  expect([...new Set(runs.data[0]!.databases.map((d) => d.database))]).toEqual(['db150.sqlite']);

  await row.getByTestId('database-history').click();
  const history = page.getByTestId('view-history');
  await expect(history).toBeVisible();
  await expect(page.getByTestId('filter-database')).toHaveValue('db150.sqlite');
  await expect(page.getByTestId('history-count')).toHaveText('1 matching run');

  // "Restore" opens that database's folder at the task's destination, its point listed.
  const again = await new AppShell(page).open('databases');
  await again.getByTestId('databases-search').fill('db000.sqlite');
  await again.getByRole('button', { name: 'Restore db000.sqlite' }).click();
  await expect(page.getByTestId('view-restore')).toBeVisible();
  await expect(page.getByTestId('restore-database')).toHaveText('db000.sqlite');
  await expect(page.getByTestId('restore-point')).toHaveCount(1);
});
