/**
 * Runs a backup job in a worker thread, with memory limits, so a runaway or crashing job
 * never takes the app (or the main thread's responsiveness) down. The job workers are
 * reused from job to job (a JobWorkerPool: one job at a time each, as many as jobs run at
 * once), so a server with hundreds of small databases does not start a thread and load the
 * engine once per database.
 *
 * Contract: resolves with one outcome per destination, always. A worker that dies
 * without reporting (crash, out of memory, exit) yields WORKER_CRASHED outcomes for every
 * destination of the job it was running, and only that job — nothing it was writing was
 * committed, by the repository's commit protocol; the pool starts a fresh worker for the
 * next job. Jobs marked `sharesThread` (a logical run's binary-log read and grants.sql) run
 * in one thread, and a crash of that thread fails both. `warm` starts idle workers ahead of a run's first jobs. Cancelling stops the
 * job (its worker terminated if it has not stopped 30 s later).
 */
import { JobWorkerPool } from '../runtime/worker-job.ts';
import { toFailure } from '../../shared/result.ts';
import { destinationId } from '../destinations/index.ts';
import type { DatabaseProgress, DestinationOutcome } from './backup-database.ts';
import type { JobOutcome } from './run-job.ts';
import type { BackupJobSpec } from './job-spec.ts';

export type JobExecutor = ((
  spec: BackupJobSpec,
  signal: AbortSignal,
  onProgress: (p: DatabaseProgress) => void,
  onCrash?: (e: unknown) => void,
) => Promise<JobOutcome[]>) & {
  /** Gets up to `jobs` job threads started ahead of the jobs (a run calls it before its connection test). */
  warm?: (jobs: number) => void;
};

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

/** A JobExecutor running each job in one of `pool`'s workers (entry `backup-job`). */
export function pooledExecutor(pool: JobWorkerPool): JobExecutor {
  const run: JobExecutor = (spec, signal, onProgress, onCrash) =>
    pool.run<JobOutcome[], DatabaseProgress>(spec, { label: `the backup of ${spec.database}`, signal, onProgress, onCrash, share: spec.sharesThread === true }).catch((e: unknown) => {
      const f = toFailure(e);
      return outcomesFor(spec, f.code, f.message, f.code === 'CANCELED' ? 'canceled' : 'failed');
    });
  run.warm = (jobs) => pool.warm(jobs);
  return run;
}

/** The backup job workers of this process. */
export const backupJobWorkers = new JobWorkerPool('backup-job');

export const workerExecutor: JobExecutor = pooledExecutor(backupJobWorkers);
