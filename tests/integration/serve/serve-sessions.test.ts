/**
 * Serve sessions survive a restart (issue #25): a real `backstop serve` process keeps its
 * signed-in browsers' sessions in `<dataDir>/serve-sessions.json` (0600, id hashes only);
 * after a restart the same cookie still works until its expiry; logout and expiry remove
 * the session; the sign-in token is still new on every start. Plus the store itself with an
 * injected clock (serve/auth.ts).
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { SERVE_SESSIONS_FILE } from '../../../electron/cli/commands/serve.ts';
import { Auth } from '../../../electron/serve/auth.ts';
import { rawRequest, signIn, startServeProcess, type ServeProcess } from '../../fixtures/serve-process.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

function fakeRenderer(): string {
  const dir = tempDir('backstop-renderer-');
  writeFileSync(join(dir, 'index.html'), '<!doctype html>\n<html><head></head><body><div id="app"></div></body></html>');
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'backstop-serve-shim.js'), '/* shim */');
  return dir;
}

async function serve(dataDir: string, renderer: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<ServeProcess> {
  const p = await startServeProcess(dataDir, args, { BACKSTOP_RENDERER_DIR: renderer, ...env });
  onTestFinished(() => void p.stop());
  return p;
}

/** The session's CSRF token (200), or the status when the cookie is not accepted. */
async function sessionOf(url: string, cookie: string): Promise<{ status: number; csrf?: string }> {
  const r = await rawRequest(new URL('/api/session', url).href, { headers: { Cookie: cookie } });
  return r.status === 200 ? { status: 200, csrf: (JSON.parse(r.body) as { data: { csrf: string } }).data.csrf } : { status: r.status };
}

function stored(dataDir: string): { hash: string; csrf: string; createdAt: number; lastSeenAt: number; expiresAt: number }[] {
  return (JSON.parse(readFileSync(join(dataDir, SERVE_SESSIONS_FILE), 'utf8')) as { sessions: ReturnType<typeof stored> }).sessions;
}

describe('serve sessions across restarts (real backstop serve processes)', () => {
  it('a signed-in cookie still works after a restart; logout removes it for good; the sign-in token is new each start', { timeout: 180_000 }, async () => {
    const dataDir = tempDir();
    const renderer = fakeRenderer();
    const first = await serve(dataDir, renderer);
    const login = await signIn(first.url, first.token);
    expect(login.status).toBe(303);
    const cookie = login.cookie!;
    const before = await sessionOf(first.url, cookie);
    expect(before.status).toBe(200);

    const file = join(dataDir, SERVE_SESSIONS_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const sessionId = cookie.split('=')[1]!;
    expect(readFileSync(file, 'utf8')).not.toContain(sessionId);
    expect(stored(dataDir)).toHaveLength(1);
    expect(await first.stop()).toBe(0);

    const second = await serve(dataDir, renderer);
    expect(second.token).not.toBe(first.token);
    // The same cookie, the same CSRF token: the browser stays signed in and its next state-changing request passes.
    expect(await sessionOf(second.url, cookie)).toEqual(before);
    const cmd = await rawRequest(new URL('/api/commands/tasks.list', second.url).href, { method: 'POST', headers: { Cookie: cookie, 'X-Backstop-CSRF': before.csrf!, Origin: new URL(second.url).origin } });
    expect(cmd.status).toBe(200);
    expect(JSON.parse(cmd.body)).toEqual({ ok: true, data: [] });
    // The old process's sign-in token does not sign in any more.
    expect((await signIn(second.url, first.token)).status).toBe(401);

    const out = await rawRequest(new URL('/logout', second.url).href, { method: 'POST', headers: { Cookie: cookie, 'X-Backstop-CSRF': before.csrf!, Origin: new URL(second.url).origin } });
    expect(out.status).toBe(200);
    expect(stored(dataDir)).toEqual([]);
    expect((await sessionOf(second.url, cookie)).status).toBe(401);
    expect(await second.stop()).toBe(0);
    const third = await serve(dataDir, renderer);
    expect((await sessionOf(third.url, cookie)).status).toBe(401);
  });

  it('a changed BACKSTOP_SERVE_PASSWORD signs every browser out at the restart; the same password keeps them; the file holds no password', { timeout: 180_000 }, async () => {
    const dataDir = tempDir();
    const renderer = fakeRenderer();
    const leaked = 'leaked-Serve-Pw-31';
    const first = await serve(dataDir, renderer, [], { BACKSTOP_SERVE_PASSWORD: leaked });
    const login = await signIn(first.url, leaked);
    expect(login.status).toBe(303);
    const cookie = login.cookie!;
    await first.stop();
    const again = await serve(dataDir, renderer, [], { BACKSTOP_SERVE_PASSWORD: leaked });
    expect((await sessionOf(again.url, cookie)).status).toBe(200);
    await again.stop();
    expect(readFileSync(join(dataDir, SERVE_SESSIONS_FILE), 'utf8')).not.toContain(leaked);

    const rotated = await serve(dataDir, renderer, [], { BACKSTOP_SERVE_PASSWORD: 'new-Serve-Pw-32' });
    expect((await sessionOf(rotated.url, cookie)).status).toBe(401);
    expect(stored(dataDir)).toEqual([]);
    expect((await signIn(rotated.url, leaked)).status).toBe(401);
    expect((await signIn(rotated.url, 'new-Serve-Pw-32')).status).toBe(303);
    await rotated.stop();

    // A password too short to withstand guessing from many addresses: serve still starts (it runs the
    // schedules), but the password does not sign in — only the token — and stderr says why and the fix.
    const short = await serve(dataDir, renderer, [], { BACKSTOP_SERVE_PASSWORD: 'backup2026' });
    await expect.poll(() => short.stderr()).toContain(
      'BACKSTOP_SERVE_PASSWORD is shorter than 12 characters, so it does not sign in (from many addresses a short password can be guessed): sign in with the printed token, or set a longer password (four random words, for example) and start "backstop serve" again.',
    );
    expect((await signIn(short.url, 'backup2026')).status).toBe(401);
    expect((await signIn(short.url, short.token)).status).toBe(303);
  });

  it('an expired session is refused after a restart and pruned from the file', { timeout: 180_000 }, async () => {
    const dataDir = tempDir();
    const renderer = fakeRenderer();
    const first = await serve(dataDir, renderer, ['--session-minutes', '0.05']); // 3 s
    const login = await signIn(first.url, first.token);
    const cookie = login.cookie!;
    expect((await sessionOf(first.url, cookie)).status).toBe(200);
    await first.stop();
    const [entry] = stored(dataDir);
    await new Promise((r) => setTimeout(r, Math.max(0, entry!.expiresAt - Date.now()) + 200));

    const second = await serve(dataDir, renderer, ['--session-minutes', '0.05']);
    expect(stored(dataDir)).toEqual([]);
    const r = await rawRequest(second.url, { headers: { Cookie: cookie } });
    expect(r.status).toBe(401);
    expect(r.body).toContain('Sign in to Backstop');
  });
});

describe('Auth with a sessions file', () => {
  it('keeps created/last-seen/expiry per session, reloads them, prunes expired and malformed entries, and ends sessions at logout', () => {
    const file = join(tempDir(), 'sessions.json');
    const clock = { t: Date.parse('2026-12-05T01:00:00Z') };
    const a = new Auth({ ttlMs: 60 * 60_000, now: () => clock.t, sessionsFile: file });
    const one = a.createSession();
    clock.t += 30 * 60_000;
    const two = a.createSession();
    const onFile = (JSON.parse(readFileSync(file, 'utf8')) as { sessions: { createdAt: number; lastSeenAt: number; expiresAt: number }[] }).sessions;
    expect(onFile.map((s) => [s.createdAt, s.expiresAt])).toEqual([
      [clock.t - 30 * 60_000, clock.t + 30 * 60_000],
      [clock.t, clock.t + 60 * 60_000],
    ]);

    // Last seen is written back to the minute.
    clock.t += 2 * 60_000;
    expect(a.session(one.id)).toMatchObject({ csrf: one.session.csrf, lastSeenAt: clock.t });

    // A new process reads them back; the first has expired by then and is pruned from the file.
    clock.t += 29 * 60_000;
    const b = new Auth({ ttlMs: 60 * 60_000, now: () => clock.t, sessionsFile: file });
    expect(b.session(one.id)).toBeNull();
    expect(b.session(two.id)).toMatchObject({ csrf: two.session.csrf });
    expect(readFileSync(file, 'utf8').match(/"hash"/g)).toHaveLength(1);
    b.end(two.id);
    expect(new Auth({ ttlMs: 1, now: () => clock.t, sessionsFile: file }).session(two.id)).toBeNull();

    // A damaged file or entry costs the sessions in it, nothing else.
    writeFileSync(file, '{"sessions":[{"hash":"zz"}, 7]}');
    const c = new Auth({ ttlMs: 60_000, now: () => clock.t, sessionsFile: file });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ version: 1, sessions: [] });
    expect(c.session(c.createSession().id)).not.toBeNull();
    writeFileSync(file, 'not json');
    expect(() => new Auth({ ttlMs: 60_000, now: () => clock.t, sessionsFile: file })).not.toThrow();
    expect(existsSync(file)).toBe(true);
  });
});
