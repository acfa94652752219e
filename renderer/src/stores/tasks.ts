/** Backup tasks; refreshed on `tasks.changed`. */
import { defineStore } from 'pinia';
import { computed, onScopeDispose } from 'vue';
import type { Task, TaskInput } from '@shared/domain.ts';
import { call, onEvent } from '../api';
import { useAction, useResource } from './resource';

export const useTasksStore = defineStore('tasks', () => {
  const list = useResource(() => call('tasks.list'), [] as Task[]);
  const action = useAction();

  const tasks = computed(() => [...list.data.value].sort((a, b) => a.name.localeCompare(b.name)));

  async function create(input: TaskInput): Promise<Task | null> {
    const created = await action.run(() => call('tasks.create', input));
    if (created) void list.refresh();
    return created;
  }

  async function remove(id: string): Promise<boolean> {
    const done = await action.run(() => call('tasks.delete', { id }));
    if (done) {
      list.data.value = list.data.value.filter((t) => t.id !== id);
      void list.refresh();
    }
    return done !== null;
  }

  onScopeDispose(
    onEvent('tasks.changed', () => {
      if (list.loaded.value) void list.refresh();
    }),
  );

  return {
    tasks,
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
