/**
 * Server health in the list (issue 17 §10, and §7's Delete button alignment): a saved server
 * shows how its last connection test went and how long ago; a server whose test just failed
 * is saved only after "Save anyway?", and then shows the failure in the list. Real engine,
 * a real SQLite folder, a PostgreSQL address where nothing listens.
 */
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { dispatch } from '../../electron/engine/api/dispatch.ts';
import { expect, test } from './fixtures/harness';
import { attachScreenshot } from './fixtures/screenshots';
import { ServersPage } from './pages/servers-page';

/** A loopback port nothing listens on (taken, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

test('a saved server shows its last test, OK, and its row buttons sit on one line', async ({ page, engine, tempDir }, testInfo) => {
  const folder = join(tempDir, 'dbs');
  await mkdir(folder);
  const servers = new ServersPage(page);
  await servers.open();
  await servers.addSqliteFolder('Files', folder);
  const row = servers.row('Files');
  await expect(row.getByTestId('server-row-health')).toContainText('Last test: OK');
  await expect(row.getByTestId('server-row-health')).toContainText(/just now|min ago/);
  const listed = await dispatch(engine.handlers, 'servers.list', undefined);
  expect(listed.ok && listed.data[0]!.lastTest).toMatchObject({ ok: true, code: null });

  const box = async (id: string) => (await row.getByTestId(id).boundingBox())!;
  const [test, edit, del] = [await box('server-row-test'), await box('server-edit'), await box('server-delete')];
  expect(del.y).toBeCloseTo(test.y, 0);
  expect(del.height).toBeCloseTo(test.height, 0);
  expect(edit.y).toBeCloseTo(test.y, 0);
  await attachScreenshot(page, testInfo, 'servers-health-ok');
});

test('a server whose connection test failed is saved only after "Save anyway", and the list shows the failure', async ({ page, engine }, testInfo) => {
  const port = await closedPort();
  const servers = new ServersPage(page);
  await servers.open();
  await servers.startAdding('postgres');
  await servers.form.getByLabel('Name', { exact: true }).fill('Nowhere');
  await servers.form.getByLabel('Host', { exact: true }).fill('127.0.0.1');
  await servers.form.getByLabel('Port', { exact: true }).fill(String(port));
  await servers.form.getByLabel('User', { exact: true }).fill('postgres');
  await servers.form.getByTestId('server-test').click();
  const code = servers.form.getByTestId('error-code');
  await expect(code).toBeVisible({ timeout: 20_000 });
  const failedCode = (await code.textContent())!.trim();
  const failedMessage = (await servers.form.getByTestId('error-message').textContent())!.trim();
  expect(failedCode).toMatch(/^(UNREACHABLE|TOOL_MISSING)$/);

  const dialog = page.getByTestId('save-anyway-dialog');
  await servers.form.getByTestId('server-submit').click();
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole('heading')).toHaveText('The connection test failed. Save anyway?');
  await expect(dialog.getByTestId('save-anyway-reason')).toHaveText(`${failedCode} ${failedMessage}`);
  await attachScreenshot(page, testInfo, 'servers-save-anyway');
  await dialog.getByTestId('confirm-cancel').click();
  await expect(dialog).toBeHidden();
  let listed = await dispatch(engine.handlers, 'servers.list', undefined);
  expect(listed.ok && listed.data).toEqual([]);
  await expect(servers.form).toBeVisible();

  await servers.form.getByTestId('server-submit').click();
  await dialog.getByTestId('confirm-ok').click();
  await expect(servers.form).toBeHidden();
  const health = servers.row('Nowhere').getByTestId('server-row-health');
  await expect(health).toContainText(`Last test failed: ${failedCode}`, { timeout: 20_000 });
  listed = await dispatch(engine.handlers, 'servers.list', undefined);
  expect(listed.ok && listed.data.map((s) => [s.name, s.lastTest?.ok, s.lastTest?.code])).toEqual([['Nowhere', false, failedCode]]);
  await attachScreenshot(page, testInfo, 'servers-health-failed');
});
