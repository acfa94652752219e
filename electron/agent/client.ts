/**
 * The window's side of the agent's control endpoint (endpoint.ts): a connection that asks
 * the agent's engine every contract command and receives its events.
 *
 * Contract:
 * - `connectAgent(dataDir)` first checks what is at the endpoint path (Linux, macOS): it must
 *   be a socket owned by this user with no group/other permission bits; a file that is not a
 *   socket is refused with CONFLICT, a socket of another user or one others may use with
 *   PERMISSION_DENIED — each message names the path and the fix, and nothing is sent to it.
 *   A missing socket or one nothing answers on is retried until `waitMs` (the agent opens the
 *   endpoint just after taking the lock), then UNREACHABLE.
 * - `call(name, payload)` sends `{id, command, payload}` and resolves with the agent's
 *   Result (never rejects); calls still waiting when the connection closes resolve
 *   UNREACHABLE.
 * - `onEvent` receives each `{event, payload}`; `onClose` runs once when the connection ends
 *   (the agent stopped or was killed, or `close()`).
 */
import { lstatSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { BackstopError, fail, type Result } from '../shared/result.ts';
import { agentEndpointPath } from './endpoint-path.ts';
import { lineChannel } from './line-channel.ts';

export interface AgentConnection {
  readonly path: string;
  call(command: string, payload: unknown): Promise<Result<unknown>>;
  onEvent(listener: (name: string, payload: unknown) => void): () => void;
  onClose(listener: () => void): void;
  close(): void;
  readonly closed: boolean;
}

export interface ConnectOptions {
  platform?: NodeJS.Platform;
  /** How long a missing or silent endpoint is retried (ms). */
  waitMs?: number;
  /** This user's uid (tests); default process.getuid(). */
  uid?: number;
}

/** Refuses anything at the path but this user's private socket (posix only). */
export function checkEndpointFile(path: string, uid: number): 'missing' | 'ok' {
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw e;
  }
  if (!st.isSocket()) {
    throw new BackstopError('CONFLICT', `${path} is not the Backstop agent's socket (it is a file of another kind), so this window does not connect to it and uses its own engine. Move that file away; the next "backstop agent" start makes the socket.`);
  }
  if (st.uid !== uid) {
    throw new BackstopError('PERMISSION_DENIED', `${path} belongs to another user (uid ${st.uid}, not ${uid}), so this window does not connect to it and uses its own engine. Run the agent as the user who owns this data dir.`);
  }
  if ((st.mode & 0o077) !== 0) {
    throw new BackstopError('PERMISSION_DENIED', `${path} may be used by other users (mode ${(st.mode & 0o777).toString(8)}), so this window does not connect to it and uses its own engine. Restart the agent (it makes the socket 0600).`);
  }
  return 'ok';
}

function open(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => {
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', reject);
  });
}

export async function connectAgent(dataDir: string, opts: ConnectOptions = {}): Promise<AgentConnection> {
  const platform = opts.platform ?? process.platform;
  const path = agentEndpointPath(dataDir, platform);
  const uid = opts.uid ?? process.getuid?.() ?? -1;
  const deadline = Date.now() + (opts.waitMs ?? 5000);
  let socket: Socket | null = null;
  for (;;) {
    const state = platform === 'win32' ? 'ok' : checkEndpointFile(path, uid);
    if (state === 'ok') {
      try {
        socket = await open(path);
        break;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ECONNREFUSED' && code !== 'ENOENT') throw new BackstopError('UNREACHABLE', `Could not connect to the Backstop agent at ${path}: ${(e as Error).message}.`);
      }
    }
    if (Date.now() >= deadline) throw new BackstopError('UNREACHABLE', `The Backstop agent does not answer at ${path}. It may still be starting or have stopped; this window uses its own engine.`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return wrap(path, socket);
}

function wrap(path: string, socket: Socket): AgentConnection {
  let nextId = 1;
  const waiting = new Map<number, (r: Result<unknown>) => void>();
  const eventListeners = new Set<(name: string, payload: unknown) => void>();
  const closeListeners: (() => void)[] = [];
  const channel = lineChannel(socket, {
    onMessage(text) {
      let msg: { id?: unknown; result?: Result<unknown>; event?: unknown; payload?: unknown };
      try {
        msg = JSON.parse(text) as typeof msg;
      } catch {
        return;
      }
      if (typeof msg.event === 'string') {
        for (const l of eventListeners) l(msg.event, msg.payload);
        return;
      }
      if (typeof msg.id === 'number' && msg.result && typeof msg.result === 'object') {
        const done = waiting.get(msg.id);
        waiting.delete(msg.id);
        done?.(msg.result);
      }
    },
    onClose() {
      for (const done of waiting.values()) done(fail('UNREACHABLE', 'The Backstop agent stopped before it answered. The window now uses its own engine; try again.'));
      waiting.clear();
      for (const l of closeListeners) l();
    },
  });
  return {
    path,
    get closed() {
      return channel.closed;
    },
    call(command, payload) {
      if (channel.closed) return Promise.resolve(fail('UNREACHABLE', 'The Backstop agent is no longer connected. Try again.'));
      const id = nextId++;
      return new Promise((resolve) => {
        waiting.set(id, resolve);
        channel.send(JSON.stringify({ id, command, payload }));
      });
    },
    onEvent(listener) {
      eventListeners.add(listener);
      return () => eventListeners.delete(listener);
    },
    onClose(listener) {
      closeListeners.push(listener);
    },
    close() {
      channel.close();
    },
  };
}
