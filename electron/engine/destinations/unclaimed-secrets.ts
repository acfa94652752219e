/**
 * Destination secrets saved for a destination no task ended up using leave the keychain even
 * when whoever saved them never let them go. The window releases the ones it saved for a Test
 * connection or a remote folder browsed to restore from when it is done with them; a window
 * that crashed or was killed never does. So every save is recorded (its reference only,
 * store/unclaimed-secrets-table.ts), and a long-running process (app, agent, serve) releases
 * them when it starts.
 *
 * Contract: `releaseUnclaimed` removes from the keychain each recorded secret saved more than
 * UNCLAIMED_SECRET_TTL_MS before `now` that no stored task names, and drops the record of
 * each such one a task does name (it is that task's now, and leaves with it). Younger ones are
 * left alone: a window may still be using them. A keychain that cannot be reached keeps the
 * record, for the next start; the reference is logged, never the secret. Returns the
 * references it removed from the keychain.
 */
import type { SecretStore } from '../secrets/index.ts';
import type { TasksTable, UnclaimedSecretsTable } from '../store/index.ts';
import { refsInUse } from './forget-secrets.ts';

/** How long a saved secret no task names is left for whoever saved it (a window's open editor or restore view). */
export const UNCLAIMED_SECRET_TTL_MS = 24 * 3600_000;

export interface UnclaimedSecretsDeps {
  secrets: SecretStore;
  tasks: Pick<TasksTable, 'list'>;
  unclaimed: UnclaimedSecretsTable;
  now: () => Date;
  warn: (ref: string, e: unknown) => void;
}

export async function releaseUnclaimed(deps: UnclaimedSecretsDeps): Promise<string[]> {
  const stale = deps.unclaimed.savedBefore(new Date(deps.now().getTime() - UNCLAIMED_SECRET_TTL_MS).toISOString());
  if (stale.length === 0) return [];
  const inUse = refsInUse(deps.tasks.list());
  const removed: string[] = [];
  for (const ref of stale) {
    if (!inUse.has(ref)) {
      try {
        await deps.secrets.delete(ref);
        removed.push(ref);
      } catch (e) {
        deps.warn(ref, e);
        continue;
      }
    }
    deps.unclaimed.forget(ref);
  }
  return removed;
}
