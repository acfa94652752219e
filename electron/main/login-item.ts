/**
 * Start at login (the `startAtLogin` setting), and whether this launch was one.
 *
 * Contract: `applyStartAtLogin(enabled)` is idempotent and never throws (failures are
 * logged). macOS and Windows use `app.setLoginItemSettings({ openAtLogin, args:
 * ['--hidden'] })` (Windows passes the args; macOS ignores them and reports the launch
 * through `wasOpenedAtLogin`). Linux, where Electron has no login items, gets an XDG
 * autostart entry `<configHome>/autostart/backstop.desktop` that runs the AppImage (when
 * running from one) or the executable with `--hidden`; disabling removes it.
 * `launchedHidden` is true for such a launch.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { App } from 'electron';

export const HIDDEN_ARG = '--hidden';
export const AUTOSTART_FILE = 'backstop.desktop';

export interface LoginItemDeps {
  app: Pick<App, 'setLoginItemSettings'>;
  platform: NodeJS.Platform;
  /** The executable to start (AppImage path when running from one, else process.execPath). */
  executable: string;
  /** $XDG_CONFIG_HOME or ~/.config. */
  configHome: string;
  log: { error(obj: object, msg: string): void };
}

export function defaultLoginItemDeps(app: LoginItemDeps['app'], log: LoginItemDeps['log']): LoginItemDeps {
  return {
    app,
    platform: process.platform,
    executable: process.env.APPIMAGE || process.execPath,
    configHome: process.env.XDG_CONFIG_HOME || join(homedir(), '.config'),
    log,
  };
}

export function autostartEntry(executable: string): string {
  // Desktop Entry spec: quote the path, escaping ", `, $ and \ inside the quotes.
  const quoted = `"${executable.replace(/(["`$\\])/g, '\\$1')}"`;
  return [
    '[Desktop Entry]',
    'Type=Application',
    'Name=Backstop',
    'Comment=Server-wide database backups, from the tray',
    `Exec=${quoted} ${HIDDEN_ARG}`,
    'Terminal=false',
    'X-GNOME-Autostart-enabled=true',
    '',
  ].join('\n');
}

export function applyStartAtLogin(deps: LoginItemDeps, enabled: boolean): void {
  try {
    if (deps.platform === 'linux') {
      const dir = join(deps.configHome, 'autostart');
      const file = join(dir, AUTOSTART_FILE);
      if (enabled) {
        mkdirSync(dir, { recursive: true });
        writeFileSync(file, autostartEntry(deps.executable), { mode: 0o644 });
      } else {
        rmSync(file, { force: true });
      }
      return;
    }
    deps.app.setLoginItemSettings({ openAtLogin: enabled, args: [HIDDEN_ARG] });
  } catch (e) {
    deps.log.error({ err: e, enabled }, 'Changing start at login failed');
  }
}

export function launchedHidden(argv: readonly string[], app: Pick<App, 'getLoginItemSettings'>, platform: NodeJS.Platform): boolean {
  if (argv.includes(HIDDEN_ARG)) return true;
  if (platform !== 'darwin') return false;
  try {
    return app.getLoginItemSettings().wasOpenedAtLogin === true;
  } catch {
    return false;
  }
}
