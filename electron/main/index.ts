/**
 * Electron main entry: wires the engine to the IPC boundary, the window and the tray.
 *
 * Contract: no business logic lives here. Order: sandbox everything and take the
 * single-instance lock (before ready) → app ready → createEngine(userData) → IPC
 * handlers → window → tray. A failure to start is shown once in a dialog and exits
 * with status 1. Paths are relative to the built bundle (out/main/index.*): the preload
 * is out/preload/index.cjs, the renderer out/renderer/index.html; icons come from
 * <appPath>/resources (packed into the app by electron-builder.yml).
 */
import { join } from 'node:path';
import { app, dialog, ipcMain, type BrowserWindow } from 'electron';
import { createEngine, type Engine } from '../engine/index.ts';
import { toFailure } from '../shared/result.ts';
import { rendererTarget } from './app-url.ts';
import { createSenderCheck, forwardEvents, registerIpc } from './ipc.ts';
import { claimSingleInstance, installLifecycle } from './lifecycle.ts';
import { createTray, type TrayController } from './tray.ts';
import { createMainWindow, showWindow } from './window.ts';

const bundleDir = import.meta.dirname;
const target = rendererTarget(
  join(bundleDir, '../renderer/index.html'),
  app.isPackaged ? undefined : process.env.ELECTRON_RENDERER_URL,
);

let engine: Engine | undefined;
let win: BrowserWindow | undefined;
let tray: TrayController | undefined; // held here so the tray is not garbage-collected

app.enableSandbox();
app.setAppUserModelId('dev.backstop.app');

if (claimSingleInstance(app, () => showWindow(win))) {
  const lifecycle = installLifecycle(app, {
    closeEngine: () => {
      tray?.destroy();
      return engine?.close();
    },
    onActivate: () => showWindow(win),
    log: { error: (obj, msg) => (engine ? engine.logger.error(obj, msg) : console.error(msg, obj)) },
  });
  start(lifecycle.isQuitting).catch((e: unknown) => {
    console.error('Backstop could not start', e);
    dialog.showErrorBox('Backstop could not start', toFailure(e).message);
    app.exit(1);
  });
}

async function start(isQuitting: () => boolean): Promise<void> {
  await app.whenReady();
  engine = await createEngine({ dataDir: app.getPath('userData') });
  const log = engine.logger.child({ module: 'main' });

  const webContents = () => (win && !win.isDestroyed() ? win.webContents : undefined);
  registerIpc(ipcMain, engine.handlers, createSenderCheck(webContents, target), log);
  forwardEvents(engine.events, webContents);

  const resources = join(app.getAppPath(), 'resources');
  win = createMainWindow({
    preloadPath: join(bundleDir, '../preload/index.cjs'),
    iconPath: join(resources, 'icon.png'),
    target,
    isQuitting,
    startHidden: process.argv.includes('--hidden'),
    onError: (err, context) => log.error({ err, context }, 'Window error'),
  });
  tray = createTray(join(resources, 'tray'), {
    onOpen: () => showWindow(win),
    onQuit: () => app.quit(),
  });
}
