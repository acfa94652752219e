/**
 * `backstop serve` behind a real nginx, as a DBA deploys it (docs/HEADLESS.md "Behind a
 * reverse proxy"): TLS terminated at nginx in front of the root path, and the same server
 * under a path prefix (`location /backstop/ { proxy_pass http://127.0.0.1:PORT/; }`) on a
 * shared admin host. Real `backstop serve` children (the built CLI), plain HTTP requests
 * and Node's WebSocket client through the proxy: sign-in, the window and its assets, a
 * command over HTTP and the WebSocket, cookie flags, and the Host/Origin checks.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NGINX, proxyTo, startNginx, type Nginx } from '../../fixtures/nginx.ts';
import { rawRequest, signIn, startServeProcess, upgradeStatus, type RawAnswer, type ServeProcess } from '../../fixtures/serve-process.ts';
import { freePort } from '../../fixtures/servers/common.ts';

const APP_MARKER = '<div id="app"></div>';
const NAME = 'backstop.test';

/** A window build as `npm run build` makes it (relative asset URLs), with the real serve bridge. */
function renderer(root: string): string {
  const dir = join(root, 'renderer');
  mkdirSync(dir);
  writeFileSync(join(dir, 'index.html'), `<!doctype html>\n<html><head>\n<script type="module" crossorigin src="./assets/app.js"></script>\n</head><body>${APP_MARKER}</body></html>`);
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'assets/app.js'), 'console.log("the app");');
  copyFileSync(join(import.meta.dirname, '../../../renderer/public/backstop-serve-shim.js'), join(dir, 'backstop-serve-shim.js'));
  return dir;
}

/** The form's action as the browser resolves it against the page's URL. */
function formAction(page: RawAnswer, pageUrl: string): string {
  const m = /<form[^>]*action="([^"]*)"/.exec(page.body);
  expect(m, 'the login page has a form').not.toBeNull();
  return new URL(m![1]!, pageUrl).href;
}

describe.skipIf(!NGINX)('backstop serve behind nginx', () => {
  let trusting: ServeProcess; // --allowed-host backstop.test --trust-proxy
  let plain: ServeProcess; // --allowed-host backstop.test only
  let nginx: Nginx;
  let tlsPort: number; // TLS at nginx, / → trusting
  let tlsPlainPort: number; // TLS at nginx, / → plain
  let prefixPort: number; // http, /backstop/ → trusting (a shared admin host)
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'backstop-proxy-'));
    const env = { BACKSTOP_RENDERER_DIR: renderer(dir) };
    [trusting, plain] = await Promise.all([
      startServeProcess(join(dir, 'a'), ['--allowed-host', NAME, '--trust-proxy'], env),
      startServeProcess(join(dir, 'b'), ['--allowed-host', NAME], env),
    ]);
    [tlsPort, tlsPlainPort, prefixPort] = [await freePort(), await freePort(), await freePort()];
    const port = (s: ServeProcess): number => Number(new URL(s.url).port);
    nginx = await startNginx(
      `
  server { listen 127.0.0.1:${tlsPort} ssl; {TLS} location / { ${proxyTo(port(trusting))} } }
  server { listen 127.0.0.1:${tlsPlainPort} ssl; {TLS} location / { ${proxyTo(port(plain))} } }
  server {
    listen 127.0.0.1:${prefixPort};
    location / { return 404 "another admin app"; }
    location /backstop/ { ${proxyTo(port(trusting))} }
    location /nohost/ { proxy_pass http://127.0.0.1:${port(trusting)}/; }
    location /noslash/ { proxy_pass http://127.0.0.1:${port(trusting)}; proxy_set_header Host $http_host; }
  }`,
      [tlsPort, tlsPlainPort, prefixPort],
    );
  }, 120_000);

  afterAll(async () => {
    await nginx?.stop();
    await Promise.all([trusting?.stop(), plain?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Signs in through the proxy; answers the cookie ("name=value") and the CSRF token. */
  async function session(base: string, origin: string, headers: Record<string, string>, token: string): Promise<{ cookie: string; csrf: string; login: RawAnswer }> {
    const login = await signIn(base, token, origin, headers);
    expect(login.status, login.body).toBe(303);
    const cookie = login.cookie!;
    const s = await rawRequest(new URL('api/session', base).href, { headers: { ...headers, Cookie: cookie } });
    expect(s.status).toBe(200);
    return { cookie, csrf: (JSON.parse(s.body) as { data: { csrf: string } }).data.csrf, login };
  }

  it('TLS at nginx, root path: sign in, the window and its assets, a command over HTTPS and the WebSocket; the cookie is Secure only when serve trusts the proxy', async () => {
    const base = `https://127.0.0.1:${tlsPort}/`;
    const origin = `https://${NAME}:${tlsPort}`;
    const host = { Host: `${NAME}:${tlsPort}` };
    const page = await rawRequest(base, { headers: host });
    expect(page.status).toBe(401);
    expect(formAction(page, `${origin}/`)).toBe(`${origin}/login`);

    const { cookie, csrf, login } = await session(base, origin, host, trusting.token);
    expect(new URL(login.headers.location!, `${origin}/login`).href).toBe(`${origin}/`);
    expect(login.headers['set-cookie']![0]).toMatch(/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
    const app = await rawRequest(base, { headers: { ...host, Cookie: cookie } });
    expect(app.status).toBe(200);
    expect(app.body).toContain(APP_MARKER);
    expect(app.headers['content-security-policy']).toContain(`wss://${NAME}:${tlsPort}`);
    expect((await rawRequest(new URL('assets/app.js', base).href, { headers: { ...host, Cookie: cookie } })).body).toContain('the app');
    const list = await rawRequest(new URL('api/commands/tasks.list', base).href, { method: 'POST', headers: { ...host, Cookie: cookie, Origin: origin, 'X-Backstop-CSRF': csrf } });
    expect(JSON.parse(list.body)).toEqual({ ok: true, data: [] });
    expect(await upgradeStatus(base, { ...host, Cookie: cookie, Origin: origin })).toBe(101);
    expect(await upgradeStatus(base, { ...host, Cookie: cookie, Origin: 'https://evil.example' })).toBe(403);
    const foreign = await rawRequest(new URL('api/commands/tasks.list', base).href, { method: 'POST', headers: { ...host, Cookie: cookie, Origin: 'https://evil.example', 'X-Backstop-CSRF': csrf } });
    expect(foreign.status).toBe(403);

    // The same proxy in front of a serve not told to trust it: X-Forwarded-Proto is ignored (anyone could send it).
    const other = `https://127.0.0.1:${tlsPlainPort}/`;
    const untrusted = await signIn(other, plain.token, `https://${NAME}:${tlsPlainPort}`, { Host: `${NAME}:${tlsPlainPort}` });
    expect(untrusted.status).toBe(303);
    expect(untrusted.headers['set-cookie']![0]).not.toContain('Secure');
  });

  it('the Host checks through the proxy: a name serve was not given answers 421 naming the exact --allowed-host to add; a proxy passing the Host without its port, or no Host at all, is named too', async () => {
    const base = `https://127.0.0.1:${tlsPort}/`;
    const forgot = await rawRequest(base, { headers: { Host: `admin.example:${tlsPort}` } });
    expect(forgot.status).toBe(421);
    expect(forgot.body).toContain('--allowed-host admin.example');
    const withToken = await rawRequest(new URL('api/commands/tasks.list', base).href, { method: 'POST', headers: { Host: 'admin.example', Authorization: `Bearer ${trusting.token}` } });
    expect(withToken.status).toBe(421);
    // A proxy that sends Host without the browser's port (nginx's $host): the browser's Origin has it.
    const portless = await signIn(base, trusting.token, `https://${NAME}:${tlsPort}`, { Host: NAME });
    expect(portless.status).toBe(403);
    expect(portless.body).toContain('$http_host');
    expect(portless.cookie).toBeNull();
    // A proxy that passes no Host at all (nginx's default: the upstream's 127.0.0.1:PORT): the fix is named too.
    const nohost = await signIn(`http://127.0.0.1:${prefixPort}/nohost/`, trusting.token, `https://${NAME}`);
    expect(nohost.status).toBe(403);
    expect(nohost.body).toContain('This sign-in came from another site and was refused. If you opened Backstop through a reverse proxy, the proxy must pass the browser&#39;s Host header (in nginx, &quot;proxy_set_header Host $http_host;&quot;) and &quot;backstop serve&quot; must know that name (--allowed-host NAME).');
    expect(nohost.body).not.toContain(NAME); // a forged sign-in from a foreign site reads the same: it never suggests allowing that site
    expect(nohost.cookie).toBeNull();
    // A plainly foreign site is still just that.
    const evil = await signIn(base, trusting.token, 'https://evil.example', { Host: `${NAME}:${tlsPort}` });
    expect(evil.status).toBe(403);
    expect(evil.body).toContain('This sign-in came from another site and was refused.');
    expect(evil.body).not.toContain('evil.example');
  });

  it('under a path prefix: the sign-in form, its redirect, the assets, the API and the WebSocket all stay under /backstop/', async () => {
    const origin = `http://127.0.0.1:${prefixPort}`;
    const base = `${origin}/backstop/`;
    for (const path of ['', 'index.html', 'assets/app.js', 'settings']) {
      const page = await rawRequest(base + path);
      expect(page.status, path).toBe(401);
      expect(formAction(page, base + path), path).toBe(`${base}login`);
    }
    const { cookie, csrf, login } = await session(base, origin, {}, trusting.token);
    expect(new URL(login.headers.location!, `${base}login`).href).toBe(base);
    const app = await rawRequest(base, { headers: { Cookie: cookie } });
    expect(app.status).toBe(200);
    for (const src of [...app.body.matchAll(/<script[^>]*src="([^"]+)"/g)].map((m) => new URL(m[1]!, base).href)) {
      expect(src.startsWith(base), src).toBe(true);
      expect((await rawRequest(src, { headers: { Cookie: cookie } })).status, src).toBe(200);
    }
    const list = await rawRequest(`${base}api/commands/tasks.list`, { method: 'POST', headers: { Cookie: cookie, Origin: origin, 'X-Backstop-CSRF': csrf } });
    expect(JSON.parse(list.body)).toEqual({ ok: true, data: [] });

    // The WebSocket through nginx's upgrade: a command and its answer.
    const ws = new (WebSocket as unknown as new (u: string, o: { headers: Record<string, string> }) => WebSocket)(`ws://127.0.0.1:${prefixPort}/backstop/api/ws`, { headers: { Cookie: cookie, Origin: origin } });
    const answer = await new Promise<unknown>((res, rej) => {
      ws.onopen = () => ws.send(JSON.stringify({ id: 1, command: 'tasks.list' }));
      ws.onmessage = (e) => {
        const msg = JSON.parse(String(e.data)) as { id?: number; result?: unknown };
        if (msg.id === 1) res(msg.result);
      };
      ws.onerror = () => rej(new Error('WebSocket failed'));
    });
    ws.close();
    expect(answer).toEqual({ ok: true, data: [] });

    // A proxy that keeps the prefix (proxy_pass without the trailing slash): the sign-in and the window say how to fix it.
    const kept = `${origin}/noslash/`;
    const keptLogin = await signIn(kept, trusting.token, origin);
    expect(keptLogin.status).toBe(404);
    expect(keptLogin.body).toContain('end proxy_pass with a slash (location /backstop/ { proxy_pass http://127.0.0.1:8765/; })');
    expect(keptLogin.cookie).toBeNull();
    const keptPage = await rawRequest(kept, { headers: { Cookie: cookie } });
    expect(keptPage.status).toBe(404);
    expect(JSON.parse(keptPage.body)).toMatchObject({ ok: false, code: 'NOT_FOUND', message: expect.stringContaining('end proxy_pass with a slash') });

    // Signing out from under the prefix.
    const out = await rawRequest(`${base}logout`, { method: 'POST', headers: { Cookie: cookie, Origin: origin, 'X-Backstop-CSRF': csrf } });
    expect(out.status).toBe(200);
    expect((await rawRequest(base, { headers: { Cookie: cookie } })).status).toBe(401);
  });

  it('the sign-in limit behind a trusted proxy counts each client (the address nginx appended to X-Forwarded-For), not the proxy; a forged X-Forwarded-For does not get around it', async () => {
    const base = `https://127.0.0.1:${tlsPort}/`;
    const headers = { Host: `${NAME}:${tlsPort}`, Origin: `https://${NAME}:${tlsPort}`, 'Content-Type': 'application/x-www-form-urlencoded' };
    const attempt = (secret: string, from: string, forged?: string): Promise<RawAnswer> =>
      rawRequest(`${base}login`, { method: 'POST', headers: { ...headers, ...(forged ? { 'X-Forwarded-For': forged } : {}) }, body: new URLSearchParams({ secret }).toString(), localAddress: from });
    for (let i = 0; i < 5; i++) expect((await attempt(`guess-${i}`, '127.0.0.2', `198.51.100.${i}`)).status).toBe(401);
    const limited = await attempt(trusting.token, '127.0.0.2', '198.51.100.99');
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toMatch(/^\d+$/);
    // Another client behind the same proxy still signs in.
    const other = await attempt(trusting.token, '127.0.0.3');
    expect(other.status).toBe(303);
  });
});
