/** Public surface of the IPC contract: channel names, schemas, result and event types. */
export * from './channels.ts';
export * from './contract.ts';
