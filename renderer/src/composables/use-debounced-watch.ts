/**
 * Watches a source and calls `fn` once it has been still for `ms` (the editor's "validate as
 * you type"). A pending call is dropped when the component unmounts.
 */
import { onScopeDispose, watch, type WatchSource } from 'vue';

export function useDebouncedWatch<T>(source: WatchSource<T>, fn: (value: T) => void, ms = 350, immediate = true): void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  watch(
    source,
    (value) => {
      clearTimeout(timer);
      timer = setTimeout(() => fn(value), ms);
    },
    { deep: true, immediate },
  );
  onScopeDispose(() => clearTimeout(timer));
}
