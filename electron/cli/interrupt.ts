/**
 * SIGINT/SIGTERM while a one-shot command works (Ctrl-C, `kill`, a job scheduler's timeout):
 * the work is cancelled the way the window's Cancel cancels it — a restore removes the
 * database or folder it was creating, a backup commits nothing half-written and is recorded
 * as canceled — and the command still prints its one result (`--json`: one document, a
 * CANCELED error or the run's summary) and exits 128 + the signal's number (130, 143). A
 * second signal quits at once, saying what may be left behind.
 *
 * Contract: `interruptible(onInterrupt, fn)` installs the handlers for fn's duration (once a
 * signal came, until the process exits; `agent` and `serve` have their own) and hands fn the
 * command's AbortSignal, which `interruptSignal()` also returns to code that runs work in
 * this process (`canceledOnInterrupt` reports that work's failure after an interrupt as
 * CANCELED); `takeInterrupt()` answers which signal arrived (once; main() turns it into the
 * exit code).
 */
import { constants } from 'node:os';
import { BackstopError } from '../shared/result.ts';

/** What a canceled restore leaves: the connectors drop a half-restored database (and remove a half-written file or folder) on any failure. */
export const RESTORE_LEFT = 'what it had created on the target was removed.';

let current: AbortSignal | null = null;
let arrived: NodeJS.Signals | null = null;
const NEVER = new AbortController().signal;

export function interruptSignal(): AbortSignal {
  return current ?? NEVER;
}

/** The signal that interrupted the last command, once (null if none), as the exit code it calls for. */
export function takeInterrupt(): { signal: NodeJS.Signals; exitCode: number } | null {
  const signal = arrived;
  arrived = null;
  return signal ? { signal, exitCode: 128 + (constants.signals[signal] ?? 2) } : null;
}

export async function interruptible<T>(onInterrupt: () => void, fn: (signal: AbortSignal) => Promise<T>, err: (text: string) => void = (t) => process.stderr.write(`${t}\n`)): Promise<T> {
  const controller = new AbortController();
  const outer = current;
  current = controller.signal;
  let interrupted = false;
  const handler = (signal: NodeJS.Signals) => {
    if (interrupted) {
      err(`backstop: ${signal} again: quitting at once. A restore may have left a partial database or folder behind (drop it); a backup's unfinished files are removed by the task's next run.`);
      process.exit(128 + (constants.signals[signal] ?? 2));
    }
    interrupted = true;
    arrived = signal;
    err(`backstop: ${signal}: cancelling — a backup keeps its earlier points and commits nothing half-written, a restore removes what it was creating. Send it again to quit at once.`);
    controller.abort();
    onInterrupt();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  try {
    return await fn(controller.signal);
  } finally {
    // Once interrupted, the handlers stay until the process exits: a second signal while the
    // engine closes or the result is printed still quits at once, with the exit code it calls for.
    if (!interrupted) {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    }
    current = outer;
  }
}

/** `work`, whose failure once the command was interrupted is reported as CANCELED: `what` was canceled, and `kept` says what is left. */
export function canceledOnInterrupt<T>(work: Promise<T>, what: string, kept: string): Promise<T> {
  return work.catch((e: unknown) => {
    if (!interruptSignal().aborted) throw e;
    throw new BackstopError('CANCELED', `${what} was canceled (${arrived ?? 'interrupted'}); ${kept}`, { cause: e });
  });
}

/** The command was interrupted before its work began (while the engine opened): nothing was done. */
export function canceledBeforeStart(): BackstopError {
  return new BackstopError('CANCELED', `The command was canceled (${arrived ?? 'interrupted'}) before it started its work; nothing was done.`);
}
