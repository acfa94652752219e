/**
 * The app-data folder Electron uses for Backstop (`app.getPath('userData')`), computed
 * without Electron so the CLI and the app share one data dir by default.
 * `BACKSTOP_DATA_DIR` overrides it.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.BACKSTOP_DATA_DIR) return env.BACKSTOP_DATA_DIR;
  const home = homedir();
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'Backstop');
  if (platform === 'win32') return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'Backstop');
  return join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'Backstop');
}
