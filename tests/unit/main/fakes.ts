/**
 * Minimal stand-ins for the Electron objects the main-process modules touch. Electron
 * cannot run on the build machines, so main/ tests mock the `electron` module with these.
 */
import { vi } from 'vitest';

type Listener = (...args: unknown[]) => unknown;

export class FakeEmitter {
  readonly listeners = new Map<string, Listener[]>();
  on(name: string, fn: Listener): this {
    this.listeners.set(name, [...(this.listeners.get(name) ?? []), fn]);
    return this;
  }
  once(name: string, fn: Listener): this {
    return this.on(name, fn);
  }
  emit(name: string, ...args: unknown[]): void {
    for (const fn of this.listeners.get(name) ?? []) fn(...args);
  }
  count(name: string): number {
    return this.listeners.get(name)?.length ?? 0;
  }
}

/** An Electron-style event: records preventDefault. */
export function fakeEvent(extra: Record<string, unknown> = {}): { preventDefault: ReturnType<typeof vi.fn>; defaultPrevented: () => boolean } & Record<string, unknown> {
  const preventDefault = vi.fn();
  return { ...extra, preventDefault, defaultPrevented: () => preventDefault.mock.calls.length > 0 };
}

export function fakeSession() {
  return {
    setPermissionRequestHandler: vi.fn(),
    setPermissionCheckHandler: vi.fn(),
    setDevicePermissionHandler: vi.fn(),
    webRequest: { onHeadersReceived: vi.fn() },
  };
}

let nextWebContentsId = 1;

export class FakeWebContents extends FakeEmitter {
  readonly id = nextWebContentsId++;
  readonly session = fakeSession();
  windowOpenHandler: ((details: { url: string }) => unknown) | undefined;
  destroyed = false;
  readonly send = vi.fn();
  setWindowOpenHandler(handler: (details: { url: string }) => unknown): void {
    this.windowOpenHandler = handler;
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
}

export class FakeBrowserWindow extends FakeEmitter {
  static readonly instances: FakeBrowserWindow[] = [];
  /** When set, the next window's page load rejects with this error. */
  static failNextLoad: Error | undefined;
  private readonly loadError = FakeBrowserWindow.takeLoadError();
  readonly webContents = new FakeWebContents();
  readonly loadURL = vi.fn(async (_url: string) => this.loadResult());
  readonly loadFile = vi.fn(async (_path: string) => this.loadResult());
  readonly show = vi.fn();
  readonly hide = vi.fn();
  readonly focus = vi.fn();
  readonly restore = vi.fn();
  visible = true;
  constructor(readonly options: Record<string, unknown>) {
    super();
    FakeBrowserWindow.instances.push(this);
  }
  private static takeLoadError(): Error | undefined {
    const e = FakeBrowserWindow.failNextLoad;
    FakeBrowserWindow.failNextLoad = undefined;
    return e;
  }
  private loadResult(): void {
    if (this.loadError) throw this.loadError;
  }
  isDestroyed(): boolean {
    return false;
  }
  isMinimized(): boolean {
    return false;
  }
  isVisible(): boolean {
    return this.visible;
  }
}

export const fakeShell = { openExternal: vi.fn(async (_url: string) => {}) };

/** A scheduler that only records pause/resume (`paused` may be set directly, as the user would). */
export function fakeScheduler() {
  const scheduler = {
    paused: false,
    get isPaused() {
      return this.paused;
    },
    pause: vi.fn(() => void (scheduler.paused = true)),
    resume: vi.fn(() => void (scheduler.paused = false)),
  };
  return scheduler;
}
