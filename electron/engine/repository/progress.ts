/**
 * Throttled progress reporting for long repository operations (after restic's updater):
 * at most one report per `intervalMs` (default 250 ms, i.e. ~4/s) while running, plus
 * exactly one final report with `done: true` when the operation succeeds. A throwing
 * sink is ignored: progress must never break a backup.
 */

export interface WriteProgress {
  /** Bytes consumed from the input stream. */
  bytesRead: number;
  /** Raw bytes of chunks the chain did not have yet. */
  bytesNew: number;
  /** Bytes written to packs for those chunks (compressed, sealed). */
  bytesStored: number;
  chunksNew: number;
  chunksReused: number;
  /** Expected input size when the caller knew it, else null. */
  expectedBytes: number | null;
  /** Seconds left at the current rate; null when the size is unknown. */
  etaSeconds: number | null;
  elapsedMs: number;
  done: boolean;
}

export type ProgressSink<P> = (p: P) => void;

export class ProgressThrottle<P> {
  private last = -Infinity;

  constructor(
    private readonly sink: ProgressSink<P> | undefined,
    private readonly now: () => number,
    private readonly intervalMs = 250,
  ) {}

  /** Reports if the interval has passed; `make` is only called when a report is due. */
  tick(make: () => P): void {
    if (!this.sink) return;
    const t = this.now();
    if (t - this.last < this.intervalMs) return;
    this.last = t;
    this.emit(make());
  }

  final(p: P): void {
    if (this.sink) this.emit(p);
  }

  private emit(p: P): void {
    try {
      this.sink?.(p);
    } catch {
      /* a broken progress listener must not fail the operation */
    }
  }
}

export function etaSeconds(done: number, total: number | null, elapsedMs: number): number | null {
  if (total === null || done <= 0 || elapsedMs <= 0) return null;
  const rate = done / elapsedMs;
  return Math.max(0, Math.round((total - done) / rate / 1000));
}
