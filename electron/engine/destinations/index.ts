/** Destinations: a task's local folder or S3 bucket, opened per database folder. */
export * from './open-destination.ts';
