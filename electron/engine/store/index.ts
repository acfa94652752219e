/** The app database (SQLite via libsql, WAL, versioned migrations) and its tables. Never holds a secret. */
export * from './app-database.ts';
export * from './servers-table.ts';
export * from './tasks-table.ts';
export * from './settings-table.ts';
export * from './history-table.ts';
export * from './schedule-state-table.ts';
export * from './keys-table.ts';
export * from './task-databases-table.ts';
export * from './restored-databases-table.ts';
export * from './notification-deliveries-table.ts';
export * from './scratch-targets-table.ts';
export * from './server-restores-table.ts';
export * from './unclaimed-secrets-table.ts';
export * from './destination-space-table.ts';
export * from './notification-outbox-table.ts';
