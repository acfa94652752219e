/**
 * `backstop serve` for real: a `backstop serve` child process (the built CLI, not the test
 * harness) serving the built renderer to Chromium. First every way in without a valid
 * session is refused, with its status code; then a person signs in with the printed token
 * and the main flow works over the WebSocket — add a SQLite-folder server, create a task
 * whose destination is chosen in the server-side folder browser, run it now, watch it
 * finish, see it in History — and the restore view says folders cannot be dropped here and
 * restores a database chosen in the folder browser.
 * Finally a session that ends sends the open window back to the sign-in page.
 */
import { test as base, expect, type Page } from '@playwright/test';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rawRequest, signIn, startServeProcess, upgradeStatus, type ServeProcess } from '../fixtures/serve-process.ts';
import { makeSqliteFolder } from './fixtures/sqlite-files';
import { HistoryPage } from './pages/history-page';
import { RestorePage } from './pages/restore-page';
import { ServersPage } from './pages/servers-page';
import { TasksPage } from './pages/tasks-page';

const test = base.extend<{ tempDir: string }>({
  // eslint-disable-next-line no-empty-pattern
  tempDir: async ({}, use) => {
    const dir = await mkdtemp(join(tmpdir(), 'backstop-e2e-serve-'));
    await use(dir);
    await rm(dir, { recursive: true, force: true });
  },
});

test.describe.configure({ timeout: 120_000 });

async function served(tempDir: string, args: string[] = []): Promise<ServeProcess> {
  const dataDir = join(tempDir, 'data');
  mkdirSync(dataDir);
  return startServeProcess(dataDir, ['--allow-folder', tempDir, ...args]);
}

/** Uncaught page errors fail the test, as in the harness. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.stack ?? e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  return errors;
}

test('every way in without a valid session is refused with its status code', async ({ tempDir }) => {
  const s = await served(tempDir);
  try {
    const origin = new URL(s.url).origin;
    // No token: the login page (401), never the app.
    const home = await rawRequest(s.url);
    expect(home.status).toBe(401);
    expect(home.body).toContain('Sign in to Backstop');
    expect(home.body).not.toContain('id="app"');
    const api = await rawRequest(new URL('/api/commands/tasks.list', s.url).href, { method: 'POST' });
    expect(api.status).toBe(401);
    expect(JSON.parse(api.body)).toMatchObject({ ok: false, code: 'FORBIDDEN_SENDER' });
    // A wrong token.
    const wrong = await signIn(s.url, 'not-the-token');
    expect(wrong.status).toBe(401);
    expect(wrong.cookie).toBeNull();
    expect((await rawRequest(new URL('/api/commands/tasks.list', s.url).href, { method: 'POST', headers: { Authorization: 'Bearer not-the-token' } })).status).toBe(401);
    // DNS rebinding: a foreign Host, even with the right token.
    expect((await rawRequest(s.url, { headers: { Host: 'rebind.example', Authorization: `Bearer ${s.token}` } })).status).toBe(421);
    // Signed in: a state-changing request without the CSRF token, and one from a foreign Origin.
    const login = await signIn(s.url, s.token);
    expect(login.status).toBe(303);
    const create = new URL('/api/commands/servers.create', s.url).href;
    const body = JSON.stringify({ kind: 'sqlite', name: 'Forged', folder: tempDir });
    expect((await rawRequest(create, { method: 'POST', headers: { Cookie: login.cookie!, Origin: origin, 'Content-Type': 'application/json' }, body })).status).toBe(403);
    const csrf = JSON.parse((await rawRequest(new URL('/api/session', s.url).href, { headers: { Cookie: login.cookie! } })).body).data.csrf as string;
    expect((await rawRequest(create, { method: 'POST', headers: { Cookie: login.cookie!, 'X-Backstop-CSRF': csrf, Origin: 'http://evil.example', 'Content-Type': 'application/json' }, body })).status).toBe(403);
    // The WebSocket: a foreign Origin, no session.
    expect(await upgradeStatus(s.url, { Cookie: login.cookie!, Origin: 'http://evil.example' })).toBe(403);
    expect(await upgradeStatus(s.url, { Origin: origin })).toBe(401);
    // None of the refused requests created anything.
    const listed = await rawRequest(new URL('/api/commands/servers.list', s.url).href, { method: 'POST', headers: { Authorization: `Bearer ${s.token}` } });
    expect(JSON.parse(listed.body)).toEqual({ ok: true, data: [] });
    // 5 failed sign-ins in a minute (two above, the wrong Bearer counts too): then 429, even for the right token.
    for (let i = 0; i < 3; i++) expect((await signIn(s.url, `guess-${i}`)).status).toBe(401);
    const limited = await signIn(s.url, s.token);
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toMatch(/^\d+$/);
  } finally {
    expect(await s.stop()).toBe(0);
  }
});

test('signed in with the token, the window works over the WebSocket: add a server, create a task in the folder browser, run it, see it in History, restore it', async ({ page, tempDir }) => {
  const errors = watchErrors(page);
  const dbs = join(tempDir, 'dbs');
  await makeSqliteFolder(dbs, ['orders.db', 'users.db']);
  const backups = join(tempDir, 'backups');
  mkdirSync(backups);
  const s = await served(tempDir);
  try {
    await page.goto(s.url);
    await expect(page.getByTestId('serve-login')).toBeVisible();
    await expect(page.getByTestId('sidebar')).toHaveCount(0);
    await page.getByLabel(/The token/).fill('wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByTestId('serve-login-error')).toHaveText('That token or password is not right. Use the token "backstop serve" printed when it started.');
    await page.getByLabel(/The token/).fill(s.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByTestId('sidebar')).toBeVisible();
    // The sign-in page itself came with status 401 twice (no session, wrong token), which Chromium logs; from here on, nothing may fail.
    expect(errors.filter((e) => !e.includes('status of 401'))).toEqual([]);
    errors.length = 0;
    const cookie = (await page.context().cookies()).find((c) => c.name === 'backstop_session')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });

    const servers = new ServersPage(page);
    await servers.open();
    await servers.addSqliteFolder('App files', dbs);
    await expect(servers.row('App files')).toBeVisible();

    const tasks = new TasksPage(page);
    await tasks.open();
    await tasks.emptyCreate.getByRole('link', { name: 'Create a task' }).click();
    await expect(page.getByTestId('task-editor')).toBeVisible();
    await page.getByTestId('task-name-input').fill('Served nightly');
    // The destination from the server-side folder browser (no native dialog in a browser).
    await page.getByTestId('dest-0-choose').click();
    const browser = page.getByTestId('serve-folder-dialog');
    await expect(browser).toBeVisible();
    await expect(browser.getByTestId('serve-folder-path')).toHaveText(tempDir);
    await expect(browser.getByTestId('serve-folder-up')).toHaveCount(0);
    await browser.getByTestId('serve-folder-item').filter({ hasText: 'backups' }).click();
    await expect(browser.getByTestId('serve-folder-path')).toHaveText(backups);
    await browser.getByTestId('serve-folder-choose').click();
    await expect(browser).toHaveCount(0);
    await expect(page.getByTestId('dest-0-path')).toHaveValue(backups);
    await expect(page.getByTestId('database-list').getByRole('checkbox')).toHaveCount(2);
    await page.getByTestId('task-save').click();
    await expect(tasks.row('Served nightly')).toBeVisible();

    await tasks.runNow('Served nightly', 'full');
    await tasks.waitForLastResult('Served nightly', 'Succeeded', 60_000);
    await expect(tasks.row('Served nightly').getByTestId('task-last-result')).toContainText('2 ok');
    expect(readdirSync(backups).length).toBeGreaterThanOrEqual(2);

    const history = new HistoryPage(page);
    await history.open();
    await expect(history.rows).toHaveCount(1);
    await expect(history.rows.first()).toContainText('Served nightly');
    await expect(history.rows.first().getByTestId('history-row-databases')).toHaveText('2 ok');

    // Restore: drag and drop is not available in a browser; the view says so and offers the folder browser.
    await page.getByTestId('nav-restore').click();
    await expect(page.getByTestId('restore-no-drop')).toHaveText('Choose a backup folder on the Backstop server');
    await expect(page.getByTestId('restore-dropzone')).toContainText('Drag and drop is not available in a browser');
    const dataTransfer = await page.evaluateHandle(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(['x'], 'sales.db'));
      return dt;
    });
    await page.getByTestId('restore-dropzone').dispatchEvent('drop', { dataTransfer });
    await expect(page.getByTestId('restore-drop-result')).toHaveText(
      'Dropping a folder does not work in a browser: the backups are read on the Backstop server. Use “Choose a backup folder…” to browse the server’s folders, or type the path.',
    );
    await page.getByTestId('restore-choose').click();
    await expect(page.getByTestId('serve-folder-dialog')).toBeVisible();
    await page.keyboard.press('Escape');
    await expect(page.getByTestId('serve-folder-dialog')).toHaveCount(0);
    // Restore from the folder browser: the destination root offers its databases; the outcome arrives as events over the WebSocket.
    await page.getByTestId('restore-choose').click();
    await browser.getByTestId('serve-folder-item').filter({ hasText: 'backups' }).click();
    await expect(browser.getByTestId('serve-folder-path')).toHaveText(backups);
    await browser.getByTestId('serve-folder-choose').click();
    const restore = new RestorePage(page);
    await expect(restore.choices).toHaveText(['orders.db', 'users.db']);
    await restore.choices.filter({ hasText: 'orders.db' }).click();
    await expect(page.getByTestId('restore-database')).toHaveText('orders.db');
    const target = join(tempDir, 'restored');
    mkdirSync(target);
    await page.getByTestId('restore-name').fill('orders-copy.db');
    await page.getByTestId('restore-folder').fill(target);
    await restore.submit.click();
    await expect(restore.result).toContainText('Restored into', { timeout: 30_000 });
    expect(existsSync(join(target, 'orders-copy.db'))).toBe(true);
    expect(errors).toEqual([]);
  } finally {
    expect(await s.stop()).toBe(0);
  }
});

test('an expired session sends the open window back to the sign-in page', async ({ page, tempDir }) => {
  // 0.2 minutes = 12 seconds: long enough to load the window on 2 busy cores, short enough to wait for.
  const s = await served(tempDir, ['--session-minutes', '0.2']);
  try {
    await page.goto(new URL('/login', s.url).href);
    await page.getByLabel(/The token/).fill(s.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByTestId('sidebar')).toBeVisible({ timeout: 10_000 });
    await expect(page.getByTestId('serve-login')).toBeVisible({ timeout: 30_000 });
    await expect(page.getByTestId('sidebar')).toHaveCount(0);
    const cookies = await page.context().cookies();
    const stale = cookies.find((c) => c.name === 'backstop_session');
    // The browser may have dropped it (Max-Age); if it still sends it, the server refuses it.
    if (stale) expect((await rawRequest(s.url, { headers: { Cookie: `backstop_session=${stale.value}` } })).status).toBe(401);
    expect(existsSync(join(tempDir, 'data'))).toBe(true);
  } finally {
    expect(await s.stop()).toBe(0);
  }
});
