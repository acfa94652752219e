import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { commandChannel } from '../../../electron/shared/ipc/channels.ts';
import { COMMANDS } from '../../../electron/shared/ipc/contract.ts';
import { DEFAULT_SETTINGS, type ActiveRun, type Settings } from '../../../electron/shared/domain.ts';
import { EventBus } from '../../../electron/engine/events/event-bus.ts';
import type { FakeBrowserWindow, FakeEmitter } from './fakes.ts';

// Start-at-login writes an XDG autostart file on Linux: keep it out of the real home.
const xdgHome = mkdtempSync(join(tmpdir(), 'backstop-xdg-'));
process.env.XDG_CONFIG_HOME = xdgHome;
// main/index.ts sets BACKSTOP_WORKER_DIR on every boot; give back the test config's value.
const workerDirBefore = process.env.BACKSTOP_WORKER_DIR;
function restoreWorkerDir(): void {
  if (workerDirBefore === undefined) delete process.env.BACKSTOP_WORKER_DIR;
  else process.env.BACKSTOP_WORKER_DIR = workerDirBefore;
}
afterAll(() => {
  rmSync(xdgHome, { recursive: true, force: true });
  restoreWorkerDir();
});

const m = vi.hoisted(() => {
  const logger = { error: vi.fn(), warn: vi.fn(), info: vi.fn(), child: vi.fn() };
  logger.child.mockReturnValue(logger);
  return {
    logger,
    engine: {
      dataDir: '/data',
      logsDir: '/data/logs',
      handlers: {} as Record<string, unknown>,
      events: undefined as unknown as EventBus,
      logger,
      call: vi.fn(),
      start: vi.fn(() => ({ scheduling: true })),
      runner: { activeRuns: vi.fn((): ActiveRun[] => []), cancel: vi.fn(), idle: vi.fn(async () => {}) },
      scheduler: { isPaused: false, pause: vi.fn(), resume: vi.fn(), catchUp: vi.fn(() => []) },
      close: vi.fn(async () => {}),
    },
    settings: {} as Settings,
    createEngine: vi.fn(),
    app: {
      isPackaged: true,
      enableSandbox: vi.fn(),
      setAppUserModelId: vi.fn(),
      requestSingleInstanceLock: vi.fn(() => true),
      on: vi.fn(),
      quit: vi.fn(),
      exit: vi.fn(),
      whenReady: vi.fn(async () => {}),
      getPath: vi.fn((name: string) => (name === 'userData' ? '/home/u/.config/Backstop' : '/elsewhere')),
      getAppPath: vi.fn(() => '/opt/Backstop/app.asar'),
      setLoginItemSettings: vi.fn(),
      getLoginItemSettings: vi.fn(() => ({ wasOpenedAtLogin: false })),
    },
    ipcMain: { handle: vi.fn(), removeHandler: vi.fn() },
    dialog: {
      showErrorBox: vi.fn(),
      showMessageBox: vi.fn(async (_options: { message: string }) => ({ response: 2, checkboxChecked: false })),
      showOpenDialog: vi.fn(async () => ({ canceled: false, filePaths: ['/mnt/backups/sales'] })),
      showSaveDialog: vi.fn(async () => ({ canceled: true, filePath: '' })),
    },
    powerMonitor: undefined as unknown as FakeEmitter,
    notifications: [] as { options: { title: string; body: string }; show: ReturnType<typeof vi.fn>; emit(name: string): void }[],
    notificationsSupported: true,
    trays: [] as { image: unknown; tooltip: string; menu: { id?: string; label?: string; click?: () => void }[] }[],
    // vi.resetModules gives the mock factory a fresh fakes.ts, so windows are tracked here.
    windows: [] as FakeBrowserWindow[],
  };
});

vi.mock('electron', async () => {
  const f = await import('./fakes.ts');
  class BrowserWindow extends f.FakeBrowserWindow {
    constructor(options: Record<string, unknown>) {
      super(options);
      m.windows.push(this);
    }
  }
  class Tray extends f.FakeEmitter {
    tooltip = '';
    menu: { id?: string; label?: string; click?: () => void }[] = [];
    constructor(public image: unknown) {
      super();
      m.trays.push(this);
    }
    setToolTip(t: string) {
      this.tooltip = t;
    }
    setContextMenu(menu: { id?: string; label?: string; click?: () => void }[]) {
      this.menu = menu;
    }
    setImage(image: unknown) {
      this.image = image;
    }
    isDestroyed() {
      return false;
    }
    destroy() {}
  }
  class Notification extends f.FakeEmitter {
    static isSupported = () => m.notificationsSupported;
    readonly show = vi.fn();
    constructor(readonly options: { title: string; body: string }) {
      super();
      m.notifications.push(this);
    }
  }
  m.powerMonitor = new f.FakeEmitter();
  return {
    app: m.app,
    ipcMain: m.ipcMain,
    dialog: m.dialog,
    Notification,
    get powerMonitor() {
      return m.powerMonitor;
    },
    BrowserWindow,
    shell: f.fakeShell,
    Tray,
    Menu: { buildFromTemplate: (t: unknown) => t },
    nativeImage: { createFromPath: (path: string) => ({ path }) },
  };
});
vi.mock('../../../electron/engine/index.ts', () => ({ createEngine: m.createEngine }));

async function boot() {
  vi.resetModules();
  await import('../../../electron/main/index.ts');
}

beforeEach(() => {
  vi.clearAllMocks();
  m.logger.child.mockReturnValue(m.logger);
  m.app.requestSingleInstanceLock.mockReturnValue(true);
  m.createEngine.mockResolvedValue(m.engine);
  m.engine.events = new EventBus((e) => {
    throw e;
  });
  m.engine.handlers = Object.fromEntries(COMMANDS.map((name) => [name, vi.fn(async () => ({ from: 'engine', name }))]));
  m.settings = { ...DEFAULT_SETTINGS };
  m.engine.call.mockImplementation(async (name: string) => {
    if (name === 'settings.get') return { ok: true, data: m.settings };
    if (name === 'tasks.status' || name === 'tasks.list') return { ok: true, data: [] };
    return { ok: false, code: 'INTERNAL', message: 'not in this test', retryable: false };
  });
  m.engine.runner.activeRuns.mockReturnValue([]);
  m.notificationsSupported = true;
  m.powerMonitor?.listeners.clear(); // the electron mock (and its powerMonitor) outlives resetModules
  m.windows.length = 0;
  m.trays.length = 0;
  m.notifications.length = 0;
});

/** Boots and waits until start() has finished (the engine's scheduler is started last). */
async function bootStarted() {
  await boot();
  await vi.waitFor(() => expect(m.engine.start).toHaveBeenCalled());
  return m.windows[0]!;
}

type InvokeFn = (event: unknown, payload: unknown) => Promise<unknown>;
function registered(): Map<string, InvokeFn> {
  return new Map(m.ipcMain.handle.mock.calls.map((c) => [c[0] as string, c[1] as InvokeFn]));
}
/** An invoke event from the app window's main frame. */
function fromWindow(win: FakeBrowserWindow) {
  return { sender: win.webContents, senderFrame: { url: pathToFileURL(win.loadFile.mock.calls[0]![0]).href, parent: null } };
}
function appListener(name: string): (...args: unknown[]) => void {
  const call = m.app.on.mock.calls.find((c) => c[0] === name);
  if (!call) throw new Error(`no app.on('${name}')`);
  return call[1] as (...args: unknown[]) => void;
}

describe('main entry wiring', () => {
  it('sandboxes all renderers before anything else', async () => {
    await boot();
    expect(m.app.enableSandbox).toHaveBeenCalledTimes(1);
    expect(m.app.enableSandbox.mock.invocationCallOrder[0]!).toBeLessThan(m.app.requestSingleInstanceLock.mock.invocationCallOrder[0]!);
  });

  it('opens the engine on userData, registers IPC before the window exists, then adds the tray', async () => {
    await boot();
    await vi.waitFor(() => expect(m.trays).toHaveLength(1));
    expect(m.createEngine).toHaveBeenCalledExactlyOnceWith({ dataDir: '/home/u/.config/Backstop' });
    expect(m.app.whenReady.mock.invocationCallOrder[0]!).toBeLessThan(m.createEngine.mock.invocationCallOrder[0]!);
    expect([...registered().keys()].sort()).toEqual(COMMANDS.map(commandChannel).sort());
    expect(m.ipcMain.handle).toHaveBeenCalledTimes(COMMANDS.length);
    expect(m.windows).toHaveLength(1);
    const win = m.windows[0]!;
    const lastHandle = m.ipcMain.handle.mock.invocationCallOrder.at(-1)!;
    expect(lastHandle).toBeLessThan(win.loadFile.mock.invocationCallOrder[0]!);

    const prefs = win.options.webPreferences as { preload: string; sandbox: boolean };
    expect(prefs.preload).toMatch(/[/\\]preload[/\\]index\.cjs$/);
    expect(prefs.sandbox).toBe(true);
    expect(win.loadFile.mock.calls[0]![0]).toMatch(/[/\\]renderer[/\\]index\.html$/);
    expect(m.trays[0]!.image).toEqual({ path: '/opt/Backstop/app.asar/resources/tray/idle.png' });
  });

  it('points the engine at the bundled worker entries, ignoring any inherited value', async () => {
    process.env.BACKSTOP_WORKER_DIR = '/tmp/attacker';
    try {
      await boot();
      const mainDir = new URL('../../../electron/main/', import.meta.url);
      expect(process.env.BACKSTOP_WORKER_DIR).toBe(join(fileURLToPath(mainDir), 'workers'));
      await vi.waitFor(() => expect(m.createEngine).toHaveBeenCalled());
    } finally {
      restoreWorkerDir();
    }
  });

  it('ignores ELECTRON_RENDERER_URL in a packaged app', async () => {
    process.env.ELECTRON_RENDERER_URL = 'http://attacker.example/';
    try {
      await boot();
      await vi.waitFor(() => expect(m.windows).toHaveLength(1));
      expect(m.windows[0]!.loadURL).not.toHaveBeenCalled();
    } finally {
      delete process.env.ELECTRON_RENDERER_URL;
    }
  });

  it('does nothing but quit when another instance is running', async () => {
    m.app.requestSingleInstanceLock.mockReturnValue(false);
    await boot();
    await new Promise((r) => setTimeout(r, 10));
    expect(m.app.quit).toHaveBeenCalledTimes(1);
    expect(m.createEngine).not.toHaveBeenCalled();
    expect(m.ipcMain.handle).not.toHaveBeenCalled();
    expect(m.windows).toHaveLength(0);
  });

  it('shows why it cannot start and exits 1 when the engine fails to open', async () => {
    m.createEngine.mockImplementation(async () => {
      // Imported here so it is the same module instance main/index.ts sees after resetModules.
      const { BackstopError } = await import('../../../electron/shared/result.ts');
      throw new BackstopError('KEYCHAIN_UNAVAILABLE', 'No OS keychain is available. Install or unlock one.');
    });
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      await boot();
      await vi.waitFor(() => expect(m.app.exit).toHaveBeenCalledWith(1));
      expect(m.dialog.showErrorBox).toHaveBeenCalledExactlyOnceWith('Backstop could not start', 'No OS keychain is available. Install or unlock one.');
      expect(m.windows).toHaveLength(0);
      expect(m.ipcMain.handle).not.toHaveBeenCalled();
    } finally {
      consoleError.mockRestore();
    }
  });
});

describe('shell wiring', () => {
  it('answers the dialog commands with native dialogs and everything else with the engine', async () => {
    const win = await bootStarted();
    const handlers = registered();
    const folder = await handlers.get(commandChannel('dialog.chooseFolder'))!(fromWindow(win), { title: 'Backup folder' });
    expect(folder).toEqual({ ok: true, data: { path: '/mnt/backups/sales' } });
    expect(m.dialog.showOpenDialog).toHaveBeenCalledExactlyOnceWith(win, { title: 'Backup folder', properties: ['openDirectory', 'createDirectory'] });
    const save = await handlers.get(commandChannel('dialog.saveFile'))!(fromWindow(win), { title: 'Save key', defaultPath: '/home/u/key.txt' });
    expect(save).toEqual({ ok: true, data: { path: null } });
    expect(m.engine.handlers['dialog.chooseFolder']).not.toHaveBeenCalled();
    expect(await handlers.get(commandChannel('tasks.list'))!(fromWindow(win), undefined)).toEqual({ ok: true, data: { from: 'engine', name: 'tasks.list' } });
  });

  it('answers a failing native dialog with a Result, never a rejection', async () => {
    const win = await bootStarted();
    m.dialog.showOpenDialog.mockRejectedValueOnce(new Error('portal crashed'));
    const r = await registered().get(commandChannel('dialog.chooseFolder'))!(fromWindow(win), { title: 'x' });
    expect(r).toMatchObject({ ok: false, code: 'INTERNAL' });
    expect(m.logger.error).toHaveBeenCalled();
  });

  it('starts the scheduler only after the window exists, and catches up on resume and unlock', async () => {
    const win = await bootStarted();
    expect(m.engine.start).toHaveBeenCalledTimes(1);
    expect(win.loadFile.mock.invocationCallOrder[0]!).toBeLessThan(m.engine.start.mock.invocationCallOrder[0]!);
    expect(m.engine.scheduler.catchUp).not.toHaveBeenCalled();
    m.powerMonitor.emit('resume');
    m.powerMonitor.emit('unlock-screen');
    expect(m.engine.scheduler.catchUp).toHaveBeenCalledTimes(2);
  });

  it('applies start at login at start and when the setting changes', async () => {
    m.settings = { ...DEFAULT_SETTINGS, startAtLogin: true };
    await bootStarted();
    const entry = join(xdgHome, 'autostart', 'backstop.desktop');
    if (process.platform === 'linux') {
      expect(readFileSync(entry, 'utf8')).toMatch(/^Exec=".+" --hidden$/m);
      m.engine.events.emit('settings.changed', { ...DEFAULT_SETTINGS, startAtLogin: false });
      expect(existsSync(entry)).toBe(false);
    } else {
      expect(m.app.setLoginItemSettings).toHaveBeenLastCalledWith({ openAtLogin: true, args: ['--hidden'] });
      m.engine.events.emit('settings.changed', { ...DEFAULT_SETTINGS, startAtLogin: false });
      expect(m.app.setLoginItemSettings).toHaveBeenLastCalledWith({ openAtLogin: false, args: ['--hidden'] });
    }
  });

  it('notifies alerts while notifications are on; a click shows the window', async () => {
    const win = await bootStarted();
    win.show.mockClear();
    m.engine.events.emit('alert', { kind: 'run-failed', taskId: 't1', message: 'Backup task "nightly" failed: no route to host', databases: [] });
    expect(m.notifications).toHaveLength(1);
    expect(m.notifications[0]!.options).toEqual({ title: 'Backup failed', body: 'Backup task "nightly" failed: no route to host' });
    expect(m.notifications[0]!.show).toHaveBeenCalledTimes(1);
    m.notifications[0]!.emit('click');
    expect(win.show).toHaveBeenCalledTimes(1);

    m.engine.events.emit('settings.changed', { ...DEFAULT_SETTINGS, notifications: false });
    m.engine.events.emit('alert', { kind: 'new-databases', taskId: 't1', message: 'picked up 1 new database: crm.', databases: ['crm'] });
    expect(m.notifications).toHaveLength(1);
  });

  it('shows progress in the tray tooltip and asks before quitting while a backup runs', async () => {
    await bootStarted();
    const run: ActiveRun = {
      runId: 'r1',
      taskId: 't1',
      taskName: 'nightly',
      kind: 'full',
      startedAt: '2026-01-01T00:00:00Z',
      status: 'running',
      databases: [{ database: 'sales', phase: 'dumping', bytesRead: 45, expectedBytes: 100, destinations: [] }],
    };
    m.engine.runner.activeRuns.mockReturnValue([run]);
    m.engine.events.emit('run.progress', { runId: 'r1', taskId: 't1', progress: run.databases[0]! });
    expect(m.trays[0]!.tooltip).toBe('Backing up 1 database — sales 45%');
    expect(m.trays[0]!.image).toEqual({ path: '/opt/Backstop/app.asar/resources/tray/running.png' });

    // Tray Quit → before-quit → the question; "Keep running" (2) keeps everything.
    m.app.quit.mockImplementation(() => appListener('before-quit')({ preventDefault: vi.fn() }));
    m.trays[0]!.menu.find((i) => i.id === 'quit')!.click!();
    await vi.waitFor(() => expect(m.dialog.showMessageBox).toHaveBeenCalledTimes(1));
    expect(m.dialog.showMessageBox.mock.calls[0]![0]).toMatchObject({ message: '1 backup is running' });
    await new Promise((r) => setTimeout(r, 5));
    expect(m.engine.close).not.toHaveBeenCalled();
    expect(m.engine.runner.cancel).not.toHaveBeenCalled();
  });
});
