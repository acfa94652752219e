/**
 * Backup tasks, their status (next runs, last result, stale databases) and the runs in
 * progress. Refreshed on `tasks.changed` and `history.changed`; live progress arrives as
 * `run.progress` events and is merged into the active run it belongs to.
 *
 * Contract: actions never reject. Each resolves to its data, or to null/false with the
 * matching error set: `actionError` (create/update/delete/enable), `runError` (run now,
 * cancel, keyed by task id in `runErrorTask`), `demoError` (sample setup).
 */
import { defineStore } from 'pinia';
import { computed, onScopeDispose, shallowRef } from 'vue';
import type { ActiveRun, DatabaseProgress, PointKind, Task, TaskInput, TaskStatus } from '@shared/domain.ts';
import type { CommandResult } from '@shared/ipc/contract.ts';
import { call, onEvent } from '../api';
import { useAction, useResource } from './resource';

/**
 * A stored task as tasks.update takes it back: every stored setting (hooks, limits,
 * notifications and test restores included), without id and timestamps, as a plain copy.
 */
export function taskToInput(t: Task): TaskInput {
  const { id: _id, createdAt: _created, updatedAt: _updated, ...fields } = t;
  return JSON.parse(JSON.stringify(fields)) as TaskInput;
}

export const useTasksStore = defineStore('tasks', () => {
  const list = useResource(() => call('tasks.list'), [] as Task[]);
  const statusList = useResource(() => call('tasks.status'), [] as TaskStatus[]);
  const active = useResource(() => call('runs.active'), [] as ActiveRun[]);
  const action = useAction();
  const runAction = useAction();
  const demoAction = useAction();
  const runErrorTask = shallowRef<string | null>(null);
  const demo = shallowRef<CommandResult<'demo.setup'> | null>(null);

  const tasks = computed(() => [...list.data.value].sort((a, b) => a.name.localeCompare(b.name)));
  const byId = computed(() => new Map(list.data.value.map((t) => [t.id, t])));
  const statusById = computed(() => new Map(statusList.data.value.map((s) => [s.taskId, s])));
  const activeByTask = computed(() => new Map(active.data.value.map((r) => [r.taskId, r])));

  async function refreshAll(): Promise<void> {
    await Promise.all([list.refresh(), statusList.refresh(), active.refresh()]);
  }

  async function create(input: TaskInput): Promise<Task | null> {
    const created = await action.run(() => call('tasks.create', input));
    if (created) {
      list.data.value = [...list.data.value.filter((t) => t.id !== created.id), created];
      void list.refresh();
      void statusList.refresh();
    }
    return created;
  }

  /**
   * Saves `input` over the task. `basedOn`: the updatedAt of the version the edit started
   * from; when the task changed since, the engine saves nothing (STALE, in `actionError`)
   * and the list is refreshed, so the current version shows; so it is when the task was
   * deleted elsewhere (NOT_FOUND), so the editor can say so.
   */
  async function update(id: string, input: TaskInput, basedOn?: string): Promise<Task | null> {
    const saved = await action.run(() => call('tasks.update', { id, task: input, ...(basedOn ? { basedOn } : {}) }));
    if (saved) {
      list.data.value = list.data.value.map((t) => (t.id === id ? saved : t));
      void statusList.refresh();
    } else if (action.error.value?.code === 'STALE' || action.error.value?.code === 'NOT_FOUND') {
      await list.refresh();
    }
    return saved;
  }

  /**
   * Applies one change (pause, an excluded database) to the task as stored: to the version
   * this window shows, and when that changed elsewhere meanwhile, once more to the current
   * one, so the change never undoes another window's edit and never drops a setting.
   */
  async function change(id: string, apply: (t: Task) => TaskInput): Promise<Task | null> {
    for (let attempt = 0; ; attempt++) {
      const task = byId.value.get(id);
      if (!task) return null;
      const saved = await update(id, apply(task), task.updatedAt);
      if (saved || action.error.value?.code !== 'STALE' || attempt > 0) return saved;
    }
  }

  /** Pauses or resumes a task's schedules; every other setting stays as stored. */
  async function setEnabled(id: string, enabled: boolean): Promise<boolean> {
    return (await change(id, (t) => ({ ...taskToInput(t), enabled }))) !== null;
  }

  async function remove(id: string): Promise<boolean> {
    const done = await action.run(() => call('tasks.delete', { id }));
    if (done) {
      list.data.value = list.data.value.filter((t) => t.id !== id);
      void list.refresh();
    }
    return done !== null;
  }

  /** Starts a run now; without `kind` the engine picks (full when the task has a full schedule). */
  /** `databases`: back up just these (the Databases view's per-database "Back up now"). */
  async function runNow(id: string, kind?: PointKind, databases?: string[]): Promise<string | null> {
    runErrorTask.value = id;
    const started = await runAction.run(() => call('tasks.runNow', { id, ...(kind ? { kind } : {}), ...(databases ? { databases } : {}) }));
    if (started) {
      void active.refresh();
      void statusList.refresh();
    }
    return started?.runId ?? null;
  }

  async function cancel(id: string): Promise<boolean> {
    runErrorTask.value = id;
    const answer = await runAction.run(() => call('tasks.cancel', { id }));
    void active.refresh();
    return answer?.canceled ?? false;
  }

  /** First run: sample SQLite databases, a server and a ready task. */
  async function setupDemo(): Promise<CommandResult<'demo.setup'> | null> {
    const made = await demoAction.run(() => call('demo.setup'));
    if (made) {
      demo.value = made;
      await refreshAll();
    }
    return made;
  }

  function mergeProgress(runId: string, taskId: string, progress: DatabaseProgress): boolean {
    const runs = active.data.value;
    const i = runs.findIndex((r) => r.runId === runId);
    if (i < 0) return false;
    const run = runs[i]!;
    const dbs = run.databases.some((d) => d.database === progress.database)
      ? run.databases.map((d) => (d.database === progress.database ? progress : d))
      : [...run.databases, progress];
    const next = [...runs];
    next[i] = { ...run, taskId, databases: dbs };
    active.data.value = next;
    return true;
  }

  const offs = [
    onEvent('tasks.changed', () => {
      if (list.loaded.value) void list.refresh();
      if (statusList.loaded.value) void statusList.refresh();
    }),
    onEvent('history.changed', () => {
      void active.refresh();
      if (statusList.loaded.value) void statusList.refresh();
    }),
    onEvent('keys.changed', () => {
      if (statusList.loaded.value) void statusList.refresh();
    }),
    onEvent('run.progress', ({ runId, taskId, progress }) => {
      if (!mergeProgress(runId, taskId, progress)) void active.refresh();
    }),
  ];
  onScopeDispose(() => offs.forEach((off) => off()));

  return {
    tasks,
    byId,
    statusById,
    activeByTask,
    activeRuns: active.data,
    loaded: list.loaded,
    loading: list.loading,
    error: list.error,
    statusError: statusList.error,
    statusLoaded: statusList.loaded,
    saving: action.pending,
    actionError: action.error,
    running: runAction.pending,
    runError: runAction.error,
    runErrorTask,
    demo,
    settingUpDemo: demoAction.pending,
    demoError: demoAction.error,
    refresh: list.refresh,
    refreshStatus: statusList.refresh,
    refreshActive: active.refresh,
    refreshAll,
    create,
    update,
    setEnabled,
    change,
    remove,
    runNow,
    cancel,
    setupDemo,
    clearActionError: action.clearError,
    clearRunError: runAction.clearError,
  };
});
