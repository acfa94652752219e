/**
 * Worker-thread entry: runs database backups (BackupJobSpec; one per worker, or one after
 * another in a reused worker of a JobWorkerPool, or two `sharesThread` jobs at once) so the
 * main thread stays free. Protocol: engine/runtime/worker-job.ts; result = JobOutcome[]. The
 * thread's chunk-encoder workers are started once and lent to each of its jobs (each write
 * opens its own session; jobs at once ask the same size: one engine's encoderWorkers). The
 * client-tool versions the run read come with the spec (no `--version` per worker).
 */
import { runBackupJob } from '../engine/backup/run-job.ts';
import type { BackupJobSpec } from '../engine/backup/job-spec.ts';
import type { DatabaseProgress } from '../engine/backup/backup-database.ts';
import { serveWorkerJob } from '../engine/runtime/worker-job.ts';
import { lowerThisThreadPriority } from '../engine/runtime/background-priority.ts';
import { EncoderWorkers } from '../engine/repository/index.ts';
import { seedToolVersions } from '../engine/servers/tools.ts';

lowerThisThreadPriority();

let encoders: EncoderWorkers | null = null;
const lend = (size: number): EncoderWorkers => {
  if (encoders?.size !== size) {
    void encoders?.close();
    encoders = new EncoderWorkers(size);
  }
  return encoders;
};

serveWorkerJob<BackupJobSpec, unknown>((spec, signal, progress) => {
  if (spec.toolVersions) seedToolVersions(spec.toolVersions);
  return runBackupJob(spec, signal, (p: DatabaseProgress) => progress(p), lend);
});
