/**
 * Worker-thread entry: runs one database backup (workerData = BackupJobSpec) so the main
 * thread stays free. Messages to the parent: {type:'progress', progress},
 * {type:'done', outcomes}. From the parent: {type:'cancel'}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runBackupJob } from '../engine/backup/run-job.ts';
import type { BackupJobSpec } from '../engine/backup/job-spec.ts';

const port = parentPort;
if (!port) throw new Error('backup-job must run in a worker thread');
const controller = new AbortController();
port.on('message', (m: { type?: string }) => {
  if (m?.type === 'cancel') controller.abort();
});
const outcomes = await runBackupJob(workerData as BackupJobSpec, controller.signal, (progress) => port.postMessage({ type: 'progress', progress }));
port.postMessage({ type: 'done', outcomes });
port.close();
