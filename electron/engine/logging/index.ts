/** Logging: pino to a rotated file in the app-data folder, with secret redaction. */
export * from './logger.ts';
export * from './redactor.ts';
export * from './rotating-file.ts';
