import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BaseWindow, Dialog } from 'electron';
import { AUTOSTART_FILE, applyStartAtLogin, autostartEntry, launchedHidden, type LoginItemDeps } from '../../../electron/main/login-item.ts';
import { installPowerHooks } from '../../../electron/main/power.ts';
import { createDialogHandlers } from '../../../electron/main/dialogs.ts';
import { FakeEmitter, FakeWebContents, fakeEvent } from './fakes.ts';

vi.mock('electron', () => ({}));

describe('start at login', () => {
  let home: string;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'backstop-login-'));
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  const deps = (platform: NodeJS.Platform) => {
    const d = {
      app: { setLoginItemSettings: vi.fn<LoginItemDeps['app']['setLoginItemSettings']>() },
      platform,
      executable: '/opt/Backstop/backstop',
      configHome: home,
      log: { error: vi.fn<LoginItemDeps['log']['error']>() },
    };
    return d satisfies LoginItemDeps;
  };

  it('uses login items on macOS and Windows, starting hidden', () => {
    for (const platform of ['darwin', 'win32'] as const) {
      const d = deps(platform);
      applyStartAtLogin(d, true);
      applyStartAtLogin(d, false);
      expect(d.app.setLoginItemSettings.mock.calls).toEqual([[{ openAtLogin: true, args: ['--hidden'] }], [{ openAtLogin: false, args: ['--hidden'] }]]);
    }
  });

  it('writes and removes an XDG autostart entry on Linux', () => {
    const d = deps('linux');
    const file = join(home, 'autostart', AUTOSTART_FILE);
    applyStartAtLogin(d, true);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('[Desktop Entry]');
    expect(text).toMatch(/^Exec="\/opt\/Backstop\/backstop" --hidden$/m);
    expect(text).toMatch(/^Type=Application$/m);
    expect(d.app.setLoginItemSettings).not.toHaveBeenCalled();
    applyStartAtLogin(d, false);
    expect(existsSync(file)).toBe(false);
    applyStartAtLogin(d, false); // idempotent
    expect(d.log.error).not.toHaveBeenCalled();
  });

  it('quotes an executable path with spaces and shell characters', () => {
    expect(autostartEntry('/home/a b/Backstop-$1 "x".AppImage')).toContain('Exec="/home/a b/Backstop-\\$1 \\"x\\".AppImage" --hidden');
  });

  it('logs instead of throwing when the entry cannot be written', () => {
    const d = deps('linux');
    writeFileSync(join(home, 'autostart'), 'a file where the folder should be');
    applyStartAtLogin(d, true);
    expect(d.log.error).toHaveBeenCalledTimes(1);
  });

  it('knows a launch at login: --hidden, or macOS wasOpenedAtLogin', () => {
    const app = { getLoginItemSettings: vi.fn(() => ({ wasOpenedAtLogin: true }) as never) };
    expect(launchedHidden(['backstop', '--hidden'], app, 'linux')).toBe(true);
    expect(launchedHidden(['backstop'], app, 'linux')).toBe(false);
    expect(launchedHidden(['backstop'], app, 'darwin')).toBe(true);
    app.getLoginItemSettings.mockReturnValue({ wasOpenedAtLogin: false } as never);
    expect(launchedHidden(['backstop'], app, 'darwin')).toBe(false);
  });
});

describe('sleep and unlock', () => {
  it('catches up missed schedules on resume and unlock-screen only, and can be removed', () => {
    const pm = new FakeEmitter() as FakeEmitter & { removeListener(name: string, fn: () => void): void };
    pm.removeListener = (name, fn) => pm.listeners.set(name, (pm.listeners.get(name) ?? []).filter((f) => f !== fn));
    const scheduler = { catchUp: vi.fn(() => [{ taskId: 't', kind: 'incremental' as const }]) };
    const log = { info: vi.fn(), error: vi.fn() };
    const remove = installPowerHooks(pm as never, scheduler, log);
    pm.emit('suspend');
    pm.emit('lock-screen');
    expect(scheduler.catchUp).not.toHaveBeenCalled();
    pm.emit('resume');
    pm.emit('unlock-screen');
    expect(scheduler.catchUp).toHaveBeenCalledTimes(2);
    scheduler.catchUp.mockImplementationOnce(() => {
      throw new Error('db closed');
    });
    expect(() => pm.emit('resume')).not.toThrow();
    expect(log.error).toHaveBeenCalledTimes(1);
    remove();
    pm.emit('resume');
    expect(scheduler.catchUp).toHaveBeenCalledTimes(3);
  });
});

describe('native dialogs', () => {
  function setup(visible = true) {
    const win = { isDestroyed: () => false, isVisible: () => visible } as unknown as BaseWindow;
    const dialog = {
      showOpenDialog: vi.fn(async (..._args: unknown[]) => ({ canceled: false, filePaths: ['/mnt/backups'] })),
      showSaveDialog: vi.fn(async (..._args: unknown[]) => ({ canceled: false, filePath: '/home/u/key.txt' })),
    };
    const handlers = createDialogHandlers(dialog as unknown as Dialog, () => win);
    return { win, dialog, handlers };
  }

  it('picks a folder (may create one), modal to the window', async () => {
    const { win, dialog, handlers } = setup();
    await expect(handlers['dialog.chooseFolder']({ title: 'Destination', defaultPath: '/mnt' })).resolves.toEqual({ path: '/mnt/backups' });
    expect(dialog.showOpenDialog).toHaveBeenCalledExactlyOnceWith(win, { title: 'Destination', defaultPath: '/mnt', properties: ['openDirectory', 'createDirectory'] });
  });

  it('saves a file and confirms overwrites; cancel is { path: null }', async () => {
    const { dialog, handlers } = setup();
    await expect(handlers['dialog.saveFile']({ title: 'Save key' })).resolves.toEqual({ path: '/home/u/key.txt' });
    expect(dialog.showSaveDialog.mock.calls[0]![1]).toMatchObject({ title: 'Save key', properties: expect.arrayContaining(['showOverwriteConfirmation']) });
    dialog.showSaveDialog.mockResolvedValueOnce({ canceled: true, filePath: '' });
    await expect(handlers['dialog.saveFile']({ title: 'Save key' })).resolves.toEqual({ path: null });
    dialog.showOpenDialog.mockResolvedValueOnce({ canceled: true, filePaths: [] });
    await expect(handlers['dialog.chooseFolder']({ title: 'x' })).resolves.toEqual({ path: null });
  });

  it('is not modal to a hidden window (it would be invisible)', async () => {
    const { dialog, handlers } = setup(false);
    await handlers['dialog.chooseFolder']({ title: 'x' });
    expect(dialog.showOpenDialog).toHaveBeenCalledExactlyOnceWith({ title: 'x', properties: ['openDirectory', 'createDirectory'] });
  });
});

describe('every new webContents', () => {
  it('is denied windows and webviews from its first moment', async () => {
    const { guardNewWebContents } = await import('../../../electron/main/window.ts');
    const app = new FakeEmitter();
    guardNewWebContents(app as never);
    const wc = new FakeWebContents();
    app.emit('web-contents-created', fakeEvent(), wc);
    expect(wc.windowOpenHandler?.({ url: 'https://example.com/' })).toEqual({ action: 'deny' });
    const attach = fakeEvent();
    wc.emit('will-attach-webview', attach);
    expect(attach.defaultPrevented()).toBe(true);
  });
});
