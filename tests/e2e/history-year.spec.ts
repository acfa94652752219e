/**
 * A year of history in one data dir (50 real tasks, 20,000 runs written straight into the
 * app database, database names with non-ASCII and very long names), on a real engine:
 * History renders one page of runs (counted in the DOM, not timed) and loads older pages on
 * request, in order and without duplicates; a filter (task, database, day) is answered by
 * the engine from the whole year — a weekly task whose runs are all older than the first
 * page is found, a day a hundred days ago lists exactly that day's runs. The task list shows
 * all 50 tasks without scrolling sideways.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { dispatch } from '../../electron/engine/api/dispatch.ts';
import type { Engine } from '../../electron/engine/index.ts';
import { expect, test } from './fixtures/harness';
import { makeSqliteFolder } from './fixtures/sqlite-files';
import { expectHistoryTablesFit, HistoryPage } from './pages/history-page';
import { TasksPage } from './pages/tasks-page';

test.use({ timezoneId: 'UTC' });

const PAGE = 200;
const RUNS = 20_000;
const WEEKLY_RUNS = 52;
const DAY = 86_400_000;
const LONG_DB = `Bestellungen_Übersicht_東京_${'archiv_'.repeat(12)}2019_2026`;
const WEEKLY = 'Weekly archive — Ärzte & Zahnärzte (Zürich)';

/** 50 tasks on one SQLite server, each at its own folder; returns their ids, the weekly one last. */
async function makeTasks(engine: Engine, root: string): Promise<string[]> {
  const folder = join(root, 'dbs');
  await makeSqliteFolder(folder, ['a.db'], 1);
  const server = await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: 'Files', folder });
  if (!server.ok) throw new Error(server.message);
  const ids: string[] = [];
  for (let i = 0; i < 50; i++) {
    const path = join(root, 'backups', `t${i}`);
    await mkdir(path, { recursive: true });
    const name = i === 49 ? WEEKLY : `Hourly ${String(i).padStart(2, '0')}`;
    const task = await dispatch(engine.handlers, 'tasks.create', {
      name,
      serverId: server.data.id,
      type: 'logical',
      schedule: { full: i === 49 ? '0 3 * * 0' : '0 * * * *', incremental: null, timezone: 'UTC' },
      destinations: [{ kind: 'local', path }],
    });
    if (!task.ok) throw new Error(task.message);
    ids.push(task.data.id);
  }
  return ids;
}

/**
 * 20,000 finished runs over the year before `now`, one database row each: every 26 minutes a
 * run of one of the 49 hourly tasks, and every week (from 5 days back, so none is among the
 * newest page) a run of the weekly task backing up `LONG_DB`.
 */
function seedYear(engine: Engine, ids: string[], now: number): void {
  const insertRun = engine.db.prepare(
    `INSERT INTO runs (id, task_id, task_name, trigger, requested_kind, status, started_at, ended_at, run_kind) VALUES (?, ?, ?, 'schedule', 'full', ?, ?, ?, 'backup')`,
  );
  const insertDb = engine.db.prepare(
    `INSERT INTO run_databases (run_id, seq, database, destination, kind, status, bytes_read, bytes_stored, started_at, ended_at) VALUES (?, 1, ?, 'local:/backups', 'full', ?, 1048576, 65536, ?, ?)`,
  );
  const run = (n: number, taskId: string, taskName: string, at: number, database: string, failed: boolean): void => {
    const id = `run-${String(n).padStart(6, '0')}`;
    const started = new Date(at).toISOString();
    const ended = new Date(at + 60_000).toISOString();
    insertRun.run(id, taskId, taskName, failed ? 'failed' : 'success', started, ended);
    insertDb.run(id, database, failed ? 'failed' : 'success', started, ended);
  };
  engine.db.exec('BEGIN');
  for (let i = 0; i < RUNS - WEEKLY_RUNS; i++) {
    const t = i % 49;
    run(i, ids[t]!, `Hourly ${String(t).padStart(2, '0')}`, now - (i + 1) * 26 * 60_000, t === 7 ? 'größe_ümlaut' : `db_${t}`, i % 97 === 0);
  }
  for (let k = 0; k < WEEKLY_RUNS; k++) run(RUNS + k, ids[49]!, WEEKLY, now - 5 * DAY - k * 7 * DAY + 7_000, LONG_DB, false);
  engine.db.exec('COMMIT');
}

test('a year of history: one page rendered, older pages on request, filters searched in the whole year', async ({ page, engine, tempDir }) => {
  test.setTimeout(90_000);
  const now = Date.now();
  const ids = await makeTasks(engine, tempDir);
  seedYear(engine, ids, now);
  const history = new HistoryPage(page);
  await history.open();

  // One page in the DOM, not 20,000 rows; the count says more can be loaded.
  await expect(history.rows).toHaveCount(PAGE);
  await expect(history.count).toHaveText(`${PAGE} runs shown, newest first — older ones load below`);
  const older = page.getByTestId('history-load-older');
  await older.click();
  await expect(history.rows).toHaveCount(2 * PAGE);
  const shown = await history.rows.evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run-id')));
  const engineNewest = await dispatch(engine.handlers, 'history.list', { limit: 2 * PAGE });
  if (!engineNewest.ok) throw new Error(engineNewest.message);
  expect(shown).toEqual(engineNewest.data.map((r) => r.id));

  // The weekly task: every run is older than the first pages, all 52 are found.
  const taskOptions = await page.getByTestId('filter-task').locator('option').allTextContents();
  expect(taskOptions.filter((o) => o !== 'All tasks' && o !== 'Any task')).toHaveLength(50);
  await page.getByTestId('filter-task').selectOption({ label: WEEKLY });
  await expect(history.rows).toHaveCount(WEEKLY_RUNS);
  await expect(history.count).toHaveText(`${WEEKLY_RUNS} matching runs`);
  await expect(older).toHaveCount(0);
  await expect(history.rows.first()).toContainText(WEEKLY);
  await expectHistoryTablesFit(page);

  // Its database (long, non-ASCII) as a filter too, and a failed status on top: nothing, said so.
  await page.getByTestId('filter-database').selectOption(LONG_DB);
  await expect(history.rows).toHaveCount(WEEKLY_RUNS);
  await page.getByTestId('filter-status').selectOption('failed');
  await expect(history.rows).toHaveCount(0);
  await expect(page.getByText('No run matches these filters.')).toBeVisible();
  await expect(page.getByTestId('history-filters')).toBeVisible();

  // A day a hundred days ago: exactly that day's runs (55 or 56 of them, every 26 minutes).
  await page.getByRole('button', { name: 'Clear' }).click();
  await expect(history.rows).toHaveCount(PAGE);
  const day = new Date(now - 100 * DAY).toISOString().slice(0, 10);
  await page.getByTestId('filter-from').fill(day);
  await page.getByTestId('filter-to').fill(day);
  const since = `${day}T00:00:00.000Z`;
  const before = new Date(Date.parse(since) + DAY).toISOString();
  const that = await dispatch(engine.handlers, 'history.list', { limit: 1000, since, before });
  if (!that.ok) throw new Error(that.message);
  expect(that.data.length).toBeGreaterThan(50);
  await expect(history.rows).toHaveCount(that.data.length);
  expect(await history.rows.evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run-id')))).toEqual(that.data.map((r) => r.id));

  // The task list: all 50 tasks, nothing scrolls sideways.
  const tasks = new TasksPage(page);
  await tasks.open();
  await expect(tasks.rows).toHaveCount(50);
  const sideways = await page.evaluate(() => {
    const main = document.querySelector<HTMLElement>('main');
    return main ? main.scrollWidth - main.clientWidth : -1;
  });
  expect(sideways).toBe(0);
});
