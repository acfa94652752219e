/**
 * Worker-thread entry: runs database backups (BackupJobSpec; one per worker, or one after
 * another in a reused worker of a JobWorkerPool, or two `sharesThread` jobs at once) so the
 * main thread stays free. Protocol: engine/runtime/worker-job.ts; result = JobOutcome[]. The
 * thread's chunk-encoder workers are started once and lent to each of its jobs (each write
 * opens its own session), one set per size asked. The client-tool versions the run read
 * come with the spec (no `--version` per worker).
 */
import { runBackupJob } from '../engine/backup/run-job.ts';
import type { BackupJobSpec } from '../engine/backup/job-spec.ts';
import type { DatabaseProgress } from '../engine/backup/backup-database.ts';
import { serveWorkerJob } from '../engine/runtime/worker-job.ts';
import { lowerThisThreadPriority } from '../engine/runtime/background-priority.ts';
import { EncoderWorkers } from '../engine/repository/index.ts';
import { seedToolVersions } from '../engine/servers/tools.ts';

lowerThisThreadPriority();

// One set per size asked (an engine asks one size; two share jobs running at once may come from
// two engines of one process): a set another job may be using is never closed for a new size.
const encoders = new Map<number, EncoderWorkers>();
const lend = (size: number): EncoderWorkers => {
  let set = encoders.get(size);
  if (!set) encoders.set(size, (set = new EncoderWorkers(size)));
  return set;
};

serveWorkerJob<BackupJobSpec, unknown>((spec, signal, progress) => {
  if (spec.toolVersions) seedToolVersions(spec.toolVersions);
  return runBackupJob(spec, signal, (p: DatabaseProgress) => progress(p), lend);
});
