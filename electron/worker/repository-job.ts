/**
 * Worker-thread entry for reading repositories: restore a point into a new database, or
 * verify points. Protocol: engine/runtime/worker-job.ts.
 */
import { runRestore, runVerify, type RestoreJobSpec, type VerifyJobSpec } from '../engine/restore/run-restore.ts';
import { serveWorkerJob } from '../engine/runtime/worker-job.ts';
import { lowerThisThreadPriority } from '../engine/runtime/background-priority.ts';

lowerThisThreadPriority();

serveWorkerJob<RestoreJobSpec | VerifyJobSpec, unknown>((job, signal, progress) =>
  job.op === 'restore' ? runRestore(job, signal, progress) : runVerify(job, signal),
);
