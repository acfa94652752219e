/** Database servers known to the engine; refreshed on `servers.changed`. */
import { defineStore } from 'pinia';
import { computed, onScopeDispose } from 'vue';
import type { Server, ServerInput } from '@shared/domain.ts';
import { call, onEvent } from '../api';
import { useAction, useResource } from './resource';

export const useServersStore = defineStore('servers', () => {
  const list = useResource(() => call('servers.list'), [] as Server[]);
  const action = useAction();

  const servers = computed(() => [...list.data.value].sort((a, b) => a.name.localeCompare(b.name)));
  const byId = computed(() => new Map(list.data.value.map((s) => [s.id, s])));

  /** Creates a server; resolves to it, or to null with `actionError` set. */
  async function create(input: ServerInput): Promise<Server | null> {
    const created = await action.run(() => call('servers.create', input));
    if (created) {
      // Show it at once; the servers.changed event refreshes from the engine as well.
      list.data.value = [...list.data.value.filter((s) => s.id !== created.id), created];
      void list.refresh();
    }
    return created;
  }

  async function remove(id: string): Promise<boolean> {
    const done = await action.run(() => call('servers.delete', { id }));
    if (done) {
      list.data.value = list.data.value.filter((s) => s.id !== id);
      void list.refresh();
    }
    return done !== null;
  }

  onScopeDispose(
    onEvent('servers.changed', () => {
      if (list.loaded.value) void list.refresh();
    }),
  );

  return {
    servers,
    byId,
    loaded: list.loaded,
    loading: list.loading,
    error: list.error,
    saving: action.pending,
    actionError: action.error,
    refresh: list.refresh,
    create,
    remove,
    clearActionError: action.clearError,
  };
});
