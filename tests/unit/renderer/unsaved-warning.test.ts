/**
 * The `backstop serve` tab's "Leave site?" prompt: the beforeunload listener asks (prevents
 * the default) only while a registered form says it holds unsaved edits, and a form's check
 * goes with it.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { effectScope } from 'vue';
import { createPinia, setActivePinia } from 'pinia';
import { installFakeBridge, removeBridge } from './fake-bridge';
import type * as UnsavedWarning from '../../../renderer/src/composables/use-unsaved-warning';
import type * as TaskEditor from '../../../renderer/src/stores/task-editor';

// The registry is per window (module state): each test gets a fresh one, free of other files' stores.
let warn: typeof UnsavedWarning;
let editorStore: typeof TaskEditor;
beforeEach(async () => {
  vi.resetModules();
  warn = await import('../../../renderer/src/composables/use-unsaved-warning');
  editorStore = await import('../../../renderer/src/stores/task-editor');
});
afterEach(removeBridge);

function unload(target: EventTarget): boolean {
  const e = new Event('beforeunload', { cancelable: true });
  target.dispatchEvent(e);
  return e.defaultPrevented;
}

describe('the leave prompt', () => {
  it('asks only while a form has unsaved edits; a form gone is not asked about', () => {
    const { installUnsavedWarning, registerUnsaved, useUnsavedWarning } = warn;
    const target = new EventTarget();
    const remove = installUnsavedWarning(target as unknown as Window);
    let typed = false;
    const unregister = registerUnsaved(() => typed);
    expect(unload(target)).toBe(false);
    typed = true;
    expect(unload(target)).toBe(true);

    // A component's check is dropped with it.
    unregister();
    expect(unload(target)).toBe(false);
    const scope = effectScope();
    scope.run(() => useUnsavedWarning(() => true));
    expect(unload(target)).toBe(true);
    scope.stop();
    expect(unload(target)).toBe(false);

    remove();
    const again = registerUnsaved(() => true);
    expect(unload(target)).toBe(false);
    again();
  });
});

describe('the task editor and the leave prompt', () => {
  it('a new task form counts as unsaved once something is typed, not before', () => {
    installFakeBridge();
    const pinia = createPinia();
    setActivePinia(pinia);
    const { anyUnsaved } = warn;
    const editor = editorStore.useTaskEditorStore();
    expect(anyUnsaved()).toBe(false);
    editor.open(null, 'srv1');
    expect(anyUnsaved()).toBe(false);
    editor.draft.name = 'Nightly';
    expect(anyUnsaved()).toBe(true);
    // The store gone (its Pinia disposed): no longer asked about.
    pinia._e.stop();
    expect(anyUnsaved()).toBe(false);
  });
});
