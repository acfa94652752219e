/**
 * The shell's answers to the contract's dialog commands. The engine answers them with
 * VALIDATION (it cannot show dialogs); main registers these over the engine's handlers.
 *
 * Contract: `dialog.chooseFolder` shows a native folder picker (a new folder may be
 * created in it), `dialog.saveFile` a native save dialog; both are modal to the window
 * when it is shown, and resolve `{ path: null }` when the user cancels.
 */
import type { BaseWindow, Dialog, OpenDialogOptions, SaveDialogOptions } from 'electron';
import type { Handlers } from '../engine/index.ts';

export type ShellHandlers = Pick<Handlers, 'dialog.chooseFolder' | 'dialog.saveFile'>;

export function createDialogHandlers(
  dialog: Pick<Dialog, 'showOpenDialog' | 'showSaveDialog'>,
  parent: () => BaseWindow | null | undefined,
): ShellHandlers {
  const owner = (): BaseWindow | undefined => {
    const w = parent();
    return w && !w.isDestroyed() && w.isVisible() ? w : undefined;
  };
  return {
    'dialog.chooseFolder': async ({ title, defaultPath }) => {
      const options: OpenDialogOptions = { title, properties: ['openDirectory', 'createDirectory'], ...(defaultPath ? { defaultPath } : {}) };
      const w = owner();
      const r = await (w ? dialog.showOpenDialog(w, options) : dialog.showOpenDialog(options));
      return { path: r.canceled ? null : (r.filePaths[0] ?? null) };
    },
    'dialog.saveFile': async ({ title, defaultPath }) => {
      const options: SaveDialogOptions = { title, properties: ['createDirectory', 'showOverwriteConfirmation'], ...(defaultPath ? { defaultPath } : {}) };
      const w = owner();
      const r = await (w ? dialog.showSaveDialog(w, options) : dialog.showSaveDialog(options));
      return { path: r.canceled || !r.filePath ? null : r.filePath };
    },
  };
}
