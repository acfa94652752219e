/** Encryption keys: keychain storage, fingerprints, export (file, recovery sheet) and export tracking. */
export * from './key-service.ts';
export * from './key-text.ts';
export * from './verify-task-key.ts';
