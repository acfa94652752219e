/** Secrets: the OS keychain store. The only place in Backstop that holds a secret value. */
export * from './secret-store.ts';
