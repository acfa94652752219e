/**
 * The window as a client of a running agent (issue #25): a real `backstop agent` process
 * on a temp data dir, and the app side (main/agent-link.ts) with a fake ipcMain (Electron
 * cannot run here; nothing of `electron` is loaded at run time by these modules): the
 * window's tasks, history and "Back up now" are the agent's, its progress events arrive
 * through the forwarder; kill -9 of the agent → the app takes the lock and answers with its
 * own engine. The endpoint refuses a foreign file and another user's socket by name.
 */
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { IpcMainInvokeEvent } from 'electron';
import { describe, expect, it, onTestFinished } from 'vitest';
import { connectAgent } from '../../../electron/agent/client.ts';
import { agentEndpointPath } from '../../../electron/agent/endpoint-path.ts';
import { createEngine } from '../../../electron/engine/index.ts';
import { startWindowBackend } from '../../../electron/main/agent-link.ts';
import { createTrayMonitor } from '../../../electron/main/tray-monitor.ts';
import type { TrayView } from '../../../electron/main/tray.ts';
import { commandChannel } from '../../../electron/shared/ipc/channels.ts';
import type { Result } from '../../../electron/shared/result.ts';
import { startAgent } from '../../fixtures/agent-process.ts';
import { sqliteFolder, storedSqliteTask } from '../../fixtures/sqlite-files.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { until } from '../../fixtures/until.ts';

type Handler = (event: IpcMainInvokeEvent, payload: unknown) => Promise<Result<unknown>>;

function fakeIpcMain() {
  const handlers = new Map<string, Handler>();
  return {
    handlers,
    handle: (channel: string, fn: Handler) => {
      if (handlers.has(channel)) throw new Error(`second handler for ${channel}`);
      handlers.set(channel, fn);
    },
    removeHandler: (channel: string) => void handlers.delete(channel),
    invoke: (name: Parameters<typeof commandChannel>[0], payload?: unknown) => handlers.get(commandChannel(name))!({} as IpcMainInvokeEvent, payload),
  };
}

function recordingLog() {
  const lines: string[] = [];
  const rec = (level: string) => (obj: object, msg: string) => void lines.push(`${level} ${msg} ${JSON.stringify(obj)}`);
  return { lines, info: rec('info'), warn: rec('warn'), error: rec('error') };
}


/** A data dir with one SQLite snapshot task (two tiny databases) to a local folder. */
async function dataDirWithTask(): Promise<{ dataDir: string; taskId: string }> {
  const dataDir = tempDir();
  const setup = await createEngine({ dataDir });
  try {
    const task = await storedSqliteTask(setup, sqliteFolder(['a.db', 'b.db']), tempDir());
    return { dataDir, taskId: task.id };
  } finally {
    await setup.close();
  }
}

describe('the window as a client of the agent', () => {
  it('tasks, history and Back up now are the agent\'s; its progress arrives through the forwarder; after kill -9 the app takes over', { timeout: 300_000 }, async () => {
    const { dataDir, taskId } = await dataDirWithTask();
    const { child } = await startAgent(dataDir);
    const sock = agentEndpointPath(dataDir);
    expect(lstatSync(sock).isSocket()).toBe(true);
    expect(lstatSync(sock).mode & 0o777).toBe(0o600);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);

    const app = await createEngine({ dataDir });
    onTestFinished(() => app.close());
    const ipc = fakeIpcMain();
    const log = recordingLog();
    const wb = await startWindowBackend({ engine: app, ipcMain: ipc, shellHandlers: {}, isTrustedSender: () => true, log });
    onTestFinished(() => wb.close());
    wb.startScheduling(); // main calls it once the window exists: a no-op while the agent schedules
    expect(wb.mode()).toBe('agent');
    expect(app.scheduler.armedTaskIds()).toEqual([]);

    const windowEvents: { name: string; payload: unknown }[] = [];
    wb.events.onAny((name, payload) => void windowEvents.push({ name, payload }));
    // What the tray shows while the agent runs: the agent's runs.active, followed on its progress.
    const trayRuns = new Set<string>();
    const watchRuns = setInterval(() => wb.activeRuns().forEach((r) => trayRuns.add(r.runId)), 20);
    onTestFinished(() => clearInterval(watchRuns));
    const localEvents: string[] = [];
    app.events.onAny((name) => void localEvents.push(name));

    expect(await ipc.invoke('scheduler.owner')).toEqual({ ok: true, data: { owner: expect.objectContaining({ who: 'agent', pid: child.pid }), self: false, connected: true } });
    // The tray's Pause (main wires it to the window backend) pauses the agent's schedules, not this
    // process's engine (which schedules nothing here); a resume from the tray resumes them.
    const views: TrayView[] = [];
    const monitor = createTrayMonitor({ engine: { call: wb.call, events: wb.events, runner: { activeRuns: () => wb.activeRuns() } }, tray: { update: (v) => void views.push(v) }, log, refreshMs: 600_000 });
    onTestFinished(() => monitor.stop());
    await monitor.refresh();
    expect(views.at(-1)?.paused).toBe(false);
    await monitor.togglePause();
    expect(views.at(-1)?.paused).toBe(true);
    await until("the agent's scheduler.paused event", () => windowEvents.some((e) => e.name === 'scheduler.paused'));
    expect(app.scheduler.isPaused).toBe(false);
    const other = await connectAgent(dataDir, { waitMs: 5000 });
    expect(await other.call('scheduler.paused', undefined)).toEqual({ ok: true, data: { paused: true } });
    await monitor.togglePause();
    expect(views.at(-1)?.paused).toBe(false);
    expect(await other.call('scheduler.paused', undefined)).toEqual({ ok: true, data: { paused: false } });
    other.close();

    const listed = (await ipc.invoke('tasks.list')) as Result<{ id: string }[]>;
    expect(listed.ok && listed.data.map((t) => t.id)).toEqual([taskId]);
    // A payload the contract refuses is refused with the same code and message as locally.
    expect(await ipc.invoke('tasks.runNow', { id: 'x', bogus: 1 })).toEqual(await app.call('tasks.runNow', { id: 'x', bogus: 1 }));

    const started = (await ipc.invoke('tasks.runNow', { id: taskId })) as Result<{ runId: string }>;
    if (!started.ok) throw new Error(started.message);
    const runId = started.data.runId;
    await until('the run in history', () => windowEvents.some((e) => e.name === 'history.changed' && (e.payload as { runId: string }).runId === runId));
    const finished = await until('the run to finish', async () => {
      const history = (await ipc.invoke('history.list', { limit: 10 })) as Result<{ id: string; status: string }[]>;
      const run = history.ok ? history.data.find((r) => r.id === runId) : undefined;
      return run && run.status !== 'running' ? run : undefined;
    });
    expect(finished).toMatchObject({ status: 'success' });
    expect([...trayRuns]).toEqual([runId]);
    await until('the tray to see the run end', () => wb.activeRuns().length === 0);
    const progress = windowEvents.filter((e) => e.name === 'run.progress' && (e.payload as { runId: string }).runId === runId);
    expect(progress.length).toBeGreaterThan(0);
    // The run was the agent's: this process's engine neither ran it nor emitted its events.
    expect(localEvents.filter((n) => n === 'run.progress' || n === 'history.changed')).toEqual([]);

    // kill -9: the connection closes; the app takes the (stale) lock and answers with its own engine.
    child.kill('SIGKILL');
    const changed = await until('scheduler.changed', () => windowEvents.find((e) => e.name === 'scheduler.changed'));
    expect(changed.payload).toEqual({ owner: expect.objectContaining({ who: 'app', pid: process.pid }), self: true, connected: false });
    expect(wb.mode()).toBe('local');
    expect(app.scheduler.armedTaskIds()).toEqual([taskId]);
    expect(await ipc.invoke('scheduler.owner')).toEqual({ ok: true, data: changed.payload });
    const local = (await ipc.invoke('history.list', { limit: 10 })) as Result<{ id: string }[]>;
    expect(local.ok && local.data.map((r) => r.id)).toContain(runId);
    expect(log.lines.some((l) => l.startsWith('warn The Backstop agent went away'))).toBe(true);
    // The killed agent's socket stays behind (nothing cleaned up); nothing answers on it.
    expect(lstatSync(sock).isSocket()).toBe(true);
    await expect(connectAgent(dataDir, { waitMs: 300 })).rejects.toMatchObject({ code: 'UNREACHABLE' });

    // With the app gone, the next agent replaces the stale socket and answers on it; a clean stop removes it.
    wb.close();
    await app.close();
    const { child: next } = await startAgent(dataDir);
    const conn = await connectAgent(dataDir, { waitMs: 5000 });
    const again = (await conn.call('tasks.list', undefined)) as Result<{ id: string }[]>;
    expect(again.ok && again.data.map((t) => t.id)).toEqual([taskId]);
    const closed = new Promise<void>((r) => conn.onClose(r));
    const exited = new Promise<number | null>((r) => next.once('exit', r));
    next.kill('SIGTERM');
    expect(await exited).toBe(0);
    await closed;
    expect(existsSync(sock)).toBe(false);
    expect(existsSync(join(dataDir, 'scheduler.lock'))).toBe(false);
  });

  it('a foreign file at the socket path: the agent schedules but says the window cannot connect; the window refuses it and uses its own engine', { timeout: 300_000 }, async () => {
    const { dataDir } = await dataDirWithTask();
    const sock = agentEndpointPath(dataDir);
    writeFileSync(sock, 'not a socket');
    const { child, stderr } = await startAgent(dataDir);
    expect(stderr()).toContain(`warning: the window cannot connect to this agent: ${sock} exists and is not the Backstop agent's socket`);
    expect(readFileSync(sock, 'utf8')).toBe('not a socket');

    await expect(connectAgent(dataDir, { waitMs: 100 })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: `${sock} is not the Backstop agent's socket (it is a file of another kind), so this window does not connect to it and uses its own engine. Move that file away; the next "backstop agent" start makes the socket.`,
    });
    const app = await createEngine({ dataDir });
    onTestFinished(() => app.close());
    const ipc = fakeIpcMain();
    const log = recordingLog();
    const wb = await startWindowBackend({ engine: app, ipcMain: ipc, shellHandlers: {}, isTrustedSender: () => true, log, connectWaitMs: 100 });
    onTestFinished(() => wb.close());
    wb.startScheduling();
    expect(wb.mode()).toBe('local');
    expect(log.lines.some((l) => l.startsWith(`warn Not connecting to the Backstop agent: ${sock} is not the Backstop agent's socket`))).toBe(true);
    // Not connected, and not scheduling either: the agent holds the lock.
    expect(await ipc.invoke('scheduler.owner')).toEqual({ ok: true, data: { owner: expect.objectContaining({ who: 'agent', pid: child.pid }), self: false, connected: false } });
    expect(app.scheduler.armedTaskIds()).toEqual([]);
    expect(readFileSync(sock, 'utf8')).toBe('not a socket');
  });

  it.runIf(process.getuid?.() === 0)('a socket of another user, or one others may use, is refused by name', async () => {
    const dataDir = tempDir();
    mkdirSync(dataDir, { recursive: true });
    const sock = agentEndpointPath(dataDir);
    const server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(sock, r));
    onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
    chmodSync(sock, 0o600);
    chownSync(sock, 65534, 65534);
    await expect(connectAgent(dataDir, { waitMs: 100 })).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      message: `${sock} belongs to another user (uid 65534, not 0), so this window does not connect to it and uses its own engine. Run the agent as the user who owns this data dir.`,
    });
    chownSync(sock, 0, 0);
    chmodSync(sock, 0o666);
    await expect(connectAgent(dataDir, { waitMs: 100 })).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      message: `${sock} may be used by other users (mode 666), so this window does not connect to it and uses its own engine. Restart the agent (it makes the socket 0600).`,
    });
  });
});
