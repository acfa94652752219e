/**
 * The window never drops a DBA's typed work without asking (real engine, real Chromium):
 * edits typed into one task's editor survive opening another task's editor or a new task —
 * the window asks first, goes back to them, or discards them only when told; an editor
 * opened and left untouched is not asked about. Settings typed and not saved survive another
 * view and a reload; a setting changed in another window meanwhile shows in the form and
 * Save does not put the old value back. A server form with entries typed asks before another
 * server's form or another view replaces it. History's filters survive another view and a
 * reload of the window. The Restore form (folder, point, new name, options) survives a
 * reload, and no secret typed in the Restore view is written to the window's storage; so do
 * the Whole server steps (source, target, names, the plan shown and the databases chosen).
 * In `backstop serve` (a real serve process, real Chromium), closing the tab asks first
 * (the browser's beforeunload prompt) only while a form holds unsaved edits.
 */
import { test as base, type Dialog, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dispatch } from '../../electron/engine/api/dispatch.ts';
import type { Engine } from '../../electron/engine/index.ts';
import { startServeProcess } from '../fixtures/serve-process.ts';
import { expect, test } from './fixtures/harness';
import { makeSqliteFolder } from './fixtures/sqlite-files';
import { runToEnd } from './fixtures/engine-setup';
import { AppShell } from './pages/app-shell';
import { HistoryPage } from './pages/history-page';
import { RestorePage } from './pages/restore-page';
import { ServersPage } from './pages/servers-page';
import { TaskEditorPage } from './pages/task-editor-page';
import { TasksPage } from './pages/tasks-page';

async function twoTasks(engine: Engine, root: string): Promise<void> {
  const folder = join(root, 'dbs');
  await makeSqliteFolder(folder, ['a.db'], 1);
  const server = await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: 'Files', folder });
  if (!server.ok) throw new Error(server.message);
  for (const name of ['Nightly', 'Weekly']) {
    const path = join(root, 'backups', name);
    await mkdir(path, { recursive: true });
    const made = await dispatch(engine.handlers, 'tasks.create', {
      name,
      serverId: server.data.id,
      type: 'logical',
      schedule: { full: '0 2 * * *', incremental: null, timezone: 'UTC' },
      retention: { minAgeDays: 30, keepLast: null },
      destinations: [{ kind: 'local', path }],
    });
    if (!made.ok) throw new Error(made.message);
  }
}

test('edits to one task survive opening another task or a new one: the window asks, goes back, or discards when told', async ({ page, engine, tempDir }) => {
  test.setTimeout(60_000);
  await twoTasks(engine, tempDir);
  const tasks = new TasksPage(page);
  const editor = new TaskEditorPage(page);
  const unsaved = page.getByTestId('unsaved-other');
  await tasks.open();

  // Opened and left untouched: another task opens without a question.
  await tasks.row('Nightly').getByTestId('task-edit').click();
  await expect(editor.retentionDays).toHaveValue('30');
  await page.getByRole('link', { name: 'Back to tasks' }).click();
  await tasks.row('Weekly').getByTestId('task-edit').click();
  await expect(editor.form).toBeVisible();
  await expect(unsaved).toHaveCount(0);

  // Typed into Weekly, then off to Nightly: asked, and "back" brings the typed value.
  await editor.retentionDays.fill('14');
  await page.getByRole('link', { name: 'Back to tasks' }).click();
  await tasks.row('Nightly').getByTestId('task-edit').click();
  await expect(unsaved).toContainText('You have unsaved changes to “Weekly”');
  await expect(editor.form).toHaveCount(0);
  await page.getByTestId('unsaved-back').click();
  await expect(editor.form).toBeVisible();
  await expect(editor.name).toHaveValue('Weekly');
  await expect(editor.retentionDays).toHaveValue('14');

  // The same before a new task; "discard" opens the new form, and Weekly's edits are gone.
  await page.getByRole('link', { name: 'Back to tasks' }).click();
  await page.getByTestId('task-new').click();
  await expect(unsaved).toContainText('You have unsaved changes to “Weekly”');
  await page.getByTestId('unsaved-discard').click();
  await expect(editor.form).toBeVisible();
  await expect(editor.name).toHaveValue('');
  await page.getByRole('link', { name: 'Back to tasks' }).click();
  await tasks.row('Weekly').getByTestId('task-edit').click();
  await expect(unsaved).toHaveCount(0);
  await expect(editor.retentionDays).toHaveValue('30');

  // Nothing was saved along the way.
  const listed = await dispatch(engine.handlers, 'tasks.list', undefined);
  expect(listed.ok && listed.data.map((t) => t.retention.minAgeDays)).toEqual([30, 30]);
});

test('unsaved settings survive another view and a reload; Save keeps a setting changed in another window meanwhile', async ({ page, engine }) => {
  const channel = await dispatch(engine.handlers, 'notifications.saveChannel', { channel: { kind: 'email', name: 'DBA team', to: ['dba@example.test'] } });
  if (!channel.ok) throw new Error(channel.message);
  const shell = new AppShell(page);
  let view = await shell.open('settings');
  await view.getByTestId('stale-after').fill('36');
  await view.getByTestId('tools-postgres').fill('/opt/pg 15/bin');

  await shell.open('tasks');
  view = await shell.open('settings');
  await expect(view.getByTestId('stale-after')).toHaveValue('36');
  await page.reload();
  view = await shell.open('settings');
  await expect(view.getByTestId('stale-after')).toHaveValue('36');
  await expect(view.getByTestId('tools-postgres')).toHaveValue('/opt/pg 15/bin');

  // "Another window" changes concurrency: the untouched field shows it, the typed ones stay.
  const elsewhere = await dispatch(engine.handlers, 'settings.set', { maxConcurrentBackups: 6 });
  if (!elsewhere.ok) throw new Error(elsewhere.message);
  await expect(view.getByLabel('Backups running at once')).toHaveValue('6');
  await expect(view.getByTestId('stale-after')).toHaveValue('36');

  await view.getByTestId('settings-save').click();
  await expect(view.getByTestId('settings-status')).toHaveText('Settings saved.');
  const saved = await dispatch(engine.handlers, 'settings.get', undefined);
  expect(saved.ok && { max: saved.data.maxConcurrentBackups, stale: saved.data.staleAfterHours, pg: saved.data.toolPaths.postgres }).toEqual({ max: 6, stale: 36, pg: '/opt/pg 15/bin' });
  expect(await page.evaluate(() => sessionStorage.getItem('backstop.settings.draft'))).toBeNull();

  // A theme (saved alone, at once) changes the theme only: the e-mail channel and the rest stay.
  await view.getByText('Dark', { exact: true }).click();
  await expect.poll(async () => {
    const s = await dispatch(engine.handlers, 'settings.get', undefined);
    return s.ok && s.data.theme;
  }).toBe('dark');
  const after = await dispatch(engine.handlers, 'settings.get', undefined);
  expect(after.ok && { max: after.data.maxConcurrentBackups, stale: after.data.staleAfterHours, channels: after.data.notificationChannels.map((c) => c.name) }).toEqual({ max: 6, stale: 36, channels: ['DBA team'] });
});

test('a server form with typed entries asks before Edit of another server or another view replaces it', async ({ page, engine, tempDir }) => {
  const folder = join(tempDir, 'dbs');
  await makeSqliteFolder(folder, ['a.db'], 1);
  const made = await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: 'Files', folder });
  if (!made.ok) throw new Error(made.message);
  const servers = new ServersPage(page);
  const shell = new AppShell(page);
  await servers.open();
  const ask = page.getByTestId('server-unsaved');

  // Opened and untouched: Edit of another server just opens it.
  await servers.addButton.click();
  await expect(servers.form).toBeVisible();
  await servers.row('Files').getByRole('button', { name: 'Edit Files' }).click();
  await expect(ask).toBeHidden();
  await expect(servers.form.getByLabel('Name', { exact: true })).toHaveValue('Files');
  await servers.form.getByTestId('server-cancel').click();

  // Typed into a new server's form: Edit of another server asks; Cancel keeps the entries.
  await servers.addButton.click();
  await servers.form.getByLabel('Name', { exact: true }).fill('Reporting');
  await servers.form.getByTestId('server-host').fill('db-reporting.internal');
  await servers.row('Files').getByRole('button', { name: 'Edit Files' }).click();
  await expect(ask).toBeVisible();
  await expect(ask).toContainText('Discard the server form?');
  await ask.getByTestId('confirm-cancel').click();
  await expect(servers.form.getByLabel('Name', { exact: true })).toHaveValue('Reporting');
  await expect(servers.form.getByTestId('server-host')).toHaveValue('db-reporting.internal');

  // Another view: asked too; Cancel stays here with the entries, Discard goes.
  await shell.navLink('tasks').click();
  await expect(ask).toBeVisible();
  await ask.getByTestId('confirm-cancel').click();
  await expect(servers.root).toBeVisible();
  await expect(servers.form.getByTestId('server-host')).toHaveValue('db-reporting.internal');
  await shell.navLink('tasks').click();
  await ask.getByTestId('confirm-ok').click();
  await expect(page.getByTestId('view-tasks')).toBeVisible();
  await shell.open('servers');
  await expect(servers.form).toHaveCount(0);
  const listed = await dispatch(engine.handlers, 'servers.list', undefined);
  expect(listed.ok && listed.data.map((s) => s.name)).toEqual(['Files']);
});

test('History filters (task, status, database, from-day) survive another view and a reload', async ({ page, engine, tempDir }) => {
  await twoTasks(engine, tempDir);
  const listed = await dispatch(engine.handlers, 'tasks.list', undefined);
  if (!listed.ok) throw new Error(listed.message);
  const insertRun = engine.db.prepare(
    `INSERT INTO runs (id, task_id, task_name, trigger, requested_kind, status, started_at, ended_at, run_kind) VALUES (?, ?, ?, 'schedule', 'full', ?, ?, ?, 'backup')`,
  );
  const insertDb = engine.db.prepare(
    `INSERT INTO run_databases (run_id, seq, database, destination, kind, status, bytes_read, bytes_stored, started_at, ended_at) VALUES (?, 1, ?, 'local:/backups', 'full', ?, 1024, 512, ?, ?)`,
  );
  const seed = (id: string, task: { id: string; name: string }, status: 'success' | 'failed', day: string, database: string): void => {
    const at = `${day}T02:00:00.000Z`;
    insertRun.run(id, task.id, task.name, status, at, at);
    insertDb.run(id, database, status, at, at);
  };
  const [nightly, weekly] = [listed.data.find((t) => t.name === 'Nightly')!, listed.data.find((t) => t.name === 'Weekly')!];
  seed('run-keep', nightly, 'failed', '2026-11-20', 'a.db');
  seed('run-old', nightly, 'failed', '2026-10-01', 'a.db');
  seed('run-ok', nightly, 'success', '2026-11-21', 'a.db');
  seed('run-other-db', nightly, 'failed', '2026-11-22', 'b.db');
  seed('run-weekly', weekly, 'failed', '2026-11-23', 'a.db');

  const history = new HistoryPage(page);
  const shell = new AppShell(page);
  await history.open();
  await expect(history.rows).toHaveCount(5);
  await page.getByTestId('filter-task').selectOption({ label: 'Nightly' });
  await page.getByTestId('filter-status').selectOption('failed');
  await page.getByTestId('filter-database').selectOption('a.db');
  await page.getByTestId('filter-from').fill('2026-11-01');
  await expect(history.rows).toHaveCount(1);

  const expectKept = async (): Promise<void> => {
    await expect(page.getByTestId('filter-task')).toHaveValue(nightly.id);
    await expect(page.getByTestId('filter-status')).toHaveValue('failed');
    await expect(page.getByTestId('filter-database')).toHaveValue('a.db');
    await expect(page.getByTestId('filter-from')).toHaveValue('2026-11-01');
    await expect(history.rows).toHaveCount(1);
    await expect(history.rows.first()).toHaveAttribute('data-run-id', 'run-keep');
  };
  await shell.open('tasks');
  await history.open();
  await expectKept();
  await page.reload();
  await history.open();
  await expectKept();

  // Cleared: a reload shows every run again.
  await page.getByTestId('filter-task').selectOption('');
  await page.getByTestId('filter-status').selectOption('');
  await page.getByTestId('filter-database').selectOption('');
  await page.getByTestId('filter-from').fill('');
  await expect(history.rows).toHaveCount(5);
  await page.reload();
  await history.open();
  await expect(history.rows).toHaveCount(5);
});

test('the Restore form (folder, point, new name, options) survives a reload; a secret typed there is never kept', async ({ page, engine, tempDir }) => {
  test.setTimeout(120_000);
  const demo = await dispatch(engine.handlers, 'demo.setup', undefined);
  if (!demo.ok) throw new Error(demo.message);
  await runToEnd(engine, demo.data.taskId, 'full');
  const listed = await dispatch(engine.handlers, 'restore.folders', { destination: { kind: 'local', path: demo.data.backups } });
  if (!listed.ok) throw new Error(listed.message);
  const chosen = listed.data[0]!;
  const inspected = await dispatch(engine.handlers, 'restore.inspect', { location: chosen.location });
  if (!inspected.ok) throw new Error(inspected.message);
  const pointId = inspected.data.points[0]!.id;

  const restore = new RestorePage(page);
  await restore.open();
  await page.getByTestId('restore-browse-destination').selectOption({ label: `Sample databases — nightly — ${demo.data.backups}` });
  await page.getByTestId('restore-browse-list').click();
  await restore.choices.first().click();
  await expect(page.getByTestId('restore-database')).toHaveText(chosen.database!);
  await page.locator(`#point-${pointId}`).check();
  const target = join(tempDir, 'kept-target');
  await page.getByTestId('restore-name').fill('kept-copy.db');
  await page.getByTestId('restore-folder').fill(target);
  // A secret typed into the remote source's form (not listed): never written to storage.
  await page.getByTestId('restore-remote').locator('summary').click();
  await page.getByTestId('dest-0-secret').fill('TYPED-SECRET-never-kept');

  await page.reload();
  await restore.open();
  await expect(page.getByTestId('restore-database')).toHaveText(chosen.database!);
  await expect(page.locator(`#point-${pointId}`)).toBeChecked();
  await expect(page.getByTestId('restore-name')).toHaveValue('kept-copy.db');
  await expect(page.getByTestId('restore-folder')).toHaveValue(target);
  await expect(restore.choices).toHaveCount(listed.data.length);
  const stored = await page.evaluate(() => Object.keys(sessionStorage).map((k) => `${k}=${sessionStorage.getItem(k)}`).join('\n'));
  expect(stored).toContain('kept-copy.db');
  expect(stored).not.toContain('TYPED-SECRET');

  // "Choose another folder" clears it: a reload then shows an empty form.
  await page.getByTestId('restore-start-over').click();
  await page.reload();
  await restore.open();
  await expect(restore.info).toHaveCount(0);
  expect(await page.evaluate(() => sessionStorage.getItem('backstop.restore.draft'))).toBeNull();
});

test('the Whole server steps (source, target, names, the plan and the databases chosen) survive a reload', async ({ page, engine, tempDir }) => {
  test.setTimeout(120_000);
  const demo = await dispatch(engine.handlers, 'demo.setup', undefined);
  if (!demo.ok) throw new Error(demo.message);
  await runToEnd(engine, demo.data.taskId, 'full');
  const target = join(tempDir, 'ws-target');
  mkdirSync(target);
  const server = await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: 'Target files', folder: target });
  if (!server.ok) throw new Error(server.message);

  const restore = new RestorePage(page);
  await restore.planWholeServer(server.data.id, 'kept_');
  const rows = page.getByTestId('ws-plan-row');
  await expect(rows.first()).toBeVisible();
  const count = await rows.count();
  expect(count).toBeGreaterThan(1);
  await rows.first().getByTestId('ws-select').uncheck();

  await page.reload();
  await restore.open();
  await expect(page.getByTestId('restore-scope-server')).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByTestId('ws-server')).toHaveValue(server.data.id);
  await expect(page.getByTestId('ws-affix')).toHaveValue('kept_');
  await expect(rows).toHaveCount(count);
  await expect(rows.first().getByTestId('ws-select')).not.toBeChecked();
  await expect(rows.nth(1).getByTestId('ws-select')).toBeChecked();

  // One database again: a reload shows those steps.
  await page.getByTestId('restore-scope-one').click();
  await page.reload();
  await restore.open();
  await expect(page.getByTestId('restore-scope-one')).toHaveAttribute('aria-pressed', 'true');
});

const serveTest = base.extend<{ serveDir: string }>({
  // eslint-disable-next-line no-empty-pattern
  serveDir: async ({}, use) => {
    const dir = await mkdtemp(join(tmpdir(), 'backstop-e2e-unload-'));
    await use(dir);
    await rm(dir, { recursive: true, force: true });
  },
});

serveTest('backstop serve: closing the tab asks only while a form holds unsaved edits (Settings, the server form)', async ({ browser, serveDir }) => {
  serveTest.setTimeout(90_000);
  const dataDir = join(serveDir, 'data');
  mkdirSync(dataDir);
  const s = await startServeProcess(dataDir, ['--allow-folder', serveDir]);
  const context = await browser.newContext();
  try {
    const signedIn = async () => {
      const page = await context.newPage();
      await page.goto(s.url);
      if (await page.getByTestId('serve-login').isVisible()) {
        await page.getByLabel(/The token/).fill(s.token);
        await page.getByRole('button', { name: 'Sign in' }).click();
      }
      await expect(page.getByTestId('sidebar')).toBeVisible();
      return page;
    };
    /** Closes the tab as the user would; answers the prompt shown (dismissed: the tab stays), or null when it just closed. */
    const tryClose = async (page: Page): Promise<string | null> => {
      const asked = new Promise<Dialog>((res) => page.once('dialog', res));
      const closed = new Promise<null>((res) => page.once('close', () => res(null)));
      await page.close({ runBeforeUnload: true });
      const first = await Promise.race([asked, closed]);
      if (!first) return null;
      const type = first.type();
      await first.dismiss();
      return type;
    };

    // Untouched: the tab closes without a question.
    let page = await signedIn();
    let shell = new AppShell(page);
    await shell.open('settings');
    await expect(page.getByTestId('stale-after')).toBeVisible();
    await page.getByTestId('stale-after').click(); // a user gesture, as a real visit has (Chromium asks only after one)
    expect(await tryClose(page)).toBeNull();

    // Settings typed and not saved (also after another view): asked; the tab stays.
    page = await signedIn();
    shell = new AppShell(page);
    let view = await shell.open('settings');
    await view.getByTestId('stale-after').fill('36');
    await shell.open('tasks');
    expect(await tryClose(page)).toBe('beforeunload');
    expect(page.isClosed()).toBe(false);
    // Saved: no question any more.
    view = await shell.open('settings');
    await view.getByTestId('settings-save').click();
    await expect(view.getByTestId('settings-status')).toHaveText('Settings saved.');
    expect(await tryClose(page)).toBeNull();

    // A server form with a name typed: asked; cancelled, the tab closes without one.
    page = await signedIn();
    const servers = new ServersPage(page);
    await servers.open();
    await servers.startAdding('postgres');
    await servers.form.getByLabel('Name', { exact: true }).fill('Reporting');
    expect(await tryClose(page)).toBe('beforeunload');
    expect(page.isClosed()).toBe(false);
    await servers.form.getByTestId('server-cancel').click();
    await expect(servers.form).toHaveCount(0);
    expect(await tryClose(page)).toBeNull();
  } finally {
    await context.close();
    expect(await s.stop()).toBe(0);
  }
});
