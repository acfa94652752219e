/**
 * The Settings form's draft as field texts, and what it means against the engine's settings:
 * which fields the user changed, a change made elsewhere (another window, `backstop serve`,
 * the command line) merged under the user's edits, and the patch Save sends — only the
 * fields the user changed, so Save never puts back a value another window changed since.
 * Pure functions; the view owns validation messages.
 */
import type { Settings, SettingsPatch } from '@shared/domain.ts';

export interface SettingsDraft {
  theme: Settings['theme'];
  /** Text fields hold what was typed (a number input's v-model may hand a number). */
  maxConcurrentBackups: string | number;
  startAtLogin: boolean;
  notifications: boolean;
  staleAfterHours: string | number;
  slotWarnGiB: string | number;
  pgTools: string;
  mysqlTools: string;
}

export type SettingsField = keyof SettingsDraft;

export function draftOf(s: Settings): SettingsDraft {
  return {
    theme: s.theme,
    maxConcurrentBackups: String(s.maxConcurrentBackups),
    startAtLogin: s.startAtLogin,
    notifications: s.notifications,
    staleAfterHours: s.staleAfterHours === null ? '' : String(s.staleAfterHours),
    slotWarnGiB: String(s.slotWarnGiB),
    pgTools: s.toolPaths.postgres ?? '',
    mysqlTools: s.toolPaths.mysql ?? '',
  };
}

const text = (v: unknown): string => String(v).trim();

/** The fields whose text differs from `s`'s. */
export function changedFields(draft: SettingsDraft, s: Settings): SettingsField[] {
  const base = draftOf(s);
  return (Object.keys(base) as SettingsField[]).filter((k) => text(draft[k]) !== text(base[k]));
}

/**
 * `edits` (fields the user changed from `before`) on top of `now`: every field the user did
 * not change takes `now`'s value; the changed ones keep what was typed.
 */
export function mergeEdits(edits: SettingsDraft, before: Settings, now: Settings): SettingsDraft {
  const changed = new Set(changedFields(edits, before));
  const next = draftOf(now) as unknown as Record<string, unknown>;
  for (const k of changed) next[k] = edits[k];
  return next as unknown as SettingsDraft;
}

/** The patch of the fields changed from `current` (the texts already validated by the view). */
export function patchFor(draft: SettingsDraft, current: Settings): SettingsPatch {
  const patch: SettingsPatch = {};
  for (const k of changedFields(draft, current)) {
    switch (k) {
      case 'theme':
        patch.theme = draft.theme;
        break;
      case 'maxConcurrentBackups':
        patch.maxConcurrentBackups = Number(text(draft.maxConcurrentBackups));
        break;
      case 'startAtLogin':
        patch.startAtLogin = draft.startAtLogin;
        break;
      case 'notifications':
        patch.notifications = draft.notifications;
        break;
      case 'staleAfterHours':
        patch.staleAfterHours = text(draft.staleAfterHours) === '' ? null : Number(text(draft.staleAfterHours));
        break;
      case 'slotWarnGiB':
        patch.slotWarnGiB = Number(text(draft.slotWarnGiB));
        break;
      case 'pgTools':
      case 'mysqlTools':
        patch.toolPaths = { postgres: draft.pgTools.trim() || null, mysql: draft.mysqlTools.trim() || null };
        break;
    }
  }
  return patch;
}
