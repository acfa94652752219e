/** Test restores (issue #22): restore each database's latest point into a scratch target, check it against the facts recorded at backup time, remove the scratch target. */
export * from './test-restore.ts';
export { runTestRestoreJob, type TestRestoreJobSpec, type TestRestoreJobResult } from './run-test-restore-job.ts';
export { SCRATCH_PREFIX, scratchTarget } from './scratch.ts';
