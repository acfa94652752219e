/**
 * App settings, one row per top-level key (JSON value), merged over the defaults.
 *
 * Contract: `get` always returns a complete, valid Settings object (a stored value that
 * no longer validates falls back to its default); `patch` validates the merged result
 * before writing anything.
 */
import { DEFAULT_SETTINGS, Settings, type SettingsPatch } from '../../shared/domain.ts';
import type { Db } from './app-database.ts';
import { inTransaction } from './app-database-errors.ts';

export class SettingsTable {
  constructor(private readonly db: Db) {}

  get(): Settings {
    const rows = this.db.prepare('SELECT key, value FROM settings').all() as { key: string; value: string }[];
    const merged: Record<string, unknown> = { ...DEFAULT_SETTINGS };
    for (const { key, value } of rows) {
      if (!(key in DEFAULT_SETTINGS)) continue;
      const candidate = Settings.safeParse({ ...merged, [key]: JSON.parse(value) });
      if (candidate.success) merged[key] = JSON.parse(value);
    }
    return Settings.parse(merged);
  }

  patch(patch: SettingsPatch): Settings {
    const next = Settings.parse({ ...this.get(), ...patch });
    const put = this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
    inTransaction(this.db, () => {
      for (const key of Object.keys(patch) as (keyof Settings)[]) put.run(key, JSON.stringify(next[key]));
    });
    return next;
  }
}
