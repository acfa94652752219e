/**
 * Contract commands for destinations of every kind: store a destination's secret in the
 * keychain, forget one nothing uses (a command that saved it was refused, a remote folder
 * was only browsed), and "Test connection" (probe put/get/list/delete at its root).
 * Secrets never come back out. (What a destination root holds is `restore.folders`.)
 */
import { BackstopError } from '../../shared/result.ts';
import { checkAddressCredentials, probeDestination, saveDestinationSecret } from '../destinations/index.ts';
import { forgetUnused, refsInUse } from '../destinations/forget-secrets.ts';
import type { SecretStore } from '../secrets/index.ts';
import type { TasksTable, UnclaimedSecretsTable } from '../store/index.ts';
import type { Handlers } from './dispatch.ts';

type DestinationHandlers = Pick<Handlers, 'destinations.saveCredentials' | 'destinations.forgetCredentials' | 'destinations.test'>;

export interface DestinationHandlerDeps {
  secrets: SecretStore;
  tasks: Pick<TasksTable, 'list'>;
  /** A secret that could not be removed (keychain unreachable): logged by reference only. */
  warn: (ref: string, e: unknown) => void;
  /** Every save is recorded here, so one whoever saved it never released is removed later (destinations/unclaimed-secrets.ts). */
  unclaimed: UnclaimedSecretsTable;
  now: () => Date;
}

/** Removes those of `candidates` that no stored task names any more (best effort, see forget-secrets.ts). */
export function releaseSecrets(deps: DestinationHandlerDeps, candidates: string[]): Promise<string[]> {
  return forgetUnused(deps.secrets, candidates, refsInUse(deps.tasks.list()), deps.warn);
}

export function createDestinationHandlers(deps: DestinationHandlerDeps): DestinationHandlers {
  return {
    'destinations.saveCredentials': async ({ secret, credentialsRef }) => {
      const ref = await saveDestinationSecret(deps.secrets, secret, credentialsRef);
      deps.unclaimed.record(ref, deps.now().toISOString());
      return { credentialsRef: ref };
    },
    'destinations.forgetCredentials': async ({ credentialsRef }) => {
      const user = deps.tasks.list().find((t) => refsInUse([t]).has(credentialsRef));
      if (user) throw new BackstopError('CONFLICT', `Task "${user.name}" still uses this destination secret; remove the destination from the task (or delete the task) and it goes with it.`);
      await deps.secrets.delete(credentialsRef);
      deps.unclaimed.forget(credentialsRef);
      return { credentialsRef };
    },
    'destinations.test': ({ destination }) => {
      checkAddressCredentials(destination, 'destination');
      return probeDestination(deps.secrets, destination);
    },
  };
}
