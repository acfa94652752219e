import { beforeEach, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { FakeEmitter, fakeEvent } from './fakes.ts';
import type { TrayView } from '../../../electron/main/tray.ts';

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

type MenuItem = { id?: string; label?: string; type?: string; enabled?: boolean; submenu?: unknown; click?: () => void };

describe('tray', () => {
  beforeEach(() => {
    electron.trays.length = 0;
    electron.nativeImage.createFromPath.mockClear();
    electron.Menu.buildFromTemplate.mockClear();
  });

  function setup() {
    const actions = { onOpen: vi.fn(), onRunAll: vi.fn(), onTogglePause: vi.fn(), onShowHistory: vi.fn(), onQuit: vi.fn() };
    const controller = createTray('/res/tray', actions);
    const tray = electron.trays[0] as unknown as FakeEmitter & {
      image: { path: string };
      menu: { template: MenuItem[] };
      setImage: ReturnType<typeof vi.fn>;
      tooltip: string;
    };
    const item = (id: string): MenuItem => {
      const found = tray.menu.template.find((i) => i.id === id);
      if (!found) throw new Error(`no menu item ${id}`);
      return found;
    };
    return { actions, controller, tray, item };
  }

  const view = (over: Partial<TrayView> = {}): TrayView => ({ state: 'idle', tooltip: 'Backstop — fine', paused: false, lastResults: [], ...over });

  it('starts with the idle icon and the full menu, each entry doing what it says', () => {
    const { actions, tray, item } = setup();
    expect(tray.image).toEqual({ path: '/res/tray/idle.png' });
    const items = tray.menu.template.filter((i) => i.type !== 'separator');
    expect(items.map((i) => i.id)).toEqual(['open', 'run-all', 'pause', 'results', 'quit']);
    const clicks: [string, keyof typeof actions][] = [
      ['open', 'onOpen'],
      ['run-all', 'onRunAll'],
      ['pause', 'onTogglePause'],
      ['quit', 'onQuit'],
    ];
    for (const [id, action] of clicks) {
      item(id).click!();
      expect(actions[action], id).toHaveBeenCalledTimes(1);
    }
    expect(actions.onShowHistory).not.toHaveBeenCalled();
    expect(item('pause').label).toBe('Pause schedules');
    expect(item('results').submenu).toEqual([expect.objectContaining({ enabled: false })]);
  });

  it('opens the window on a click on the icon', () => {
    const { actions, tray } = setup();
    tray.emit('click');
    expect(actions.onOpen).toHaveBeenCalledTimes(1);
  });

  it('swaps icon and tooltip per state, touching only what changed', () => {
    const { controller, tray } = setup();
    const buildMenu = electron.Menu.buildFromTemplate;
    buildMenu.mockClear();
    controller.update(view({ state: 'error', tooltip: 'Backstop — last backup of nightly failed' }));
    expect(tray.setImage).toHaveBeenCalledExactlyOnceWith({ path: '/res/tray/error.png' });
    expect(tray.tooltip).toBe('Backstop — last backup of nightly failed');
    controller.update(view({ state: 'error', tooltip: 'Backstop — something else' }));
    expect(tray.setImage).toHaveBeenCalledTimes(1);
    expect(tray.tooltip).toBe('Backstop — something else');
    expect(buildMenu).not.toHaveBeenCalled(); // progress ticks must not rebuild an open menu
  });

  it('labels Pause/Resume by state and lists the last results, each opening History', () => {
    const { controller, actions, item } = setup();
    controller.update(view({ paused: true, lastResults: ['nightly — ok 12, failed 1 (2 h ago)', 'weekly — never run'] }));
    expect(item('pause').label).toBe('Resume schedules');
    const results = item('results').submenu as MenuItem[];
    expect(results.map((r) => r.label)).toEqual(['nightly — ok 12, failed 1 (2 h ago)', 'weekly — never run']);
    results[1]!.click!();
    expect(actions.onShowHistory).toHaveBeenCalledTimes(1);
    controller.update(view({ paused: false, lastResults: [] }));
    expect(item('pause').label).toBe('Pause schedules');
  });

  it('ignores updates after destroy', () => {
    const { controller, tray } = setup();
    controller.destroy();
    controller.update(view({ state: 'running', tooltip: 'x' }));
    expect(tray.setImage).not.toHaveBeenCalled();
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

  describe('asking before quit (confirmQuit)', () => {
    function deferred<T>() {
      let resolve!: (v: T) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
      return { promise, resolve, reject };
    }

    it('keeps running, engine open and window closable-to-tray, when the answer is no', async () => {
      const app = new FakeApp();
      const closeEngine = vi.fn(async () => {});
      const answer = deferred<boolean>();
      const confirmQuit = vi.fn(() => answer.promise);
      const lc = installLifecycle(app as unknown as LifecycleApp, { closeEngine, onActivate: vi.fn(), log: log(), confirmQuit });
      app.emitQuit();
      expect(app.exited).toBe(false);
      expect(lc.isQuitting()).toBe(false);
      app.emitQuit(); // a second request while the question is open is held, not asked twice
      expect(confirmQuit).toHaveBeenCalledTimes(1);
      answer.resolve(false);
      await new Promise((r) => setTimeout(r, 5));
      expect(app.quit).not.toHaveBeenCalled();
      expect(closeEngine).not.toHaveBeenCalled();
      expect(lc.isQuitting()).toBe(false);
      // Asked again on the next request.
      app.emitQuit();
      expect(confirmQuit).toHaveBeenCalledTimes(2);
    });

    it('closes the engine and quits once the answer is yes', async () => {
      const app = new FakeApp();
      const closeEngine = vi.fn(async () => {});
      const answer = deferred<boolean>();
      const lc = installLifecycle(app as unknown as LifecycleApp, { closeEngine, onActivate: vi.fn(), log: log(), confirmQuit: () => answer.promise });
      app.emitQuit();
      expect(closeEngine).not.toHaveBeenCalled();
      answer.resolve(true);
      await vi.waitFor(() => expect(app.exited).toBe(true));
      expect(lc.isQuitting()).toBe(true);
      expect(closeEngine).toHaveBeenCalledTimes(1);
    });

    it('quits (and logs) when asking itself fails', async () => {
      const app = new FakeApp();
      const l = log();
      installLifecycle(app as unknown as LifecycleApp, { closeEngine: () => undefined, onActivate: vi.fn(), log: l, confirmQuit: async () => Promise.reject(new Error('no display')) });
      app.emitQuit();
      await vi.waitFor(() => expect(app.exited).toBe(true));
      expect(l.error).toHaveBeenCalledTimes(1);
    });
  });
});
