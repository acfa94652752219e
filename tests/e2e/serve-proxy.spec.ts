/**
 * `backstop serve` behind a real nginx in Chromium, as a DBA publishes it on a shared admin
 * host: TLS terminated at nginx, the window under the path prefix /backstop/
 * (`location /backstop/ { proxy_pass http://127.0.0.1:PORT/; }`), serve told to trust the
 * proxy. The person signs in, the window loads, its WebSocket goes through the proxy's
 * upgrade under the prefix, and a command works (a server is added). The HTTP details
 * (Host/Origin refusals, cookies without --trust-proxy) are tests/integration/serve/serve-proxy.test.ts.
 */
import { test as base, expect } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NGINX, proxyTo, startNginx } from '../fixtures/nginx.ts';
import { freePort } from '../fixtures/servers/common.ts';
import { startServeProcess } from '../fixtures/serve-process.ts';
import { makeSqliteFolder } from './fixtures/sqlite-files';
import { ServersPage } from './pages/servers-page';

const test = base.extend<{ tempDir: string }>({
  // eslint-disable-next-line no-empty-pattern
  tempDir: async ({}, use) => {
    const dir = await mkdtemp(join(tmpdir(), 'backstop-e2e-proxy-'));
    await use(dir);
    await rm(dir, { recursive: true, force: true });
  },
});

test.describe.configure({ timeout: 120_000 });
test.use({ ignoreHTTPSErrors: true });

test('under nginx at https://…/backstop/: sign in, the window, its WebSocket under the prefix, a command', async ({ page, tempDir }) => {
  test.skip(!NGINX, 'nginx is not installed (.ci/run installs nginx-light)');
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.stack ?? e.message));
  const sockets: string[] = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  const dbs = join(tempDir, 'dbs');
  await makeSqliteFolder(dbs, ['orders.db']);
  const dataDir = join(tempDir, 'data');
  mkdirSync(dataDir);
  const s = await startServeProcess(dataDir, ['--allow-folder', tempDir, '--trust-proxy']);
  const port = await freePort();
  const nginx = await startNginx(
    `
  server {
    listen 127.0.0.1:${port} ssl; {TLS}
    location / { return 404 "another admin app"; }
    location /backstop/ { ${proxyTo(Number(new URL(s.url).port))} }
  }`,
    [port],
  );
  try {
    const url = `https://127.0.0.1:${port}/backstop/`;
    await page.goto(url);
    await expect(page.getByTestId('serve-login')).toBeVisible();
    await page.getByLabel(/The token/).fill(s.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByTestId('sidebar')).toBeVisible();
    expect(page.url()).toMatch(new RegExp(`^https://127\\.0\\.0\\.1:${port}/backstop/`));
    const cookie = (await page.context().cookies()).find((c) => c.name === 'backstop_session')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', secure: true });

    const servers = new ServersPage(page);
    await servers.open();
    await servers.addSqliteFolder('App files', dbs);
    await expect(servers.row('App files')).toBeVisible();
    expect(sockets).toEqual([`wss://127.0.0.1:${port}/backstop/api/ws`]);
    expect(errors).toEqual([]);
  } finally {
    await nginx.stop();
    expect(await s.stop()).toBe(0);
  }
});

test('at the root of https://… without --trust-proxy (the default): the window and its wss: WebSocket still work; the cookie is not marked Secure', async ({ page, tempDir }) => {
  test.skip(!NGINX, 'nginx is not installed (.ci/run installs nginx-light)');
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.stack ?? e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().includes('status of 401')) errors.push(`console.error: ${m.text()}`);
  });
  const sockets: string[] = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  const dbs = join(tempDir, 'dbs');
  await makeSqliteFolder(dbs, ['orders.db']);
  const dataDir = join(tempDir, 'data');
  mkdirSync(dataDir);
  const s = await startServeProcess(dataDir, ['--allow-folder', tempDir]);
  const port = await freePort();
  const nginx = await startNginx(`server { listen 127.0.0.1:${port} ssl; {TLS} location / { ${proxyTo(Number(new URL(s.url).port))} } }`, [port]);
  try {
    await page.goto(`https://127.0.0.1:${port}/`);
    await page.getByLabel(/The token/).fill(s.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByTestId('sidebar')).toBeVisible();
    const servers = new ServersPage(page);
    await servers.open();
    await servers.addSqliteFolder('App files', dbs);
    await expect(servers.row('App files')).toBeVisible();
    expect(sockets).toEqual([`wss://127.0.0.1:${port}/api/ws`]);
    const cookie = (await page.context().cookies()).find((c) => c.name === 'backstop_session')!;
    expect(cookie.secure).toBe(false);
    expect(errors).toEqual([]);
  } finally {
    await nginx.stop();
    expect(await s.stop()).toBe(0);
  }
});
