/**
 * Progress plumbing for restores: a throttled reporter (at most ~4 updates a second plus
 * the final one) and a pass-through stream that counts bytes (`countingStream` to pipe,
 * `countedBytes` to read through: the source's errors reach the reader).
 *
 * Contract: `report(done)` may be called as often as wanted; `finish()` always emits one
 * last update with done === total (when total is known). Callbacks that throw are ignored
 * (progress must never break a restore).
 */
import { Readable, Transform } from 'node:stream';
import { ProgressThrottle } from '../runtime/progress-throttle.ts';
import type { RestoreProgress } from './connector.ts';

export class ProgressReporter {
  private done = 0;
  private readonly throttle: ProgressThrottle<RestoreProgress>;

  constructor(
    private readonly unit: RestoreProgress['unit'],
    private total: number | null,
    sink?: (p: RestoreProgress) => void,
  ) {
    this.throttle = new ProgressThrottle(sink);
  }

  setTotal(total: number | null): void {
    this.total = total;
  }

  report(done: number): void {
    this.done = this.total === null ? done : Math.min(done, this.total);
    this.throttle.tick(() => this.snapshot());
  }

  finish(): void {
    if (this.total !== null) this.done = this.total;
    this.throttle.final(this.snapshot());
  }

  private snapshot(): RestoreProgress {
    return { unit: this.unit, done: this.done, total: this.total };
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

/** The source's bytes, reported as they are read; an error of the source ends the result with it. */
export function countedBytes(source: Readable, reporter: ProgressReporter): Readable {
  return Readable.from(
    (async function* () {
      let bytes = 0;
      for await (const chunk of source as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        reporter.report(bytes);
        yield chunk;
      }
    })(),
    { objectMode: false },
  );
}
