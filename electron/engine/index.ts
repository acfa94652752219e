/**
 * The Backstop engine: everything the app does, as a plain Node library. The Electron
 * main process, the `backstop` CLI and the e2e harness are thin shells over this.
 *
 * Contract: `createEngine` opens (and migrates) `<dataDir>/backstop.db`, starts logging
 * to `<dataDir>/logs`, and returns the handler table for every contract command plus the
 * event bus. One engine per data dir per process. `close()` is idempotent and must be
 * awaited before the process exits. Never imports electron.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pkg from '../../package.json' with { type: 'json' };
import type { AppInfo } from '../shared/domain.ts';
import { createHandlers } from './api/handlers.ts';
import { dispatch, type Handlers } from './api/dispatch.ts';
import type { CommandName, CommandResponse } from '../shared/ipc/index.ts';
import { EventBus } from './events/event-bus.ts';
import { createLogger, Redactor, type Logger } from './logging/index.ts';
import { KeychainSecretStore, type SecretStore } from './secrets/index.ts';
import { KeyService } from './keys/index.ts';
import {
  HistoryTable,
  KeysTable,
  openAppDatabase,
  SCHEMA_VERSION,
  ServersTable,
  SettingsTable,
  TasksTable,
  type Db,
} from './store/index.ts';

export { dispatch, type Handlers } from './api/dispatch.ts';
export type { EventBus } from './events/event-bus.ts';

export interface EngineOptions {
  dataDir: string;
  /** Defaults to the OS keychain. */
  secrets?: SecretStore;
  /** Injected clock (tests). */
  now?: () => Date;
  logLevel?: string;
}

export interface Engine {
  dataDir: string;
  logsDir: string;
  handlers: Handlers;
  /** Dispatches one command through the contract (parse → handler → Result), logging internal errors. */
  call<K extends CommandName>(name: K, payload: unknown): Promise<CommandResponse<K>>;
  events: EventBus;
  logger: Logger;
  redactor: Redactor;
  /** For tests and maintenance tools: the open app database. */
  db: Db;
  close(): Promise<void>;
}

export const APP_VERSION: string = pkg.version;

/** Wraps a secret store so every value it sees is registered with the log redactor. */
function redacting(store: SecretStore, redactor: Redactor): SecretStore {
  return {
    async set(account, value) {
      redactor.register(value);
      await store.set(account, value);
    },
    async get(account) {
      const v = await store.get(account);
      if (v !== null) redactor.register(v);
      return v;
    },
    delete: (account) => store.delete(account),
  };
}

export async function createEngine(opts: EngineOptions): Promise<Engine> {
  const dataDir = resolve(opts.dataDir);
  const logsDir = join(dataDir, 'logs');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const redactor = new Redactor();
  const { logger, close: closeLog } = createLogger({ logsDir, redactor, level: opts.logLevel });
  let db: Db;
  try {
    db = openAppDatabase(join(dataDir, 'backstop.db'));
  } catch (e) {
    logger.error({ err: e }, 'cannot open app database');
    closeLog();
    throw e;
  }
  const events = new EventBus((e) => logger.error({ err: e }, 'event listener failed'));
  const secrets = redacting(opts.secrets ?? new KeychainSecretStore(), redactor);
  const now = opts.now ?? (() => new Date());
  const info = (): AppInfo => ({
    name: pkg.productName,
    version: pkg.version,
    platform: process.platform,
    dataDir,
    logsDir,
    schemaVersion: SCHEMA_VERSION,
  });
  const handlers = createHandlers({
    info,
    servers: new ServersTable(db),
    tasks: new TasksTable(db),
    settings: new SettingsTable(db),
    history: new HistoryTable(db),
    secrets,
    keys: new KeyService(secrets, new KeysTable(db), now),
    events,
    now,
  });
  logger.info({ dataDir, version: pkg.version }, 'engine started');

  let closed = false;
  return {
    dataDir,
    logsDir,
    handlers,
    call: (name, payload) => dispatch(handlers, name, payload, (err, command) => logger.error({ err, command }, 'command failed unexpectedly')),
    events,
    logger,
    redactor,
    db,
    async close() {
      if (closed) return;
      closed = true;
      logger.info('engine stopped');
      db.close();
      closeLog();
    },
  };
}
