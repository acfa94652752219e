/**
 * Electron main entry: wires the engine to the IPC boundary, the window and the tray.
 *
 * Contract: no business logic lives here. Order: sandbox everything, guard new
 * webContents and take the single-instance lock (before ready) → app ready →
 * createEngine(userData) → the window backend (agent-link.ts: IPC handlers — the engine's,
 * or the running agent's while it schedules this data dir —, with the native dialogs of
 * main/dialogs.ts over the engine's VALIDATION stubs; it also starts the scheduler or waits
 * for the lock) → window → tray, notifications, start at login, sleep/unlock catch-up.
 * Quitting asks first while backups run (main/quit.ts). A failure to start is shown once
 * in a dialog and exits with status 1. Paths are relative to the built bundle
 * (out/main/index.*): the preload is out/preload/index.cjs, the renderer
 * out/renderer/index.html; icons come from <appPath>/resources (packed into the app by
 * electron-builder.yml).
 */
import { join } from 'node:path';
import { app, dialog, ipcMain, Notification, powerMonitor, type BrowserWindow } from 'electron';
import { createEngine, type Engine } from '../engine/index.ts';
import { DEFAULT_SETTINGS, type Settings } from '../shared/domain.ts';
import { toFailure } from '../shared/result.ts';
import { rendererTarget } from './app-url.ts';
import { createDialogHandlers } from './dialogs.ts';
import { startWindowBackend, type WindowBackend } from './agent-link.ts';
import { createSenderCheck, forwardEvents } from './ipc.ts';
import { claimSingleInstance, installLifecycle } from './lifecycle.ts';
import { applyStartAtLogin, defaultLoginItemDeps, launchedHidden } from './login-item.ts';
import { installNotifications } from './notifications.ts';
import { installPowerHooks } from './power.ts';
import { createQuitGuard } from './quit.ts';
import { createTray, type TrayController } from './tray.ts';
import { createTrayMonitor, type TrayMonitor } from './tray-monitor.ts';
import { createMainWindow, guardNewWebContents, showWindow } from './window.ts';

const bundleDir = import.meta.dirname;
// Where the engine starts its worker_threads entries (engine/runtime/worker-entry.ts): the
// bundled ones beside this file. Always ours, never inherited: a value from the
// environment would let anyone who can launch the app run code inside it.
process.env.BACKSTOP_WORKER_DIR = join(bundleDir, 'workers');
const target = rendererTarget(
  join(bundleDir, '../renderer/index.html'),
  app.isPackaged ? undefined : process.env.ELECTRON_RENDERER_URL,
);

let engine: Engine | undefined;
let win: BrowserWindow | undefined;
let tray: TrayController | undefined; // held here so the tray is not garbage-collected
let monitor: TrayMonitor | undefined;
let backend: WindowBackend | undefined;

app.enableSandbox();
app.setAppUserModelId('dev.backstop.app');
guardNewWebContents(app);

if (claimSingleInstance(app, () => showWindow(win))) {
  const lifecycle = installLifecycle(app, {
    closeEngine: () => {
      monitor?.stop();
      tray?.destroy();
      backend?.close();
      return engine?.close();
    },
    onActivate: () => showWindow(win),
    confirmQuit: () => (engine ? createQuitGuardOnce(engine).confirmQuit() : Promise.resolve(true)),
    log: { error: (obj, msg) => (engine ? engine.logger.error(obj, msg) : console.error(msg, obj)) },
  });
  start(lifecycle.isQuitting).catch((e: unknown) => {
    console.error('Backstop could not start', e);
    dialog.showErrorBox('Backstop could not start', toFailure(e).message);
    app.exit(1);
  });
}

let quitGuard: ReturnType<typeof createQuitGuard> | undefined;
function createQuitGuardOnce(e: Engine): ReturnType<typeof createQuitGuard> {
  quitGuard ??= createQuitGuard({
    runner: e.runner,
    scheduler: e.scheduler,
    showMessageBox: (options) => dialog.showMessageBox(options),
    log: e.logger.child({ module: 'quit' }),
  });
  return quitGuard;
}

/** Shows the window on a renderer route (forwardEvents delivers `app.navigate` to the page). */
function openRoute(route: string): void {
  showWindow(win);
  backend?.events.emit('app.navigate', { route });
}

async function start(isQuitting: () => boolean): Promise<void> {
  await app.whenReady();
  const eng = await createEngine({ dataDir: app.getPath('userData') });
  engine = eng;
  const log = eng.logger.child({ module: 'main' });
  process.on('unhandledRejection', (err) => log.error({ err }, 'Unhandled promise rejection in main'));

  const webContents = () => (win && !win.isDestroyed() ? win.webContents : undefined);
  // The window's commands and events: the app's engine, or the agent's while `backstop agent` schedules (agent-link.ts).
  // It also starts scheduling (one scheduler per data dir: not while an agent does; the app takes over when it is gone).
  const wb = await startWindowBackend({
    engine: eng,
    ipcMain,
    shellHandlers: createDialogHandlers(dialog, () => win),
    isTrustedSender: createSenderCheck(webContents, target),
    log,
  });
  backend = wb;
  forwardEvents(wb.events, webContents);

  let settings: Settings = DEFAULT_SETTINGS;
  const loginItem = defaultLoginItemDeps(app, log);
  const loaded = await eng.call('settings.get', undefined);
  if (loaded.ok) settings = loaded.data;
  else log.warn({ code: loaded.code }, 'Could not read settings; using defaults');
  wb.events.on('settings.changed', (next) => {
    if (next.startAtLogin !== settings.startAtLogin) applyStartAtLogin(loginItem, next.startAtLogin);
    settings = next;
  });
  applyStartAtLogin(loginItem, settings.startAtLogin);

  const resources = join(app.getAppPath(), 'resources');
  win = createMainWindow({
    preloadPath: join(bundleDir, '../preload/index.cjs'),
    iconPath: join(resources, 'icon.png'),
    target,
    isQuitting,
    startHidden: launchedHidden(process.argv, app, process.platform),
    onError: (err, context) => log.error({ err, context }, 'Window error'),
  });

  tray = createTray(join(resources, 'tray'), {
    onOpen: () => showWindow(win),
    onRunAll: () => void monitor?.runAll(),
    onTogglePause: () => void monitor?.togglePause(),
    onShowHistory: () => openRoute('/history'),
    onQuit: () => app.quit(),
  });
  monitor = createTrayMonitor({ engine: { call: wb.call, events: wb.events, runner: { activeRuns: () => wb.activeRuns() } }, tray, log });

  installNotifications({
    events: wb.events,
    enabled: () => settings.notifications,
    isSupported: () => Notification.isSupported(),
    create: (options) => new Notification(options),
    open: openRoute,
    log,
  });
  installPowerHooks(powerMonitor, eng.scheduler, log);

  // One scheduler per data dir: not while the agent schedules (the window is its client; the app takes over when it is gone).
  wb.startScheduling();
  void monitor.refresh();
}
