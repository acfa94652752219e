/**
 * What every connector's restore guarantees, written once:
 * - `owningSource`: the restore owns its source stream; if the restore fails, the source is
 *   destroyed, so an unread dump never keeps its child process (or worker) alive.
 * - `withoutHalfRestore`: a database created for a restore is dropped when anything after
 *   its creation fails — retried for DROP_GRACE_MS, so a server that restarts is waited for;
 *   if it still cannot be dropped, the error says so, names it and the statement that drops it.
 * - `stopIfCanceled`: the statement that creates the database (and the roles it needs) is
 *   run without the restore's abort signal, to its end — a client killed mid-statement leaves
 *   it unknown whether the server created the database, which would then be left behind — and
 *   the cancel takes effect as the first step of `work`, where the database is dropped.
 */
import type { Readable } from 'node:stream';
import { BackstopError } from '../../shared/result.ts';

export async function owningSource<T>(source: Readable, restore: () => Promise<T>): Promise<T> {
  try {
    return await restore();
  } catch (e) {
    source.destroy();
    throw e;
  }
}

/**
 * How long a failed restore keeps trying to drop its database when it cannot (its server restarting: a restore cut by
 * a restart fails while the server is still down, and a restart takes seconds), one attempt a second.
 */
export const DROP_GRACE_MS = 15_000;

async function dropWithin(drop: () => Promise<boolean>, graceMs: number): Promise<boolean> {
  const deadline = Date.now() + graceMs;
  for (;;) {
    if (await drop()) return true;
    if (Date.now() + 1000 > deadline) return false;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * Runs `work` (everything after CREATE DATABASE); on failure `drop` removes the database and says whether it could.
 * When it could not (the server stopped or unreachable), the error names the database and `dropStatement`, the exact
 * statement that removes it; the same restore run again drops it first (own-leftovers.ts, restore-server.ts).
 */
export async function withoutHalfRestore<T>(database: string, work: () => Promise<T>, drop: () => Promise<boolean>, dropStatement: string, graceMs = DROP_GRACE_MS): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if ((await dropWithin(drop, graceMs)) || !(e instanceof BackstopError)) throw e;
    throw new BackstopError(
      e.code,
      `${e.message} The half-restored database "${database}" was left on the server: it could not be removed then. Once the server accepts connections, run the same restore again (it drops the copy it left first), or remove it yourself: ${dropStatement}`,
      { cause: e },
    );
  }
}

/** Fails with CANCELED when `signal` has aborted (the first step of a restore's `work`, so the database it created is dropped). */
export function stopIfCanceled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new BackstopError('CANCELED', 'The restore was canceled.');
}
