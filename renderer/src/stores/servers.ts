/**
 * Database servers known to the engine; refreshed on `servers.changed`. Also the live
 * checks of a server: `test` (version, client tools, supported backup types) and its
 * database list. Each of those has its own error, separate from the add/edit/delete one.
 * A saved server carries its last connection test (`lastTest`), recorded by the engine.
 */
import { defineStore } from 'pinia';
import { computed, onScopeDispose, shallowRef } from 'vue';
import type { Server, ServerCheck, ServerInput } from '@shared/domain.ts';
import { call, onEvent, request } from '../api';
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

  /**
   * Saves changes; a network server's input without `password` keeps the saved password.
   * `basedOn`: the updatedAt of the version the edit started from; when the server changed
   * since, nothing is saved (STALE in `actionError`) and the list is refreshed.
   */
  async function update(id: string, input: ServerInput, basedOn?: string): Promise<Server | null> {
    const saved = await action.run(() => call('servers.update', { id, server: input, ...(basedOn ? { basedOn } : {}) }));
    if (saved) {
      list.data.value = list.data.value.map((s) => (s.id === saved.id ? saved : s));
      void list.refresh();
    } else if (action.error.value?.code === 'STALE') {
      await list.refresh();
    }
    return saved;
  }

  const testAction = useAction();
  /** The last test's answer, and what it was about (`id` of a saved server, or 'draft'). */
  const check = shallowRef<{ target: string; result: ServerCheck } | null>(null);
  const checkTarget = shallowRef<string | null>(null);

  /** Tests a saved server (`{ id }`) or the one being edited (`{ server }`). */
  async function test(target: { id: string } | { server: ServerInput }): Promise<ServerCheck | null> {
    const key = 'id' in target ? target.id : 'draft';
    checkTarget.value = key;
    check.value = null;
    const result = await testAction.run(() => call('servers.test', target));
    if (checkTarget.value === key && result) check.value = { target: key, result };
    return result;
  }

  /**
   * Tests a saved server in the background (after it was saved) so the list shows how its
   * connection is doing; the engine records the outcome on the server. Never sets the
   * check or its error: the list reads the recorded result.
   */
  async function recordTest(id: string): Promise<void> {
    await request('servers.test', { id });
    if (list.loaded.value) await list.refresh();
  }

  function clearCheck(): void {
    check.value = null;
    checkTarget.value = null;
    testAction.clearError();
  }

  const databasesAction = useAction();
  /** The server's user databases, listed live; null with `databasesError` set when the server cannot be asked. */
  function databases(id: string): Promise<string[] | null> {
    return databasesAction.run(() => call('servers.databases', { id }));
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
    update,
    remove,
    clearActionError: action.clearError,
    check,
    checkTarget,
    testing: testAction.pending,
    testError: testAction.error,
    test,
    recordTest,
    clearCheck,
    databases,
    databasesLoading: databasesAction.pending,
    databasesError: databasesAction.error,
  };
});
