/**
 * Progress plumbing for restores: a throttled reporter (at most ~4 updates a second plus
 * the final one) and a pass-through stream that counts bytes.
 *
 * Contract: `report(done)` may be called as often as wanted; `finish()` always emits one
 * last update with done === total (when total is known). Callbacks that throw are ignored
 * (progress must never break a restore).
 */
import { Transform } from 'node:stream';
import type { RestoreProgress } from './connector.ts';

const INTERVAL_MS = 250;

export class ProgressReporter {
  private last = 0;
  private done = 0;

  constructor(
    private readonly unit: RestoreProgress['unit'],
    private total: number | null,
    private readonly sink?: (p: RestoreProgress) => void,
  ) {}

  setTotal(total: number | null): void {
    this.total = total;
  }

  report(done: number): void {
    this.done = this.total === null ? done : Math.min(done, this.total);
    const now = Date.now();
    if (now - this.last < INTERVAL_MS) return;
    this.last = now;
    this.emit();
  }

  finish(): void {
    if (this.total !== null) this.done = this.total;
    this.emit();
  }

  private emit(): void {
    try {
      this.sink?.({ unit: this.unit, done: this.done, total: this.total });
    } catch {
      /* progress must never break a restore */
    }
  }
}

/** A pass-through that reports bytes seen. */
export function countingStream(reporter: ProgressReporter): Transform {
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      reporter.report(bytes);
      cb(null, chunk);
    },
  });
}
