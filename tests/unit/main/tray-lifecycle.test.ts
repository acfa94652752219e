import { beforeEach, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { FakeEmitter, fakeEvent } from './fakes.ts';

const electron = vi.hoisted(() => {
  return {
    trays: [] as unknown[],
    nativeImage: { createFromPath: vi.fn((path: string) => ({ path })) },
    Menu: { buildFromTemplate: vi.fn((template: unknown[]) => ({ template })) },
  };
});

vi.mock('electron', async () => {
  const { FakeEmitter: Emitter } = await import('./fakes.ts');
  class Tray extends Emitter {
    menu: unknown;
    tooltip = '';
    destroyed = false;
    readonly setImage = vi.fn();
    constructor(readonly image: unknown) {
      super();
      electron.trays.push(this);
    }
    setContextMenu(menu: unknown) {
      this.menu = menu;
    }
    setToolTip(t: string) {
      this.tooltip = t;
    }
    isDestroyed() {
      return this.destroyed;
    }
    destroy() {
      this.destroyed = true;
    }
  }
  return { Tray, Menu: electron.Menu, nativeImage: electron.nativeImage };
});

const { createTray, TRAY_STATES, trayIconPath } = await import('../../../electron/main/tray.ts');
const { claimSingleInstance, installLifecycle } = await import('../../../electron/main/lifecycle.ts');
type LifecycleApp = Parameters<typeof installLifecycle>[0];

type MenuItem = { id?: string; label?: string; type?: string; click?: () => void };

describe('tray', () => {
  beforeEach(() => {
    electron.trays.length = 0;
    electron.nativeImage.createFromPath.mockClear();
  });

  function setup() {
    const onOpen = vi.fn();
    const onQuit = vi.fn();
    const controller = createTray('/res/tray', { onOpen, onQuit });
    const tray = electron.trays[0] as unknown as FakeEmitter & { image: { path: string }; menu: { template: MenuItem[] }; setImage: ReturnType<typeof vi.fn>; tooltip: string };
    return { onOpen, onQuit, controller, tray };
  }

  it('starts with the idle icon and a menu of Open and Quit that do what they say', () => {
    const { onOpen, onQuit, tray } = setup();
    expect(tray.image).toEqual({ path: '/res/tray/idle.png' });
    const items = tray.menu.template.filter((i) => i.type !== 'separator');
    expect(items.map((i) => i.id)).toEqual(['open', 'quit']);
    items.find((i) => i.id === 'open')!.click!();
    expect(onOpen).toHaveBeenCalledTimes(1);
    expect(onQuit).not.toHaveBeenCalled();
    items.find((i) => i.id === 'quit')!.click!();
    expect(onQuit).toHaveBeenCalledTimes(1);
  });

  it('opens the window on a click on the icon', () => {
    const { onOpen, tray } = setup();
    tray.emit('click');
    expect(onOpen).toHaveBeenCalledTimes(1);
  });

  it('swaps icon and tooltip per state', () => {
    const { controller, tray } = setup();
    controller.setState('error');
    expect(tray.setImage).toHaveBeenCalledExactlyOnceWith({ path: '/res/tray/error.png' });
    expect(tray.tooltip).toMatch(/failed/);
    controller.setState('error');
    expect(tray.setImage).toHaveBeenCalledTimes(1);
  });

  it('has a real PNG of the right size for every state, at 1x and 2x', () => {
    const root = new URL('../../../resources/', import.meta.url);
    const dims = (file: URL) => {
      const png = readFileSync(file);
      expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
      expect(png.toString('ascii', 12, 16)).toBe('IHDR');
      return [png.readUInt32BE(16), png.readUInt32BE(20)];
    };
    expect(dims(new URL('icon.png', root))).toEqual([512, 512]);
    for (const state of TRAY_STATES) {
      const oneX = new URL(`tray/${state}.png`, root);
      expect(trayIconPath('/x', state)).toBe(`/x/${state}.png`);
      expect(dims(oneX), state).toEqual([16, 16]);
      expect(dims(new URL(`tray/${state}@2x.png`, root)), state).toEqual([32, 32]);
    }
  });

  it('draws each state differently (colour/badge), on a transparent background', () => {
    const pixels = (state: string) => {
      const png = readFileSync(new URL(`../../../resources/tray/${state}@2x.png`, import.meta.url));
      let o = 8;
      const idat: Buffer[] = [];
      while (o < png.length) {
        const len = png.readUInt32BE(o);
        if (png.toString('ascii', o + 4, o + 8) === 'IDAT') idat.push(png.subarray(o + 8, o + 8 + len));
        o += 12 + len;
      }
      return inflateSync(Buffer.concat(idat));
    };
    const all = TRAY_STATES.map(pixels);
    expect(new Set(all.map((b) => b.toString('hex'))).size).toBe(TRAY_STATES.length);
    for (const raw of all) expect(raw[1 + 3]).toBe(0); // top-left pixel fully transparent
  });
});

class FakeApp extends FakeEmitter {
  lock = true;
  readonly quit = vi.fn(() => this.emitQuit());
  readonly requestSingleInstanceLock = vi.fn(() => this.lock);
  quitEvents: ReturnType<typeof fakeEvent>[] = [];
  /** Like Electron: quit emits before-quit; if nobody prevents it, the app goes away. */
  emitQuit(): void {
    const e = fakeEvent();
    this.quitEvents.push(e);
    this.emit('before-quit', e);
  }
  get exited(): boolean {
    const last = this.quitEvents.at(-1);
    return last !== undefined && !last.defaultPrevented();
  }
}

describe('single instance', () => {
  it('quits at once when another instance holds the lock', () => {
    const app = new FakeApp();
    app.lock = false;
    const onSecond = vi.fn();
    expect(claimSingleInstance(app as unknown as LifecycleApp, onSecond)).toBe(false);
    expect(app.quit).toHaveBeenCalledTimes(1);
    expect(app.count('second-instance')).toBe(0);
  });

  it('shows the window when a second launch happens', () => {
    const app = new FakeApp();
    const onSecond = vi.fn();
    expect(claimSingleInstance(app as unknown as LifecycleApp, onSecond)).toBe(true);
    expect(app.quit).not.toHaveBeenCalled();
    app.emit('second-instance', fakeEvent(), ['backstop'], '/');
    expect(onSecond).toHaveBeenCalledTimes(1);
  });
});

describe('lifecycle', () => {
  const log = () => ({ error: vi.fn() });

  it('keeps running when every window is closed', () => {
    const app = new FakeApp();
    installLifecycle(app as unknown as LifecycleApp, { closeEngine: () => undefined, onActivate: vi.fn(), log: log() });
    // Electron quits on window-all-closed only when nobody listens for it.
    expect(app.count('window-all-closed')).toBe(1);
    app.emit('window-all-closed');
    expect(app.quit).not.toHaveBeenCalled();
  });

  it('closes the engine exactly once before the quit goes through', async () => {
    const app = new FakeApp();
    let release!: () => void;
    const closeEngine = vi.fn(() => new Promise<void>((r) => (release = r)));
    const lc = installLifecycle(app as unknown as LifecycleApp, { closeEngine, onActivate: vi.fn(), log: log() });
    expect(lc.isQuitting()).toBe(false);

    app.emitQuit();
    expect(lc.isQuitting()).toBe(true);
    expect(app.exited).toBe(false); // held back while the engine closes
    app.emitQuit(); // user clicks Quit again
    expect(app.exited).toBe(false);
    expect(closeEngine).toHaveBeenCalledTimes(1);

    release();
    await vi.waitFor(() => expect(app.quit).toHaveBeenCalledTimes(1));
    expect(app.exited).toBe(true);
    expect(closeEngine).toHaveBeenCalledTimes(1);
  });

  it('quits even if the engine never closes (bounded wait) and logs it', async () => {
    const app = new FakeApp();
    const l = log();
    installLifecycle(app as unknown as LifecycleApp, { closeEngine: () => new Promise<void>(() => {}), onActivate: vi.fn(), log: l, closeTimeoutMs: 20 });
    app.emitQuit();
    await vi.waitFor(() => expect(app.exited).toBe(true));
    expect(l.error).toHaveBeenCalledTimes(1);
  });

  it('quits even if closing the engine throws, and when there is no engine yet', async () => {
    const app = new FakeApp();
    const l = log();
    installLifecycle(app as unknown as LifecycleApp, {
      closeEngine: () => {
        throw new Error('db locked');
      },
      onActivate: vi.fn(),
      log: l,
    });
    app.emitQuit();
    await vi.waitFor(() => expect(app.exited).toBe(true));
    expect(l.error).toHaveBeenCalledTimes(1);

    const app2 = new FakeApp();
    installLifecycle(app2 as unknown as LifecycleApp, { closeEngine: () => undefined, onActivate: vi.fn(), log: log() });
    app2.emitQuit();
    await vi.waitFor(() => expect(app2.exited).toBe(true));
  });

  it('shows the window on activate (dock click)', () => {
    const app = new FakeApp();
    const onActivate = vi.fn();
    installLifecycle(app as unknown as LifecycleApp, { closeEngine: () => undefined, onActivate, log: log() });
    app.emit('activate');
    expect(onActivate).toHaveBeenCalledTimes(1);
  });
});
