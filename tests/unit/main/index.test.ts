import { beforeEach, describe, expect, it, vi } from 'vitest';
import { COMMANDS } from '../../../electron/shared/ipc/channels.ts';
import type { FakeBrowserWindow } from './fakes.ts';

const m = vi.hoisted(() => {
  const logger = { error: vi.fn(), warn: vi.fn(), info: vi.fn(), child: vi.fn() };
  logger.child.mockReturnValue(logger);
  return {
    logger,
    engine: {
      dataDir: '/data',
      logsDir: '/data/logs',
      handlers: {},
      events: { onAny: vi.fn(() => () => {}) },
      logger,
      close: vi.fn(async () => {}),
    },
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
    },
    ipcMain: { handle: vi.fn(), removeHandler: vi.fn() },
    dialog: { showErrorBox: vi.fn() },
    trays: [] as { image: unknown }[],
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
    constructor(readonly image: unknown) {
      super();
      m.trays.push(this);
    }
    setToolTip() {}
    setContextMenu() {}
  }
  return {
    app: m.app,
    ipcMain: m.ipcMain,
    dialog: m.dialog,
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
  m.windows.length = 0;
  m.trays.length = 0;
});

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
    expect(m.ipcMain.handle).toHaveBeenCalledTimes(COMMANDS.length);
    expect(m.windows).toHaveLength(1);
    const win = m.windows[0]!;
    const lastHandle = m.ipcMain.handle.mock.invocationCallOrder.at(-1)!;
    expect(lastHandle).toBeLessThan(win.loadFile.mock.invocationCallOrder[0]!);
    expect(m.engine.events.onAny).toHaveBeenCalledTimes(1);

    const prefs = win.options.webPreferences as { preload: string; sandbox: boolean };
    expect(prefs.preload).toMatch(/[/\\]preload[/\\]index\.cjs$/);
    expect(prefs.sandbox).toBe(true);
    expect(win.loadFile.mock.calls[0]![0]).toMatch(/[/\\]renderer[/\\]index\.html$/);
    expect(m.trays[0]!.image).toEqual({ path: '/opt/Backstop/app.asar/resources/tray/idle.png' });
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
