/**
 * The agent's control endpoint: while `backstop agent` or `backstop serve` holds the
 * scheduler lock, the Backstop window on the same machine connects here and becomes a client
 * of the agent (its commands answered by the agent's engine, its events the agent's).
 *
 * Contract:
 * - Listens on `agentEndpointPath(dataDir)` (endpoint-path.ts): a Unix socket in the data
 *   dir, which is made 0700, the socket 0600 (only the data dir's owner can connect; the
 *   peer's uid is not read — Node has no SO_PEERCRED — the file modes are the check); on
 *   Windows a named pipe.
 * - Each connection is a contract session (serve/contract-session.ts) over one-JSON-per-line
 *   framing (line-channel.ts): `{id, command, payload}` → `{id, result}` through `dispatch`
 *   with the engine's handlers, events as `{event, payload}` — the same messages as serve's
 *   WebSocket, no ops.
 * - A socket left by a killed agent (nothing answers on it) is replaced. A socket something
 *   answers on, or a file at the path that is not a socket, is left alone and refused with
 *   CONFLICT naming the path and the fix.
 * - `close()` ends every connection and removes the socket (only while it is still the one
 *   this process made).
 */
import { chmodSync, lstatSync, rmSync, type Stats } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { dispatch, isCommandName, type Handlers } from '../engine/api/dispatch.ts';
import { BackstopError, fail } from '../shared/result.ts';
import { openContractSession } from '../serve/contract-session.ts';
import { agentEndpointPath } from './endpoint-path.ts';
import { lineChannel } from './line-channel.ts';

export interface AgentEndpointEngine {
  dataDir: string;
  handlers: Handlers;
  events: { onAny(listener: (name: string, payload: unknown) => void): () => void };
}

export interface AgentEndpoint {
  path: string;
  close(): Promise<void>;
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** True when a process accepts connections on the socket. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Clears the way for the endpoint: a stale socket is removed; anything else is refused. */
async function clearStale(path: string): Promise<void> {
  const st = lstatOrNull(path);
  if (!st) return;
  if (!st.isSocket()) {
    throw new BackstopError('CONFLICT', `${path} exists and is not the Backstop agent's socket, so the agent cannot offer the window its control endpoint there. Move that file away, then start the agent again.`);
  }
  if (await answers(path)) {
    throw new BackstopError('CONFLICT', `Another process already answers on ${path}. Stop it (another "backstop agent" or "backstop serve" on this data dir), then start this one again.`);
  }
  rmSync(path, { force: true }); // left by an agent that was killed
}

export async function startAgentEndpoint(engine: AgentEndpointEngine, opts: { platform?: NodeJS.Platform; onInternalError?: (e: unknown, command: string) => void } = {}): Promise<AgentEndpoint> {
  const platform = opts.platform ?? process.platform;
  const path = agentEndpointPath(engine.dataDir, platform);
  const posix = platform !== 'win32';
  if (posix) {
    chmodSync(engine.dataDir, 0o700);
    await clearStale(path);
  }
  const sockets = new Set<Socket>();
  const run = async (command: string, payload: unknown) =>
    isCommandName(command) ? dispatch(engine.handlers, command, payload, opts.onInternalError) : fail('MALFORMED_REQUEST', `Unknown command "${command.slice(0, 64)}".`);
  const server = createServer((socket) => {
    sockets.add(socket);
    const session = openContractSession({
      channel: lineChannel(socket, {
        onMessage: (text) => session.message(text),
        onClose: () => {
          sockets.delete(socket);
          session.end();
        },
      }),
      run,
      events: engine.events,
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' ? new BackstopError('CONFLICT', `Another process already answers on ${path}. Stop it, then start this one again.`) : e),
    );
    server.listen(path, () => resolve());
  });
  let made: Stats | null = null;
  if (posix) {
    chmodSync(path, 0o600);
    made = lstatSync(path);
  }
  return {
    path,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (made) {
        // Node removes the socket file on close; make sure, but never someone else's.
        const now = lstatOrNull(path);
        if (now && now.ino === made.ino && now.dev === made.dev) rmSync(path, { force: true });
      }
    },
  };
}
