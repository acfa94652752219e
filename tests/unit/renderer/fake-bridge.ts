/**
 * A fake `window.backstop` for renderer unit tests (happy-dom): each command is a vi.fn
 * answering with a Result the test chooses; `emit` delivers an event to the listeners the
 * renderer registered through `on()`. Only renderer unit tests use this; e2e tests talk to
 * a real engine.
 */
import { vi, type Mock } from 'vitest';
import type { CommandName, EventName } from '@shared/ipc/channels.ts';
import { COMMANDS } from '@shared/ipc/contract.ts';
import type { CommandResults, EventPayloads } from '@shared/ipc/contract.ts';
import { fail, ok, type Result } from '@shared/result.ts';
import type { Server } from '@shared/domain.ts';

type Responder<K extends CommandName> = (input: unknown) => Result<CommandResults[K]> | Promise<Result<CommandResults[K]>>;

export interface FakeBridge {
  bridge: Record<string, unknown>;
  commands: { [K in CommandName]: Mock<(input: unknown) => Promise<Result<CommandResults[K]>>> };
  respond<K extends CommandName>(name: K, responder: Responder<K>): void;
  emit<E extends EventName>(name: E, payload: EventPayloads[E]): void;
  listenerCount(name: EventName): number;
}

export function installFakeBridge(): FakeBridge {
  const responders = new Map<CommandName, Responder<CommandName>>();
  const listeners = new Map<EventName, Set<(p: unknown) => void>>();
  const commands = {} as FakeBridge['commands'];
  for (const name of COMMANDS) {
    (commands as Record<string, unknown>)[name] = vi.fn(async (input: unknown) => {
      const r = responders.get(name);
      return r ? r(input) : fail('INTERNAL', `${name} is not faked in this test`);
    });
  }
  const bridge: Record<string, unknown> = {
    ...commands,
    on(name: EventName, listener: (p: unknown) => void) {
      let set = listeners.get(name);
      if (!set) listeners.set(name, (set = new Set()));
      set.add(listener);
      return () => set.delete(listener);
    },
  };
  Object.defineProperty(window, 'backstop', { value: bridge, configurable: true, writable: true });
  return {
    bridge,
    commands,
    respond(name, responder) {
      responders.set(name, responder as Responder<CommandName>);
    },
    emit(name, payload) {
      for (const l of listeners.get(name) ?? []) l(payload);
    },
    listenerCount(name) {
      return listeners.get(name)?.size ?? 0;
    },
  };
}

export function removeBridge(): void {
  Reflect.deleteProperty(window, 'backstop');
  // What the window kept for a reload (the task editor's draft) belongs to the test that typed it.
  sessionStorage.clear();
}

export function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export function sqliteServer(id: string, name: string, folder = `/data/${id}`): Server {
  return { id, name, kind: 'sqlite', folder, createdAt: '2026-01-02T03:04:05.000Z', updatedAt: '2026-01-02T03:04:05.000Z' };
}

export { ok, fail };
