/**
 * Every database of every task (`databases.list`), for the Databases view. One engine call
 * for the whole list, refreshed on `tasks.changed` and `history.changed`; no per-row calls.
 *
 * Contract: `refresh()` never rejects (errors land in `error`, the last good list is kept).
 */
import { defineStore } from 'pinia';
import { onScopeDispose } from 'vue';
import type { DatabaseOverview } from '@shared/domain.ts';
import { call, onEvent } from '../api';
import { useResource } from './resource';

export const useDatabasesStore = defineStore('databases', () => {
  const list = useResource(() => call('databases.list'), [] as DatabaseOverview[]);
  const refreshIfLoaded = () => {
    if (list.loaded.value) void list.refresh();
  };
  const offs = [onEvent('tasks.changed', refreshIfLoaded), onEvent('history.changed', refreshIfLoaded)];
  onScopeDispose(() => offs.forEach((off) => off()));
  return { databases: list.data, loaded: list.loaded, loading: list.loading, error: list.error, refresh: list.refresh };
});
