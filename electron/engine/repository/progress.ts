/**
 * Progress of a repository write: what it reports (throttled by runtime/progress-throttle.ts:
 * ~4/s while running, plus exactly one final report with `done: true` on success) and
 * the time-left estimate. While packs upload (one uploads while the next fills; the last
 * ones after the input ended) a report also follows each acknowledged part of a pack
 * (throttled the same way), so a slow link shows bytes moving, not a frozen bar.
 */

export interface WriteProgress {
  /** Bytes consumed from the input stream. */
  bytesRead: number;
  /** Raw bytes of chunks the chain did not have yet. */
  bytesNew: number;
  /** Bytes written to packs for those chunks (compressed, sealed). */
  bytesStored: number;
  /** Bytes of packs (stored chunks + pack headers and indexes) handed to the upload. */
  bytesToUpload: number;
  /** Bytes of those packs the destination acknowledged (equals `bytesToUpload` once done). */
  bytesUploaded: number;
  /** 'reading' while the input is read; 'uploading' once it ended and the write waits for its packs and commit. */
  phase: 'reading' | 'uploading';
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
