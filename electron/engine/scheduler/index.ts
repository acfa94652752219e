/** Scheduling: cron validation and fire times (the timer-driven scheduler arrives with server-wide tasks). */
export * from './cron.ts';
export * from './next-run.ts';
export * from './scheduler.ts';
export * from './deferred-runs.ts';
