/**
 * A contract session over a message channel: the one owner of the command/event messages
 * that `backstop serve`'s WebSocket (server.ts) and the agent's local endpoint
 * (agent-endpoint.ts) speak.
 *
 * Contract:
 * - A message is one JSON object. `{id, command, payload}` is answered `{id, result}` with
 *   `run(command, payload)` (the caller's dispatch: schema parse, handler, Result). `{id,
 *   op, ...}` is answered by the caller's `ops[op]` (serve's folder browser); an unknown op
 *   or a message without a command gets MALFORMED_REQUEST. A message that is not a JSON
 *   object is answered `{id: null, result: MALFORMED_REQUEST}`. A throwing op or run is
 *   answered with its Failure; nothing throws out of here.
 * - Every contract event (channels.ts EVENTS) of `events` is sent as `{event, payload}`;
 *   others are dropped.
 * - `allowed()` is asked before each message and event: when it says false the channel is
 *   closed with 4401 ("session ended") instead.
 * - `end()` stops the event forwarding (call it when the channel closes).
 */
import { EVENTS } from '../shared/ipc/channels.ts';
import { fail, toFailure, type Failure, type Result } from '../shared/result.ts';

export interface ContractChannel {
  send(text: string): void;
  close(code: number, reason: string): void;
}

/** One contract message as it arrives (fields are checked by whoever uses them). */
export type ContractMessage = Record<string, unknown> & { id?: unknown; command?: unknown; payload?: unknown; op?: unknown };

export interface ContractSessionOptions {
  channel: ContractChannel;
  run(command: string, payload: unknown): Promise<Result<unknown>>;
  ops?: Record<string, (msg: ContractMessage) => Promise<Result<unknown>>>;
  events: { onAny(listener: (name: string, payload: unknown) => void): () => void };
  allowed?: () => boolean;
}

export interface ContractSession {
  /** Handles one received text message (answers it on the channel). */
  message(text: string): void;
  end(): void;
}

/** The answer to one message, without sending it. */
export async function answerMessage(text: string, run: ContractSessionOptions['run'], ops: ContractSessionOptions['ops'] = {}): Promise<{ id: string | number | null; result: Result<unknown> }> {
  let msg: ContractMessage;
  try {
    msg = JSON.parse(text) as ContractMessage;
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) throw new Error('not an object');
  } catch {
    return { id: null, result: fail('MALFORMED_REQUEST', 'The message is not a JSON object.') };
  }
  const id = typeof msg.id === 'number' || typeof msg.id === 'string' ? msg.id : null;
  try {
    if (msg.op !== undefined) {
      const op = typeof msg.op === 'string' && Object.hasOwn(ops, msg.op) ? ops[msg.op] : undefined;
      if (!op) return { id, result: fail('MALFORMED_REQUEST', `Unknown op "${String(msg.op).slice(0, 40)}".`) };
      return { id, result: await op(msg) };
    }
    if (typeof msg.command !== 'string') return { id, result: fail('MALFORMED_REQUEST', 'The message names no command.') };
    return { id, result: await run(msg.command, msg.payload) };
  } catch (e) {
    return { id, result: toFailure(e) as Failure };
  }
}

export function openContractSession(opts: ContractSessionOptions): ContractSession {
  const allowed = opts.allowed ?? (() => true);
  let ended = false;
  const off = opts.events.onAny((name, payload) => {
    if (ended || !(EVENTS as readonly string[]).includes(name)) return;
    if (!allowed()) return opts.channel.close(4401, 'session ended');
    opts.channel.send(JSON.stringify({ event: name, payload }));
  });
  return {
    message(text) {
      if (ended) return;
      if (!allowed()) return opts.channel.close(4401, 'session ended');
      void answerMessage(text, opts.run, opts.ops).then((answer) => {
        if (!ended) opts.channel.send(JSON.stringify(answer));
      });
    },
    end() {
      ended = true;
      off();
    },
  };
}
