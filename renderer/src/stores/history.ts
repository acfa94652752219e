/** Backup runs, newest first; refreshed on `history.changed`. */
import { defineStore } from 'pinia';
import { onScopeDispose } from 'vue';
import type { Run } from '@shared/domain.ts';
import { call, onEvent } from '../api';
import { useResource } from './resource';

export const useHistoryStore = defineStore('history', () => {
  const limit = 200;
  const list = useResource(() => call('history.list', { limit }), [] as Run[]);

  onScopeDispose(
    onEvent('history.changed', () => {
      if (list.loaded.value) void list.refresh();
    }),
  );

  return {
    runs: list.data,
    loaded: list.loaded,
    loading: list.loading,
    error: list.error,
    refresh: list.refresh,
  };
});
