/**
 * Adding an Azure and an SFTP destination in the task editor, against real servers
 * (Azurite; a throwaway OpenSSH sshd): a failing "Test connection" names the failing step
 * (wrong account key; unknown host key, then wrong password), a passing one after the fix
 * (SFTP: the offered host-key fingerprint accepted and pinned), the task saved, a backup
 * run to it from the task card succeeding, the destination listing the databases, and the
 * secret nowhere in the app data dir (database, logs) or the history.
 */
import { mkdirSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import type { Engine } from '../../electron/engine/index.ts';
import { dispatch } from '../../electron/engine/api/dispatch.ts';
import { encodeDatabaseFolder } from '../../electron/engine/servers/index.ts';
import type { Destination } from '../../electron/shared/domain.ts';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite } from '../fixtures/azurite.ts';
import { findSecrets } from '../fixtures/reliability/secrets-scan.ts';
import { SFTP_PASSWORD, passwordUser, startSshd } from '../fixtures/sshd.ts';
import { expect, test } from './fixtures/harness';
import { makeSqliteFolder } from './fixtures/sqlite-files';
import { TaskEditorPage } from './pages/task-editor-page';
import { TasksPage } from './pages/tasks-page';

test.describe.configure({ timeout: 120_000 });

/** A SQLite server, the editor open on a new task named `name` with its local destination in an existing folder. */
async function newTask(page: Page, engine: Engine, tempDir: string, name: string) {
  const folder = join(tempDir, 'dbs');
  await makeSqliteFolder(folder, ['orders.db', 'users.db']);
  expect((await dispatch(engine.handlers, 'servers.create', { kind: 'sqlite', name: 'Files', folder })).ok).toBe(true);
  await page.goto(page.url().replace(/#.*$/, '#/tasks/new'));
  const editor = new TaskEditorPage(page);
  await expect(editor.form).toBeVisible();
  await editor.name.fill(name);
  const local = join(tempDir, 'local');
  mkdirSync(local);
  await editor.destinationPath(0).fill(local);
  return editor;
}

/** Saves, runs a full backup from the task card, waits for success; returns the saved remote destination. */
async function saveAndRun(page: Page, engine: Engine, editor: TaskEditorPage, name: string): Promise<Destination> {
  await editor.save.click();
  const tasks = new TasksPage(page);
  await expect(tasks.root).toBeVisible();
  await tasks.runNow(name, 'full');
  await tasks.waitForLastResult(name, 'Succeeded', 90_000);
  const list = await dispatch(engine.handlers, 'tasks.list', undefined);
  if (!list.ok) throw new Error(list.message);
  const remote = list.data[0]!.destinations[1]!;
  const history = await dispatch(engine.handlers, 'history.list', { limit: 10 });
  expect(history.ok && history.data.map((r) => [r.taskName, r.status])).toEqual([[name, 'success']]);
  const folders = await dispatch(engine.handlers, 'restore.folders', { destination: remote });
  expect(folders.ok && folders.data.filter((f) => !f.serverStream).map((f) => f.database)).toEqual(['orders.db', 'users.db']);
  return remote;
}

test('Azure destination: Test connection fails on a wrong account key, passes against Azurite; saved and backed up to', async ({ page, engine, tempDir }) => {
  const az = await startAzurite(['backstop']);
  try {
    const editor = await newTask(page, engine, tempDir, 'To Azure');
    await page.getByTestId('add-azure').click();
    await page.getByTestId('dest-1-account').fill(AZURITE_ACCOUNT);
    await page.getByTestId('dest-1-container').fill('backstop');
    await page.getByTestId('dest-1-endpoint').fill(az.endpoint);
    await expect(page.getByTestId('dest-1-auth')).toHaveValue('accountKey');
    // A well-formed key that is not the account's: the write is refused, the steps after it not tried.
    await page.getByTestId('dest-1-secret').fill(Buffer.alloc(64, 7).toString('base64'));
    await page.getByTestId('dest-1-test').click();
    await expect(page.getByTestId('dest-1-test-result')).toHaveText('Failed', { timeout: 20_000 });
    const steps = page.getByTestId('dest-1-test-steps');
    await expect(steps).toContainText('Write a test object: PERMISSION_DENIED');
    await expect(steps).toContainText('Read it back (not tried)');
    await expect(steps).toContainText(`Check the account name "${AZURITE_ACCOUNT}" and re-enter its key`);
    await expect(page.getByTestId('dest-1-secret')).toHaveAttribute('placeholder', 'saved in the keychain');

    await page.getByTestId('dest-1-secret').fill(AZURITE_KEY);
    await page.getByTestId('dest-1-test').click();
    await expect(page.getByTestId('dest-1-test-result')).toHaveText('All steps passed', { timeout: 20_000 });

    const remote = await saveAndRun(page, engine, editor, 'To Azure');
    expect(remote).toMatchObject({ kind: 'azure', accountName: AZURITE_ACCOUNT, container: 'backstop', endpoint: az.endpoint, credentialsRef: expect.any(String) });
    const blobs: string[] = [];
    for await (const b of az.service().getContainerClient('backstop').listBlobsFlat()) blobs.push(b.name);
    const prefix = remote.kind === 'azure' && remote.prefix ? `${remote.prefix}/` : '';
    expect(blobs.some((n) => n.startsWith(`${prefix}${encodeDatabaseFolder('orders.db')}/`))).toBe(true);
    expect(blobs.filter((n) => n.includes('probe'))).toEqual([]);
    const history = await dispatch(engine.handlers, 'history.list', { limit: 10 });
    expect(findSecrets({ 'account key': AZURITE_KEY }, [engine.dataDir], { history: JSON.stringify(history) })).toEqual([]);
  } finally {
    await az.stop();
  }
});

test('SFTP destination: unknown host key offered, accepted and pinned; wrong password named; then saved and backed up to', async ({ page, engine, tempDir }) => {
  test.skip(process.getuid?.() !== 0, 'a password login needs the dedicated user, created as root (as in CI)');
  const sshd = await startSshd();
  try {
    const user = passwordUser()!;
    const base = join(sshd.data, 'backups');
    mkdirSync(base);
    chmodSync(base, 0o777);
    const editor = await newTask(page, engine, tempDir, 'To SFTP');
    await page.getByTestId('add-sftp').click();
    await page.getByTestId('dest-1-host').fill(sshd.host);
    await page.getByTestId('dest-1-port').fill(String(sshd.port));
    await page.getByTestId('dest-1-user').fill(user);
    await page.getByTestId('dest-1-path').fill(base);
    await page.getByTestId('dest-1-password').fill('wrong-password');
    await expect(page.getByTestId('dest-1-hostkey')).toContainText('not accepted yet');

    // First use: the server's fingerprint is offered, nothing is written before it is accepted.
    await page.getByTestId('dest-1-test').click();
    await expect(page.getByTestId('dest-1-test-result')).toHaveText('Failed', { timeout: 20_000 });
    await expect(page.getByTestId('dest-1-test-steps')).toContainText('not accepted yet');
    await expect(page.getByTestId('dest-1-hostkey-offer')).toContainText(sshd.hostKey());
    await page.getByTestId('dest-1-hostkey-accept').click();
    await expect(page.getByTestId('dest-1-hostkey')).toHaveText(sshd.hostKey());
    await expect(page.getByTestId('dest-1-hostkey-offer')).toHaveCount(0);

    // Pinned key, wrong password: the write step fails with the login named.
    await page.getByTestId('dest-1-test').click();
    const steps = page.getByTestId('dest-1-test-steps');
    await expect(steps).toContainText('Write a test object: AUTH_FAILED', { timeout: 20_000 });
    await expect(steps).toContainText('Read it back (not tried)');

    await page.getByTestId('dest-1-password').fill(SFTP_PASSWORD);
    await page.getByTestId('dest-1-test').click();
    await expect(page.getByTestId('dest-1-test-result')).toHaveText('All steps passed', { timeout: 20_000 });

    const remote = await saveAndRun(page, engine, editor, 'To SFTP');
    expect(remote).toMatchObject({ kind: 'sftp', host: sshd.host, port: sshd.port, user, path: base, hostKey: sshd.hostKey(), credentialsRef: expect.any(String) });
    const history = await dispatch(engine.handlers, 'history.list', { limit: 10 });
    expect(findSecrets({ 'sftp password': SFTP_PASSWORD, 'wrong password': 'wrong-password' }, [engine.dataDir], { history: JSON.stringify(history) })).toEqual([]);
  } finally {
    await sshd.stop();
  }
});
