/**
 * Worker-thread entry for reading repositories: restore a point into a new database,
 * apply stored PostgreSQL globals to a server, test-restore a point, or verify points. Protocol:
 * engine/runtime/worker-job.ts.
 */
import { runApplyGlobals, type ApplyGlobalsJobSpec } from '../engine/restore/run-apply-globals.ts';
import { runRestore, runVerify, type RestoreJobSpec, type VerifyJobSpec } from '../engine/restore/run-restore.ts';
import { serveWorkerJob } from '../engine/runtime/worker-job.ts';
import { runTestRestoreJob, type TestRestoreJobSpec } from '../engine/test-restore/run-test-restore-job.ts';
import { lowerThisThreadPriority } from '../engine/runtime/background-priority.ts';

lowerThisThreadPriority();

serveWorkerJob<RestoreJobSpec | VerifyJobSpec | ApplyGlobalsJobSpec | TestRestoreJobSpec, unknown>((job, signal, progress) =>
  job.op === 'restore'
    ? runRestore(job, signal, progress)
    : job.op === 'apply-globals'
      ? runApplyGlobals(job, signal)
      : job.op === 'test-restore'
        ? runTestRestoreJob(job, signal)
        : runVerify(job, signal),
);
