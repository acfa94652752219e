/**
 * The names of every IPC event and the channel names of commands and events, and nothing
 * else (no zod), so the sandboxed preload can import it. The command names are derived
 * from the contract table (contract.ts `commands`); the preload gets them at build time.
 */
import type { CommandName } from './contract.ts';

export type { CommandName };

export const EVENTS = [
  'servers.changed',
  'tasks.changed',
  'settings.changed',
  'history.changed',
  'keys.changed',
  'run.progress',
  'alert',
  'restore.progress',
  'restore.finished',
  'restore.serverProgress',
  'restore.serverFinished',
  'app.navigate',
  'scheduler.changed',
  'scheduler.paused',
] as const;
export type EventName = (typeof EVENTS)[number];

/** IPC channel used for a command (ipcMain.handle / ipcRenderer.invoke). */
export function commandChannel(name: CommandName): string {
  return `backstop:cmd:${name}`;
}
/** IPC channel used for an event (webContents.send / ipcRenderer.on). */
export function eventChannel(name: EventName): string {
  return `backstop:evt:${name}`;
}
