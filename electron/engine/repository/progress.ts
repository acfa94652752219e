/**
 * Progress of a repository write: what it reports (throttled by runtime/progress-throttle.ts:
 * ~4/s while running, plus exactly one final report with `done: true` on success) and
 * the time-left estimate.
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

export { ProgressThrottle, type ProgressSink } from '../runtime/progress-throttle.ts';

export function etaSeconds(done: number, total: number | null, elapsedMs: number): number | null {
  if (total === null || done <= 0 || elapsedMs <= 0) return null;
  const rate = done / elapsedMs;
  return Math.max(0, Math.round((total - done) / rate / 1000));
}
