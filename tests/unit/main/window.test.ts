import { beforeEach, describe, expect, it, vi } from 'vitest';
import { pathToFileURL } from 'node:url';
import { FakeBrowserWindow, fakeEvent, fakeShell } from './fakes.ts';

vi.mock('electron', async () => {
  const f = await import('./fakes.ts');
  return { BrowserWindow: f.FakeBrowserWindow, shell: f.fakeShell };
});

const { buildWindowOptions, createMainWindow, CONTENT_SECURITY_POLICY } = await import('../../../electron/main/window.ts');
const { rendererTarget, isAppUrl } = await import('../../../electron/main/app-url.ts');

const INDEX = '/opt/Backstop/resources/app.asar/out/renderer/index.html';
const APP_URL = pathToFileURL(INDEX).href;
const PRELOAD = '/opt/Backstop/resources/app.asar/out/preload/index.cjs';

function open(opts: { devUrl?: string; quitting?: boolean } = {}) {
  let quitting = opts.quitting ?? false;
  const onError = vi.fn();
  createMainWindow({
    preloadPath: PRELOAD,
    target: rendererTarget(INDEX, opts.devUrl),
    isQuitting: () => quitting,
    onError,
  });
  const win = FakeBrowserWindow.instances.at(-1)!;
  return { win, wc: win.webContents, session: win.webContents.session, onError, setQuitting: (q: boolean) => (quitting = q) };
}

type HeadersListener = (
  details: { url: string; responseHeaders?: Record<string, string[]> },
  cb: (r: { responseHeaders?: Record<string, string[]> }) => void,
) => void;

function cspOf(session: ReturnType<typeof open>['session'], incoming: Record<string, string[]>): Record<string, string[]> {
  const listener = session.webRequest.onHeadersReceived.mock.calls[0]![0] as HeadersListener;
  const cb = vi.fn();
  listener({ url: APP_URL, responseHeaders: incoming }, cb);
  expect(cb).toHaveBeenCalledTimes(1);
  return (cb.mock.calls[0]![0] as { responseHeaders: Record<string, string[]> }).responseHeaders;
}

function directives(policy: string): Map<string, string> {
  return new Map(
    policy
      .split(';')
      .map((d) => d.trim())
      .filter(Boolean)
      .map((d) => {
        const [name, ...values] = d.split(/\s+/);
        return [name!, values.join(' ')] as const;
      }),
  );
}

beforeEach(() => {
  FakeBrowserWindow.instances.length = 0;
  fakeShell.openExternal.mockClear();
});

describe('window options', () => {
  it('isolates the renderer: context isolation, sandbox, no Node, web security, no webview, no spellcheck', () => {
    const wp = buildWindowOptions({ preloadPath: PRELOAD }).webPreferences!;
    expect(wp.contextIsolation).toBe(true);
    expect(wp.sandbox).toBe(true);
    expect(wp.nodeIntegration).toBe(false);
    expect(wp.nodeIntegrationInWorker).toBe(false);
    expect(wp.nodeIntegrationInSubFrames).toBe(false);
    expect(wp.webSecurity).toBe(true);
    expect(wp.allowRunningInsecureContent).toBe(false);
    expect(wp.webviewTag).toBe(false);
    expect(wp.spellcheck).toBe(false);
    expect(wp.preload).toBe(PRELOAD);
  });

  it('is what createMainWindow actually passes to BrowserWindow', () => {
    const { win } = open();
    expect(win.options).toEqual(buildWindowOptions({ preloadPath: PRELOAD }));
  });
});

describe('loading', () => {
  it('loads the built index.html as a file', () => {
    const { win } = open();
    expect(win.loadFile).toHaveBeenCalledWith(INDEX);
    expect(win.loadURL).not.toHaveBeenCalled();
  });

  it('loads the dev server URL when given one, and ignores a non-http one', () => {
    expect(open({ devUrl: 'http://localhost:5173/' }).win.loadURL).toHaveBeenCalledWith('http://localhost:5173/');
    const { win } = open({ devUrl: 'file:///tmp/evil.html' });
    expect(win.loadFile).toHaveBeenCalledWith(INDEX);
    expect(win.loadURL).not.toHaveBeenCalled();
  });

  it('hardens the session before anything is loaded', () => {
    const { win, session } = open();
    const loadOrder = win.loadFile.mock.invocationCallOrder[0]!;
    for (const fn of [session.setPermissionRequestHandler, session.setPermissionCheckHandler, session.webRequest.onHeadersReceived]) {
      expect(fn).toHaveBeenCalledTimes(1);
      expect(fn.mock.invocationCallOrder[0]!).toBeLessThan(loadOrder);
    }
  });

  it('reports a failed load instead of leaving an unhandled rejection', async () => {
    const boom = new Error('ERR_FILE_NOT_FOUND');
    FakeBrowserWindow.failNextLoad = boom;
    const { onError } = open();
    await vi.waitFor(() => expect(onError).toHaveBeenCalledWith(boom, 'load window'));
  });

  it('reports a failed hand-off to the OS browser', async () => {
    const { wc, onError } = open();
    const boom = new Error('no browser');
    fakeShell.openExternal.mockRejectedValueOnce(boom);
    wc.windowOpenHandler!({ url: 'https://example.com/' });
    await vi.waitFor(() => expect(onError).toHaveBeenCalledWith(boom, 'open link in browser'));
  });
});

describe('a crashed renderer', () => {
  it('is loaded again and reported; a clean exit is not a crash; a page crashing over and over is loaded at most 3 times a minute', () => {
    const { win, wc, onError } = open();
    expect(win.loadFile).toHaveBeenCalledTimes(1);
    wc.emit('render-process-gone', fakeEvent(), { reason: 'clean-exit', exitCode: 0 });
    expect(win.loadFile).toHaveBeenCalledTimes(1);
    expect(onError).not.toHaveBeenCalled();

    wc.emit('render-process-gone', fakeEvent(), { reason: 'crashed', exitCode: 139 });
    expect(win.loadFile).toHaveBeenCalledTimes(2);
    expect(win.loadFile).toHaveBeenLastCalledWith(INDEX);
    expect(onError).toHaveBeenLastCalledWith(expect.objectContaining({ message: "The window's renderer ended (crashed, exit code 139); it was loaded again." }), 'window renderer');

    wc.emit('render-process-gone', fakeEvent(), { reason: 'oom', exitCode: 133 });
    wc.emit('render-process-gone', fakeEvent(), { reason: 'killed', exitCode: 9 });
    expect(win.loadFile).toHaveBeenCalledTimes(4);
    wc.emit('render-process-gone', fakeEvent(), { reason: 'crashed', exitCode: 139 });
    expect(win.loadFile).toHaveBeenCalledTimes(4);
    expect(onError).toHaveBeenLastCalledWith(
      expect.objectContaining({ message: expect.stringContaining('not loaded again after 4 crashes within a minute: quit Backstop from the tray and start it again') }),
      'window renderer',
    );
  });

  it('counts only the crashes of the last minute', async () => {
    const { reloadAfterCrash } = await import('../../../electron/main/window.ts');
    const { FakeWebContents } = await import('./fakes.ts');
    const wc = new FakeWebContents();
    let clock = 0;
    const reload = vi.fn();
    reloadAfterCrash(wc as never, reload, () => {}, () => clock);
    for (let i = 0; i < 6; i++) {
      clock += 30_000; // one crash every 30 s: never more than 3 within a minute
      wc.emit('render-process-gone', fakeEvent(), { reason: 'crashed', exitCode: 1 });
    }
    expect(reload).toHaveBeenCalledTimes(6);
  });
});

describe('content security policy', () => {
  it('adds the strict CSP header to every response and keeps other headers', () => {
    const { session } = open();
    const headers = cspOf(session, { 'Content-Type': ['text/html'] });
    expect(headers['Content-Type']).toEqual(['text/html']);
    expect(headers['Content-Security-Policy']).toEqual([CONTENT_SECURITY_POLICY]);
    const d = directives(headers['Content-Security-Policy']![0]!);
    expect(Object.fromEntries(d)).toEqual({
      'default-src': "'self'",
      'script-src': "'self'",
      'style-src': "'self' 'unsafe-inline'",
      'img-src': "'self' data:",
      'connect-src': "'self'",
      'object-src': "'none'",
      'base-uri': "'none'",
      'frame-ancestors': "'none'",
      'form-action': "'none'",
    });
    expect(d.get('script-src')).not.toContain('unsafe');
  });

  it('replaces a weaker policy sent by the server (any header case)', () => {
    const { session } = open();
    const headers = cspOf(session, { 'content-security-policy': ["default-src *; script-src * 'unsafe-eval'"] });
    const cspKeys = Object.keys(headers).filter((k) => k.toLowerCase() === 'content-security-policy');
    expect(cspKeys).toEqual(['Content-Security-Policy']);
    expect(headers['Content-Security-Policy']).toEqual([CONTENT_SECURITY_POLICY]);
  });
});

describe('permissions', () => {
  it('denies every permission request', () => {
    const { session, wc } = open();
    const handler = session.setPermissionRequestHandler.mock.calls[0]![0] as (wc: unknown, p: string, cb: (g: boolean) => void) => void;
    for (const permission of ['media', 'notifications', 'geolocation', 'clipboard-read', 'openExternal', 'fullscreen', 'unknown']) {
      const cb = vi.fn();
      handler(wc, permission, cb);
      expect(cb, permission).toHaveBeenCalledExactlyOnceWith(false);
    }
  });

  it('answers every permission check and device check with false', () => {
    const { session, wc } = open();
    const check = session.setPermissionCheckHandler.mock.calls[0]![0] as (wc: unknown, p: string, origin: string) => unknown;
    for (const permission of ['media', 'notifications', 'clipboard-read', 'hid', 'serial']) {
      expect(check(wc, permission, APP_URL), permission).toBe(false);
    }
    const device = session.setDevicePermissionHandler.mock.calls[0]![0] as (d: unknown) => unknown;
    expect(device({ deviceType: 'usb', origin: APP_URL })).toBe(false);
  });
});

describe('navigation', () => {
  function navigate(wc: ReturnType<typeof open>['wc'], url: string, event = 'will-navigate') {
    const e = fakeEvent({ url });
    wc.emit(event, e, url);
    return e.defaultPrevented();
  }

  it('lets the app page navigate within itself (router hash and query)', () => {
    const { wc } = open();
    expect(navigate(wc, APP_URL)).toBe(false);
    expect(navigate(wc, `${APP_URL}#/tasks/42`)).toBe(false);
    expect(navigate(wc, `${APP_URL}?tab=history`)).toBe(false);
    expect(fakeShell.openExternal).not.toHaveBeenCalled();
  });

  it('blocks navigation to the web and hands http(s) links to the OS browser', () => {
    const { wc } = open();
    expect(navigate(wc, 'https://example.com/docs')).toBe(true);
    expect(fakeShell.openExternal).toHaveBeenCalledExactlyOnceWith('https://example.com/docs');
  });

  it('blocks other local files and non-web schemes without opening them anywhere', () => {
    const { wc } = open();
    for (const url of ['file:///etc/passwd', pathToFileURL('/opt/Backstop/resources/app.asar/out/renderer/other.html').href, 'javascript:alert(1)', 'data:text/html,<script>1</script>', 'smb://host/share', 'not a url']) {
      expect(navigate(wc, url), url).toBe(true);
    }
    expect(fakeShell.openExternal).not.toHaveBeenCalled();
  });

  it('blocks server redirects away from the app and any <webview>', () => {
    const { wc } = open();
    expect(navigate(wc, 'https://evil.example/', 'will-redirect')).toBe(true);
    const e = fakeEvent();
    wc.emit('will-attach-webview', e, {}, {});
    expect(e.defaultPrevented()).toBe(true);
  });

  it('in dev, allows the dev-server origin only', () => {
    const { wc } = open({ devUrl: 'http://localhost:5173/' });
    expect(navigate(wc, 'http://localhost:5173/#/servers')).toBe(false);
    expect(navigate(wc, 'http://localhost:5174/')).toBe(true);
    expect(navigate(wc, 'https://localhost:5173/')).toBe(true);
    expect(navigate(wc, 'file:///etc/passwd')).toBe(true);
  });
});

describe('window.open', () => {
  it('is always denied; http(s) goes to the OS browser, nothing else does', () => {
    const { wc } = open();
    const handler = wc.windowOpenHandler!;
    expect(handler({ url: 'https://example.com/' })).toEqual({ action: 'deny' });
    expect(fakeShell.openExternal).toHaveBeenCalledExactlyOnceWith('https://example.com/');
    fakeShell.openExternal.mockClear();
    for (const url of [APP_URL, 'file:///etc/passwd', 'javascript:alert(1)', 'ms-settings:privacy']) {
      expect(handler({ url }), url).toEqual({ action: 'deny' });
    }
    expect(fakeShell.openExternal).not.toHaveBeenCalled();
  });
});

describe('closing', () => {
  it('hides the window instead of closing it while the app keeps running', () => {
    const { win } = open();
    const e = fakeEvent();
    win.emit('close', e);
    expect(e.defaultPrevented()).toBe(true);
    expect(win.hide).toHaveBeenCalledTimes(1);
  });

  it('really closes when the app is quitting', () => {
    const { win, setQuitting } = open();
    setQuitting(true);
    const e = fakeEvent();
    win.emit('close', e);
    expect(e.defaultPrevented()).toBe(false);
    expect(win.hide).not.toHaveBeenCalled();
  });

  it('shows the window once it is ready', () => {
    const { win } = open();
    expect(win.show).not.toHaveBeenCalled();
    win.emit('ready-to-show');
    expect(win.show).toHaveBeenCalledTimes(1);
  });
});

describe('isAppUrl', () => {
  it('matches only the one index.html for a file target', () => {
    const t = rendererTarget(INDEX);
    expect(isAppUrl(APP_URL, t)).toBe(true);
    expect(isAppUrl(`${APP_URL}#/x`, t)).toBe(true);
    expect(isAppUrl(APP_URL.replace('index.html', 'index.htm'), t)).toBe(false);
    expect(isAppUrl('file://otherhost' + new URL(APP_URL).pathname, t)).toBe(false);
    expect(isAppUrl('http://localhost' + new URL(APP_URL).pathname, t)).toBe(false);
    expect(isAppUrl('', t)).toBe(false);
  });
});
