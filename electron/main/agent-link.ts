/**
 * Who answers the window (issue #25): the app's own engine, or — while `backstop agent` /
 * `backstop serve` schedules this data dir on this machine — that agent, over its control
 * endpoint (agent/endpoint.ts), so runs, progress, history and "Back up now" are the
 * agent's.
 *
 * Contract:
 * - `startWindowBackend` looks at the scheduler lock. Held by an agent on this host: it
 *   connects (agent/client.ts) and registers the IPC handlers (ipc.ts registerIpc, so the
 *   sender check and schema parse stay) as forwarders — every contract command is answered
 *   by the agent except LOCAL_COMMANDS — and the agent's events become the window's. Else
 *   (nobody, the app, a foreign file or another user's socket at the endpoint: the refusal
 *   is logged) it registers the engine's handlers; `startScheduling()` (main calls it once
 *   the window exists) then calls `engine.start('app', {retry})` as the app always did: it
 *   schedules, or waits for the lock.
 * - When the agent's connection closes (it stopped or was killed), the window switches to
 *   the app's own engine, which takes the lock (a killed agent's lock is stale) and
 *   schedules; the window hears `scheduler.changed`. The app never switches the other way:
 *   an agent started while the app schedules is refused by the lock, nothing changes.
 * - `events` is what the window, tray and notifications listen to: the agent's events while
 *   connected, the engine's otherwise, plus what the shell emits itself (`app.navigate`).
 * - `scheduler.owner` is answered here: the lock's owner, with `connected` while the window
 *   is the agent's client.
 */
import { hostname } from 'node:os';
import type { IpcMain } from 'electron';
import { connectAgent, type AgentConnection } from '../agent/client.ts';
import { dispatch, type Handlers } from '../engine/api/dispatch.ts';
import { EventBus } from '../engine/events/event-bus.ts';
import type { Engine } from '../engine/index.ts';
import type { ActiveRun, SchedulerOwnerInfo } from '../shared/domain.ts';
import { EVENTS, type EventName } from '../shared/ipc/channels.ts';
import { COMMANDS, type CommandName, type CommandResponse } from '../shared/ipc/contract.ts';
import type { EventPayloads } from '../shared/ipc/contract.ts';
import { BackstopError, toFailure } from '../shared/result.ts';
import { registerIpc, type IpcLog, type SenderCheck } from './ipc.ts';

/**
 * Commands the app answers itself even while the agent answers the rest: native dialogs
 * (they open on this desktop, over this window), the app's own facts (its version), and who
 * schedules (the lock, plus whether this window is connected). Everything else — tasks,
 * servers, runs, history, restores, keys, settings (the agent's engine applies them: its
 * concurrency limit, tool folders, channels) — is the agent's.
 */
export const LOCAL_COMMANDS: readonly CommandName[] = ['app.info', 'scheduler.owner', 'dialog.chooseFolder', 'dialog.saveFile'];

export interface WindowBackendDeps {
  engine: Pick<Engine, 'dataDir' | 'handlers' | 'events' | 'start' | 'call' | 'runner'>;
  ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>;
  /** The shell's own handlers (native dialogs) over the engine's. */
  shellHandlers: Partial<Handlers>;
  isTrustedSender: SenderCheck;
  log: IpcLog & { info(obj: object, msg: string): void };
  /** How long a missing endpoint is waited for (the agent opens it just after taking the lock). */
  connectWaitMs?: number;
  connect?: typeof connectAgent;
}

export interface WindowBackend {
  events: EventBus;
  mode(): 'agent' | 'local';
  /**
   * The runs under way for the tray: the engine's, or while connected the agent's as its last
   * `runs.active` answer (asked again, one request at a time, when its progress or history changes).
   */
  activeRuns(): ActiveRun[];
  /**
   * Starts the app's scheduler (or its wait for the lock) unless the window is the agent's
   * client; main calls it once the window exists.
   */
  startScheduling(): void;
  /** Calls a command the way the window does (through the current handler table). */
  call<K extends CommandName>(name: K, payload?: unknown): Promise<CommandResponse<K>>;
  close(): void;
}

export async function startWindowBackend(deps: WindowBackendDeps): Promise<WindowBackend> {
  const { engine, log } = deps;
  const events = new EventBus((err) => log.error({ err }, 'A window event listener failed'));
  let mode: 'agent' | 'local' = 'local';
  let table: Handlers = engine.handlers;
  let unregister: (() => void) | null = null;
  let unpipe: (() => void) | null = null;
  let conn: AgentConnection | null = null;
  let closing = false;
  let scheduled = false;

  const ownerInfo = async (): Promise<SchedulerOwnerInfo> => ({ ...(await engine.handlers['scheduler.owner'](undefined)), connected: mode === 'agent' && conn !== null && !conn.closed });
  const install = (handlers: Handlers): void => {
    unregister?.();
    table = handlers;
    unregister = registerIpc(deps.ipcMain, handlers, deps.isTrustedSender, log);
  };
  const pipe = (source: (listener: (name: string, payload: unknown) => void) => () => void): void => {
    unpipe?.();
    unpipe = source((name, payload) => {
      if ((EVENTS as readonly string[]).includes(name)) events.emit(name as EventName, payload as EventPayloads[EventName]);
    });
  };
  const announce = async (): Promise<void> => {
    try {
      events.emit('scheduler.changed', await ownerInfo());
    } catch (err) {
      log.error({ err }, 'Could not read who schedules');
    }
  };

  function useLocal(): void {
    mode = 'local';
    install({ ...engine.handlers, ...deps.shellHandlers, 'scheduler.owner': ownerInfo } as Handlers);
    pipe((l) => engine.events.onAny(l));
  }

  function schedule(): void {
    scheduled = true;
    const started = engine.start('app', { retry: true });
    if (started.scheduling) log.info({}, 'The app schedules this data dir\'s tasks.');
    else log.warn({ heldBy: started.heldBy }, `Not scheduling: ${started.heldBy.who} pid ${started.heldBy.pid} schedules this data dir's tasks; Settings shows it.`);
  }

  function useAgent(c: AgentConnection): void {
    mode = 'agent';
    conn = c;
    const forwarded = Object.fromEntries(
      COMMANDS.map((name) => [
        name,
        async (input: unknown) => {
          const r = await c.call(name, input);
          if (!r.ok) throw new BackstopError(r.code, r.message, { retryable: r.retryable });
          return r.data;
        },
      ]),
    );
    const local = Object.fromEntries(LOCAL_COMMANDS.map((name) => [name, engine.handlers[name]]));
    install({ ...forwarded, ...local, ...deps.shellHandlers, 'scheduler.owner': ownerInfo } as Handlers);
    pipe((l) => c.onEvent(l));
    const offRuns = c.onEvent((name) => {
      if (name === 'run.progress' || name === 'history.changed') void refreshRuns(c);
    });
    void refreshRuns(c);
    c.onClose(() => {
      offRuns();
      agentRuns = [];
      if (closing) return;
      log.warn({ path: c.path }, 'The Backstop agent went away; the app takes over the schedules with its own engine.');
      useLocal();
      void takeOver();
    });
  }

  /**
   * After the agent's connection closed: its lock goes stale once its process is gone (a
   * killed agent's socket can close a moment before its pid is reaped; a stopping one
   * released the lock first), so wait briefly for that, then take the lock and schedule.
   */
  async function takeOver(): Promise<void> {
    for (let i = 0; i < 50 && !closing; i++) {
      const o = (await engine.handlers['scheduler.owner'](undefined)).owner;
      if (!o || o.who !== 'agent') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (closing) return;
    if (!scheduled) schedule();
    await announce();
  }

  let agentRuns: ActiveRun[] = [];
  let runsAsked: 'idle' | 'asking' | 'again' = 'idle';
  async function refreshRuns(c: AgentConnection): Promise<void> {
    if (runsAsked !== 'idle') {
      runsAsked = 'again';
      return;
    }
    do {
      runsAsked = 'asking';
      const r = await c.call('runs.active', undefined);
      if (r.ok && !c.closed) agentRuns = r.data as ActiveRun[];
    } while ((runsAsked as string) === 'again' && !c.closed);
    runsAsked = 'idle';
  }

  const owner = (await engine.handlers['scheduler.owner'](undefined)).owner;
  if (owner?.who === 'agent' && owner.host === hostname()) {
    try {
      useAgent(await (deps.connect ?? connectAgent)(engine.dataDir, { waitMs: deps.connectWaitMs ?? 5000 }));
      log.info({ pid: owner.pid }, 'The window is a client of the Backstop agent.');
    } catch (e) {
      const f = toFailure(e);
      log.warn({ code: f.code }, `Not connecting to the Backstop agent: ${f.message}`);
      useLocal();
    }
  } else {
    useLocal();
  }

  return {
    events,
    mode: () => mode,
    activeRuns: () => (mode === 'agent' ? agentRuns : engine.runner.activeRuns()),
    startScheduling() {
      if (mode === 'local' && !scheduled) schedule();
    },
    call: (name, payload) => (mode === 'local' ? engine.call(name, payload) : dispatch(table, name, payload)),
    close() {
      closing = true;
      conn?.close();
      unpipe?.();
      unregister?.();
    },
  };
}
