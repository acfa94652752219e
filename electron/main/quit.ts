/**
 * Quitting while backups run: ask, then wait for them or cancel them cleanly.
 *
 * Contract: `confirmQuit()` resolves true when the app may quit now, false when it must
 * keep running. With no active run it resolves true at once, without asking. Otherwise
 * it shows one native message box "N backups are running" with three answers:
 * - Wait (default): new scheduled runs are held (scheduler paused) and it resolves true
 *   once `runner.idle()` resolves;
 * - Cancel backups and quit: cancels every active run, then resolves true after idle;
 * - Keep running (also Esc / closing the box): resolves false.
 * Asking again while a wait is pending: Wait keeps the pending wait (resolves false
 * itself), Cancel cancels the runs (the pending wait then completes the quit), Keep
 * running abandons the pending wait (it resolves false) and undoes the pause it made.
 * Who calls: main/lifecycle.ts on every quit request (tray Quit, Cmd+Q, dock Quit).
 */
import type { MessageBoxOptions, MessageBoxReturnValue } from 'electron';
import type { Engine } from '../engine/index.ts';

export const QUIT_BUTTONS = ['Wait for them', 'Cancel backups and quit', 'Keep running'] as const;
const WAIT = 0;
const CANCEL = 1;
const KEEP = 2;

export interface QuitGuardDeps {
  runner: Pick<Engine['runner'], 'activeRuns' | 'cancel' | 'idle'>;
  scheduler: Pick<Engine['scheduler'], 'pause' | 'resume' | 'isPaused'>;
  showMessageBox: (options: MessageBoxOptions) => Promise<Pick<MessageBoxReturnValue, 'response'>>;
  log: { info(obj: object, msg: string): void };
}

export function quitQuestion(runs: readonly { taskName: string }[]): MessageBoxOptions {
  const n = runs.length;
  return {
    type: 'question',
    title: 'Quit Backstop',
    message: n === 1 ? '1 backup is running' : `${n} backups are running`,
    detail:
      `Running: ${runs.map((r) => r.taskName).join(', ')}.\n\n` +
      'Wait: Backstop quits as soon as they finish; no new scheduled backup starts meanwhile.\n' +
      'Cancel: the running backups stop at a safe point and are recorded as canceled in History.',
    buttons: [...QUIT_BUTTONS],
    defaultId: WAIT,
    cancelId: KEEP,
    noLink: true,
  };
}

export function createQuitGuard(deps: QuitGuardDeps): { confirmQuit(): Promise<boolean> } {
  let pending: { abandon(): void } | null = null;

  async function waitForIdle(): Promise<boolean> {
    const pausedByUs = !deps.scheduler.isPaused;
    if (pausedByUs) deps.scheduler.pause();
    let abandoned = false;
    let abandon!: () => void;
    const abandonedP = new Promise<false>((resolve) => {
      abandon = () => {
        abandoned = true;
        if (pausedByUs) deps.scheduler.resume();
        resolve(false);
      };
    });
    const me = { abandon };
    pending = me;
    try {
      return await Promise.race([deps.runner.idle().then(() => !abandoned), abandonedP]);
    } finally {
      if (pending === me) pending = null;
    }
  }

  return {
    async confirmQuit() {
      const runs = deps.runner.activeRuns();
      if (runs.length === 0) return true;
      const { response } = await deps.showMessageBox(quitQuestion(runs));
      if (response === CANCEL) {
        deps.log.info({ runs: runs.map((r) => r.runId) }, 'Quit: canceling running backups');
        for (const r of deps.runner.activeRuns()) deps.runner.cancel(r.taskId);
        if (pending) return false;
        return waitForIdle();
      }
      if (response === WAIT) {
        if (pending) return false;
        deps.log.info({ runs: runs.map((r) => r.runId) }, 'Quit: waiting for running backups');
        return waitForIdle();
      }
      pending?.abandon();
      return false;
    },
  };
}
