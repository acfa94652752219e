/**
 * The browser's "Leave site?" prompt for `backstop serve`: closing or reloading the tab asks
 * first while a form holds unsaved edits (the task editor, Settings, the server form), and
 * never otherwise. Each form registers a check (`useUnsavedWarning`, dropped with its
 * component, or `registerUnsaved` from a store); `installUnsavedWarning` adds the one
 * `beforeunload` listener — in the browser shell only: the desktop window keeps its drafts
 * across a reload (kept-draft.ts), and a prevented unload there would block closing silently.
 */
import { onScopeDispose } from 'vue';

const checks = new Set<() => boolean>();

/** Adds `hasUnsaved`; returns its removal. */
export function registerUnsaved(hasUnsaved: () => boolean): () => void {
  checks.add(hasUnsaved);
  return () => checks.delete(hasUnsaved);
}

/** `registerUnsaved` for the current component (or effect scope): removed when it goes. */
export function useUnsavedWarning(hasUnsaved: () => boolean): void {
  onScopeDispose(registerUnsaved(hasUnsaved));
}

export function anyUnsaved(): boolean {
  for (const check of checks) {
    try {
      if (check()) return true;
    } catch {
      // a form being torn down: nothing to lose there
    }
  }
  return false;
}

/** Installs the prompt on `target` (the window); returns its removal. */
export function installUnsavedWarning(target: Pick<Window, 'addEventListener' | 'removeEventListener'>): () => void {
  const onBeforeUnload = (e: BeforeUnloadEvent): void => {
    if (!anyUnsaved()) return;
    e.preventDefault();
    // Older browsers ask only when returnValue is set.
    e.returnValue = '';
  };
  target.addEventListener('beforeunload', onBeforeUnload);
  return () => target.removeEventListener('beforeunload', onBeforeUnload);
}
