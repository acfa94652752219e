/**
 * The names of every IPC command and event, and nothing else (no zod), so the
 * sandboxed preload can expose exactly these and the harness can mirror them.
 *
 * Contract: adding a command means adding its name here AND its schema/result in
 * contract.ts; a type check fails until both agree.
 */
export const COMMANDS = [
  'app.info',
  'settings.get',
  'settings.set',
  'servers.list',
  'servers.create',
  'servers.update',
  'servers.delete',
  'servers.test',
  'servers.databases',
  'tools.detect',
  'tasks.list',
  'tasks.create',
  'tasks.update',
  'tasks.delete',
  'tasks.status',
  'schedule.preview',
  'retention.preview',
  's3.saveCredentials',
  's3.test',
  's3.listFolders',
  'tasks.runNow',
  'tasks.cancel',
  'runs.active',
  'history.list',
  'restore.inspect',
  'restore.start',
  'restore.cancel',
  'restore.folders',
  'restore.verify',
  'dialog.chooseFolder',
  'dialog.saveFile',
  'demo.setup',
  'keys.list',
  'keys.generate',
  'keys.import',
  'keys.reveal',
  'keys.markExported',
  'keys.saveToFile',
  'keys.recoverySheet',
  'keys.verify',
  'destinations.checkFolder',
  'destinations.createFolder',
  'notifications.saveChannel',
  'notifications.deleteChannel',
  'notifications.saveSmtp',
  'notifications.test',
] as const;
export type CommandName = (typeof COMMANDS)[number];

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
  'app.navigate',
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
