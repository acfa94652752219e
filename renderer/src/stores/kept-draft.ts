/**
 * Keeps the task editor's unsaved draft in this window's sessionStorage, so a reload of the
 * page (Ctrl+R, a renderer that crashed and was reloaded, a browser tab of `backstop serve`
 * refreshed) brings the form back as it was typed. sessionStorage belongs to this window
 * or tab alone and is never written to disk by Chromium; still, secrets typed into
 * destination fields (S3 secret key, Azure key, FTP/SFTP password and passphrase) are never
 * kept: after a reload they must be typed again, and the form says they are missing.
 *
 * The Settings form's unsaved edits are kept the same way (`keepSettingsDraft`): leaving
 * the view or reloading the window brings them back on top of the settings in force (they
 * hold no secret).
 *
 * The Restore view's one-database form is kept too (`keepRestoreDraft`): the backup folder
 * opened (its location: a path, or a remote place with only its keychain reference), the
 * folders listed, the time zone, the point or moment, the new name and the options. A key or
 * a password typed there is not part of it (the view holds those), so a reload asks again.
 *
 * The Whole server steps' choices (source, target server, names, moment, server-level content,
 * the databases chosen, whether the plan was shown) and which restore scope the view shows are
 * kept too (`keepServerRestoreChoices`); a key typed there is not.
 *
 * History's filters (task, kind, database, status, days) are kept for the window's session
 * the same way (`keepHistoryFilter`): another view or a reload shows History filtered as it was.
 *
 * Contract: `keepDraft` never throws (storage full or unavailable: nothing is kept);
 * `keptDraft` returns what was kept, or null when nothing (or something unreadable) was;
 * `forgetDraft` removes it (after a save, a delete or Cancel).
 */
import type { BackupLocation, Settings, Task } from '@shared/domain.ts';
import type { RestoreDraft } from '../components/restore/restore-draft';
import { EMPTY_FILTER, type RunFilter } from '../components/run-stats';
import type { SettingsDraft } from '../components/settings-draft';
import type { DestinationDraft, TaskDraft } from '../components/task-draft';

const KEY = 'backstop.taskEditor.draft';

export interface KeptDraft {
  /** The saved task's id, or 'new'. */
  target: string;
  /** The stored version the draft was loaded from (edit), to know whether it changed since. */
  original: Task | null;
  draft: TaskDraft;
  /** A key generated or imported in this editor session must still be confirmed as saved. */
  keyIsNew: boolean;
  keyConfirmed: boolean;
  /** A new task made from a task deleted elsewhere: its name, the destinations (by place) whose secret must be typed again, whether its key is gone. */
  fromDeleted?: { name: string; places: string[]; keyMissing: boolean } | null;
}

/** A destination draft without the secrets typed into it (those never leave memory). */
function withoutSecrets(d: DestinationDraft): DestinationDraft {
  switch (d.kind) {
    case 's3':
      return { ...d, secretAccessKey: '' };
    case 'azure':
      return { ...d, secret: '' };
    case 'ftp':
      return { ...d, password: '' };
    case 'sftp':
      return { ...d, password: '', passphrase: '' };
    default:
      return { ...d };
  }
}

function storage(): Storage | null {
  try {
    return globalThis.sessionStorage ?? null;
  } catch {
    return null;
  }
}

export function keepDraft(kept: KeptDraft): void {
  try {
    const draft: TaskDraft = { ...kept.draft, destinations: kept.draft.destinations.map(withoutSecrets) };
    storage()?.setItem(KEY, JSON.stringify({ ...kept, draft }));
  } catch {
    // Storage full or refused: the draft stays in memory only, as before.
  }
}

export function keptDraft(): KeptDraft | null {
  try {
    const text = storage()?.getItem(KEY);
    if (!text) return null;
    const kept = JSON.parse(text) as KeptDraft;
    return typeof kept?.target === 'string' && kept.draft && Array.isArray(kept.draft.destinations) ? kept : null;
  } catch {
    return null;
  }
}

export function forgetDraft(): void {
  try {
    storage()?.removeItem(KEY);
  } catch {
    // nothing kept
  }
}

const SETTINGS_KEY = 'backstop.settings.draft';

/** The Settings form as typed, and the settings it was typed over (to tell the user's edits from values changed since). */
export interface KeptSettingsDraft {
  base: Settings;
  draft: SettingsDraft;
}

export function keepSettingsDraft(kept: KeptSettingsDraft): void {
  try {
    storage()?.setItem(SETTINGS_KEY, JSON.stringify(kept));
  } catch {
    // nothing kept
  }
}

export function keptSettingsDraft(): KeptSettingsDraft | null {
  try {
    const text = storage()?.getItem(SETTINGS_KEY);
    if (!text) return null;
    const kept = JSON.parse(text) as KeptSettingsDraft;
    return kept && typeof kept.base === 'object' && typeof kept.draft === 'object' && kept.base?.toolPaths ? kept : null;
  } catch {
    return null;
  }
}

export function forgetSettingsDraft(): void {
  try {
    storage()?.removeItem(SETTINGS_KEY);
  } catch {
    // nothing kept
  }
}

const HISTORY_FILTER_KEY = 'backstop.history.filter';

export function keepHistoryFilter(filter: RunFilter): void {
  try {
    storage()?.setItem(HISTORY_FILTER_KEY, JSON.stringify(filter));
  } catch {
    // nothing kept
  }
}

/** The filter kept (only its known fields, each a string), or null when none or unreadable. */
export function keptHistoryFilter(): RunFilter | null {
  try {
    const text = storage()?.getItem(HISTORY_FILTER_KEY);
    if (!text) return null;
    const kept = JSON.parse(text) as Record<string, unknown>;
    if (!kept || typeof kept !== 'object') return null;
    const out = { ...EMPTY_FILTER } as Record<string, string>;
    for (const k of Object.keys(EMPTY_FILTER)) if (typeof kept[k] === 'string') out[k] = kept[k];
    return out as unknown as RunFilter;
  } catch {
    return null;
  }
}

const RESTORE_KEY = 'backstop.restore.draft';

/** The Restore view's form: where the backup folder is, the choices listed, the zone, and the draft (no key, no password). */
export interface KeptRestoreDraft {
  location: BackupLocation | null;
  choices: { root: string; choices: { location: BackupLocation }[] } | null;
  zone: string | null;
  draft: RestoreDraft;
}

export function keepRestoreDraft(kept: KeptRestoreDraft): void {
  try {
    storage()?.setItem(RESTORE_KEY, JSON.stringify(kept));
  } catch {
    // nothing kept
  }
}

export function keptRestoreDraft(): KeptRestoreDraft | null {
  try {
    const text = storage()?.getItem(RESTORE_KEY);
    if (!text) return null;
    const kept = JSON.parse(text) as KeptRestoreDraft;
    const ok = kept && typeof kept.draft === 'object' && kept.draft !== null && typeof kept.draft.pointId === 'string' && (kept.location !== null || kept.choices !== null);
    return ok ? kept : null;
  } catch {
    return null;
  }
}

export function forgetRestoreDraft(): void {
  try {
    storage()?.removeItem(RESTORE_KEY);
  } catch {
    // nothing kept
  }
}

const SERVER_RESTORE_KEY = 'backstop.restore.server';

/** The Whole server steps as chosen (never the key typed there), and the scope the Restore view showed. */
export interface KeptServerRestoreChoices {
  scope: 'one' | 'server';
  sourceId: string;
  typedPath: string;
  serverId: string;
  naming: 'prefix' | 'suffix' | 'original';
  affix: string;
  withServerLevel: boolean;
  at: 'latest' | 'moment';
  moment: string;
  momentLater: boolean;
  /** The databases chosen in the plan shown (null: no plan was shown). */
  selected: string[] | null;
}

export function keepServerRestoreChoices(kept: KeptServerRestoreChoices): void {
  try {
    storage()?.setItem(SERVER_RESTORE_KEY, JSON.stringify(kept));
  } catch {
    // nothing kept
  }
}

/** What was kept, each field checked (an unreadable one falls back to its default), or null when nothing was. */
export function keptServerRestoreChoices(): KeptServerRestoreChoices | null {
  try {
    const text = storage()?.getItem(SERVER_RESTORE_KEY);
    if (!text) return null;
    const k = JSON.parse(text) as Partial<Record<keyof KeptServerRestoreChoices, unknown>>;
    if (!k || typeof k !== 'object') return null;
    const str = (v: unknown, d: string) => (typeof v === 'string' ? v : d);
    return {
      scope: k.scope === 'server' ? 'server' : 'one',
      sourceId: str(k.sourceId, ''),
      typedPath: str(k.typedPath, ''),
      serverId: str(k.serverId, ''),
      naming: k.naming === 'suffix' || k.naming === 'original' ? k.naming : 'prefix',
      affix: str(k.affix, 'restored_'),
      withServerLevel: k.withServerLevel === true,
      at: k.at === 'moment' ? 'moment' : 'latest',
      moment: str(k.moment, ''),
      momentLater: k.momentLater === true,
      selected: Array.isArray(k.selected) ? k.selected.filter((d): d is string => typeof d === 'string') : null,
    };
  } catch {
    return null;
  }
}

/** Which restore scope the Restore view shows, kept beside the Whole server choices. */
export function keepRestoreScope(scope: 'one' | 'server'): void {
  const kept = keptServerRestoreChoices();
  if (!kept && scope === 'one') return;
  keepServerRestoreChoices({ ...(kept ?? { sourceId: '', typedPath: '', serverId: '', naming: 'prefix', affix: 'restored_', withServerLevel: false, at: 'latest', moment: '', momentLater: false, selected: null }), scope });
}
