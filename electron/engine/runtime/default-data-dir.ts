/**
 * The app-data folder Electron uses for Backstop (`app.getPath('userData')`), computed
 * without Electron so the CLI and the app share one data dir by default.
 * `BACKSTOP_DATA_DIR` overrides it.
 *
 * Only absolute folders count: an empty or relative HOME or XDG_CONFIG_HOME (a cron table's
 * `HOME=`, a systemd unit's `Environment=HOME=`) is ignored — the XDG rule — and the home
 * folder comes from the user database instead, so the data dir never depends on the
 * directory the command was started from.
 */
import { homedir, userInfo } from 'node:os';
import { isAbsolute, join } from 'node:path';

/** This user's home folder: HOME when it is an absolute path, else the user database's entry (the passwd file). */
export function userHome(): string {
  const home = homedir();
  if (isAbsolute(home)) return home;
  try {
    return userInfo().homedir;
  } catch {
    return home;
  }
}

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.BACKSTOP_DATA_DIR) return env.BACKSTOP_DATA_DIR;
  const home = userHome();
  const absolute = (v: string | undefined) => (v && isAbsolute(v) ? v : undefined);
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'Backstop');
  if (platform === 'win32') return join(absolute(env.APPDATA) ?? join(home, 'AppData', 'Roaming'), 'Backstop');
  return join(absolute(env.XDG_CONFIG_HOME) ?? join(home, '.config'), 'Backstop');
}
