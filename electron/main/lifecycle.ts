/**
 * Process lifecycle of the tray app.
 *
 * Contract:
 * - `claimSingleInstance`: returns false (and asks the app to quit) when another Backstop
 *   is already running; otherwise a later launch calls `onSecondInstance` here (main
 *   shows the window). Call before app ready.
 * - `installLifecycle`: closing all windows does not quit (the tray stays). A quit request
 *   (tray Quit, OS logout, Cmd+Q) is first put to `confirmQuit` when given (main/quit.ts:
 *   asks when backups run); while it is pending further requests are held, and when it
 *   resolves false the app keeps running as if nothing happened. A confirmed quit (or one
 *   whose confirmation threw) closes the engine exactly once — bounded by
 *   `closeTimeoutMs` so a stuck close cannot keep the process alive — then lets the quit
 *   go on. `isQuitting()` turns true once the quit is confirmed; the window uses it to
 *   decide between hide and close.
 */
import type { App } from 'electron';

type AppLike = Pick<App, 'on' | 'quit' | 'requestSingleInstanceLock'>;

export function claimSingleInstance(app: AppLike, onSecondInstance: () => void): boolean {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return false;
  }
  app.on('second-instance', () => onSecondInstance());
  return true;
}

export interface LifecycleOptions {
  /** Closes the engine; absent while the engine is not created yet. */
  closeEngine: () => Promise<void> | undefined;
  /** Dock click on macOS. */
  onActivate: () => void;
  log: { error(obj: object, msg: string): void };
  closeTimeoutMs?: number;
  /** Resolves true when the app may quit (see main/quit.ts); absent = always. */
  confirmQuit?: () => Promise<boolean>;
}

export interface Lifecycle {
  isQuitting(): boolean;
}

export function installLifecycle(app: AppLike, opts: LifecycleOptions): Lifecycle {
  const timeoutMs = opts.closeTimeoutMs ?? 15_000;
  let quitting = false;
  let state: 'open' | 'confirming' | 'closing' | 'closed' = 'open';

  // A listener here replaces Electron's default of quitting when the last window closes.
  app.on('window-all-closed', () => {});
  app.on('activate', () => opts.onActivate());
  app.on('before-quit', (event) => {
    if (state === 'closed') return;
    event.preventDefault();
    if (state === 'closing' || state === 'confirming') return;
    if (opts.confirmQuit && !quitting) {
      state = 'confirming';
      void confirm(opts.confirmQuit, opts.log).then((yes) => {
        state = 'open';
        if (!yes) return;
        quitting = true;
        app.quit();
      });
      return;
    }
    quitting = true;
    state = 'closing';
    void closeWithin(opts.closeEngine, timeoutMs)
      .catch((e: unknown) => opts.log.error({ err: e }, 'Closing the engine failed'))
      .finally(() => {
        state = 'closed';
        app.quit();
      });
  });

  return { isQuitting: () => quitting };
}

/** A confirmation that throws counts as yes: the user asked to quit, and close() cancels runs cleanly. */
async function confirm(ask: () => Promise<boolean>, log: LifecycleOptions['log']): Promise<boolean> {
  try {
    return (await ask()) === true;
  } catch (e) {
    log.error({ err: e }, 'Asking before quit failed; quitting');
    return true;
  }
}

async function closeWithin(close: () => Promise<void> | undefined, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Engine did not close within ${ms} ms`)), ms);
  });
  try {
    // The executor runs close() synchronously and turns a synchronous throw into a rejection.
    await Promise.race([new Promise<void>((resolve) => resolve(close())), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
