/**
 * Destinations (a secret into the keychain, "Test connection") and the native
 * folder/file dialogs. (What a destination root holds is the restore store's `listFolders`.)
 *
 * Contract: actions never reject; null with the matching error set. A dialog the user
 * cancels resolves to `{ path: null }`, not to an error. `forgetUnsaved` removes secrets
 * this window saved for a destination that no task ended up using (the engine refuses,
 * and so keeps, any a stored task names).
 */
import { defineStore } from 'pinia';
import { shallowRef } from 'vue';
import type { Destination, DestinationSecret, ProbeReport } from '@shared/domain.ts';
import { call } from '../api';
import { draftSecret, withSavedSecret, type DestinationDraft } from '../components/task-draft';
import { useAction } from './resource';

export const useStorageStore = defineStore('storage', () => {
  const credentialsAction = useAction();
  const probeAction = useAction();
  const dialogAction = useAction();
  const probe = shallowRef<ProbeReport | null>(null);

  /** Stores a destination's secret in the keychain (replacing `credentialsRef` when given); resolves to the reference. */
  async function saveCredentials(secret: DestinationSecret, credentialsRef?: string | null): Promise<string | null> {
    const answer = await credentialsAction.run(() => call('destinations.saveCredentials', { secret, ...(credentialsRef ? { credentialsRef } : {}) }));
    return answer?.credentialsRef ?? null;
  }

  /**
   * A destination draft's typed secret (any kind) into the keychain: the draft holding only the
   * reference. No secret typed: the draft as it is. Null with `credentialsError` set when saving failed.
   * A typed secret always gets a new entry, never overwriting the draft's previous one: that
   * one may be a saved task's, which must keep working until the edit is saved (the engine
   * then releases it) and stay as it was when the edit is canceled (the owner then offers the
   * new entry back with `forgetUnsaved`).
   */
  async function saveDraftSecret(dest: DestinationDraft): Promise<DestinationDraft | null> {
    const secret = draftSecret(dest);
    if (!secret) return dest;
    const ref = await saveCredentials(secret);
    return ref ? withSavedSecret(dest, ref) : null;
  }

  /**
   * Removes from the keychain the destination secrets in `refs` that no stored task uses: a
   * "Test connection" in an editor that was then canceled, a bucket only browsed to restore
   * from. Best effort and quiet: the engine keeps (CONFLICT) any a task names, and a
   * keychain that cannot be reached only leaves the entry behind.
   */
  async function forgetUnsaved(refs: Iterable<string>): Promise<void> {
    await Promise.all([...new Set(refs)].map((credentialsRef) => call('destinations.forgetCredentials', { credentialsRef }).catch(() => undefined)));
  }

  /** Writes, reads, lists and deletes a probe object; the report names each step's outcome. */
  async function testDestination(destination: Destination): Promise<ProbeReport | null> {
    probe.value = null;
    const report = await probeAction.run(() => call('destinations.test', { destination }));
    probe.value = report;
    return report;
  }

  function clearProbe(): void {
    probe.value = null;
    probeAction.clearError();
    credentialsAction.clearError();
  }

  /** The native folder picker; resolves to the chosen path, null when canceled or failed (see `dialogError`). */
  async function chooseFolder(title: string, defaultPath?: string): Promise<string | null> {
    const answer = await dialogAction.run(() => call('dialog.chooseFolder', defaultPath ? { title, defaultPath } : { title }));
    return answer?.path ?? null;
  }

  return {
    saveCredentials,
    saveDraftSecret,
    forgetUnsaved,
    savingCredentials: credentialsAction.pending,
    credentialsError: credentialsAction.error,
    testDestination,
    probe,
    probing: probeAction.pending,
    probeError: probeAction.error,
    clearProbe,
    chooseFolder,
    dialogError: dialogAction.error,
  };
});
