/**
 * The tray icon: the app's permanent presence while the window is hidden.
 *
 * Contract: one tray per process, created after app ready. The menu offers Open, Run all
 * tasks now, Pause/Resume schedules (label follows `view.paused`), a "Last results"
 * submenu (one line per task; a click opens History) and Quit. Clicking the icon opens
 * the window where the platform reports clicks. `update(view)` sets icon, tooltip and
 * menu; the menu is rebuilt only when its content changed (progress ticks change the
 * tooltip alone, so an open menu does not flicker on Linux). Icon files are
 * `<iconDir>/<state>.png` with `<state>@2x.png` beside them, which Electron picks up on
 * high-DPI screens by itself.
 */
import { join } from 'node:path';
import { Menu, Tray, nativeImage, type MenuItemConstructorOptions } from 'electron';

export const TRAY_STATES = ['idle', 'running', 'warning', 'error'] as const;
export type TrayState = (typeof TRAY_STATES)[number];

/** Everything the tray displays; computed by main/tray-state.ts. */
export interface TrayView {
  state: TrayState;
  tooltip: string;
  paused: boolean;
  /** "nightly — ok 12, failed 1 (2 h ago)", one per task. */
  lastResults: string[];
}

export const INITIAL_VIEW: TrayView = { state: 'idle', tooltip: 'Backstop', paused: false, lastResults: [] };

export interface TrayActions {
  onOpen: () => void;
  onRunAll: () => void;
  onTogglePause: () => void;
  onShowHistory: () => void;
  onQuit: () => void;
}

export function trayIconPath(iconDir: string, state: TrayState): string {
  return join(iconDir, `${state}.png`);
}

export function buildTrayMenu(view: Pick<TrayView, 'paused' | 'lastResults'>, actions: TrayActions): MenuItemConstructorOptions[] {
  const results: MenuItemConstructorOptions[] = view.lastResults.length
    ? view.lastResults.map((label, i) => ({ id: `result-${i}`, label, click: () => actions.onShowHistory() }))
    : [{ id: 'result-none', label: 'No tasks yet', enabled: false }];
  return [
    { id: 'open', label: 'Open Backstop', click: () => actions.onOpen() },
    { type: 'separator' },
    { id: 'run-all', label: 'Run all tasks now', click: () => actions.onRunAll() },
    { id: 'pause', label: view.paused ? 'Resume schedules' : 'Pause schedules', click: () => actions.onTogglePause() },
    { id: 'results', label: 'Last results', submenu: results },
    { type: 'separator' },
    { id: 'quit', label: 'Quit Backstop', click: () => actions.onQuit() },
  ];
}

export interface TrayController {
  update(view: TrayView): void;
  destroy(): void;
}

export function createTray(iconDir: string, actions: TrayActions): TrayController {
  const tray = new Tray(nativeImage.createFromPath(trayIconPath(iconDir, INITIAL_VIEW.state)));
  tray.setToolTip(INITIAL_VIEW.tooltip);
  const menuKey = (v: Pick<TrayView, 'paused' | 'lastResults'>): string => JSON.stringify([v.paused, v.lastResults]);
  tray.setContextMenu(Menu.buildFromTemplate(buildTrayMenu(INITIAL_VIEW, actions)));
  tray.on('click', () => actions.onOpen());
  let current = INITIAL_VIEW;
  return {
    update(view) {
      if (tray.isDestroyed()) return;
      if (view.state !== current.state) tray.setImage(nativeImage.createFromPath(trayIconPath(iconDir, view.state)));
      if (view.tooltip !== current.tooltip) tray.setToolTip(view.tooltip);
      if (menuKey(view) !== menuKey(current)) tray.setContextMenu(Menu.buildFromTemplate(buildTrayMenu(view, actions)));
      current = { ...view, lastResults: [...view.lastResults] };
    },
    destroy() {
      if (!tray.isDestroyed()) tray.destroy();
    },
  };
}
