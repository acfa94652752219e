/**
 * The tray icon: the app's permanent presence while the window is hidden.
 *
 * Contract: one tray per process, created after app ready. The menu offers Open and Quit
 * (more entries come later); clicking the icon opens the window where the platform
 * reports clicks. `setState` swaps the icon between the four states; files are
 * `<iconDir>/<state>.png` with `<state>@2x.png` beside them, which Electron picks up
 * on high-DPI screens by itself.
 */
import { join } from 'node:path';
import { Menu, Tray, nativeImage, type MenuItemConstructorOptions } from 'electron';

export const TRAY_STATES = ['idle', 'running', 'warning', 'error'] as const;
export type TrayState = (typeof TRAY_STATES)[number];

const TOOLTIPS: Record<TrayState, string> = {
  idle: 'Backstop',
  running: 'Backstop — backup running',
  warning: 'Backstop — needs attention',
  error: 'Backstop — last backup failed',
};

export interface TrayActions {
  onOpen: () => void;
  onQuit: () => void;
}

export function trayIconPath(iconDir: string, state: TrayState): string {
  return join(iconDir, `${state}.png`);
}

export function buildTrayMenu({ onOpen, onQuit }: TrayActions): MenuItemConstructorOptions[] {
  return [
    { id: 'open', label: 'Open Backstop', click: () => onOpen() },
    { type: 'separator' },
    { id: 'quit', label: 'Quit Backstop', click: () => onQuit() },
  ];
}

export interface TrayController {
  setState(state: TrayState): void;
  destroy(): void;
}

export function createTray(iconDir: string, actions: TrayActions): TrayController {
  const tray = new Tray(nativeImage.createFromPath(trayIconPath(iconDir, 'idle')));
  tray.setToolTip(TOOLTIPS.idle);
  tray.setContextMenu(Menu.buildFromTemplate(buildTrayMenu(actions)));
  tray.on('click', () => actions.onOpen());
  let current: TrayState = 'idle';
  return {
    setState(state) {
      if (state === current || tray.isDestroyed()) return;
      current = state;
      tray.setImage(nativeImage.createFromPath(trayIconPath(iconDir, state)));
      tray.setToolTip(TOOLTIPS[state]);
    },
    destroy() {
      if (!tray.isDestroyed()) tray.destroy();
    },
  };
}
