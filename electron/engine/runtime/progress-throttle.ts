/**
 * The one progress throttle (after restic's updater): at most one report per `intervalMs`
 * (default 250 ms, i.e. ~4/s) while work runs, plus any number of forced reports (a phase
 * change, the final one). A throwing sink is ignored: progress must never break a backup,
 * restore or verification.
 */

export type ProgressSink<P> = (p: P) => void;

export const PROGRESS_INTERVAL_MS = 250;

export class ProgressThrottle<P> {
  private last = -Infinity;

  constructor(
    private readonly sink: ProgressSink<P> | undefined,
    private readonly now: () => number = Date.now,
    private readonly intervalMs = PROGRESS_INTERVAL_MS,
  ) {}

  /** Reports if the interval has passed; `make` is only called when a report is due. */
  tick(make: () => P): void {
    if (!this.sink) return;
    const t = this.now();
    if (t - this.last < this.intervalMs) return;
    this.last = t;
    this.emit(make());
  }

  /** Reports now, whatever the interval (a phase change, the final report). */
  final(p: P): void {
    if (!this.sink) return;
    this.last = this.now();
    this.emit(p);
  }

  private emit(p: P): void {
    try {
      this.sink?.(p);
    } catch {
      /* a broken progress listener must not fail the operation */
    }
  }
}
