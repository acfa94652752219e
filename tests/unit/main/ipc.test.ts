import { beforeEach, describe, expect, it, vi } from 'vitest';
import { pathToFileURL } from 'node:url';
import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron';
import { EVENTS, commandChannel, eventChannel, type CommandName } from '../../../electron/shared/ipc/channels.ts';
import { COMMANDS } from '../../../electron/shared/ipc/contract.ts';
import { BackstopError, type Result } from '../../../electron/shared/result.ts';
import type { Handlers } from '../../../electron/engine/api/dispatch.ts';
import { EventBus } from '../../../electron/engine/events/event-bus.ts';
import { createSenderCheck, forwardEvents, registerIpc, type SenderCheck } from '../../../electron/main/ipc.ts';
import { rendererTarget } from '../../../electron/main/app-url.ts';
import { FakeWebContents } from './fakes.ts';

// ipc.ts must not need electron at run time (it only takes ipcMain as a parameter).
vi.mock('electron', () => ({}));

const INDEX = '/opt/Backstop/out/renderer/index.html';
const APP_URL = pathToFileURL(INDEX).href;
const target = rendererTarget(INDEX);

type InvokeListener = (event: IpcMainInvokeEvent, ...args: unknown[]) => Promise<Result<unknown>>;

function fakeIpcMain() {
  const registered = new Map<string, InvokeListener>();
  const ipc = {
    handle: vi.fn((channel: string, fn: InvokeListener) => {
      if (registered.has(channel)) throw new Error(`second handler for ${channel}`);
      registered.set(channel, fn);
    }),
    removeHandler: vi.fn((channel: string) => registered.delete(channel)),
    handleOnce: vi.fn(),
    on: vi.fn(),
    once: vi.fn(),
    addListener: vi.fn(),
  };
  return { ipc, registered, asIpcMain: ipc as unknown as IpcMain };
}

function fakeHandlers() {
  const fns = Object.fromEntries(COMMANDS.map((name) => [name, vi.fn(async (input: unknown) => ({ command: name, input }))]));
  return { fns: fns as Record<CommandName, ReturnType<typeof vi.fn>>, handlers: fns as unknown as Handlers };
}

function fakeLog() {
  return { warn: vi.fn(), error: vi.fn() };
}

/** An invoke event as Electron builds it: the sending webContents and frame. */
function invokeEvent(sender: { id: number }, frame: { url: string; parent: unknown } | null): IpcMainInvokeEvent {
  return { sender, senderFrame: frame } as unknown as IpcMainInvokeEvent;
}

let appWc: FakeWebContents;
let mainFrame: { url: string; parent: null };

beforeEach(() => {
  appWc = new FakeWebContents();
  mainFrame = { url: `${APP_URL}#/servers`, parent: null };
});

function setup(check?: SenderCheck) {
  const { ipc, registered, asIpcMain } = fakeIpcMain();
  const { fns, handlers } = fakeHandlers();
  const log = fakeLog();
  const senderCheck = check ?? createSenderCheck(() => appWc as unknown as WebContents, target);
  const dispose = registerIpc(asIpcMain, handlers, senderCheck, log);
  const call = (name: CommandName, payload: unknown, event = invokeEvent(appWc, mainFrame)) => {
    const fn = registered.get(commandChannel(name));
    if (!fn) throw new Error(`no handler for ${name}`);
    return fn(event, payload);
  };
  return { ipc, registered, fns, log, dispose, call };
}

describe('registerIpc: what is registered', () => {
  it('registers one invoke handler per contract command and nothing else', () => {
    const { ipc, registered } = setup();
    expect([...registered.keys()].sort()).toEqual(COMMANDS.map(commandChannel).sort());
    expect(ipc.handle).toHaveBeenCalledTimes(COMMANDS.length);
    for (const other of [ipc.handleOnce, ipc.on, ipc.once, ipc.addListener]) expect(other).not.toHaveBeenCalled();
  });

  it('removes exactly those handlers when disposed', () => {
    const { ipc, registered, dispose } = setup();
    dispose();
    expect(registered.size).toBe(0);
    expect(ipc.removeHandler.mock.calls.map((c) => c[0]).sort()).toEqual(COMMANDS.map(commandChannel).sort());
  });
});

describe('registerIpc: calls from the app window', () => {
  it('dispatches a valid call to its handler with the parsed input', async () => {
    const { call, fns } = setup();
    await expect(call('servers.delete', { id: 'srv_1' })).resolves.toEqual({
      ok: true,
      data: { command: 'servers.delete', input: { id: 'srv_1' } },
    });
    expect(fns['servers.delete']).toHaveBeenCalledExactlyOnceWith({ id: 'srv_1' });
    for (const name of COMMANDS) if (name !== 'servers.delete') expect(fns[name]).not.toHaveBeenCalled();
  });

  it('routes each channel to its own command', async () => {
    const { call } = setup();
    for (const name of ['app.info', 'servers.list', 'tasks.list', 'settings.get'] as const) {
      const r = await call(name, undefined);
      expect(r).toMatchObject({ ok: true, data: { command: name } });
    }
  });

  it('answers a malformed payload with MALFORMED_REQUEST, never reaches the handler, never rejects', async () => {
    const { call, fns } = setup();
    const cases: [CommandName, unknown][] = [
      ['servers.delete', { id: 'not an id; DROP TABLE' }],
      ['servers.delete', { id: 'ok', extra: true }],
      ['servers.delete', 'srv_1'],
      ['servers.create', { kind: 'oracle', name: 'x' }],
      ['history.list', 42],
      ['app.info', { unexpected: 1 }],
    ];
    for (const [name, payload] of cases) {
      const r = await call(name, payload);
      expect(r, `${name} ${JSON.stringify(payload)}`).toMatchObject({ ok: false, code: 'MALFORMED_REQUEST', retryable: false });
      expect(fns[name]).not.toHaveBeenCalled();
    }
  });

  it('does not echo a rejected value back (it may be a secret)', async () => {
    const { call } = setup();
    const r = await call('servers.create', { kind: 'postgres', name: 'x', host: 'h', user: 'u', password: 'hunter2-secret', bogus: 'hunter2-secret' });
    expect(r.ok).toBe(false);
    expect(JSON.stringify(r)).not.toContain('hunter2-secret');
  });

  it('turns a BackstopError from the handler into its code, without logging it as a bug', async () => {
    const { call, fns, log } = setup();
    fns['servers.delete']!.mockRejectedValueOnce(new BackstopError('NOT_FOUND', 'No server with id srv_9.'));
    await expect(call('servers.delete', { id: 'srv_9' })).resolves.toEqual({
      ok: false,
      code: 'NOT_FOUND',
      message: 'No server with id srv_9.',
      retryable: false,
    });
    expect(log.error).not.toHaveBeenCalled();
  });

  it('turns an unexpected throw into INTERNAL without leaking its text, and logs it', async () => {
    const { call, fns, log } = setup();
    const bug = new Error('connection string postgres://admin:s3cret@db');
    fns['tasks.list']!.mockImplementationOnce(() => {
      throw bug;
    });
    const r = await call('tasks.list', undefined);
    expect(r).toMatchObject({ ok: false, code: 'INTERNAL' });
    expect(JSON.stringify(r)).not.toContain('s3cret');
    expect(log.error).toHaveBeenCalledWith(expect.objectContaining({ err: bug, command: 'tasks.list' }), expect.any(String));
  });
});

describe('registerIpc: calls from anywhere else', () => {
  const forbidden = { ok: false, code: 'FORBIDDEN_SENDER', retryable: false };

  it('refuses another webContents and does not call the handler', async () => {
    const { call, fns, log } = setup();
    const stranger = new FakeWebContents();
    const r = await call('servers.delete', { id: 'srv_1' }, invokeEvent(stranger, { url: APP_URL, parent: null }));
    expect(r).toMatchObject(forbidden);
    expect(fns['servers.delete']).not.toHaveBeenCalled();
    expect(log.warn).toHaveBeenCalledTimes(1);
  });

  it('refuses a subframe of the app window, even one showing the app page', async () => {
    const { call, fns } = setup();
    const r = await call('servers.list', undefined, invokeEvent(appWc, { url: APP_URL, parent: mainFrame }));
    expect(r).toMatchObject(forbidden);
    expect(fns['servers.list']).not.toHaveBeenCalled();
  });

  it('refuses the app window once it shows another page', async () => {
    const { call, fns } = setup();
    for (const url of ['https://evil.example/', 'file:///tmp/evil.html', 'about:blank']) {
      const r = await call('servers.list', undefined, invokeEvent(appWc, { url, parent: null }));
      expect(r, url).toMatchObject(forbidden);
    }
    expect(fns['servers.list']).not.toHaveBeenCalled();
  });

  it('refuses a call whose frame is gone, or when there is no live window', async () => {
    const { call, fns } = setup();
    expect(await call('servers.list', undefined, invokeEvent(appWc, null))).toMatchObject(forbidden);
    appWc.destroyed = true;
    expect(await call('servers.list', undefined)).toMatchObject(forbidden);
    expect(fns['servers.list']).not.toHaveBeenCalled();
  });

  it('checks the sender before the payload, and a throwing check counts as a refusal', async () => {
    const check = vi.fn<SenderCheck>(() => {
      throw new Error('frame disposed');
    });
    const { call, fns } = setup(check);
    expect(await call('servers.delete', 'garbage')).toMatchObject(forbidden);
    expect(check).toHaveBeenCalledTimes(1);
    expect(fns['servers.delete']).not.toHaveBeenCalled();
  });
});

describe('forwardEvents', () => {
  it('sends each engine event to the window on its event channel', () => {
    const bus = new EventBus();
    const wc = new FakeWebContents();
    forwardEvents(bus, () => wc as unknown as WebContents);
    bus.emit('servers.changed', { ids: ['a', 'b'] });
    bus.emit('history.changed', { runId: 'r1', taskId: 't1' });
    expect(wc.send.mock.calls).toEqual([
      [eventChannel('servers.changed'), { ids: ['a', 'b'] }],
      [eventChannel('history.changed'), { runId: 'r1', taskId: 't1' }],
    ]);
  });

  it('covers every contract event', () => {
    const bus = new EventBus();
    const wc = new FakeWebContents();
    forwardEvents(bus, () => wc as unknown as WebContents);
    for (const name of EVENTS) bus.emit(name, { ids: [] } as never);
    expect(wc.send.mock.calls.map((c) => c[0])).toEqual(EVENTS.map(eventChannel));
  });

  it('skips while there is no window or it is destroyed, and stops when unsubscribed', () => {
    const bus = new EventBus((e) => {
      throw e;
    });
    const wc = new FakeWebContents();
    const window: { wc?: FakeWebContents } = {};
    const stop = forwardEvents(bus, () => window.wc as unknown as WebContents | undefined);
    bus.emit('tasks.changed', { ids: ['t'] }); // no window yet: must not throw
    window.wc = wc;
    wc.destroyed = true;
    bus.emit('tasks.changed', { ids: ['t'] });
    expect(wc.send).not.toHaveBeenCalled();
    wc.destroyed = false;
    bus.emit('tasks.changed', { ids: ['t'] });
    expect(wc.send).toHaveBeenCalledTimes(1);
    stop();
    bus.emit('tasks.changed', { ids: ['t'] });
    expect(wc.send).toHaveBeenCalledTimes(1);
  });
});
