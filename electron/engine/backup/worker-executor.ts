/**
 * Runs a backup job in its own worker thread, with memory limits, so a runaway or
 * crashing job never takes the app (or the main thread's responsiveness) down.
 *
 * Contract: resolves with one outcome per destination, always. A worker that dies
 * without reporting (crash, out of memory, exit) yields WORKER_CRASHED outcomes for every
 * destination — nothing it was writing was committed, by the repository's commit
 * protocol. Cancelling stops the worker (terminated if it has not stopped 30 s later).
 */
import { runWorkerJob } from '../runtime/worker-job.ts';
import { toFailure } from '../../shared/result.ts';
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

export const workerExecutor: JobExecutor = (spec, signal, onProgress, onCrash) =>
  runWorkerJob<JobOutcome[], DatabaseProgress>('backup-job', spec, { label: `the backup of ${spec.database}`, signal, onProgress, onCrash }).catch(
    (e: unknown) => {
      const f = toFailure(e);
      return outcomesFor(spec, f.code, f.message, f.code === 'CANCELED' ? 'canceled' : 'failed');
    },
  );
