/**
 * A task changed while the window works on it, on a real engine: pausing it from the task
 * list keeps every setting the card does not show (hooks, limits, notification channels,
 * test restores); an open editor whose task is changed by "another window" (a command sent
 * straight to the engine, as a second window or the command line do) keeps what
 * was typed, is refused when it would undo that change, and with "Keep my edits" saves the
 * typed retention on top of it. An editor whose task is deleted elsewhere keeps the form and
 * saves it as a new task, asking again for the destination secret the delete removed.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { dispatch } from '../../electron/engine/api/dispatch.ts';
import type { Task } from '../../electron/shared/domain.ts';
import { expect, test } from './fixtures/harness';
import { makeSqliteFolder } from './fixtures/sqlite-files';
import { TaskEditorPage } from './pages/task-editor-page';
import { TasksPage } from './pages/tasks-page';

test('a pause keeps every setting; an edit meets a change made elsewhere and keeps both', async ({ page, engine, tempDir }) => {
  test.setTimeout(90_000); // the whole editor on a busy machine
  const folder = join(tempDir, 'dbs');
  const backups = join(tempDir, 'backups');
  await makeSqliteFolder(folder, ['a.db']);
  await mkdir(backups);
  const server = await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: 'Files', folder });
  if (!server.ok) throw new Error(server.message);
  const channel = await dispatch(engine.handlers, 'notifications.saveChannel', { channel: { kind: 'email', name: 'DBA team', to: ['dba@example.test'] } });
  if (!channel.ok) throw new Error(channel.message);
  const created = await dispatch(engine.handlers, 'tasks.create', {
    name: 'Nightly',
    serverId: server.data.id,
    type: 'logical',
    schedule: { full: '0 2 * * *', incremental: null, timezone: 'UTC' },
    retention: { minAgeDays: 30, keepLast: null },
    destinations: [{ kind: 'local', path: backups }],
    hooks: { pre: ['/bin/true'], post: null, timeoutSeconds: 60, onFailure: 'warn' },
    limits: { uploadBytesPerSecond: 5_000_000 },
    notifications: [channel.data.id],
    testRestore: { schedule: '0 5 * * 0', afterFull: false, maxMinutes: 30 },
  });
  if (!created.ok) throw new Error(created.message);
  const stored = async (): Promise<Task> => {
    const list = await dispatch(engine.handlers, 'tasks.list', undefined);
    if (!list.ok) throw new Error(list.message);
    return list.data.find((t) => t.id === created.data.id)!;
  };
  const unseen = { hooks: created.data.hooks, limits: created.data.limits, notifications: created.data.notifications, testRestore: created.data.testRestore };

  // Pause from the task card: only `enabled` changes.
  const tasks = new TasksPage(page);
  await tasks.open();
  await tasks.row('Nightly').locator('label.switch').click();
  await expect.poll(async () => (await stored()).enabled).toBe(false);
  expect(await stored()).toMatchObject(unseen);

  // The editor, with a retention typed in.
  await tasks.row('Nightly').getByTestId('task-edit').click();
  const editor = new TaskEditorPage(page);
  await expect(editor.form).toBeVisible();
  await editor.retentionDays.fill('14');

  // Meanwhile "another window" sets keep-last on the stored task.
  const before = await stored();
  const elsewhere = await dispatch(engine.handlers, 'tasks.update', {
    id: before.id,
    basedOn: before.updatedAt,
    task: { ...(({ id: _i, createdAt: _c, updatedAt: _u, ...fields }) => fields)(before), retention: { minAgeDays: 30, keepLast: 5 } },
  });
  if (!elsewhere.ok) throw new Error(elsewhere.message);
  await expect(page.getByTestId('changed-elsewhere')).toContainText('This task was changed elsewhere');
  await expect(editor.retentionDays).toHaveValue('14');

  // Saving as it stands would undo that change: refused, nothing saved, the form as typed.
  await editor.save.click();
  await expect(editor.saveError).toContainText('was changed elsewhere');
  expect((await stored()).retention).toEqual({ minAgeDays: 30, keepLast: 5 });
  await expect(editor.retentionDays).toHaveValue('14');

  // Keep my edits: the typed days on top of the stored version (keep-last 5, still paused).
  await page.getByTestId('changed-keep-mine').click();
  await expect(page.getByTestId('changed-elsewhere')).toHaveCount(0);
  await expect(editor.retentionLast).toHaveValue('5');
  await editor.save.click();
  await expect(tasks.root).toBeVisible();
  expect(await stored()).toMatchObject({ enabled: false, retention: { minAgeDays: 14, keepLast: 5 }, ...unseen });
});

test('a reload of the page brings the editor back as typed — a new key still to be confirmed — with typed secrets left out', async ({ page, engine, tempDir }) => {
  test.setTimeout(90_000);
  const folder = join(tempDir, 'dbs');
  await makeSqliteFolder(folder, ['a.db']);
  const server = await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: 'Files', folder });
  if (!server.ok) throw new Error(server.message);

  const tasks = new TasksPage(page);
  await tasks.open();
  await page.getByRole('link', { name: 'Create a task' }).click();
  const editor = new TaskEditorPage(page);
  await expect(editor.form).toBeVisible();
  await editor.name.fill('Typed before the reload');
  await editor.retentionDays.fill('14');
  await editor.destinationPath(0).fill(join(tempDir, 'backups'));
  await page.getByTestId('encryption-generate').check();
  await page.getByTestId('key-generate').click();
  const fingerprint = (await page.getByTestId('key-fingerprint').textContent())!.trim();
  await page.getByTestId('add-azure').click();
  await page.getByTestId('dest-1-account').fill('backstopacct');
  await page.getByTestId('dest-1-container').fill('nightly');
  const secret = Buffer.alloc(64, 9).toString('base64');
  await page.getByTestId('dest-1-secret').fill(secret);

  await page.reload();
  await expect(editor.form).toBeVisible();
  await expect(editor.name).toHaveValue('Typed before the reload');
  await expect(editor.retentionDays).toHaveValue('14');
  await expect(editor.destinationPath(0)).toHaveValue(join(tempDir, 'backups'));
  await expect(page.getByTestId('key-fingerprint')).toContainText(fingerprint);
  // The key generated before the reload must still be confirmed as saved before the task can be.
  await expect(editor.save).toBeDisabled();
  await expect(page.getByTestId('save-blocked')).toBeVisible();
  await expect(page.getByTestId('dest-1-account')).toHaveValue('backstopacct');
  // The typed key was never kept: it is asked for again.
  await expect(page.getByTestId('dest-1-secret')).toHaveValue('');
  const keptText = await page.evaluate(() => JSON.stringify(Object.entries(sessionStorage)));
  expect(keptText).toContain('backstopacct');
  expect(keptText).not.toContain(secret);

  // Cancel forgets it: a reload then shows the task list's empty state, not the old form.
  await page.getByTestId('task-cancel-edit').click();
  await page.reload();
  expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
});

test('a task deleted elsewhere while its editor is open: the form stays and is saved as a new task, its removed secret typed again', async ({ page, engine, tempDir }) => {
  test.setTimeout(90_000);
  const folder = join(tempDir, 'dbs');
  const backups = join(tempDir, 'backups');
  await makeSqliteFolder(folder, ['a.db']);
  await mkdir(backups);
  const server = await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: 'Files', folder });
  if (!server.ok) throw new Error(server.message);
  const secret = await dispatch(engine.handlers, 'destinations.saveCredentials', { secret: { kind: 's3', accessKeyId: 'AKIAOLD', secretAccessKey: 'old-secret' } });
  if (!secret.ok) throw new Error(secret.message);
  const created = await dispatch(engine.handlers, 'tasks.create', {
    name: 'Offsite',
    serverId: server.data.id,
    type: 'logical',
    schedule: { full: '0 2 * * *', incremental: null, timezone: 'UTC' },
    retention: { minAgeDays: 30, keepLast: null },
    destinations: [
      { kind: 'local', path: backups },
      { kind: 's3', bucket: 'offsite-bucket', prefix: 'db', region: 'eu-west-1', endpoint: 'http://127.0.0.1:9', forcePathStyle: true, storageClass: null, checksumMode: 'WHEN_REQUIRED', credentialsRef: secret.data.credentialsRef },
    ],
  });
  if (!created.ok) throw new Error(created.message);

  const tasks = new TasksPage(page);
  await tasks.open();
  await tasks.row('Offsite').getByTestId('task-edit').click();
  const editor = new TaskEditorPage(page);
  await expect(editor.form).toBeVisible();
  await editor.retentionDays.fill('14');

  // Meanwhile `backstop tasks delete` (a command straight to the engine) deletes it, and its S3 secret with it.
  const deleted = await dispatch(engine.handlers, 'tasks.delete', { id: created.data.id });
  if (!deleted.ok) throw new Error(deleted.message);
  await expect(page.getByTestId('deleted-elsewhere')).toContainText('This task was deleted elsewhere');
  await expect(editor.retentionDays).toHaveValue('14');
  await expect(editor.save).toHaveCount(0);

  await page.getByTestId('deleted-save-new').click();
  await expect(page.getByTestId('from-deleted')).toContainText('enter it again');
  await expect(page.getByTestId('destination-1')).toContainText('Deleting the task removed this destination’s secret from the keychain: enter it again.');
  const listed = await dispatch(engine.handlers, 'tasks.list', undefined);
  expect(listed.ok && listed.data).toEqual([]);

  await page.getByTestId('dest-1-access-key').fill('AKIANEW');
  await page.getByTestId('dest-1-secret').fill('new-secret');
  await editor.save.click();
  await expect(tasks.root).toBeVisible();
  const after = await dispatch(engine.handlers, 'tasks.list', undefined);
  if (!after.ok) throw new Error(after.message);
  expect(after.data).toHaveLength(1);
  const made = after.data[0]!;
  expect(made).toMatchObject({ name: 'Offsite', retention: { minAgeDays: 14, keepLast: null } });
  expect(made.id).not.toBe(created.data.id);
  const s3 = made.destinations[1]!;
  expect(s3).toMatchObject({ kind: 's3', bucket: 'offsite-bucket' });
  expect(s3.kind === 's3' && s3.credentialsRef).not.toBe(secret.data.credentialsRef);
});
