/**
 * Contract commands for destinations of every kind: store a destination's secret in the
 * keychain, and "Test connection" (probe put/get/list/delete at its root). Secrets never
 * come back out. (What a destination root holds is `restore.folders`.)
 */
import { probeDestination, saveDestinationSecret } from '../destinations/index.ts';
import type { SecretStore } from '../secrets/index.ts';
import type { Handlers } from './dispatch.ts';

type DestinationHandlers = Pick<Handlers, 'destinations.saveCredentials' | 'destinations.test'>;

export function createDestinationHandlers(deps: { secrets: SecretStore }): DestinationHandlers {
  return {
    'destinations.saveCredentials': async ({ secret, credentialsRef }) => ({ credentialsRef: await saveDestinationSecret(deps.secrets, secret, credentialsRef) }),
    'destinations.test': ({ destination }) => probeDestination(deps.secrets, destination),
  };
}
