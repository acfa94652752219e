/**
 * Servers view against a real engine: what the user adds is stored in the engine's app
 * database, engine errors reach the user verbatim, and nothing half-made is left behind.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createEngine } from '../../electron/engine/index.ts';
import { dispatch } from '../../electron/engine/api/dispatch.ts';
import { expect, test } from './fixtures/harness';
import { ServersPage } from './pages/servers-page';

test('adds a SQLite-folder server that is still listed after a reload', async ({ page, engine, tempDir }) => {
  const folder = join(tempDir, 'app-databases');
  await mkdir(folder);
  const servers = new ServersPage(page);

  await servers.open();
  await expect(servers.empty).toBeVisible();
  await expect(servers.rows).toHaveCount(0);

  await servers.addSqliteFolder('Local app databases', folder);

  await expect(servers.form).toBeHidden();
  await expect(servers.rows).toHaveCount(1);
  await expect(servers.row('Local app databases').getByTestId('server-row-detail')).toHaveText(folder);
  await expect(page.getByTestId('servers-status')).toHaveText('Added “Local app databases”.');

  await page.reload();
  await servers.open();
  await expect(servers.rows).toHaveCount(1);
  await expect(servers.row('Local app databases').getByTestId('server-row-detail')).toHaveText(folder);

  // It is in the app database on disk, not only in this engine's memory: a new engine on
  // the same data dir sees it.
  await engine.close();
  const reopened = await createEngine({ dataDir: engine.dataDir });
  try {
    const listed = await dispatch(reopened.handlers, 'servers.list', undefined);
    expect(listed.ok && listed.data.map((s) => ({ kind: s.kind, name: s.name, folder: 'folder' in s ? s.folder : null }))).toEqual([
      { kind: 'sqlite', name: 'Local app databases', folder },
    ]);
  } finally {
    await reopened.close();
  }
});

test('a folder that does not exist shows the engine’s error and adds nothing', async ({ page, engine, tempDir }) => {
  const missing = join(tempDir, 'no-such-folder');
  // What the engine answers for this input, asked directly (a failed create writes nothing).
  const expected = await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: 'Ghost', folder: missing });
  expect(expected.ok).toBe(false);
  if (expected.ok) return;
  expect(expected.code).toBe('VALIDATION');
  expect(expected.message).toContain('does not exist');

  const servers = new ServersPage(page);
  await servers.open();
  await servers.addSqliteFolder('Ghost', missing);

  await expect(servers.formError).toBeVisible();
  await expect(servers.formError.getByTestId('error-code')).toHaveText('VALIDATION');
  await expect(servers.formError.getByTestId('error-message')).toHaveText(expected.message);
  // The form stays open with what the user typed, so the path can be corrected.
  await expect(servers.form.getByLabel('Folder', { exact: true })).toHaveValue(missing);
  await expect(servers.rows).toHaveCount(0);

  const listed = await dispatch(engine.handlers, 'servers.list', undefined);
  expect(listed).toEqual({ ok: true, data: [] });

  await page.reload();
  await servers.open();
  await expect(servers.empty).toBeVisible();
  await expect(servers.rows).toHaveCount(0);
});

test('deleting asks first; Cancel keeps the server, Delete removes it from the engine', async ({ page, engine, tempDir }) => {
  const folder = join(tempDir, 'dbs');
  await mkdir(folder);
  const servers = new ServersPage(page);
  await servers.open();
  await servers.addSqliteFolder('Scratch', folder);
  await expect(servers.row('Scratch')).toBeVisible();

  await servers.row('Scratch').getByRole('button', { name: 'Delete Scratch' }).click();
  await expect(servers.confirmDialog).toBeVisible();
  await expect(servers.confirmDialog.getByRole('heading')).toHaveText('Delete “Scratch”?');
  // The safe choice has focus; Escape dismisses like Cancel.
  await expect(servers.confirmDialog.getByTestId('confirm-cancel')).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(servers.confirmDialog).toBeHidden();
  await expect(servers.rows).toHaveCount(1);

  await servers.deleteServer('Scratch');
  await expect(servers.confirmDialog).toBeHidden();
  await expect(servers.rows).toHaveCount(0);
  await expect(servers.empty).toBeVisible();
  expect(await dispatch(engine.handlers, 'servers.list', undefined)).toEqual({ ok: true, data: [] });
});

test('a server added outside this window appears through the servers.changed event', async ({ page, engine, tempDir }) => {
  const folder = join(tempDir, 'elsewhere');
  await mkdir(folder);
  const servers = new ServersPage(page);
  await servers.open();
  await expect(servers.empty).toBeVisible();

  // As the CLI or another window would: straight through the engine, no reload here.
  const created = await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: 'From the CLI', folder });
  expect(created.ok).toBe(true);

  await expect(servers.row('From the CLI')).toBeVisible();
  await expect(servers.empty).toBeHidden();
});

test('a server that a task still uses is not deleted; the dialog shows why', async ({ page, engine, tempDir }) => {
  const folder = join(tempDir, 'dbs');
  const backups = join(tempDir, 'backups');
  await mkdir(folder);
  await mkdir(backups);
  const server = await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: 'In use', folder });
  if (!server.ok) throw new Error(server.message);
  const task = await dispatch(engine.handlers, 'tasks.create', {
    name: 'Nightly',
    serverId: server.data.id,
    type: 'logical',
    schedule: { full: '0 2 * * *', incremental: null, timezone: 'UTC' },
    destinations: [{ kind: 'local', path: backups }],
  });
  expect(task.ok).toBe(true);

  const servers = new ServersPage(page);
  await servers.open();
  await servers.deleteServer('In use');

  const error = servers.confirmDialog.getByTestId('error-notice');
  await expect(error.getByTestId('error-code')).toHaveText('CONFLICT');
  await expect(error.getByTestId('error-message')).toHaveText('Server "In use" is used by task "Nightly"; delete or change that task first.');
  await servers.confirmDialog.getByTestId('confirm-cancel').click();
  await expect(servers.confirmDialog).toBeHidden();
  await expect(servers.rows).toHaveCount(1);
  const listed = await dispatch(engine.handlers, 'servers.list', undefined);
  expect(listed.ok && listed.data.map((s) => s.name)).toEqual(['In use']);
});

test('Test connection shows the server version and support; editing saves, and a bad folder shows the failure', async ({ page, engine, tempDir }) => {
  const folder = join(tempDir, 'dbs');
  await mkdir(folder);
  const created = await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: 'Files', folder });
  expect(created.ok).toBe(true);
  if (!created.ok) return;
  const check = await dispatch(engine.handlers, 'servers.test', { id: created.data.id });
  expect(check.ok).toBe(true);
  if (!check.ok) return;

  const servers = new ServersPage(page);
  await servers.open();
  await servers.row('Files').getByTestId('server-row-test').click();
  await expect(page.getByTestId('server-check-version')).toHaveText(check.data.serverVersion);
  await expect(page.getByTestId('server-check-ok')).toContainText('Logical backup');

  await servers.row('Files').getByTestId('server-edit').click();
  await expect(servers.form.getByRole('heading')).toHaveText('Edit “Files”');
  await servers.form.getByLabel('Name', { exact: true }).fill('Renamed files');
  // Testing the edited (unsaved) settings with a folder that does not exist: the exact failure.
  const missing = join(tempDir, 'missing');
  await servers.form.getByLabel('Folder', { exact: true }).fill(missing);
  const expected = await dispatch(engine.handlers, 'servers.test', { server: { kind: 'sqlite', name: 'Renamed files', folder: missing } });
  expect(expected.ok).toBe(false);
  if (expected.ok) return;
  await servers.form.getByTestId('server-test').click();
  await expect(servers.form.getByTestId('error-code')).toHaveText(expected.code);
  await expect(servers.form.getByTestId('error-message')).toHaveText(expected.message);

  await servers.form.getByLabel('Folder', { exact: true }).fill(folder);
  await servers.form.getByTestId('server-submit').click();
  await expect(servers.form).toBeHidden();
  await expect(servers.row('Renamed files')).toBeVisible();
  const listed = await dispatch(engine.handlers, 'servers.list', undefined);
  expect(listed.ok && listed.data.map((s) => s.name)).toEqual(['Renamed files']);
});

test('the SQLite folder can be chosen with the folder picker', async ({ page, engine, tempDir, dialogs }) => {
  const folder = join(tempDir, 'picked');
  await mkdir(folder);
  const servers = new ServersPage(page);
  await servers.open();
  await servers.startAdding('sqlite');
  await servers.form.getByLabel('Name', { exact: true }).fill('Picked');
  dialogs.chooseFolder(folder);
  await servers.form.getByTestId('server-folder-choose').click();
  await expect(servers.form.getByLabel('Folder', { exact: true })).toHaveValue(folder);
  await servers.form.getByTestId('server-submit').click();
  await expect(servers.row('Picked').getByTestId('server-row-detail')).toHaveText(folder);
  const listed = await engine.call('servers.list', undefined);
  expect(listed.ok && listed.data.map((s) => s.name)).toEqual(['Picked']);
});
