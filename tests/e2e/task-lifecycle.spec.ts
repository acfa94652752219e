/**
 * A task's whole life in the window, through clicks and typing, against the real engine:
 * every field of the editor filled in (both retention fields, a generated key saved to a
 * file), saved, each field edited and saved again; the task card says where the backups
 * go, the key and the retention; a missing destination folder is created only after
 * "create it?"; the task is deleted (its backups and history stay) and then its server.
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dispatch } from '../../electron/engine/api/dispatch.ts';
import { fileTree } from '../fixtures/file-tree.ts';
import { expect, test } from './fixtures/harness';
import { makeSqliteFolder } from './fixtures/sqlite-files';
import { ServersPage } from './pages/servers-page';
import { TaskEditorPage } from './pages/task-editor-page';
import { TasksPage } from './pages/tasks-page';

test.describe.configure({ timeout: 120_000 });

test('every field of the editor: typed, saved, each one edited and saved again', async ({ page, engine, tempDir, dialogs }) => {
  const folder = join(tempDir, 'dbs');
  await makeSqliteFolder(folder, ['orders.db', 'users.db', 'scratch.db']);
  const servers = new ServersPage(page);
  await servers.open();
  await servers.addSqliteFolder('App files', folder);
  await expect(servers.row('App files')).toBeVisible();

  const tasks = new TasksPage(page);
  await tasks.open();
  await tasks.emptyCreate.getByRole('link', { name: 'Create a task' }).click();
  const editor = new TaskEditorPage(page);
  await expect(editor.form).toBeVisible();

  // A
  await editor.name.fill('Nightly app files');
  // B
  await page.getByTestId('task-type-logical').check();
  // C: weekly full on Monday 03:15, incremental every 6 hours at :30, Berlin time.
  await page.getByTestId('schedule-full-kind').selectOption('weekly');
  await page.getByLabel('Full backup: day of the week').selectOption('1');
  await page.getByLabel('Full backup: time of day').fill('03:15');
  await page.getByTestId('schedule-incremental-kind').selectOption('every-n-hours');
  await page.getByTestId('schedule-incremental-hours').fill('6');
  await page.getByTestId('schedule-incremental-hours').press('Tab');
  await page.getByLabel('Incremental backup: minute past the hour').fill('30');
  await page.getByLabel('Incremental backup: minute past the hour').press('Tab');
  await page.getByTestId('task-timezone').selectOption('Europe/Berlin');
  await expect(page.getByTestId('schedule-full-words')).toContainText('03:15');
  await expect(editor.nextFull).toContainText('03:15');
  await expect(editor.schedulePreviewRuns).toHaveCount(5);
  // D: both retention fields (number inputs) — the blank-page bug.
  await editor.retentionDays.fill('14');
  await editor.retentionLast.fill('10');
  // E: a generated key, saved to a file and confirmed.
  await page.getByTestId('encryption-generate').check();
  await page.getByTestId('key-generate').click();
  const fingerprint = (await page.getByTestId('key-fingerprint').textContent())!.trim();
  const keyFile = join(tempDir, 'key.txt');
  dialogs.saveFile(keyFile);
  await page.getByTestId('key-save-file').click();
  await expect(page.getByTestId('key-status')).toHaveText(`Key saved to ${keyFile}.`);
  await page.getByTestId('key-confirm').check();
  // The printable recovery sheet: a readable date, and Escape closes it — also from inside the sheet.
  await page.getByTestId('key-print').click();
  const sheet = page.getByTestId('key-sheet');
  await expect(sheet).toBeVisible();
  const sheetDoc = page.frameLocator('[data-testid="key-sheet"] iframe');
  await expect(sheetDoc.locator('dd').nth(2)).toHaveText(/^\d{1,2} [A-Z][a-z]+ \d{4} at \d\d:\d\d /);
  await page.keyboard.press('Escape');
  await expect(sheet).toBeHidden();
  await page.getByTestId('key-print').click();
  await sheetDoc.locator('h1').click();
  await page.keyboard.press('Escape');
  await expect(sheet).toBeHidden();
  // F: a folder that does not exist yet, and one database left out.
  const backups = join(tempDir, 'backups');
  await editor.destinationPath(0).fill(backups);
  await page.getByTestId('db-include-scratch.db').uncheck();

  await editor.save.click();
  await expect(editor.dialog.getByTestId('missing-folders')).toHaveText(backups);
  await editor.answerCreateFolder(true);
  await expect(tasks.root).toBeVisible();
  expect(statSync(backups).isDirectory()).toBe(true);

  const first = await dispatch(engine.handlers, 'tasks.list', undefined);
  expect(first.ok && first.data).toMatchObject([
    {
      name: 'Nightly app files',
      type: 'logical',
      enabled: true,
      schedule: { full: '15 3 * * 1', incremental: '30 */6 * * *', timezone: 'Europe/Berlin' },
      retention: { minAgeDays: 14, keepLast: 10 },
      encryption: { mode: 'key', fingerprint },
      destinations: [{ kind: 'local', path: backups }],
      excludeDatabases: ['scratch.db'],
    },
  ]);

  // The card: where the backups go, the key, the retention.
  const card = tasks.row('Nightly app files');
  await expect(card.getByTestId('task-destinations')).toContainText(backups);
  await expect(card.getByTestId('task-encryption')).toHaveText(`Encrypted · key ${fingerprint}`);
  await expect(card.getByTestId('task-retention')).toHaveText('Keeps restore points for 14 days, and always the newest 10');

  // Edit every field and save again.
  await card.getByTestId('task-edit').click();
  await expect(editor.form).toBeVisible();
  await expect(editor.retentionDays).toHaveValue('14');
  await expect(editor.retentionLast).toHaveValue('10');
  await editor.name.fill('Nightly app files (edited)');
  await page.getByTestId('task-enabled-input').uncheck();
  await page.getByTestId('task-type-snapshot').check();
  await expect(page.getByTestId('snapshot-covers')).toContainText('online copy of each database file');
  await page.getByTestId('schedule-full-kind').selectOption('daily');
  await page.getByLabel('Full backup: time of day').fill('01:30');
  await page.getByTestId('schedule-incremental-kind').selectOption('hourly');
  await page.getByLabel('at minute').fill('45');
  await page.getByLabel('at minute').press('Tab');
  await page.getByTestId('task-timezone').selectOption('UTC');
  await editor.retentionDays.fill('7');
  await editor.retentionLast.fill('');
  await editor.retentionLast.fill('3');
  await expect(page.getByTestId('key-fingerprint')).toHaveText(fingerprint);
  const second = join(tempDir, 'second');
  await editor.destinationPath(0).fill(second);
  await page.getByTestId('db-include-scratch.db').check();
  await editor.save.click();
  await editor.answerCreateFolder(true);
  await expect(tasks.root).toBeVisible();

  const edited = await dispatch(engine.handlers, 'tasks.list', undefined);
  expect(edited.ok && edited.data).toMatchObject([
    {
      name: 'Nightly app files (edited)',
      type: 'snapshot',
      enabled: false,
      schedule: { full: '30 1 * * *', incremental: '45 * * * *', timezone: 'UTC' },
      retention: { minAgeDays: 7, keepLast: 3 },
      encryption: { mode: 'key', fingerprint },
      destinations: [{ kind: 'local', path: second }],
      excludeDatabases: [],
    },
  ]);
  await expect(tasks.row('Nightly app files (edited)').getByTestId('task-retention')).toHaveText('Keeps restore points for 7 days, and always the newest 3');
});

test('a missing destination folder: Cancel saves nothing and creates nothing; a path through a file is a clear error', async ({ page, engine, tempDir }) => {
  const folder = join(tempDir, 'dbs');
  await makeSqliteFolder(folder, ['a.db']);
  expect((await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: 'Files', folder })).ok).toBe(true);
  await page.goto(page.url().replace(/#.*$/, '#/tasks/new'));
  const editor = new TaskEditorPage(page);
  await editor.name.fill('Folders');
  const missing = join(tempDir, 'not', 'yet');
  await editor.destinationPath(0).fill(missing);
  await editor.save.click();
  await expect(editor.dialog).toContainText('mount the disk instead');
  await editor.answerCreateFolder(false);
  await expect(editor.dialog).toHaveCount(0);
  await expect(editor.name).toHaveValue('Folders');
  expect(existsSync(join(tempDir, 'not'))).toBe(false);
  expect(await dispatch(engine.handlers, 'tasks.list', undefined)).toEqual({ ok: true, data: [] });

  const file = join(tempDir, 'a-file');
  writeFileSync(file, 'x');
  await editor.destinationPath(0).fill(join(file, 'backups'));
  await editor.save.click();
  await expect(editor.saveError.getByTestId('error-code')).toHaveText('VALIDATION');
  await expect(editor.saveError.getByTestId('error-message')).toHaveText(`A part of "${join(file, 'backups')}" is a file, not a folder; choose another folder.`);
  expect(await dispatch(engine.handlers, 'tasks.list', undefined)).toEqual({ ok: true, data: [] });

  await editor.destinationPath(0).fill(missing);
  await editor.save.click();
  await editor.answerCreateFolder(true);
  await expect(new TasksPage(page).row('Folders')).toBeVisible();
  expect(statSync(missing).isDirectory()).toBe(true);
});

test('deleting a task says what happens, keeps its backups and history, and then its server can be deleted', async ({ page, engine, tempDir }) => {
  const folder = join(tempDir, 'dbs');
  await makeSqliteFolder(folder, ['orders.db', 'users.db']);
  const backups = join(tempDir, 'backups');
  const server = await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: 'Files', folder });
  if (!server.ok) throw new Error(server.message);
  const created = await dispatch(engine.handlers, 'tasks.create', {
    name: 'Doomed',
    serverId: server.data.id,
    type: 'logical',
    schedule: { full: '0 2 * * *', incremental: null, timezone: 'UTC' },
    destinations: [{ kind: 'local', path: backups }],
  });
  expect(created.ok).toBe(true);

  const tasks = new TasksPage(page);
  await tasks.open();
  await tasks.runNow('Doomed', 'full');
  await tasks.waitForLastResult('Doomed', 'Succeeded', 90_000);
  const before = fileTree(backups);
  expect(Object.keys(before).length).toBeGreaterThan(0);

  await tasks.row('Doomed').getByTestId('task-edit').click();
  const editor = new TaskEditorPage(page);
  await page.getByTestId('task-delete').click();
  const effects = editor.dialog.getByTestId('delete-task-effects');
  await expect(effects).toContainText('The backups are kept');
  await expect(effects).toContainText(backups);
  await expect(effects).toContainText('The schedules stop');
  await expect(effects).toContainText('The history is kept');
  await expect(effects).toContainText('Nothing is left on the server');
  // Cancel first: nothing happens.
  await editor.dialog.getByTestId('confirm-cancel').click();
  await expect(editor.dialog).toHaveCount(0);
  expect((await dispatch(engine.handlers, 'tasks.list', undefined)).ok).toBe(true);

  await editor.deleteTask();
  await expect(tasks.root).toBeVisible();
  await expect(tasks.row('Doomed')).toHaveCount(0);
  expect(await dispatch(engine.handlers, 'tasks.list', undefined)).toEqual({ ok: true, data: [] });
  expect(fileTree(backups)).toEqual(before);
  const history = await dispatch(engine.handlers, 'history.list', { limit: 10 });
  expect(history.ok && history.data.map((r) => r.taskName)).toEqual(['Doomed']);

  const servers = new ServersPage(page);
  await servers.open();
  await servers.deleteServer('Files');
  await expect(servers.row('Files')).toHaveCount(0);
  expect(await dispatch(engine.handlers, 'servers.list', undefined)).toEqual({ ok: true, data: [] });
});
