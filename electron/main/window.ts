/**
 * The one Backstop window, and everything it is not allowed to do.
 *
 * Contract:
 * - `buildWindowOptions` is pure: the renderer is isolated (contextIsolation, sandbox,
 *   no Node integration anywhere, webSecurity on, no <webview>, no spellcheck).
 * - `hardenSession` denies every permission request and check and adds a strict CSP
 *   header to every response of the session. Call it before the first load.
 * - `hardenWebContents` keeps the window on the app's own page: navigation elsewhere is
 *   cancelled, window.open is always denied; http(s) links are handed to the OS browser
 *   (no other scheme ever is).
 * - `createMainWindow` builds, hardens and loads the window. Closing it only hides it
 *   (the app lives in the tray) unless `isQuitting()` is true. A crashed renderer is
 *   loaded again (`reloadAfterCrash`), a few times a minute at most.
 * Who calls: main/index.ts, once.
 */
import { BrowserWindow, shell, type BrowserWindowConstructorOptions, type Session, type WebContents } from 'electron';
import { isAppUrl, isWebUrl, type RendererTarget } from './app-url.ts';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'none'",
].join('; ');

export interface WindowOptionsInput {
  /** Absolute path of the built preload (out/preload/index.cjs). */
  preloadPath: string;
  /** Window icon (Linux/Windows); omitted when absent. */
  iconPath?: string;
}

export function buildWindowOptions({ preloadPath, iconPath }: WindowOptionsInput): BrowserWindowConstructorOptions {
  return {
    title: 'Backstop',
    width: 1120,
    height: 760,
    minWidth: 820,
    minHeight: 560,
    show: false,
    autoHideMenuBar: true,
    backgroundColor: '#f6f7f9',
    ...(iconPath ? { icon: iconPath } : {}),
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      spellcheck: false,
    },
  };
}

/** Denies all permissions and sets the CSP header on every response of `session`. */
export function hardenSession(session: Session): void {
  session.setPermissionRequestHandler((_webContents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
  session.setDevicePermissionHandler(() => false);
  session.webRequest.onHeadersReceived((details, callback) => {
    const responseHeaders: Record<string, string[]> = {};
    for (const [name, value] of Object.entries(details.responseHeaders ?? {})) {
      // Ours is the only policy: a weaker one from a dev server must not be mistaken for it.
      if (name.toLowerCase() !== 'content-security-policy') responseHeaders[name] = value;
    }
    responseHeaders['Content-Security-Policy'] = [CONTENT_SECURITY_POLICY];
    callback({ responseHeaders });
  });
}

/** Keeps `webContents` on the app page; `openExternal` receives only http(s) URLs. */
export function hardenWebContents(
  webContents: WebContents,
  target: RendererTarget,
  openExternal: (url: string) => void,
): void {
  const guard = (event: { preventDefault(): void }, url: string): void => {
    if (isAppUrl(url, target)) return;
    event.preventDefault();
    if (isWebUrl(url)) openExternal(url);
  };
  webContents.on('will-navigate', (event) => guard(event, event.url));
  webContents.on('will-redirect', (event) => guard(event, event.url));
  webContents.on('will-attach-webview', (event) => event.preventDefault());
  webContents.setWindowOpenHandler(({ url }) => {
    if (isWebUrl(url)) openExternal(url);
    return { action: 'deny' };
  });
}

export interface CreateWindowOptions extends WindowOptionsInput {
  target: RendererTarget;
  /** True once the app is quitting: then closing the window really closes it. */
  isQuitting: () => boolean;
  /** Start hidden in the tray (e.g. launched at login). */
  startHidden?: boolean;
  /** Reports a failed page load or a failed hand-off to the OS browser. */
  onError?: (e: unknown, context: string) => void;
}

export function createMainWindow(opts: CreateWindowOptions): BrowserWindow {
  const win = new BrowserWindow(buildWindowOptions(opts));
  hardenSession(win.webContents.session);
  hardenWebContents(win.webContents, opts.target, (url) => {
    shell.openExternal(url).catch((e: unknown) => opts.onError?.(e, 'open link in browser'));
  });
  if (!opts.startHidden) win.once('ready-to-show', () => win.show());
  win.on('close', (event) => {
    if (opts.isQuitting()) return;
    event.preventDefault();
    win.hide();
  });
  const load = (): void => {
    const loading = opts.target.kind === 'url' ? win.loadURL(opts.target.url) : win.loadFile(opts.target.path);
    loading.catch((e: unknown) => opts.onError?.(e, 'load window'));
  };
  load();
  reloadAfterCrash(win.webContents, load, (e) => opts.onError?.(e, 'window renderer'));
  return win;
}

/** Reloads after a renderer crash at most this many times within CRASH_WINDOW_MS (a page that crashes as it loads must not loop). */
const MAX_CRASH_RELOADS = 3;
const CRASH_WINDOW_MS = 60_000;

/**
 * A renderer that crashed, was killed or ran out of memory leaves the window blank: it is
 * loaded again (the task editor's unsaved form comes back from the window's session
 * storage), and reported. A clean exit is not a crash; after MAX_CRASH_RELOADS crashes
 * within a minute the window stays as it is and the report says so.
 */
export function reloadAfterCrash(
  webContents: Pick<WebContents, 'on'>,
  reload: () => void,
  report: (e: Error) => void,
  now: () => number = Date.now,
): void {
  const crashes: number[] = [];
  webContents.on('render-process-gone', (_event, details) => {
    if (details.reason === 'clean-exit') return;
    const at = now();
    while (crashes.length > 0 && at - crashes[0]! > CRASH_WINDOW_MS) crashes.shift();
    crashes.push(at);
    const again = crashes.length <= MAX_CRASH_RELOADS;
    report(new Error(`The window's renderer ended (${details.reason}, exit code ${details.exitCode}); ${again ? 'it was loaded again' : `not loaded again after ${crashes.length} crashes within a minute: quit Backstop from the tray and start it again, and see this log`}.`));
    if (again) reload();
  });
}

/** Brings the window to the front (tray "Open", second launch, dock click). */
export function showWindow(win: BrowserWindow | null | undefined): void {
  if (!win || win.isDestroyed()) return;
  if (win.isMinimized()) win.restore();
  win.show();
  win.focus();
}

/**
 * Defence in depth for any webContents besides the main window's (none are expected):
 * every one created is denied new windows and <webview>s from its first moment. The main
 * window's own hardenWebContents replaces the window-open handler afterwards.
 */
export function guardNewWebContents(app: { on(event: 'web-contents-created', listener: (event: unknown, wc: WebContents) => void): unknown }): void {
  app.on('web-contents-created', (_event, wc) => {
    wc.setWindowOpenHandler(() => ({ action: 'deny' }));
    wc.on('will-attach-webview', (event) => event.preventDefault());
  });
}
