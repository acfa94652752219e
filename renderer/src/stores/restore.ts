/**
 * Restore of one database from its backup folder: list what a destination root holds
 * (`listFolders`), read the folder (`inspect`), restore a point into a NEW database or
 * data directory (`startDraft` / `retryWith`, then `restore.progress` / `restore.finished`
 * events), and check every chunk (`verify`).
 *
 * Contract: one restore is followed at a time (`restoreId`). Events of other restores are
 * kept by id too, so a `restore.finished` that arrives before `restore.start` answers is
 * not lost. A key the user typed is passed through to the engine and never stored here.
 * The form's `draft` lives here and is converted to the contract's input only in
 * `startDraft` (restore-draft.ts). A local folder that is not a backup but holds some (a
 * destination root, `~server`) is answered with its `choices`, not with NOT_A_BACKUP.
 * `zone`: the time zone a moment is entered in — the task's schedule zone when the folders
 * were listed from a task (`listFolders`' `zone`), else null (this machine's zone).
 * The form (location, choices, zone, draft) is kept for the window's session (kept-draft.ts)
 * until a restore starts from it or "Choose another folder" clears it: a reload brings it
 * back and the view reads the folder again (`reopenKept`). Keys are never part of it.
 * `elsewhere`: the restores the engine runs that these steps do not follow (started before
 * the window was reloaded, or in another window), with their progress, then their result
 * until dismissed; `refreshRunning` asks the engine, `cancelRunning` stops one.
 * `serverElsewhere`: the same for whole-server restores (`restore.serverActive`), each
 * database with its latest state, except the one the Whole server steps follow
 * (`followServer` / `unfollowServer`); `cancelServerRunning` stops one.
 */
import { defineStore } from 'pinia';
import { computed, onScopeDispose, ref, shallowRef, watch } from 'vue';
import type { ActiveRestore, BackupFolderChoice, BackupFolderInfo, BackupLocation, Destination, RestoreProgressInfo, RestoreResult, ServerKind, VerifySummary } from '@shared/domain.ts';
import type { CommandInput } from '@shared/ipc/contract.ts';
import type { ActiveServerRestore, ServerRestoreFinished } from '@shared/server-restore.ts';
import { call, onEvent } from '../api';
import {
  chosenPoint,
  draftErrors,
  draftMode,
  draftToStartInput,
  emptyDraft,
  machineZone,
  suggestedName,
  type RestoreDraft,
  type RoleChoice,
  type StartInput,
} from '../components/restore/restore-draft';
import { formatDateTimeSeconds } from '../components/format';
import { forgetRestoreDraft, keepRestoreDraft, keptRestoreDraft } from './kept-draft';
import { useAction } from './resource';

type LocationInput = CommandInput<'restore.inspect'>['location'];
type DestinationInput = CommandInput<'restore.folders'>['destination'];

/** What a destination root (or `~server`) holds, offered as choices; `root` says where they came from. */
export interface FolderChoices {
  root: string;
  choices: BackupFolderChoice[];
}

export const useRestoreStore = defineStore('restore', () => {
  const inspectAction = useAction();
  const startAction = useAction();
  const verifyAction = useAction();
  const foldersAction = useAction();

  const location = shallowRef<LocationInput | null>(null);
  const info = shallowRef<BackupFolderInfo | null>(null);
  const restoreId = ref<string | null>(null);
  const progressById = shallowRef(new Map<string, RestoreProgressInfo>());
  const resultById = shallowRef(new Map<string, RestoreResult>());
  const verify = shallowRef<VerifySummary | null>(null);
  const draft = ref<RestoreDraft>(emptyDraft());
  const choices = shallowRef<FolderChoices | null>(null);
  const zone = ref<string | null>(null);
  const momentZone = computed(() => zone.value ?? machineZone());

  // The form kept across a reload of the window comes back; the view reads its folder again.
  const kept = keptRestoreDraft();
  if (kept) {
    location.value = kept.location as LocationInput | null;
    choices.value = kept.choices as FolderChoices | null;
    zone.value = kept.zone;
    draft.value = { ...emptyDraft(), ...kept.draft };
  }

  const runningAction = useAction();
  /** Restores the engine reported running (`restore.active`), kept after they end until dismissed. */
  const others = shallowRef<ActiveRestore[]>([]);
  /** The restores these steps started (and showed the result of): never listed as running elsewhere, even after "Choose another folder". */
  const followed = shallowRef(new Set<string>());
  const elsewhere = computed(() =>
    others.value
      .filter((r) => r.restoreId !== restoreId.value && !followed.value.has(r.restoreId))
      .map((r) => ({ ...r, progress: progressById.value.get(r.restoreId) ?? r.progress, result: resultById.value.get(r.restoreId) ?? null })),
  );

  /** Whole-server restores the engine reported running (`restore.serverActive`), kept after they end until dismissed. */
  const serverOthers = shallowRef<ActiveServerRestore[]>([]);
  const serverResultById = shallowRef(new Map<string, ServerRestoreFinished>());
  /** The whole-server restores the Whole server steps follow (started there, still shown there). */
  const serverFollowed = shallowRef(new Set<string>());
  const serverElsewhere = computed(() =>
    serverOthers.value.filter((r) => !serverFollowed.value.has(r.serverRestoreId)).map((r) => ({ ...r, result: serverResultById.value.get(r.serverRestoreId) ?? null })),
  );

  async function refreshRunning(): Promise<void> {
    const lists = await runningAction.run(() => Promise.all([call('restore.active'), call('restore.serverActive')]));
    if (!lists) return;
    const [list, serverList] = lists;
    const known = new Set(list.map((r) => r.restoreId));
    // Ended ones stay (with their result) until dismissed; the rest is the engine's list.
    others.value = [...others.value.filter((r) => !known.has(r.restoreId) && resultById.value.has(r.restoreId)), ...list];
    const knownServer = new Set(serverList.map((r) => r.serverRestoreId));
    serverOthers.value = [...serverOthers.value.filter((r) => !knownServer.has(r.serverRestoreId) && serverResultById.value.has(r.serverRestoreId)), ...serverList];
  }

  async function cancelServerRunning(id: string): Promise<boolean> {
    const answer = await runningAction.run(() => call('restore.serverCancel', { serverRestoreId: id }));
    return answer?.canceled ?? false;
  }

  function dismissServerRunning(id: string): void {
    serverOthers.value = serverOthers.value.filter((r) => r.serverRestoreId !== id);
  }

  /** The Whole server steps started (and show) this restore: not listed as running elsewhere. */
  function followServer(id: string): void {
    serverFollowed.value = new Set(serverFollowed.value).add(id);
  }

  /** The Whole server steps no longer show this running restore (they were left): it is listed with the others. */
  function unfollowServer(id: string): void {
    const next = new Set(serverFollowed.value);
    next.delete(id);
    serverFollowed.value = next;
    void refreshRunning();
  }

  async function cancelRunning(id: string): Promise<boolean> {
    const answer = await runningAction.run(() => call('restore.cancel', { restoreId: id }));
    return answer?.canceled ?? false;
  }

  function dismissRunning(id: string): void {
    others.value = others.value.filter((r) => r.restoreId !== id);
  }

  watch(
    [location, choices, zone, draft, restoreId],
    () => {
      // Kept while a folder is open and no restore was started from it (after a start, the reloaded window lists the restore running).
      if (restoreId.value === null && (location.value || choices.value)) {
        keepRestoreDraft({ location: location.value as BackupLocation | null, choices: choices.value, zone: zone.value, draft: draft.value });
      } else forgetRestoreDraft();
    },
    { deep: true },
  );

  /** After a reload: reads the kept folder again (its points, and whether it needs a key). */
  function reopenKept(): void {
    if (location.value && !info.value && !inspectAction.pending.value) void inspect(location.value);
  }

  const progress = computed(() => (restoreId.value ? (progressById.value.get(restoreId.value) ?? null) : null));
  const result = computed(() => (restoreId.value ? (resultById.value.get(restoreId.value) ?? null) : null));
  const restoring = computed(() => restoreId.value !== null && result.value === null);
  const point = computed(() => chosenPoint(info.value, draft.value.pointId));
  const mode = computed(() => draftMode(info.value, draft.value));
  const errors = computed(() => draftErrors(draft.value, mode.value, info.value, (iso) => formatDateTimeSeconds(iso, momentZone.value), momentZone.value));

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
    if (JSON.stringify(location.value) !== JSON.stringify(where)) return answer;
    if (!same) draft.value = { ...emptyDraft(), serverId: draft.value.serverId };
    if (answer && !draft.value.database) draft.value.database = suggestedName(answer);
    info.value = answer;
    if (!answer && where.kind === 'local' && inspectAction.error.value?.code === 'NOT_A_BACKUP') await offerChoicesFor(where.path);
    return answer;
  }

  /** A local folder that is not a backup: when it holds backups (a destination root, `~server`), offer them instead of the error. */
  async function offerChoicesFor(path: string): Promise<void> {
    let found: BackupFolderChoice[];
    try {
      found = await call('restore.folders', { destination: { kind: 'local', path } });
    } catch {
      return; // The engine's NOT_A_BACKUP already says what is wrong.
    }
    if (found.length === 0 || location.value?.kind !== 'local' || location.value.path !== path) return;
    choices.value = { root: path, choices: found };
    location.value = null;
    inspectAction.clearError();
  }

  /** What a task's destination (local or S3) holds: its database folders and server-level streams; `taskZone`: that task's schedule time zone. */
  async function listFolders(destination: DestinationInput | Destination, root: string, taskZone: string | null = null): Promise<BackupFolderChoice[] | null> {
    choices.value = null;
    zone.value = taskZone;
    const found = await foldersAction.run(() => call('restore.folders', { destination }));
    if (found) choices.value = { root, choices: found };
    return found;
  }

  /** Reads one of the offered folders. */
  function choose(choice: BackupFolderChoice): Promise<BackupFolderInfo | null> {
    return inspect(choice.location);
  }

  function reset(): void {
    location.value = null;
    info.value = null;
    verify.value = null;
    restoreId.value = null;
    choices.value = null;
    zone.value = null;
    draft.value = { ...emptyDraft(), serverId: draft.value.serverId };
    foldersAction.clearError();
    inspectAction.clearError();
    startAction.clearError();
    verifyAction.clearError();
  }

  async function start(input: StartInput): Promise<string | null> {
    restoreId.value = null;
    const answer = await startAction.run(() => call('restore.start', input));
    if (answer) {
      restoreId.value = answer.restoreId;
      followed.value = new Set(followed.value).add(answer.restoreId);
    }
    return answer?.restoreId ?? null;
  }

  /** Starts the restore the draft describes; null (nothing sent) while `errors` names a field to fix. */
  function startDraft(ctx: { targetKind: ServerKind | null; key: string }): Promise<string | null> {
    startAction.clearError();
    if (!location.value || !info.value || Object.keys(errors.value).length > 0) return Promise.resolve(null);
    return start(draftToStartInput(draft.value, { location: location.value, info: info.value, mode: mode.value, zone: momentZone.value, ...ctx }));
  }

  /** After a ROLE_MISSING failure: applies the user's choice to the draft and starts again. */
  function retryWith(choice: Partial<RoleChoice>, ctx: { targetKind: ServerKind | null; key: string }): Promise<string | null> {
    draft.value = { ...draft.value, ...choice };
    return startDraft(ctx);
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
      // A restore started elsewhere (another window) shows up at its first progress.
      if (p.restoreId !== restoreId.value && !others.value.some((r) => r.restoreId === p.restoreId) && !runningAction.pending.value) void refreshRunning();
    }),
    onEvent('restore.finished', (r) => {
      resultById.value = new Map(resultById.value).set(r.restoreId, r);
    }),
    onEvent('restore.serverProgress', ({ serverRestoreId, database }) => {
      const i = serverOthers.value.findIndex((r) => r.serverRestoreId === serverRestoreId);
      if (i < 0) {
        // One started elsewhere (another window) shows up at its first progress.
        if (!serverFollowed.value.has(serverRestoreId) && !runningAction.pending.value) void refreshRunning();
        return;
      }
      const r = serverOthers.value[i]!;
      const databases = r.databases.some((d) => d.database === database.database) ? r.databases.map((d) => (d.database === database.database ? database : d)) : [...r.databases, database];
      const next = [...serverOthers.value];
      next[i] = { ...r, databases };
      serverOthers.value = next;
    }),
    onEvent('restore.serverFinished', (f) => {
      serverResultById.value = new Map(serverResultById.value).set(f.serverRestoreId, f);
    }),
  ];
  onScopeDispose(() => offs.forEach((off) => off()));

  return {
    location,
    info,
    inspecting: inspectAction.pending,
    inspectError: inspectAction.error,
    inspect,
    reopenKept,
    reset,
    choices,
    listFolders,
    zone,
    momentZone,
    listingFolders: foldersAction.pending,
    foldersError: foldersAction.error,
    choose,
    draft,
    point,
    mode,
    errors,
    startDraft,
    retryWith,
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
    elsewhere,
    refreshRunning,
    cancelRunning,
    dismissRunning,
    serverElsewhere,
    cancelServerRunning,
    dismissServerRunning,
    followServer,
    unfollowServer,
    runningError: runningAction.error,
  };
});
