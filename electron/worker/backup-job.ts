/**
 * Worker-thread entry: runs one database backup (workerData = BackupJobSpec) so the main
 * thread stays free. Protocol: engine/runtime/worker-job.ts; result = JobOutcome[].
 */
import { runBackupJob } from '../engine/backup/run-job.ts';
import type { BackupJobSpec } from '../engine/backup/job-spec.ts';
import type { DatabaseProgress } from '../engine/backup/backup-database.ts';
import { serveWorkerJob } from '../engine/runtime/worker-job.ts';
import { lowerThisThreadPriority } from '../engine/runtime/background-priority.ts';

lowerThisThreadPriority();

serveWorkerJob<BackupJobSpec, unknown>((spec, signal, progress) => runBackupJob(spec, signal, (p: DatabaseProgress) => progress(p)));
