/**
 * The app database schema version this Backstop writes (the number of migrations), on its
 * own so `app.info` can report it without loading the database driver.
 */
import { MIGRATIONS } from './migrations.ts';

export const SCHEMA_VERSION = MIGRATIONS.length;
