/**
 * Preload (sandboxed, CommonJS bundle): exposes the IPC contract as `window.backstop`.
 *
 * Contract: the bridge has exactly one function per contract command, which invokes that
 * command's channel with its single argument, plus `on(event, listener)`, which accepts
 * only EVENTS names, hands the listener the payload alone (never the IPC event, whose
 * `sender` is ipcRenderer) and returns an idempotent unsubscribe, plus `pathForFile(file)`,
 * the path of a File dropped on the window (webUtils.getPathForFile; '' for a File not
 * backed by the file system), which the restore view uses for a dropped backup folder.
 * Nothing else crosses: no ipcRenderer, no generic invoke/send. Imports electron and shared/ipc/channels.ts
 * only (the contract.ts import is type-only and erased), so zod stays out of the bundle: the
 * command names, which the contract table defines, are inlined at build time as
 * `__BACKSTOP_COMMANDS__` (electron.vite.config.ts and vitest.config.ts `define`, both from
 * contract.ts COMMANDS).
 */
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import { EVENTS, commandChannel, eventChannel, type CommandName, type EventName } from '../shared/ipc/channels.ts';
import type { BackstopBridge } from '../shared/ipc/contract.ts';

declare const __BACKSTOP_COMMANDS__: readonly CommandName[];

function isEventName(value: unknown): value is EventName {
  return typeof value === 'string' && (EVENTS as readonly string[]).includes(value);
}

function on(event: unknown, listener: unknown): () => void {
  if (!isEventName(event)) throw new Error(`Unknown Backstop event "${String(event).slice(0, 64)}".`);
  if (typeof listener !== 'function') throw new TypeError('The event listener must be a function.');
  const channel = eventChannel(event);
  const forward = (_e: IpcRendererEvent, payload: unknown): void => (listener as (p: unknown) => void)(payload);
  ipcRenderer.on(channel, forward);
  let subscribed = true;
  return () => {
    if (!subscribed) return;
    subscribed = false;
    ipcRenderer.removeListener(channel, forward);
  };
}

// One function per command; the runtime checks of its input happen in main (dispatch).
const commands = Object.fromEntries(
  __BACKSTOP_COMMANDS__.map((name) => {
    const channel = commandChannel(name);
    return [name, (input: unknown) => ipcRenderer.invoke(channel, input)];
  }),
) as { [K in CommandName]: BackstopBridge[K] };

function pathForFile(file: File): string {
  return webUtils.getPathForFile(file);
}

const bridge: BackstopBridge = Object.freeze({ ...commands, on, pathForFile });

contextBridge.exposeInMainWorld('backstop', bridge);
