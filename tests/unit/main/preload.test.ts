import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { EVENTS, commandChannel, eventChannel } from '../../../electron/shared/ipc/channels.ts';
import { COMMANDS } from '../../../electron/shared/ipc/contract.ts';
import type { BackstopBridge } from '../../../electron/shared/ipc/contract.ts';

const electron = vi.hoisted(() => ({
  contextBridge: { exposeInMainWorld: vi.fn() },
  ipcRenderer: {
    invoke: vi.fn(async (channel: string, ...args: unknown[]) => ({ ok: true, data: { channel, args } })),
    on: vi.fn(),
    removeListener: vi.fn(),
    send: vi.fn(),
    sendSync: vi.fn(),
    postMessage: vi.fn(),
  },
  webUtils: { getPathForFile: vi.fn((file: { name: string }) => (file.name === 'memory-only' ? '' : `/home/u/backups/${file.name}`)) },
}));
vi.mock('electron', () => electron);

const PRELOAD_FILE = new URL('../../../electron/preload/index.ts', import.meta.url);
let bridge: BackstopBridge & Record<string, unknown>;

beforeAll(async () => {
  await import('../../../electron/preload/index.ts');
  bridge = electron.contextBridge.exposeInMainWorld.mock.calls[0]![1] as BackstopBridge & Record<string, unknown>;
});

beforeEach(() => {
  electron.ipcRenderer.invoke.mockClear();
  electron.ipcRenderer.on.mockClear();
  electron.ipcRenderer.removeListener.mockClear();
});

describe('what the preload exposes', () => {
  it('exposes one object, as window.backstop', () => {
    expect(electron.contextBridge.exposeInMainWorld).toHaveBeenCalledTimes(1);
    expect(electron.contextBridge.exposeInMainWorld.mock.calls[0]![0]).toBe('backstop');
  });

  it('has exactly one function per contract command plus `on` and `pathForFile`, nothing else', () => {
    expect(Object.keys(bridge).sort()).toEqual([...COMMANDS, 'on', 'pathForFile'].sort());
    for (const [key, value] of Object.entries(bridge)) expect(typeof value, key).toBe('function');
    expect(Object.isFrozen(bridge)).toBe(true);
  });

  it('never touches send/sendSync/postMessage on load or use', async () => {
    await bridge['servers.list'](undefined);
    bridge.on('servers.changed', () => {})();
    expect(electron.ipcRenderer.send).not.toHaveBeenCalled();
    expect(electron.ipcRenderer.sendSync).not.toHaveBeenCalled();
    expect(electron.ipcRenderer.postMessage).not.toHaveBeenCalled();
  });

  it('gets the command names from the contract table at build time, as the app build inlines them', async () => {
    // The app's preload bundle is built with this define (this test runs with vitest.config.ts's copy of it).
    const { default: config } = (await import('../../../electron.vite.config.ts')) as unknown as { default: { preload: { define: Record<string, string> } } };
    expect(JSON.parse(config.preload.define.__BACKSTOP_COMMANDS__!)).toEqual([...COMMANDS]);
    expect(readFileSync(PRELOAD_FILE, 'utf8')).toContain('__BACKSTOP_COMMANDS__.map(');
  });

  it('imports nothing at run time but electron and the channel list (no zod, no contract)', () => {
    const source = readFileSync(PRELOAD_FILE, 'utf8');
    const valueImports = [...source.matchAll(/^import\s+(?!type\s)[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]);
    expect(valueImports.sort()).toEqual(['../shared/ipc/channels.ts', 'electron']);
    expect(source).not.toMatch(/\brequire\s*\(/);
    expect(source).not.toMatch(/import\s*\(/);
  });
});

describe('command functions', () => {
  it('each invokes its own channel with the single input it was given', async () => {
    for (const name of COMMANDS) {
      electron.ipcRenderer.invoke.mockClear();
      const input = { probe: name };
      const fn = bridge[name] as (input: unknown, ...rest: unknown[]) => Promise<unknown>;
      const result = await fn(input, 'extra argument that must not cross');
      expect(electron.ipcRenderer.invoke).toHaveBeenCalledExactlyOnceWith(commandChannel(name), input);
      expect(result).toEqual({ ok: true, data: { channel: commandChannel(name), args: [input] } });
    }
  });
});

describe('on(event, listener)', () => {
  it('rejects a name that is not a contract event, without subscribing to anything', () => {
    const on = bridge.on as unknown as (event: unknown, listener: unknown) => unknown;
    for (const bad of ['servers.deleted', commandChannel('app.info'), eventChannel('servers.changed'), '', 'constructor', 42, undefined]) {
      expect(() => on(bad, () => {}), String(bad)).toThrow(/Unknown Backstop event/);
    }
    expect(() => on('tasks.changed', 'not a function')).toThrow(TypeError);
    expect(electron.ipcRenderer.on).not.toHaveBeenCalled();
  });

  it('subscribes on the event channel and hands the listener only the payload', () => {
    for (const name of EVENTS) {
      electron.ipcRenderer.on.mockClear();
      const listener = vi.fn();
      bridge.on(name, listener);
      expect(electron.ipcRenderer.on).toHaveBeenCalledTimes(1);
      const [channel, forward] = electron.ipcRenderer.on.mock.calls[0]! as [string, (e: unknown, p: unknown) => void];
      expect(channel).toBe(eventChannel(name));
      const ipcEvent = { sender: electron.ipcRenderer, ports: [] };
      forward(ipcEvent, { ids: ['x'] });
      expect(listener).toHaveBeenCalledExactlyOnceWith({ ids: ['x'] });
    }
  });

  it('returns an unsubscribe that removes that very listener, once', () => {
    const off = bridge.on('history.changed', vi.fn());
    const [, forward] = electron.ipcRenderer.on.mock.calls[0]!;
    off();
    expect(electron.ipcRenderer.removeListener).toHaveBeenCalledExactlyOnceWith(eventChannel('history.changed'), forward);
    off();
    expect(electron.ipcRenderer.removeListener).toHaveBeenCalledTimes(1);
  });
});

describe('pathForFile(file)', () => {
  it('returns the path Electron knows for a dropped file, through webUtils only', () => {
    const folder = new File([], 'sales');
    expect(bridge.pathForFile!(folder)).toBe('/home/u/backups/sales');
    expect(electron.webUtils.getPathForFile).toHaveBeenLastCalledWith(folder);
    expect(bridge.pathForFile!(new File([], 'memory-only'))).toBe('');
    expect(electron.ipcRenderer.invoke).not.toHaveBeenCalled();
    expect(electron.ipcRenderer.send).not.toHaveBeenCalled();
  });
});
