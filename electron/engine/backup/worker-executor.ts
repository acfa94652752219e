/**
 * Runs a backup job in its own worker thread, with memory limits, so a runaway or
 * crashing job never takes the app (or the main thread's responsiveness) down.
 *
 * Contract: resolves with one outcome per destination, always. A worker that dies
 * without reporting (crash, out of memory, exit) yields WORKER_CRASHED outcomes for every
 * destination — nothing it was writing was committed, by the repository's commit
 * protocol. Cancel posts a message; a worker that has not stopped 30 s later is
 * terminated (its outcomes are CANCELED).
 */
import { startWorker } from '../runtime/worker-entry.ts';
import { destinationId } from '../destinations/index.ts';
import type { DatabaseProgress, DestinationOutcome } from './backup-database.ts';
import type { JobOutcome } from './run-job.ts';
import type { BackupJobSpec } from './job-spec.ts';

export type JobExecutor = (
  spec: BackupJobSpec,
  signal: AbortSignal,
  onProgress: (p: DatabaseProgress) => void,
  onCrash?: (e: unknown) => void,
) => Promise<JobOutcome[]>;

const TERMINATE_AFTER_CANCEL_MS = 30_000;

export function outcomesFor(spec: BackupJobSpec, code: string, message: string, status: DestinationOutcome['status'] = 'failed'): DestinationOutcome[] {
  return spec.destinations.map((d) => ({
    destination: destinationId(d),
    status,
    kind: spec.requestedKind,
    kindReason: null,
    pointId: null,
    bytesRead: 0,
    bytesNew: 0,
    bytesStored: 0,
    error: { code, message },
  }));
}

export const workerExecutor: JobExecutor = (spec, signal, onProgress, onCrash = () => {}) =>
  new Promise((resolve) => {
    const worker = startWorker('backup-job', spec, { resourceLimits: { maxOldGenerationSizeMb: 1024 } });
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const finish = (outcomes: DestinationOutcome[]) => {
      if (settled) return;
      settled = true;
      clearTimeout(killTimer);
      signal.removeEventListener('abort', onAbort);
      resolve(outcomes);
    };
    const onAbort = () => {
      worker.postMessage({ type: 'cancel' });
      killTimer = setTimeout(() => {
        void worker.terminate();
        finish(outcomesFor(spec, 'CANCELED', `The backup of ${spec.database} was cancelled.`, 'canceled'));
      }, TERMINATE_AFTER_CANCEL_MS);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (m: { type: string; progress?: DatabaseProgress; outcomes?: DestinationOutcome[] }) => {
      if (m.type === 'progress' && m.progress) onProgress(m.progress);
      else if (m.type === 'done' && m.outcomes) finish(m.outcomes);
    });
    const crashed = (detail: string) =>
      finish(
        outcomesFor(
          spec,
          'WORKER_CRASHED',
          `The backup worker for ${spec.database} stopped unexpectedly (${detail}); no restore point was written. The next run will try again; details are in the Backstop log.`,
        ),
      );
    worker.on('error', (e) => {
      onCrash(e);
      crashed(e instanceof Error && /memory/i.test(e.message) ? 'out of memory' : 'error');
    });
    worker.on('exit', (code) => {
      if (signal.aborted && !settled) finish(outcomesFor(spec, 'CANCELED', `The backup of ${spec.database} was cancelled.`, 'canceled'));
      else crashed(`exit code ${code}`);
    });
  });
