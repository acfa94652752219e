/**
 * A task changed while the window works on it, on a real engine: pausing it from the task
 * list keeps every setting the card does not show (hooks, limits, notification channels,
 * test restores); an open editor whose task is changed by "another window" (a command sent
 * straight to the engine, as a second window or the command line do) keeps what
 * was typed, is refused when it would undo that change, and with "Keep my edits" saves the
 * typed retention on top of it.
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
