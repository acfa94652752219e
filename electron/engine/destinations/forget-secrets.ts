/**
 * Destination secrets that nothing needs any more leave the OS keychain: a destination's
 * entry (`<kind>.<id>`, keychain-secret.ts) goes when the last task using it is deleted,
 * when an edit removes the destination (or gives it another entry), and when the command
 * that saved it for a task was refused.
 *
 * Contract: `forgetUnused` deletes each candidate reference that `inUse` does not claim and
 * returns the ones it deleted. It is best effort: the task change that freed them has
 * already happened and is not undone, so a keychain that cannot be reached only leaves the
 * entry behind (the caller logs the reference, never the secret). A reference some task
 * still names is never deleted.
 */
import type { Destination, Task } from '../../shared/domain.ts';
import type { SecretStore } from '../secrets/index.ts';

/** The keychain references a task's destinations keep (local folders keep none). */
export function credentialRefs(destinations: readonly Destination[]): string[] {
  const refs: string[] = [];
  for (const d of destinations) if (d.kind !== 'local' && d.credentialsRef) refs.push(d.credentialsRef);
  return refs;
}

/** Every reference named by any of `tasks`. */
export function refsInUse(tasks: readonly Pick<Task, 'destinations'>[]): Set<string> {
  return new Set(tasks.flatMap((t) => credentialRefs(t.destinations)));
}

export async function forgetUnused(
  secrets: SecretStore,
  candidates: readonly string[],
  inUse: ReadonlySet<string>,
  onFailure: (ref: string, e: unknown) => void = () => {},
): Promise<string[]> {
  const forgotten: string[] = [];
  for (const ref of new Set(candidates)) {
    if (inUse.has(ref)) continue;
    try {
      await secrets.delete(ref);
      forgotten.push(ref);
    } catch (e) {
      onFailure(ref, e);
    }
  }
  return forgotten;
}
