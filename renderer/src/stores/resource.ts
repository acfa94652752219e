/**
 * Building blocks every store uses for its `loading` / `error` state.
 *
 * Contract:
 * - `useResource(fetch)`: `refresh()` never rejects. Overlapping refreshes (a view
 *   mounting while a `*.changed` event arrives) are resolved by "last request wins":
 *   an older answer never overwrites a newer one. A failed refresh keeps the last good
 *   data and sets `error`; a successful one clears it.
 * - `useAction()`: `run(fn)` never rejects; it resolves to the data, or to `null` and
 *   sets `error` to the engine's ApiError. `pending` counts overlapping runs.
 */
import { computed, ref, shallowRef, type Ref } from 'vue';
import { ApiError } from '../api';

export function useResource<T>(fetch: () => Promise<T>, initial: T) {
  const data = shallowRef(initial) as Ref<T>;
  const loaded = ref(false);
  const loading = ref(false);
  const error = shallowRef<ApiError | null>(null);
  let generation = 0;

  async function refresh(): Promise<void> {
    const mine = ++generation;
    loading.value = true;
    try {
      const value = await fetch();
      if (mine !== generation) return;
      data.value = value;
      loaded.value = true;
      error.value = null;
    } catch (e) {
      if (mine === generation) error.value = ApiError.from(e);
    } finally {
      if (mine === generation) loading.value = false;
    }
  }

  return { data, loaded, loading, error, refresh };
}

export function useAction() {
  const count = ref(0);
  const pending = computed(() => count.value > 0);
  const error = shallowRef<ApiError | null>(null);

  async function run<T>(fn: () => Promise<T>): Promise<T | null> {
    count.value++;
    error.value = null;
    try {
      return await fn();
    } catch (e) {
      error.value = ApiError.from(e);
      return null;
    } finally {
      count.value--;
    }
  }

  function clearError(): void {
    error.value = null;
  }

  return { pending, error, run, clearError };
}
