/**
 * Applies the theme setting to <html data-theme>. "system" removes the attribute, so the
 * stylesheet follows `prefers-color-scheme`; "light" / "dark" override the OS.
 */
import { watchEffect } from 'vue';
import type { Settings } from '@shared/domain.ts';

export function applyTheme(theme: Settings['theme'], root: HTMLElement = document.documentElement): void {
  if (theme === 'system') delete root.dataset.theme;
  else root.dataset.theme = theme;
}

export function useTheme(theme: () => Settings['theme']): void {
  watchEffect(() => applyTheme(theme()));
}
