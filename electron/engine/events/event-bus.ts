/**
 * Typed engine events (the contract's EventPayloads). The Electron main process forwards
 * them to the window, the e2e harness into the page, the CLI prints them.
 *
 * Contract: listeners run synchronously in emit order; a throwing listener is isolated
 * (logged by the caller's onListenerError, never breaks the emitter). Payloads must not
 * contain secrets; they are plain JSON.
 */
import type { EventName, EventPayloads } from '../../shared/ipc/index.ts';

export type EventListener<E extends EventName> = (payload: EventPayloads[E]) => void;
export type AnyEventListener = <E extends EventName>(name: E, payload: EventPayloads[E]) => void;

export class EventBus {
  private readonly listeners = new Map<EventName, Set<(p: unknown) => void>>();
  private readonly anyListeners = new Set<AnyEventListener>();

  constructor(private readonly onListenerError: (e: unknown) => void = () => {}) {}

  on<E extends EventName>(name: E, listener: EventListener<E>): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    const l = listener as (p: unknown) => void;
    set.add(l);
    return () => set.delete(l);
  }

  /** Receives every event; used by shells that forward events to another process. */
  onAny(listener: AnyEventListener): () => void {
    this.anyListeners.add(listener);
    return () => this.anyListeners.delete(listener);
  }

  emit<E extends EventName>(name: E, payload: EventPayloads[E]): void {
    for (const l of this.listeners.get(name) ?? []) this.safe(() => l(payload));
    for (const l of this.anyListeners) this.safe(() => l(name, payload));
  }

  private safe(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.onListenerError(e);
    }
  }
}
