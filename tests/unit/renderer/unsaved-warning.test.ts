/**
 * The `backstop serve` tab's "Leave site?" prompt: the beforeunload listener asks (prevents
 * the default) only while a registered form says it holds unsaved edits, and a form's check
 * goes with it.
 */
import { describe, expect, it } from 'vitest';
import { effectScope } from 'vue';
import { installUnsavedWarning, registerUnsaved, useUnsavedWarning } from '../../../renderer/src/composables/use-unsaved-warning';

function unload(target: EventTarget): boolean {
  const e = new Event('beforeunload', { cancelable: true });
  target.dispatchEvent(e);
  return e.defaultPrevented;
}

describe('the leave prompt', () => {
  it('asks only while a form has unsaved edits; a form gone is not asked about', () => {
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
