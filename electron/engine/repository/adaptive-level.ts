/**
 * The zstd level of each new chunk, chosen from how far the encoders lag behind the input
 * (issue #21 item 5: compression must never be what slows the dump down).
 *
 * `backlog` is the number of chunks this write has handed to its encoders and not yet got
 * back. While it stays within one chunk per worker the encoders keep up and every chunk gets
 * the configured level (`max`). Beyond that the level steps down linearly, reaching `min`
 * when the backlog is one short of `capacity` (the writer's chunks in flight: at capacity
 * it stops reading, and the dump waits). Nothing is ever re-compressed: a chunk keeps the
 * level it was given (a zstd frame decodes the same at any level, so the format does not
 * record it). With `min === max`, or no workers (inline encoding has no backlog), the level
 * is always `max`; the writer also uses `max` until its first chunk comes back (before
 * that the backlog measures the workers' start-up, not their pace).
 *
 * Contract: pure; `levelFor` is in [min, max] and never increases with the backlog.
 */
export class AdaptiveLevel {
  constructor(
    readonly max: number,
    readonly min: number,
    private readonly workers: number,
    private readonly capacity: number,
  ) {
    if (!(min <= max)) throw new RangeError('the lowest compression level must not exceed the configured one');
  }

  levelFor(backlog: number): number {
    if (this.max === 0 || this.workers === 0) return this.max;
    const calm = this.workers;
    const full = Math.max(calm + 1, this.capacity - 1);
    if (backlog <= calm) return this.max;
    if (backlog >= full) return this.min;
    return Math.round(this.max - ((backlog - calm) / (full - calm)) * (this.max - this.min));
  }
}
