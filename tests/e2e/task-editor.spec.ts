/**
 * The task editor against a real engine: a task with a generated key (exported to a file
 * and confirmed) and a local destination is created (the missing folder only after "create
 * it?"); a bad cron expression is explained once while typing; an unreachable S3 endpoint
 * shows each step.
 */
import { statSync } from 'node:fs';
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
  await expect(editor.nextFull).toBeVisible();
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
  // The folder does not exist yet: saving asks before creating it.
  await expect(editor.dialog.getByTestId('missing-folders')).toHaveText(backups);
  await editor.answerCreateFolder(true);
  await expect(tasks.root).toBeVisible();
  expect(statSync(backups).isDirectory()).toBe(true);
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

test('a cron expression without 5 fields says so once; a bad value shows the engine’s message once; the task is not saved', async ({ page, engine, tempDir }) => {
  const folder = join(tempDir, 'dbs');
  await makeSqliteFolder(folder, ['a.db']);
  const server = await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: 'Files', folder });
  expect(server.ok).toBe(true);

  await page.goto(page.url().replace(/#.*$/, '#/tasks/new'));
  const editor = new TaskEditorPage(page);
  await expect(editor.form).toBeVisible();
  await page.getByTestId('task-timezone').selectOption('UTC');
  await editor.name.fill('Broken');

  // Four fields: said in the field, in words, and the engine is not asked.
  await editor.customCron('full', '0 2 * *');
  await expect(editor.cronProblem('full')).toHaveText('A cron expression has 5 fields: minute hour day month weekday; this one has 4.');
  await expect(page.getByTestId('schedule-preview')).toBeHidden();
  await expect(page.getByText('MALFORMED_REQUEST')).toHaveCount(0);

  // Five fields, a value out of range: the engine's reason, once, with the field named as the form names it.
  await editor.customCron('full', '99 2 * * *');
  await expect(editor.cronProblem('full')).toBeHidden();
  await expect(editor.scheduleError).toHaveText(
    'Full backup: "99 2 * * *" is not a valid cron expression: Constraint error, got value 99 expected range 0-59. A cron expression has 5 fields: minute hour day month weekday.',
  );
  await expect(page.getByText('99 2 * * *', { exact: false })).toHaveCount(1);
  await expect(editor.schedulePreviewRuns).toHaveCount(0);

  // Saving is refused in the form: no folder is created, no task is saved.
  const out = join(tempDir, 'out');
  await editor.destinationPath(0).fill(out);
  await editor.save.click();
  await expect(editor.form.getByText('Fix the schedule first')).toBeVisible();
  await expect(editor.dialog).toHaveCount(0);
  expect(await dispatch(engine.handlers, 'tasks.list', undefined)).toEqual({ ok: true, data: [] });

  // Fixing it clears the message and shows the next full and incrementals again.
  await editor.customCron('full', '30 2 * * *');
  await expect(editor.scheduleError).toBeHidden();
  await expect(editor.nextFull).toContainText('02:30');
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
  await expect(page.getByTestId('schedule-next-full')).toContainText('no full schedule');
  await expect(page.getByTestId('schedule-next-incremental').first()).toBeVisible();
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
