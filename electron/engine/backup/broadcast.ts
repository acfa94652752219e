/**
 * One source stream read once and fed to several consumers (one per destination), with
 * backpressure to the slowest consumer and failure isolation.
 *
 * Contract:
 * - Each consumer sees every chunk of the source, in order, then the end of the source.
 * - The source is pulled again only when every attached consumer has taken the previous
 *   chunk (at most one chunk in flight).
 * - A consumer that stops early (its loop throws or breaks, or it calls `detach()`) is
 *   detached; the others continue. When every consumer has detached, the source is closed (`return()`).
 * - If the source fails, every attached consumer's iteration throws that same error —
 *   so no consumer can mistake a truncated stream for a complete one.
 */
type Item = { kind: 'value'; value: Uint8Array } | { kind: 'end' } | { kind: 'error'; error: unknown };

/** A one-item hand-over between the producer and one consumer. */
class Slot {
  private item: Item | null = null;
  private onNext: (() => void) | null = null;
  private waiter: ((item: Item) => void) | null = null;
  detached = false;

  /** Resolves when the consumer has taken the item (or detached). */
  put(item: Item): Promise<void> {
    if (this.detached) return Promise.resolve();
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(item);
      return Promise.resolve();
    }
    this.item = item;
    return new Promise((resolve) => (this.onNext = resolve));
  }

  next(): Promise<Item> {
    if (this.item) {
      const item = this.item;
      this.item = null;
      this.release();
      return Promise.resolve(item);
    }
    return new Promise((resolve) => (this.waiter = resolve));
  }

  detach(): void {
    this.detached = true;
    this.item = null;
    this.release();
  }

  private release(): void {
    const t = this.onNext;
    this.onNext = null;
    t?.();
  }
}

/** One consumer's view. `detach()` is for a consumer that stops without finishing its loop. */
export interface Branch extends AsyncIterable<Uint8Array> {
  detach(): void;
}

export function broadcast(source: AsyncIterable<Uint8Array>, consumers: number): Branch[] {
  const slots = Array.from({ length: consumers }, () => new Slot());
  const iterator = source[Symbol.asyncIterator]();
  let started = false;
  const attached = () => slots.filter((s) => !s.detached);

  async function pump(): Promise<void> {
    try {
      for (;;) {
        if (attached().length === 0) {
          await iterator.return?.();
          return;
        }
        const r = await iterator.next();
        if (r.done) {
          await Promise.all(attached().map((s) => s.put({ kind: 'end' })));
          return;
        }
        await Promise.all(attached().map((s) => s.put({ kind: 'value', value: r.value })));
      }
    } catch (error) {
      await Promise.all(attached().map((s) => s.put({ kind: 'error', error })));
    }
  }

  return slots.map((slot) => ({
    detach: () => slot.detach(),
    [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
      if (!started) {
        started = true;
        void pump();
      }
      let finished = false;
      return {
        async next() {
          if (finished || slot.detached) return { done: true, value: undefined };
          const item = await slot.next();
          if (item.kind === 'value') return { done: false, value: item.value };
          finished = true;
          slot.detached = true;
          if (item.kind === 'end') return { done: true, value: undefined };
          throw item.error;
        },
        async return() {
          finished = true;
          slot.detach();
          return { done: true, value: undefined };
        },
      };
    },
  }));
}
