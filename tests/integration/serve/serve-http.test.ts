/**
 * The HTTP and WebSocket layer of `backstop serve` (electron/serve) against a real engine,
 * with plain fetch, Node's WebSocket client and raw requests: who gets in, which status a
 * refused request gets, and that commands over HTTP and the WebSocket are the contract's
 * (same schemas, same codes as the Electron IPC's dispatch). The browser side is
 * tests/e2e/serve.spec.ts.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createServer, isIP, type AddressInfo } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { dispatch } from '../../../electron/engine/api/dispatch.ts';
import type { Engine } from '../../../electron/engine/index.ts';
import { serveTls } from '../../../electron/cli/commands/serve.ts';
import { namesForBind, startServe, type ServeHandle, type ServeOptions } from '../../../electron/serve/server.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { MemorySecretStore } from '../../fixtures/memory-secret-store.ts';
import { rawRequest, signIn, upgradeStatus } from '../../fixtures/serve-process.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const APP_MARKER = '<div id="app"></div>';

function fakeRenderer(): string {
  const dir = tempDir('backstop-renderer-');
  writeFileSync(
    join(dir, 'index.html'),
    `<!doctype html>\n<html><head>\n<meta http-equiv="Content-Security-Policy" content="default-src 'self'" />\n<script type="module" src="./assets/app.js"></script>\n</head><body>${APP_MARKER}</body></html>`,
  );
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'assets/app.js'), 'console.log("the app");');
  writeFileSync(join(dir, 'backstop-serve-shim.js'), '/* shim */');
  return dir;
}

/** A window build with index.html but without the serve bridge, as an older `npm run build` left it. */
function olderRenderer(): string {
  const dir = tempDir('backstop-renderer-');
  writeFileSync(join(dir, 'index.html'), `<!doctype html>\n<html><head></head><body>${APP_MARKER}</body></html>`);
  return dir;
}

interface Served {
  engine: Engine;
  handle: ServeHandle;
  url: string;
  origin: string;
  clock: { t: number };
}

async function serve(opts: Partial<ServeOptions> = {}): Promise<Served> {
  const engine = await testEngine({ secrets: new MemorySecretStore(), encoderWorkers: 0 });
  const clock = { t: Date.parse('2026-12-04T12:00:00Z') };
  const handle = await startServe({
    engine,
    rendererDir: fakeRenderer(),
    host: '127.0.0.1',
    port: 0,
    allowFolders: [tempDir('backstop-allowed-')],
    now: () => clock.t,
    ...opts,
  });
  onTestFinished(() => handle.close());
  return { engine, handle, url: handle.url, origin: new URL(handle.url).origin, clock };
}

async function session(s: Served): Promise<{ cookie: string; csrf: string }> {
  const login = await signIn(s.url, s.handle.token);
  expect(login.status).toBe(303);
  const r = await fetch(new URL('/api/session', s.url), { headers: { Cookie: login.cookie! } });
  const body = (await r.json()) as { ok: true; data: { csrf: string } };
  return { cookie: login.cookie!, csrf: body.data.csrf };
}

describe('backstop serve over HTTP', () => {
  it('without a session: the login page (401) for HTML and assets, never the app; 401 FORBIDDEN_SENDER for the API; 421 for a foreign Host', async () => {
    const s = await serve();
    for (const path of ['/', '/index.html', '/assets/app.js', '/backstop-serve.js', '/settings']) {
      const r = await fetch(new URL(path, s.url), { redirect: 'manual' });
      expect(r.status, path).toBe(401);
      const body = await r.text();
      expect(body, path).toContain('Sign in to Backstop');
      expect(body, path).not.toContain(APP_MARKER);
      expect(body, path).not.toContain('the app');
    }
    const api = await fetch(new URL('/api/commands/tasks.list', s.url), { method: 'POST' });
    expect(api.status).toBe(401);
    expect(await api.json()).toMatchObject({ ok: false, code: 'FORBIDDEN_SENDER', message: expect.stringContaining('Sign in first') });
    const wrong = await fetch(new URL('/api/commands/tasks.list', s.url), { method: 'POST', headers: { Authorization: 'Bearer not-the-token' } });
    expect(wrong.status).toBe(401);

    // DNS rebinding: a name that resolves here but is not this server's.
    const rebound = await rawRequest(s.url, { headers: { Host: 'attacker.example:80' } });
    expect(rebound.status).toBe(421);
    expect(rebound.body).toContain('does not answer for the host "attacker.example:80"');
    const reboundWithToken = await rawRequest(new URL('/api/commands/tasks.list', s.url).href, { method: 'POST', headers: { Host: 'attacker.example', Authorization: `Bearer ${s.handle.token}` } });
    expect(reboundWithToken.status).toBe(421);
    // localhost is the same machine: accepted.
    expect((await rawRequest(new URL('/login', s.url).href, { headers: { Host: `localhost:${new URL(s.url).port}` } })).status).toBe(200);
  });

  it('signing in with the token: an HttpOnly SameSite=Strict cookie, then the app with the bridge script and a strict CSP; a wrong token is 401', async () => {
    const s = await serve();
    const bad = await signIn(s.url, 'guess');
    expect(bad.status).toBe(401);
    expect(bad.cookie).toBeNull();
    expect(bad.body).toContain('That token or password is not right');

    const login = await signIn(s.url, s.handle.token);
    expect(login.status).toBe(303);
    expect(login.headers.location).toBe('./'); // relative: the same under a proxy's path prefix
    const setCookie = login.headers['set-cookie']![0]!;
    expect(setCookie).toMatch(/^backstop_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);

    const page = await fetch(s.url, { headers: { Cookie: login.cookie! } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(APP_MARKER);
    expect(html).toContain('<script src="./backstop-serve.js"></script>');
    expect(html.indexOf('backstop-serve.js')).toBeLessThan(html.indexOf('</head>'));
    expect(html).not.toContain('http-equiv="Content-Security-Policy"');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain(`connect-src 'self' ws://${new URL(s.url).host}`);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-eval');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const bridge = await (await fetch(new URL('/backstop-serve.js', s.url), { headers: { Cookie: login.cookie! } })).text();
    expect(bridge).toMatch(/^window\.__BACKSTOP_SERVE__ = \{"commands":\["app\.info",/);
    // The token is kept hashed: the clear text is nowhere in the handle but `token`.
    expect((await fetch(new URL('/assets/app.js', s.url), { headers: { Cookie: login.cookie! } })).status).toBe(200);
  });

  it('a script with the Bearer token runs commands through the contract: same Results and codes as the Electron IPC dispatch', async () => {
    const s = await serve();
    const auth = { Authorization: `Bearer ${s.handle.token}`, 'Content-Type': 'application/json' };
    const post = async (name: string, body?: string) => {
      const r = await fetch(new URL(`/api/commands/${name}`, s.url), { method: 'POST', headers: auth, ...(body !== undefined ? { body } : {}) });
      return { status: r.status, json: (await r.json()) as Record<string, unknown> };
    };
    const folder = tempDir('backstop-dbs-');
    const created = await post('servers.create', JSON.stringify({ kind: 'sqlite', name: 'Files', folder }));
    expect(created.status).toBe(200);
    expect(created.json).toMatchObject({ ok: true, data: { name: 'Files', kind: 'sqlite' } });
    expect((await post('servers.list')).json).toEqual(await dispatch(s.engine.handlers, 'servers.list', undefined));

    const bad = await post('servers.create', JSON.stringify({ kind: 'sqlite', name: 'x', folder: 42, password: 'hunter2' }));
    expect(bad.json).toEqual(await dispatch(s.engine.handlers, 'servers.create', { kind: 'sqlite', name: 'x', folder: 42, password: 'hunter2' }));
    expect(bad.json).toMatchObject({ ok: false, code: 'MALFORMED_REQUEST' });
    expect(JSON.stringify(bad.json)).not.toContain('hunter2');
    expect((await post('no.such')).json).toMatchObject({ ok: false, code: 'MALFORMED_REQUEST', message: 'Unknown command "no.such".' });
    const notJson = await post('servers.list', '{');
    expect(notJson.status).toBe(400);
    expect(notJson.json).toMatchObject({ ok: false, code: 'MALFORMED_REQUEST', message: 'The request body is not valid JSON.' });
    expect((await post('dialog.chooseFolder', JSON.stringify({ title: 'x' }))).json).toMatchObject({ ok: false, code: 'MALFORMED_REQUEST', message: expect.stringContaining('folder browser') });
    // Nothing half-made: exactly the one valid server exists.
    const listed = await dispatch(s.engine.handlers, 'servers.list', undefined);
    expect(listed.ok && listed.data.map((x) => x.name)).toEqual(['Files']);
  });

  it('a state-changing request with the cookie needs the CSRF token and a same-site Origin (403 without); a foreign-Origin login is 403', async () => {
    const s = await serve();
    const { cookie, csrf } = await session(s);
    const url = new URL('/api/commands/servers.create', s.url).href;
    const body = JSON.stringify({ kind: 'sqlite', name: 'Files', folder: tempDir() });
    const noCsrf = await rawRequest(url, { method: 'POST', headers: { Cookie: cookie, Origin: s.origin, 'Content-Type': 'application/json' }, body });
    expect(noCsrf.status).toBe(403);
    expect(JSON.parse(noCsrf.body)).toMatchObject({ ok: false, code: 'FORBIDDEN_SENDER', message: expect.stringContaining('X-Backstop-CSRF') });
    const wrongCsrf = await rawRequest(url, { method: 'POST', headers: { Cookie: cookie, 'X-Backstop-CSRF': 'forged', 'Content-Type': 'application/json' }, body });
    expect(wrongCsrf.status).toBe(403);
    const foreign = await rawRequest(url, { method: 'POST', headers: { Cookie: cookie, 'X-Backstop-CSRF': csrf, Origin: 'http://evil.example', 'Content-Type': 'application/json' }, body });
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body).message).toBe('This request came from another site and was refused.');
    // Nothing was created by the refused requests.
    const none = await dispatch(s.engine.handlers, 'servers.list', undefined);
    expect(none.ok && none.data).toEqual([]);
    const good = await rawRequest(url, { method: 'POST', headers: { Cookie: cookie, 'X-Backstop-CSRF': csrf, Origin: s.origin, 'Content-Type': 'application/json' }, body });
    expect(good.status).toBe(200);
    expect(JSON.parse(good.body)).toMatchObject({ ok: true, data: { name: 'Files' } });

    const foreignLogin = await signIn(s.url, s.handle.token, 'http://evil.example');
    expect(foreignLogin.status).toBe(403);
    expect(foreignLogin.cookie).toBeNull();

    const logoutNoCsrf = await rawRequest(new URL('/logout', s.url).href, { method: 'POST', headers: { Cookie: cookie } });
    expect(logoutNoCsrf.status).toBe(403);
    const logout = await rawRequest(new URL('/logout', s.url).href, { method: 'POST', headers: { Cookie: cookie, 'X-Backstop-CSRF': csrf } });
    expect(logout.status).toBe(200);
    expect((await fetch(s.url, { headers: { Cookie: cookie } })).status).toBe(401);
  });

  it('a session ends after its lifetime: the same cookie then gets the login page and 401', async () => {
    const s = await serve({ sessionTtlMs: 10 * 60_000 });
    const { cookie } = await session(s);
    s.clock.t += 10 * 60_000 - 1000;
    expect((await fetch(s.url, { headers: { Cookie: cookie } })).status).toBe(200);
    s.clock.t += 1000;
    const expired = await fetch(s.url, { headers: { Cookie: cookie } });
    expect(expired.status).toBe(401);
    expect(await expired.text()).toContain('Sign in to Backstop');
    expect((await fetch(new URL('/api/commands/tasks.list', s.url), { method: 'POST', headers: { Cookie: cookie } })).status).toBe(401);
  });

  it('5 failed sign-ins in a minute from one address: the next attempts get 429 with Retry-After, even with the right token, until the minute has passed', async () => {
    const s = await serve();
    for (let i = 0; i < 5; i++) expect((await signIn(s.url, `guess-${i}`)).status).toBe(401);
    const limited = await signIn(s.url, s.handle.token);
    expect(limited.status).toBe(429);
    expect(limited.cookie).toBeNull();
    expect(Number(limited.headers['retry-after'])).toBe(60);
    expect(limited.body).toContain('Too many failed sign-ins');
    const bearer = await fetch(new URL('/api/commands/tasks.list', s.url), { method: 'POST', headers: { Authorization: `Bearer ${s.handle.token}` } });
    expect(bearer.status).toBe(429);
    expect(await bearer.json()).toMatchObject({ ok: false, code: 'FORBIDDEN_SENDER' });
    s.clock.t += 60_001;
    expect((await signIn(s.url, s.handle.token)).status).toBe(303);
  });

  it('wrong Bearer tokens count towards the same limit', async () => {
    const s = await serve();
    for (let i = 0; i < 5; i++) {
      const r = await fetch(new URL('/api/commands/tasks.list', s.url), { method: 'POST', headers: { Authorization: `Bearer guess-${i}` } });
      expect(r.status).toBe(401);
    }
    expect((await signIn(s.url, s.handle.token)).status).toBe(429);
  });

  it('a password from BACKSTOP_SERVE_PASSWORD signs in too; the token still works', async () => {
    const s = await serve({ password: 'correct horse battery' });
    expect((await signIn(s.url, 'correct horse battery')).status).toBe(303);
    expect((await signIn(s.url, s.handle.token)).status).toBe(303);
    expect((await signIn(s.url, 'correct horse')).status).toBe(401);
  });
});

describe('backstop serve under hostile requests', () => {
  it('320 hostile requests (forged cookies, foreign Hosts and Origins, path traversal, random Bearer tokens): none reaches the app or a file outside the window', async () => {
    const s = await serve();
    const { cookie } = await session(s);
    const port = new URL(s.url).port;
    const statuses = new Map<string, number[]>();
    const note = (kind: string, status: number) => statuses.set(kind, [...(statuses.get(kind) ?? []), status]);
    const leaked: string[] = [];
    const check = (kind: string, r: { status: number; body: string }) => {
      note(kind, r.status);
      if (r.body.includes(APP_MARKER) || r.body.includes('the app') || r.body.includes('"name": "backstop"') || r.body.includes('root:x:0')) leaked.push(`${kind}: ${r.status}`);
    };
    for (let i = 0; i < 100; i++) {
      const forged = `backstop_session=${Buffer.from(`forged-${i}`).toString('base64url')}`;
      check('forged cookie', await rawRequest(s.url, { headers: { Cookie: forged } }));
      const host = [`evil${i}.example`, `127.0.0.1.evil.example:${port}`, `localhost.evil:${port}`, `[::2]:${port}`, `0x7f.0.0.1:${port}`][i % 5]!;
      check('foreign Host', await rawRequest(s.url, { headers: { Host: host, Cookie: cookie } }));
      const traversal = ['/%2e%2e%2f%2e%2e%2fpackage.json', '/..%2f..%2fpackage.json', '/assets/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/%2fetc%2fpasswd', '/assets/..%5c..%5cpackage.json'][i % 5]!;
      check('traversal (signed in)', await rawRequest(new URL(traversal, s.url).href, { headers: { Cookie: cookie } }));
    }
    for (let i = 0; i < 10; i++) note('foreign Origin upgrade', await upgradeStatus(s.url, { Cookie: cookie, Origin: `http://evil${i}.example` }));
    for (let i = 0; i < 10; i++) check('random Bearer', await rawRequest(new URL('/api/commands/servers.list', s.url).href, { method: 'POST', headers: { Authorization: `Bearer ${Buffer.from(`guess-${i}`).toString('base64url')}` } }));
    expect(leaked).toEqual([]);
    expect(new Set(statuses.get('forged cookie'))).toEqual(new Set([401]));
    expect(new Set(statuses.get('foreign Host'))).toEqual(new Set([421]));
    expect(new Set(statuses.get('traversal (signed in)'))).toEqual(new Set([404]));
    expect(new Set(statuses.get('foreign Origin upgrade'))).toEqual(new Set([403]));
    expect(statuses.get('random Bearer')).toEqual([401, 401, 401, 401, 401, 429, 429, 429, 429, 429]);
    // The session is unharmed and still works.
    expect((await fetch(s.url, { headers: { Cookie: cookie } })).status).toBe(200);
  });
});

describe('backstop serve over the WebSocket', () => {
  function open(url: string, headers: Record<string, string>): Promise<{ ws: WebSocket; messages: unknown[]; closed: Promise<number> }> {
    const ws = new (WebSocket as unknown as new (u: string, o: { headers: Record<string, string> }) => WebSocket)(url.replace(/^http/, 'ws') + 'api/ws', { headers });
    const messages: unknown[] = [];
    ws.onmessage = (e) => messages.push(JSON.parse(String(e.data)));
    const closed = new Promise<number>((r) => (ws.onclose = (e) => r(e.code)));
    return new Promise((res, rej) => {
      ws.onopen = () => res({ ws, messages, closed });
      ws.onerror = () => rej(new Error('WebSocket failed'));
    });
  }

  async function answer(c: { ws: WebSocket; messages: unknown[] }, message: Record<string, unknown>): Promise<Record<string, unknown>> {
    c.ws.send(JSON.stringify(message));
    await expect.poll(() => c.messages.some((m) => (m as { id?: unknown }).id === message.id)).toBe(true);
    return (c.messages.find((m) => (m as { id?: unknown }).id === message.id) as { result: Record<string, unknown> }).result;
  }

  it('the upgrade is refused without a session (401), from a foreign Origin (403), without an Origin for a cookie (403), and for a foreign Host (421)', async () => {
    const s = await serve();
    const { cookie } = await session(s);
    expect(await upgradeStatus(s.url, { Origin: s.origin })).toBe(401);
    expect(await upgradeStatus(s.url, { Origin: 'http://evil.example', Cookie: cookie })).toBe(403);
    expect(await upgradeStatus(s.url, { Origin: `http://localhost:${new URL(s.url).port}`, Cookie: cookie })).toBe(403);
    expect(await upgradeStatus(s.url, { Cookie: cookie })).toBe(403);
    expect(await upgradeStatus(s.url, { Origin: 'http://attacker.example', Host: 'attacker.example', Cookie: cookie })).toBe(421);
    expect(await upgradeStatus(s.url, { Origin: s.origin, Cookie: cookie })).toBe(101);
    expect(await upgradeStatus(s.url, { Authorization: `Bearer ${s.handle.token}` })).toBe(101);
  });

  it('commands answer the contract Results, engine events are pushed, and the socket closes with 4401 when the session ends', async () => {
    const s = await serve({ sessionTtlMs: 60_000 });
    const { cookie } = await session(s);
    const c = await open(s.url, { Cookie: cookie, Origin: s.origin });
    const folder = tempDir('backstop-dbs-');
    const created = await answer(c, { id: 1, command: 'servers.create', payload: { kind: 'sqlite', name: 'Files', folder } });
    expect(created).toMatchObject({ ok: true, data: { name: 'Files' } });
    await expect.poll(() => c.messages.some((m) => (m as { event?: string }).event === 'servers.changed')).toBe(true);
    expect(await answer(c, { id: 2, command: 'tasks.create', payload: { name: 42 } })).toEqual(await dispatch(s.engine.handlers, 'tasks.create', { name: 42 }));
    expect(await answer(c, { id: 3, command: 'nope' })).toMatchObject({ ok: false, code: 'MALFORMED_REQUEST' });
    c.ws.send('not json');
    await expect.poll(() => c.messages.some((m) => (m as { id?: unknown; result?: { message?: string } }).result?.message === 'The message is not a JSON object.')).toBe(true);

    s.clock.t += 60_000;
    c.ws.send(JSON.stringify({ id: 4, command: 'servers.list' }));
    expect(await c.closed).toBe(4401);
    expect(c.messages.some((m) => (m as { id?: unknown }).id === 4)).toBe(false);
  });

  it('the folder browser shows only allowed folders: a link out of them, a folder outside and a bad dialog payload are refused with their codes', async () => {
    const allowed = tempDir('backstop-allowed-');
    const outside = tempDir('backstop-outside-');
    mkdirSync(join(allowed, 'backups/sales'), { recursive: true });
    mkdirSync(join(allowed, 'archive'));
    symlinkSync(outside, join(allowed, 'escape'));
    const s = await serve({ allowFolders: [allowed] });
    const c = await open(s.url, { Authorization: `Bearer ${s.handle.token}` });
    const root = await answer(c, { id: 1, op: 'browse' });
    expect(root).toMatchObject({ ok: true, data: { path: allowed, parent: null, folders: ['archive', 'backups', 'escape'], roots: [allowed] } });
    const sub = await answer(c, { id: 2, op: 'browse', path: join(allowed, 'backups') });
    expect(sub).toMatchObject({ ok: true, data: { path: join(allowed, 'backups'), parent: allowed, folders: ['sales'] } });
    const escaped = await answer(c, { id: 3, op: 'browse', path: join(allowed, 'escape') });
    expect(escaped).toMatchObject({ ok: false, code: 'PERMISSION_DENIED', message: expect.stringContaining('--allow-folder') });
    expect(await answer(c, { id: 4, op: 'browse', path: outside })).toMatchObject({ ok: false, code: 'PERMISSION_DENIED' });
    expect(await answer(c, { id: 5, op: 'browse', path: join(allowed, '..') })).toMatchObject({ ok: false, code: 'PERMISSION_DENIED' });
    expect(await answer(c, { id: 6, op: 'browse', path: join(allowed, 'missing') })).toMatchObject({ ok: false, code: 'NOT_FOUND' });
    expect(await answer(c, { id: 7, op: 'dialog', command: 'dialog.chooseFolder', payload: { title: 1 } })).toMatchObject({ ok: false, code: 'MALFORMED_REQUEST' });
    const start = await answer(c, { id: 8, op: 'dialog', command: 'dialog.saveFile', payload: { title: 'Save the key', defaultPath: join(outside, 'key.txt') } });
    expect(start).toMatchObject({ ok: true, data: { path: allowed } });
    expect(await answer(c, { id: 9, op: 'checkSave', path: join(allowed, 'archive', 'key.txt') })).toEqual({ ok: true, data: { path: join(allowed, 'archive', 'key.txt') } });
    expect(await answer(c, { id: 10, op: 'checkSave', path: join(outside, 'key.txt') })).toMatchObject({ ok: false, code: 'PERMISSION_DENIED' });
    // Browsing wrote nothing.
    expect(existsSync(join(allowed, 'archive', 'key.txt'))).toBe(false);
    c.ws.close();
  });
});

describe('backstop serve beyond loopback', () => {
  const flags = { host: '0.0.0.0', port: 0, allowFolders: [], allowedHosts: [], insecureHttp: false, sessionMinutes: 720 };

  it('gets a self-signed certificate (key 0600, reused on the next start) and then speaks only TLS', async () => {
    const dataDir = tempDir();
    const first = await serveTls(flags, dataDir);
    expect(first.cert?.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(statSync(join(dataDir, 'serve-tls/key.pem')).mode & 0o777).toBe(0o600);
    const again = await serveTls(flags, dataDir);
    expect(again.cert?.fingerprint256).toBe(first.cert?.fingerprint256);
    // On every address: the certificate names each interface address and the host name, for the browser's check.
    const x509 = new X509Certificate(first.cert!.cert);
    for (const name of namesForBind('0.0.0.0')) expect(isIP(name) ? x509.checkIP(name) : x509.checkHost(name), name).toBe(name);
    // And a server bound to every address answers for those names (not 421), and still not for others.
    const wide = await serve({ host: '0.0.0.0' });
    const port = new URL(wide.url).port;
    for (const name of namesForBind('0.0.0.0').filter((n) => !n.includes(':'))) {
      expect((await rawRequest(`http://127.0.0.1:${port}/login`, { headers: { Host: `${name}:${port}` } })).status, name).toBe(200);
    }
    expect((await rawRequest(`http://127.0.0.1:${port}/login`, { headers: { Host: `rebind.example:${port}` } })).status).toBe(421);

    const s = await serve({ tls: { cert: first.cert!.cert, key: first.cert!.key } });
    expect(s.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    const plain = await fetch(s.url.replace('https:', 'http:')).then(
      (r) => r.status,
      () => 'refused',
    );
    expect(plain).toBe('refused');
    const tls = await new Promise<{ status: number; hsts: string | undefined }>((res, rej) => {
      httpsRequest(s.url, { rejectUnauthorized: false }, (r) => {
        r.resume();
        res({ status: r.statusCode!, hsts: r.headers['strict-transport-security'] as string | undefined });
      })
        .on('error', rej)
        .end();
    });
    expect(tls).toEqual({ status: 401, hsts: 'max-age=31536000' });
    const login = await new Promise<string>((res, rej) => {
      const req = httpsRequest(new URL('/login', s.url), { method: 'POST', rejectUnauthorized: false, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }, (r) => {
        r.resume();
        res(String(r.headers['set-cookie']?.[0]));
      });
      req.on('error', rej);
      req.end(new URLSearchParams({ secret: s.handle.token }).toString());
    });
    expect(login).toMatch(/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
  });

  it('plain HTTP only with --insecure-http, which warns; contradicting TLS flags are usage errors', async () => {
    const dataDir = tempDir();
    const insecure = await serveTls({ ...flags, insecureHttp: true }, dataDir);
    expect(insecure.cert).toBeNull();
    expect(insecure.warning).toContain('travel unencrypted');
    expect(existsSync(join(dataDir, 'serve-tls'))).toBe(false);
    expect(await serveTls({ ...flags, host: '127.0.0.1' }, dataDir)).toEqual({ cert: null, warning: null });
    await expect(serveTls({ ...flags, tlsCert: '/x.pem' }, dataDir)).rejects.toMatchObject({ code: 'MALFORMED_REQUEST', message: '--tls-cert and --tls-key go together: pass both (PEM files), or neither.' });
    await expect(serveTls({ ...flags, tlsCert: '/x.pem', tlsKey: '/y.pem', insecureHttp: true }, dataDir)).rejects.toMatchObject({ code: 'MALFORMED_REQUEST' });
    await expect(serveTls({ ...flags, tlsCert: join(dataDir, 'none.pem'), tlsKey: join(dataDir, 'none.key') }, dataDir)).rejects.toMatchObject({
      code: 'VALIDATION',
      message: expect.stringContaining('cannot be read as PEM'),
    });
  });
});

describe('backstop serve on the command line', () => {
  const BIN = join(import.meta.dirname, '../../../bin/backstop.mjs');

  function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; err: string }> {
    return new Promise((res) => {
      const child = spawn(process.execPath, [BIN, 'serve', '--json', ...args], { env: { ...process.env, ...env } });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        res({ code, out, err });
      });
    });
  }

  it('refuses bad flags, a missing window build and a port in use with a code and the fix, one JSON document each', async () => {
    const dataDir = tempDir();
    const cases: [string[], NodeJS.ProcessEnv, number, string, string][] = [
      [['--port', 'http'], {}, 2, 'MALFORMED_REQUEST', '--port must be a whole number, not "http". Run "backstop --help".'],
      [['--port', '70000'], {}, 2, 'MALFORMED_REQUEST', '--port must be at most 65535, not 70000. Run "backstop --help".'],
      [['--session-minutes', '0'], {}, 2, 'MALFORMED_REQUEST', '--session-minutes must be a number of minutes above 0 and at most 43200, not "0". Run "backstop --help".'],
      [['--tls-key', '/k.pem'], {}, 2, 'MALFORMED_REQUEST', '--tls-cert and --tls-key go together: pass both (PEM files), or neither.'],
      [['--port', '0'], { BACKSTOP_RENDERER_DIR: tempDir() }, 1, 'TOOL_MISSING', 'The window is not built'],
      // A window build without the serve bridge (an older build): TOOL_MISSING with the fix, not INTERNAL.
      [['--port', '0'], { BACKSTOP_RENDERER_DIR: olderRenderer() }, 1, 'TOOL_MISSING', 'backstop-serve-shim.js is missing: it was built by an older Backstop, or is not a Backstop window build). Run "npm run build"'],
      [['--port', '0', '--allow-folder', '/no/such/folder'], { BACKSTOP_RENDERER_DIR: fakeRenderer() }, 1, 'VALIDATION', '--allow-folder /no/such/folder is not a folder on this machine. Name an existing folder.'],
    ];
    for (const [args, env, code, errorCode, message] of cases) {
      const r = await run(['--data-dir', dataDir, ...args], env);
      expect(r.code, args.join(' ')).toBe(code);
      const doc = JSON.parse(r.out) as { error: { code: string; message: string } };
      expect(doc.error.code).toBe(errorCode);
      expect(doc.error.message).toContain(message);
    }
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as AddressInfo).port;
    try {
      const r = await run(['--data-dir', dataDir, '--port', String(port)], { BACKSTOP_RENDERER_DIR: fakeRenderer() });
      expect(r.code).toBe(1);
      expect(JSON.parse(r.out)).toEqual({ error: { code: 'CONFLICT', message: `Port ${port} on 127.0.0.1 is already in use. Pick another with --port (0 = any free port).` } });
    } finally {
      busy.close();
    }
  });
});
