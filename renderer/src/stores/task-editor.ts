/**
 * The task editor's state and its save: the draft being edited (a TaskDraft), the key
 * generated or imported in this session, and the steps of saving (S3 secrets into the
 * keychain, missing local folders created after the user agreed, then tasks.create/update).
 *
 * The draft lives here, not in the view, so a view that fails and is re-mounted (the
 * error boundary in App.vue) shows the same form: nothing typed, and no key generated and
 * saved, is lost. `open(target)` keeps the draft when it is already editing that target.
 * It is also kept in the window's sessionStorage (kept-draft.ts, secrets left out), so a
 * reload of the page brings it back.
 *
 * Contract: actions never reject. `save()` resolves to the saved Task, or to null with
 * `saveError` set, or with `missingFolders` set (the view asks "create it?" and calls
 * `createFoldersAndSave()` or `keepEditing()`). Nothing is created on disk without that
 * answer. A schedule the engine's preview refused blocks saving before any folder is
 * created; a save the engine refuses after the user agreed (e.g. a duplicate name) leaves
 * the empty folder they asked for, and saving again does not ask again. Destination secrets
 * saved into the keychain while editing ("Test connection", a save the engine refused) that
 * no stored task uses when the editor closes leave the keychain again (`close`).
 *
 * Edits are based on the version they were loaded from: when the task changes elsewhere
 * meanwhile (another window, the command line), typed work is kept, saving is
 * refused by the engine (STALE) instead of undoing that change, and `changedElsewhere`
 * offers the choice: `loadCurrent` (drop the edits) or `keepMine` (the settings the user
 * changed, on top of the stored version).
 *
 * When the task is deleted elsewhere meanwhile, the draft stays as typed and
 * `deletedElsewhere` says so: `saveAsNew` creates a task from it (the delete removed the
 * task's destination secrets that no other task uses from the keychain: those references
 * are dropped, never reused, and the form asks for the secrets again; a key no longer in
 * the keychain is asked for too), or `close` discards it.
 */
import { defineStore } from 'pinia';
import { computed, onScopeDispose, reactive, ref, shallowRef, watch } from 'vue';
import type { Task } from '@shared/domain.ts';
import { ApiError, call } from '../api';
import { placeText } from '@shared/location-text.ts';
import { defaultTimezone, draftDestination, draftErrors, draftFromTask, draftSecret, draftToInput, emptyDraft, type DestinationDraft, type DraftField, type EncryptionChoice, type TaskDraft } from '../components/task-draft';
import type { KeyInfo } from '@shared/domain.ts';
import { registerUnsaved } from '../composables/use-unsaved-warning';
import { forgetDraft, keepDraft, keptDraft } from './kept-draft';
import { useKeysStore } from './keys';
import { usePlanningStore } from './planning';
import { useStorageStore } from './storage';
import { useTasksStore } from './tasks';

/** Where a destination draft writes (its kind and place), to know it again after edits. */
function placeOf(d: DestinationDraft): string {
  return `${d.kind}:${placeText(draftDestination(d))}`;
}

/** Which task the draft belongs to: a saved task's id, or 'new'. */
export type EditorTarget = string;

export const useTaskEditorStore = defineStore('task-editor', () => {
  const draft = reactive<TaskDraft>(emptyDraft());
  const target = ref<EditorTarget | null>(null);
  /** The saved task the draft was loaded from (edit), to restore its key when encryption is toggled. */
  const original = shallowRef<Task | null>(null);
  const submitted = ref(false);
  /** The key was generated or imported in this editor session: it must be confirmed as saved. */
  const keyIsNew = ref(false);
  const keyConfirmed = ref(false);
  const saving = ref(false);
  const saveError = shallowRef<ApiError | null>(null);
  /** Local destination folders that do not exist yet, found when saving; the view asks before creating them. */
  const missingFolders = ref<string[]>([]);
  /** Set by `saveAsNew`: the deleted task the new draft came from, the destinations (by place) whose secret the delete removed, and whether its key is gone. */
  const fromDeleted = shallowRef<{ name: string; places: string[]; keyMissing: boolean } | null>(null);
  // A draft kept across a reload of the page (kept-draft.ts) comes back as it was typed, secrets aside.
  const kept = keptDraft();
  if (kept) {
    Object.assign(draft, kept.draft);
    target.value = kept.target;
    original.value = kept.original;
    keyIsNew.value = kept.keyIsNew;
    keyConfirmed.value = kept.keyConfirmed;
    fromDeleted.value = kept.fromDeleted ?? null;
  }
  watch(
    () => ({ target: target.value, original: original.value, draft, keyIsNew: keyIsNew.value, keyConfirmed: keyConfirmed.value, fromDeleted: fromDeleted.value }),
    (now) => (now.target ? keepDraft({ ...now, target: now.target }) : forgetDraft()),
    { deep: true },
  );
  /** Every destination secret reference the draft held while editing (one tested, then removed or replaced, included). */
  const seenRefs = new Set<string>();
  watch(
    () => draft.destinations.map((d) => ('credentialsRef' in d ? d.credentialsRef : null)),
    (refs) => refs.forEach((r) => r && seenRefs.add(r)),
  );

  /** The destinations (by index) whose secret deleting the task removed and that have none typed yet (after `saveAsNew`). */
  const secretsMissing = computed<number[]>(() => {
    const places = fromDeleted.value?.places ?? [];
    return draft.destinations.flatMap((d, i) => (places.includes(placeOf(d)) && 'credentialsRef' in d && !d.credentialsRef && !draftSecret(d) ? [i] : []));
  });

  /** The draft's own problems, a secret the delete of its task removed, and a schedule the engine's preview refused (so no folder is created for a task the engine will refuse). */
  const errors = computed(() => {
    const e = draftErrors(draft);
    for (const i of secretsMissing.value) e[`destination-${i}`] = 'Deleting the task removed this destination’s secret from the keychain: enter it again.';
    if (!e.schedule && usePlanningStore().scheduleError) e.schedule = 'Fix the schedule first: see the message under the schedules.';
    return e;
  });
  const shown = computed<Partial<Record<DraftField, string>>>(() => (submitted.value ? errors.value : {}));
  const needsConfirm = computed(() => draft.encryption !== 'none' && draft.keyRef !== null && keyIsNew.value && !keyConfirmed.value);

  /** A new form's draft as it was opened (null: not a fresh new form, e.g. one kept across a reload): untouched when the draft still equals it. */
  let newBaseline: string | null = null;

  function reset(to: TaskDraft, task: Task | null, t: EditorTarget): void {
    Object.assign(draft, to);
    newBaseline = task ? null : JSON.stringify(to);
    original.value = task;
    target.value = t;
    submitted.value = false;
    keyIsNew.value = false;
    keyConfirmed.value = false;
    saveError.value = null;
    missingFolders.value = [];
    fromDeleted.value = null;
  }

  /** True when the draft holds something typed since it was loaded from `original` (or since a new form). */
  function edited(): boolean {
    if (!original.value) return newBaseline === null || JSON.stringify(draft) !== newBaseline;
    return JSON.stringify(draft) !== JSON.stringify(draftFromTask(original.value));
  }

  // `backstop serve`: closing or reloading the tab asks while the draft holds unsaved edits.
  onScopeDispose(registerUnsaved(() => target.value !== null && edited()));

  /**
   * The draft of another task (or of a new one) holding unsaved edits, when the editor is
   * about to open `t` ('new' or a task id): opening would replace it, so the view asks first
   * (go back to it, or discard it). Null when there is nothing to lose.
   */
  function unsavedOther(t: string): { target: string; name: string } | null {
    if (!target.value || target.value === t || !edited()) return null;
    return { target: target.value, name: draft.name.trim() };
  }

  /**
   * Starts editing `task` (or a new task on `serverId`), unless the draft already belongs to
   * that target (the view was re-mounted): then it is kept as typed. When the saved task
   * changed since (a pause from the task card, another window, the command line), an
   * untouched draft takes the new version; an edited one is kept, and `changedElsewhere`
   * says so until the user picks `loadCurrent` or `keepMine`.
   */
  function open(task: Task | null, serverId = ''): void {
    const t = task ? task.id : 'new';
    if (target.value === t && (!task || original.value?.updatedAt === task.updatedAt || edited())) return;
    reset(task ? draftFromTask(task) : emptyDraft(serverId, defaultTimezone()), task, t);
  }

  /** The stored task when it changed after this draft was loaded from it (saving now would be refused: STALE); else null. */
  const changedElsewhere = computed<Task | null>(() => {
    const id = target.value;
    if (!original.value || !id || id === 'new') return null;
    const current = useTasksStore().byId.get(id);
    return current && current.updatedAt !== original.value.updatedAt ? current : null;
  });

  /** The task the draft edits, as loaded, when it was deleted elsewhere (another window, the command line) since; else null. */
  const deletedElsewhere = computed<Task | null>(() => {
    const id = target.value;
    const tasks = useTasksStore();
    if (!original.value || !id || id === 'new' || !tasks.loaded) return null;
    return tasks.byId.has(id) ? null : original.value;
  });

  /**
   * The task was deleted elsewhere: makes the draft a new task's, as typed, and saves it
   * (resolves as `save` does). Destination secrets the delete removed from the keychain
   * (those of the deleted task no stored task names) are not reused: their references are
   * dropped and the fields ask for the secrets again; a key no longer in the keychain is
   * asked for again too. `fromDeleted` says what must be entered.
   */
  async function saveAsNew(): Promise<Task | null> {
    const gone = deletedElsewhere.value;
    if (!gone) return null;
    const refOf = (d: object): string | null => ('credentialsRef' in d && typeof d.credentialsRef === 'string' ? d.credentialsRef : null);
    const inUse = new Set(useTasksStore().tasks.flatMap((t) => t.destinations.map(refOf)));
    const removed = new Set(gone.destinations.map(refOf).filter((r): r is string => r !== null && !inUse.has(r)));
    const places: string[] = [];
    draft.destinations = draft.destinations.map((d) => {
      const ref = refOf(d);
      if (!ref || !removed.has(ref)) return d;
      places.push(placeOf(d));
      return { ...d, credentialsRef: null };
    });
    const keys = useKeysStore();
    await keys.refresh();
    const keyMissing = draft.encryption !== 'none' && draft.keyRef !== null && keys.loaded && !keys.byRef.has(draft.keyRef);
    if (keyMissing) {
      draft.keyRef = null;
      draft.fingerprint = null;
    }
    original.value = null;
    target.value = 'new';
    saveError.value = null;
    fromDeleted.value = { name: gone.name, places, keyMissing };
    return save();
  }

  /** Drops what was typed and edits the stored version instead (the user's choice in the "changed elsewhere" notice). */
  function loadCurrent(): void {
    const current = changedElsewhere.value;
    if (current) reset(draftFromTask(current), current, current.id);
  }

  /**
   * Keeps what was typed, on top of the stored version (the user's choice in the "changed
   * elsewhere" notice): each setting the user changed keeps their value; every other one
   * takes the stored version's (a pause made elsewhere stays paused). Saving then replaces
   * the stored version.
   */
  function keepMine(): void {
    const current = changedElsewhere.value;
    if (!current || !original.value) return;
    const base = draftFromTask(original.value) as unknown as Record<string, unknown>;
    const theirs = draftFromTask(current) as unknown as Record<string, unknown>;
    const mine = draft as unknown as Record<string, unknown>;
    for (const key of Object.keys(theirs)) {
      if (JSON.stringify(mine[key]) === JSON.stringify(base[key])) mine[key] = theirs[key];
    }
    original.value = current;
    if (saveError.value?.code === 'STALE') saveError.value = null;
  }

  /**
   * Forgets the draft (after a save, a delete or Cancel), and the destination secrets it
   * saved that no stored task uses (the engine keeps those a task names: the saved task's own).
   */
  function close(): void {
    if (seenRefs.size > 0) void useStorageStore().forgetUnsaved([...seenRefs]);
    seenRefs.clear();
    reset(emptyDraft(), null, '');
    target.value = null;
  }

  function useKey(info: KeyInfo): void {
    draft.keyRef = info.keyRef;
    draft.fingerprint = info.fingerprint;
    keyIsNew.value = true;
    keyConfirmed.value = false;
  }

  function chooseEncryption(mode: EncryptionChoice): void {
    if (draft.encryption === mode) return;
    draft.encryption = mode;
    const saved = original.value?.encryption;
    if (mode === 'none') {
      draft.keyRef = null;
      draft.fingerprint = null;
    } else if (keyIsNew.value) {
      // keep the key generated or imported in this session
    } else if (saved?.mode === 'key') {
      draft.keyRef = saved.keyRef;
      draft.fingerprint = saved.fingerprint;
    } else {
      draft.keyRef = null;
      draft.fingerprint = null;
    }
  }

  /** Stores typed destination secrets (any kind) in the keychain; the draft keeps only the reference. False with `saveError` set. */
  async function storeSecrets(): Promise<boolean> {
    const storage = useStorageStore();
    for (const [i, d] of draft.destinations.entries()) {
      const saved = await storage.saveDraftSecret(d);
      if (!saved) {
        saveError.value = storage.credentialsError;
        return false;
      }
      draft.destinations[i] = saved;
    }
    return true;
  }

  async function findMissingFolders(): Promise<string[] | null> {
    const missing: string[] = [];
    for (const d of draftToInput(draft).destinations) {
      if (d.kind !== 'local') continue;
      try {
        const answer = await call('destinations.checkFolder', { path: d.path });
        if (!answer.exists) missing.push(answer.path);
      } catch (e) {
        saveError.value = ApiError.from(e);
        return null;
      }
    }
    return missing;
  }

  async function write(): Promise<Task | null> {
    const tasks = useTasksStore();
    if (!(await storeSecrets())) return null;
    const input = draftToInput(draft);
    const id = target.value && target.value !== 'new' ? target.value : null;
    // Based on the version the draft was loaded from: a change made elsewhere since is never silently undone (STALE).
    const saved = id ? await tasks.update(id, input, original.value?.updatedAt) : await tasks.create(input);
    if (!saved) {
      saveError.value = tasks.actionError;
      return null;
    }
    close();
    return saved;
  }

  /**
   * Checks the draft, then saves it. Resolves to the saved task; null when a field needs
   * attention (`errors`), the new key is not confirmed, a local folder is missing
   * (`missingFolders`; nothing saved yet) or the engine refused (`saveError`).
   */
  async function save(): Promise<Task | null> {
    submitted.value = true;
    saveError.value = null;
    missingFolders.value = [];
    if (Object.keys(errors.value).length > 0 || needsConfirm.value || saving.value) return null;
    saving.value = true;
    try {
      const missing = await findMissingFolders();
      if (missing === null) return null;
      if (missing.length > 0) {
        missingFolders.value = missing;
        return null;
      }
      return await write();
    } finally {
      saving.value = false;
    }
  }

  /** The user agreed: creates the missing folders, then saves. Null with `saveError` when a folder cannot be created. */
  async function createFoldersAndSave(): Promise<Task | null> {
    saving.value = true;
    saveError.value = null;
    try {
      for (const path of missingFolders.value) {
        try {
          await call('destinations.createFolder', { path });
        } catch (e) {
          saveError.value = ApiError.from(e);
          missingFolders.value = [];
          return null;
        }
      }
      missingFolders.value = [];
      return await write();
    } finally {
      saving.value = false;
    }
  }

  /** The user declined to create a missing folder: nothing is saved, the form stays as typed. */
  function keepEditing(): void {
    missingFolders.value = [];
  }

  return {
    draft,
    target,
    original,
    submitted,
    keyIsNew,
    keyConfirmed,
    saving,
    saveError,
    missingFolders,
    fromDeleted,
    secretsMissing,
    errors,
    shown,
    needsConfirm,
    changedElsewhere,
    deletedElsewhere,
    saveAsNew,
    open,
    unsavedOther,
    loadCurrent,
    keepMine,
    close,
    useKey,
    chooseEncryption,
    save,
    createFoldersAndSave,
    keepEditing,
  };
});
