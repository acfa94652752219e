/**
 * Restore of one database from its backup folder: read the folder (`inspect`), restore a
 * point into a NEW database (`start`, then `restore.progress` / `restore.finished` events),
 * and check every chunk (`verify`).
 *
 * Contract: one restore is followed at a time (`restoreId`). Events of other restores are
 * kept by id too, so a `restore.finished` that arrives before `restore.start` answers is
 * not lost. A key the user typed is passed through to the engine and never stored here.
 */
import { defineStore } from 'pinia';
import { computed, onScopeDispose, ref, shallowRef } from 'vue';
import type { BackupFolderInfo, BackupLocation, RestoreProgressInfo, RestoreResult, VerifySummary } from '@shared/domain.ts';
import type { CommandInput } from '@shared/ipc/contract.ts';
import { call, onEvent } from '../api';
import { useAction } from './resource';

type LocationInput = CommandInput<'restore.inspect'>['location'];
type StartInput = CommandInput<'restore.start'>;

export const useRestoreStore = defineStore('restore', () => {
  const inspectAction = useAction();
  const startAction = useAction();
  const verifyAction = useAction();

  const location = shallowRef<LocationInput | null>(null);
  const info = shallowRef<BackupFolderInfo | null>(null);
  const restoreId = ref<string | null>(null);
  const progressById = shallowRef(new Map<string, RestoreProgressInfo>());
  const resultById = shallowRef(new Map<string, RestoreResult>());
  const verify = shallowRef<VerifySummary | null>(null);

  const progress = computed(() => (restoreId.value ? (progressById.value.get(restoreId.value) ?? null) : null));
  const result = computed(() => (restoreId.value ? (resultById.value.get(restoreId.value) ?? null) : null));
  const restoring = computed(() => restoreId.value !== null && result.value === null);

  /** Reads a backup folder. A new location forgets the previous answer, restore and verify. */
  async function inspect(where: LocationInput, key?: string): Promise<BackupFolderInfo | null> {
    const same = JSON.stringify(where) === JSON.stringify(location.value);
    location.value = where;
    if (!same) {
      info.value = null;
      verify.value = null;
      restoreId.value = null;
      verifyAction.clearError();
      startAction.clearError();
    }
    const answer = await inspectAction.run(() => call('restore.inspect', key ? { location: where, key } : { location: where }));
    if (JSON.stringify(location.value) === JSON.stringify(where)) info.value = answer;
    return answer;
  }

  function reset(): void {
    location.value = null;
    info.value = null;
    verify.value = null;
    restoreId.value = null;
    inspectAction.clearError();
    startAction.clearError();
    verifyAction.clearError();
  }

  async function start(input: StartInput): Promise<string | null> {
    restoreId.value = null;
    const answer = await startAction.run(() => call('restore.start', input));
    if (answer) restoreId.value = answer.restoreId;
    return answer?.restoreId ?? null;
  }

  async function cancel(): Promise<boolean> {
    const id = restoreId.value;
    if (!id) return false;
    const answer = await startAction.run(() => call('restore.cancel', { restoreId: id }));
    return answer?.canceled ?? false;
  }

  async function runVerify(where: BackupLocation | LocationInput, pointId?: string, key?: string): Promise<VerifySummary | null> {
    verify.value = null;
    const summary = await verifyAction.run(() =>
      call('restore.verify', { location: where, ...(pointId ? { pointId } : {}), ...(key ? { key } : {}) }),
    );
    verify.value = summary;
    return summary;
  }

  const offs = [
    onEvent('restore.progress', (p) => {
      progressById.value = new Map(progressById.value).set(p.restoreId, p);
    }),
    onEvent('restore.finished', (r) => {
      resultById.value = new Map(resultById.value).set(r.restoreId, r);
    }),
  ];
  onScopeDispose(() => offs.forEach((off) => off()));

  return {
    location,
    info,
    inspecting: inspectAction.pending,
    inspectError: inspectAction.error,
    inspect,
    reset,
    restoreId,
    progress,
    result,
    restoring,
    starting: startAction.pending,
    startError: startAction.error,
    clearStartError: startAction.clearError,
    start,
    cancel,
    verify,
    verifying: verifyAction.pending,
    verifyError: verifyAction.error,
    runVerify,
  };
});
