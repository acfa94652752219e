/**
 * What `app.info` answers — name, version, platform, the data and log folders, the app
 * database's schema version — worked out from the data folder alone.
 *
 * Contract: opens, creates and loads nothing beyond package.json and the migration list
 * (no database driver, logger, keychain or zod), so a shell can answer "info" without
 * opening the engine (the CLI's `backstop info`); the engine's own `app.info` handler
 * answers with the same function. `engineFolders` is the one place the log folder's
 * location inside the data folder is decided.
 */
import { join, resolve } from 'node:path';
import pkg from '../../package.json' with { type: 'json' };
import type { AppInfo } from '../shared/domain.ts';
import { SCHEMA_VERSION } from './store/schema-version.ts';

/** The engine's folders for a data folder given on the command line or by the app (made absolute). */
export function engineFolders(dataDir: string): { dataDir: string; logsDir: string } {
  const abs = resolve(dataDir);
  return { dataDir: abs, logsDir: join(abs, 'logs') };
}

export function appInfo(dataDir: string): AppInfo {
  const folders = engineFolders(dataDir);
  return { name: pkg.productName, version: pkg.version, platform: process.platform, ...folders, schemaVersion: SCHEMA_VERSION };
}
