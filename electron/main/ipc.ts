/**
 * The IPC boundary of the Electron main process.
 *
 * Contract:
 * - `registerIpc` registers exactly one `ipcMain.handle` per contract command
 *   (COMMANDS → commandChannel) and nothing else. Each call first checks its sender:
 *   a call from anything but the app's own window is answered FORBIDDEN_SENDER and
 *   reaches no handler. Otherwise it goes through `dispatch` (schema parse → handler →
 *   Result). The returned promise always resolves to a Result; nothing is thrown
 *   across IPC.
 * - `createSenderCheck` is the check main uses: same webContents as the window, its
 *   main frame (no subframes), and a frame URL that is the app's own page.
 * - `forwardEvents` sends every engine event on `eventChannel(name)` to the window's
 *   webContents, skipping while there is none or it is destroyed.
 * Who calls: main/index.ts, once at startup.
 */
import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron';
import { EVENTS, commandChannel, eventChannel, type CommandName, type EventName } from '../shared/ipc/channels.ts';
import { COMMANDS, type CommandResponse } from '../shared/ipc/contract.ts';
import { fail, toFailure } from '../shared/result.ts';
import { dispatch, type Handlers } from '../engine/api/dispatch.ts';
import type { EventBus } from '../engine/events/event-bus.ts';
import { isAppUrl, type RendererTarget } from './app-url.ts';

/** The slice of a pino logger this module uses. */
export interface IpcLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export type SenderCheck = (event: IpcMainInvokeEvent) => boolean;

export const FORBIDDEN_SENDER_MESSAGE = 'This request did not come from the Backstop window and was refused.';

/** Registers the command handlers; the returned function removes them again. */
export function registerIpc(
  ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>,
  handlers: Handlers,
  isTrustedSender: SenderCheck,
  log: IpcLog,
): () => void {
  const onInternalError = (e: unknown, command: string): void => log.error({ err: e, command }, 'IPC command failed unexpectedly');
  for (const name of COMMANDS) {
    const channel = commandChannel(name);
    ipcMain.handle(channel, async (event, payload: unknown): Promise<CommandResponse<CommandName>> => {
      if (!safeCheck(isTrustedSender, event)) {
        log.warn({ channel, senderUrl: senderUrl(event) }, 'IPC call from an untrusted sender refused');
        return fail('FORBIDDEN_SENDER', FORBIDDEN_SENDER_MESSAGE);
      }
      try {
        return await dispatch(handlers, name, payload, onInternalError);
      } catch (e) {
        // dispatch never throws; this only keeps the "never reject" promise if that changes.
        onInternalError(e, name);
        return toFailure(e);
      }
    });
  }
  return () => {
    for (const name of COMMANDS) ipcMain.removeHandler(commandChannel(name));
  };
}

/** A sender is trusted when it is the main frame of the app window showing the app page. */
export function createSenderCheck(getWebContents: () => WebContents | null | undefined, target: RendererTarget): SenderCheck {
  return (event) => {
    const wc = getWebContents();
    if (!wc || wc.isDestroyed()) return false;
    if (event.sender.id !== wc.id) return false;
    const frame = event.senderFrame;
    if (!frame || frame.parent !== null) return false;
    return isAppUrl(frame.url, target);
  };
}

/** Forwards engine events to the window; returns the unsubscribe function. */
export function forwardEvents(
  events: Pick<EventBus, 'onAny'>,
  getWebContents: () => WebContents | null | undefined,
): () => void {
  return events.onAny((name, payload) => {
    if (!(EVENTS as readonly string[]).includes(name)) return;
    const wc = getWebContents();
    if (!wc || wc.isDestroyed()) return;
    wc.send(eventChannel(name as EventName), payload);
  });
}

function safeCheck(check: SenderCheck, event: IpcMainInvokeEvent): boolean {
  try {
    return check(event) === true;
  } catch {
    return false;
  }
}

function senderUrl(event: IpcMainInvokeEvent): string {
  try {
    return event.senderFrame?.url ?? '(no frame)';
  } catch {
    return '(unknown)';
  }
}
