/** Destinations: a task's local folder or S3 bucket, opened per database folder; S3 credentials in the keychain; a local root checked and created on save. */
export * from './open-destination.ts';
export * from './s3-credentials.ts';
export * from './local-folder.ts';
