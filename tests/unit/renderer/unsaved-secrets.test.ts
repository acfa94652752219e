/**
 * Destination secrets the task editor saved into the keychain while editing ("Test
 * connection" saves the typed secret first) are offered back to the engine for removal when
 * the editor closes — the engine keeps, with CONFLICT, any a stored task names — and a typed
 * secret never overwrites the entry a saved task uses before the edit is saved. Store-level,
 * over the fake bridge; the engine's side (forget refuses a used reference) is
 * tests/integration/keychain/destination-secrets-lifecycle.test.ts, and the restore view's
 * browse-only secret is checked against the real keychain in tests/e2e/restore-anywhere.spec.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nextTick } from 'vue';
import { createPinia, setActivePinia } from 'pinia';
import { fail } from '@shared/result.ts';
import { emptyS3Draft } from '../../../renderer/src/components/task-draft';
import { useStorageStore } from '../../../renderer/src/stores/storage';
import { useTaskEditorStore } from '../../../renderer/src/stores/task-editor';
import { installFakeBridge, ok, removeBridge, type FakeBridge } from './fake-bridge';

let fake: FakeBridge;
beforeEach(() => {
  fake = installFakeBridge();
  setActivePinia(createPinia());
});
afterEach(() => removeBridge());

const forgotten = () => fake.commands['destinations.forgetCredentials'].mock.calls.map(([input]) => (input as { credentialsRef: string }).credentialsRef);

describe('the task editor and the keychain', () => {
  it('Cancel after a tested destination was removed from the draft: its secret is offered for removal', async () => {
    fake.respond('destinations.forgetCredentials', (input) => ok(input as { credentialsRef: string }));
    const editor = useTaskEditorStore();
    editor.open(null, 's1');
    // "Test connection" saved the typed secret and put its reference into the draft…
    editor.draft.destinations = [{ ...emptyS3Draft(), bucket: 'b', credentialsRef: 's3.tested-then-removed' }];
    await nextTick();
    // …then the user removed that destination and canceled.
    editor.draft.destinations = [{ kind: 'local', path: '/backups' }];
    await nextTick();
    expect(forgotten()).toEqual([]);
    editor.close();
    await nextTick();
    expect(forgotten()).toEqual(['s3.tested-then-removed']);
    // Closed: a second close offers nothing again.
    editor.close();
    expect(forgotten()).toEqual(['s3.tested-then-removed']);
  });

  it('a reference the engine says a task still uses (CONFLICT) is kept, and closing still succeeds', async () => {
    fake.respond('destinations.forgetCredentials', () => fail('CONFLICT', 'Task "Nightly" still uses this destination secret.'));
    const editor = useTaskEditorStore();
    editor.open(null, 's1');
    editor.draft.destinations = [{ ...emptyS3Draft(), bucket: 'b', credentialsRef: 's3.used-by-a-task' }];
    await nextTick();
    expect(() => editor.close()).not.toThrow();
    await nextTick();
    expect(forgotten()).toEqual(['s3.used-by-a-task']);
    expect(editor.target).toBeNull();
  });

  it('an editor that never held a destination secret asks nothing of the keychain', async () => {
    const editor = useTaskEditorStore();
    editor.open(null, 's1');
    editor.draft.destinations = [{ kind: 'local', path: '/backups' }];
    await nextTick();
    editor.close();
    await nextTick();
    expect(forgotten()).toEqual([]);
  });

  it('editing a saved task: a typed secret goes to a new entry (the task keeps its own until the edit is saved), and Cancel offers only that back', async () => {
    let n = 0;
    fake.respond('destinations.saveCredentials', () => ok({ credentialsRef: `s3.new-${++n}` }));
    fake.respond('destinations.forgetCredentials', (input) => {
      const { credentialsRef } = input as { credentialsRef: string };
      return credentialsRef === 's3.task-own' ? fail('CONFLICT', 'Task "Nightly" still uses this destination secret.') : ok({ credentialsRef });
    });
    const editor = useTaskEditorStore();
    editor.open(null, 's1');
    editor.draft.destinations = [{ ...emptyS3Draft(), bucket: 'b', credentialsRef: 's3.task-own' }];
    await nextTick();
    // "Test connection" with a newly typed secret (DestinationEditor saves it and puts the answer into the draft).
    const typed = { ...emptyS3Draft(), bucket: 'b', credentialsRef: 's3.task-own', accessKeyId: 'AKIA', secretAccessKey: 'typed-secret' };
    const saved = await useStorageStore().saveDraftSecret(typed);
    expect(saved).toMatchObject({ credentialsRef: 's3.new-1', accessKeyId: '', secretAccessKey: '' });
    const inputs = fake.commands['destinations.saveCredentials'].mock.calls.map(([input]) => input as Record<string, unknown>);
    expect(inputs).toHaveLength(1);
    expect(inputs[0]).not.toHaveProperty('credentialsRef'); // never written over the task's entry
    editor.draft.destinations = [saved!];
    await nextTick();
    editor.close();
    await nextTick();
    expect(forgotten().sort()).toEqual(['s3.new-1', 's3.task-own']); // the engine refuses the task's own (CONFLICT): it stays
  });
});
