/**
 * The task editor against a real engine: a task with a generated key (exported to a file
 * and confirmed) and a local destination is created; a bad cron expression shows the
 * engine's validation message while typing; an unreachable S3 endpoint shows each step.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dispatch } from '../../electron/engine/api/dispatch.ts';
import { expect, test } from './fixtures/harness';
import { attachScreenshot } from './fixtures/screenshots';
import { makeSqliteFolder } from './fixtures/sqlite-files';
import { TaskEditorPage } from './pages/task-editor-page';
import { TasksPage } from './pages/tasks-page';

test('creates a task with a generated key (saved to a file, confirmed) and a local destination', async ({ page, engine, tempDir, dialogs }, testInfo) => {
  const folder = join(tempDir, 'dbs');
  await makeSqliteFolder(folder, ['orders.db', 'users.db']);
  const created = await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: 'App files', folder });
  expect(created.ok).toBe(true);
  const backups = join(tempDir, 'backups');
  const keyFile = join(tempDir, 'key.txt');

  const tasks = new TasksPage(page);
  await tasks.open();
  await tasks.emptyCreate.getByRole('link', { name: 'Create a task' }).click();
  const editor = new TaskEditorPage(page);
  await expect(editor.form).toBeVisible();

  await editor.name.fill('Nightly app files');
  // B: the engine's answer about what the server supports.
  await expect(page.getByTestId('task-type-logical')).toBeEnabled();
  // C: the default presets, previewed by the engine.
  await expect(editor.schedulePreviewRuns).toHaveCount(5);
  await expect(page.getByTestId('schedule-full-words')).toContainText('daily at 02:00');

  // E: generate a key; Save stays disabled until it is confirmed as saved.
  await page.getByTestId('encryption-generate').check();
  await page.getByTestId('key-generate').click();
  await expect(editor.keyPanel).toBeVisible();
  const fingerprint = (await page.getByTestId('key-fingerprint').textContent())!.trim();
  await expect(editor.save).toBeDisabled();
  await expect(page.getByTestId('save-blocked')).toBeVisible();

  dialogs.saveFile(keyFile);
  await page.getByTestId('key-save-file').click();
  await expect(page.getByTestId('key-status')).toHaveText(`Key saved to ${keyFile}.`);
  await expect(page.getByTestId('key-exported')).toContainText('file');
  expect(dialogs.calls.map((c) => c.command)).toEqual(['dialog.saveFile']);

  await page.getByTestId('key-show').click();
  const shownKey = (await page.getByTestId('key-value').textContent())!.trim();
  expect(await readFile(keyFile, 'utf8')).toContain(shownKey);

  await page.getByTestId('key-confirm').check();
  await expect(editor.save).toBeEnabled();

  // F: the destination folder from the (stand-in) native picker; the live database list.
  dialogs.chooseFolder(backups);
  await page.getByTestId('dest-0-choose').click();
  await expect(editor.destinationPath(0)).toHaveValue(backups);
  await expect(page.getByTestId('database-list').getByRole('checkbox')).toHaveCount(2);
  await page.getByTestId('db-include-users.db').uncheck();
  await attachScreenshot(page, testInfo, 'task-editor-new');

  await editor.save.click();
  await expect(tasks.root).toBeVisible();
  await expect(tasks.row('Nightly app files')).toBeVisible();
  await expect(tasks.row('Nightly app files').getByTestId('task-schedule')).toHaveText(/^Full daily at 02:00, incremental hourly/);
  await attachScreenshot(page, testInfo, 'tasks-list');

  const listed = await dispatch(engine.handlers, 'tasks.list', undefined);
  expect(listed.ok).toBe(true);
  if (!listed.ok) return;
  expect(listed.data).toHaveLength(1);
  const task = listed.data[0]!;
  expect(task.encryption).toMatchObject({ mode: 'key', fingerprint });
  expect(task.destinations).toEqual([{ kind: 'local', path: backups }]);
  expect(task.excludeDatabases).toEqual(['users.db']);
  const keys = await dispatch(engine.handlers, 'keys.list', undefined);
  expect(keys.ok && keys.data.find((k) => k.fingerprint === fingerprint)?.exportedAt).toBeTruthy();
});

test('a bad cron expression shows the engine’s validation message as you type, and the task is not saved', async ({ page, engine, tempDir }) => {
  const folder = join(tempDir, 'dbs');
  await makeSqliteFolder(folder, ['a.db']);
  const server = await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: 'Files', folder });
  expect(server.ok).toBe(true);
  if (!server.ok) return;
  const expected = await dispatch(engine.handlers, 'schedule.preview', {
    schedule: { full: '99 2 * * *', incremental: '0 * * * *', timezone: 'UTC' },
    count: 5,
  });
  expect(expected.ok).toBe(false);
  if (expected.ok) return;

  await page.goto(page.url().replace(/#.*$/, '#/tasks/new'));
  const editor = new TaskEditorPage(page);
  await expect(editor.form).toBeVisible();
  await page.getByTestId('task-timezone').selectOption('UTC');
  await editor.name.fill('Broken');
  await editor.customCron('full', '99 2 * * *');
  await expect(editor.scheduleError).toContainText(expected.code);
  await expect(editor.scheduleError).toContainText(expected.message);
  await expect(editor.schedulePreviewRuns).toHaveCount(0);

  await editor.destinationPath(0).fill(join(tempDir, 'out'));
  await editor.save.click();
  await expect(editor.root.getByTestId('error-notice').last()).toContainText('VALIDATION');
  await expect(editor.form).toBeVisible();
  expect(await dispatch(engine.handlers, 'tasks.list', undefined)).toEqual({ ok: true, data: [] });

  // Fixing it clears the message and shows the next runs again.
  await editor.customCron('full', '30 2 * * *');
  await expect(editor.scheduleError).toBeHidden();
  await expect(editor.schedulePreviewRuns).toHaveCount(5);
  await expect(page.getByTestId('schedule-full-words')).toContainText('daily at 02:30');
});

test('incremental only: the editor says the first run is a full', async ({ page, engine, tempDir }) => {
  const folder = join(tempDir, 'dbs');
  await makeSqliteFolder(folder, ['a.db']);
  expect((await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: 'Files', folder })).ok).toBe(true);
  await page.goto(page.url().replace(/#.*$/, '#/tasks/new'));
  await page.getByTestId('schedule-full-kind').selectOption('off');
  await expect(page.getByTestId('incremental-only-note')).toContainText('the first run makes one full backup');
  await expect(page.getByTestId('schedule-preview-run').first()).toBeVisible();
});

test('S3 destination: Test connection against an unreachable endpoint shows which step failed', async ({ page, engine, tempDir }) => {
  const folder = join(tempDir, 'dbs');
  await makeSqliteFolder(folder, ['a.db']);
  expect((await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: 'Files', folder })).ok).toBe(true);
  await page.goto(page.url().replace(/#.*$/, '#/tasks/new'));
  await page.getByTestId('add-s3').click();
  await page.getByTestId('dest-1-provider').selectOption('minio');
  await expect(page.getByTestId('dest-1-endpoint')).toHaveValue('http://localhost:9000');
  await page.getByTestId('dest-1-endpoint').fill('http://127.0.0.1:9');
  await page.getByTestId('dest-1-bucket').fill('backstop-test');
  await page.getByTestId('dest-1-access-key').fill('AKIDEXAMPLE');
  await page.getByTestId('dest-1-secret').fill('not-a-real-secret');
  await page.getByTestId('dest-1-test').click();
  await expect(page.getByTestId('dest-1-test-result')).toHaveText('Failed', { timeout: 20_000 });
  await expect(page.getByTestId('dest-1-test-steps').locator('li.bad').first()).toBeVisible();
  // The secret went to the keychain; the form keeps only the reference.
  await expect(page.getByTestId('dest-1-secret')).toHaveValue('');
  await expect(page.getByTestId('dest-1-secret')).toHaveAttribute('placeholder', 'saved in the keychain');
});
