import { afterEach, describe, expect, it } from 'vitest';
import { nextTick, ref } from 'vue';
import { applyTheme, useTheme } from '../../../renderer/src/composables/use-theme';
import type { Settings } from '@shared/domain.ts';

afterEach(() => {
  delete document.documentElement.dataset.theme;
});

describe('theme', () => {
  it('light/dark set data-theme on <html>; system removes it so the OS preference applies', () => {
    const root = document.documentElement;
    applyTheme('dark');
    expect(root.getAttribute('data-theme')).toBe('dark');
    applyTheme('light');
    expect(root.getAttribute('data-theme')).toBe('light');
    applyTheme('system');
    expect(root.hasAttribute('data-theme')).toBe(false);
  });

  it('useTheme follows the setting as it changes', async () => {
    const theme = ref<Settings['theme']>('system');
    useTheme(() => theme.value);
    expect(document.documentElement.hasAttribute('data-theme')).toBe(false);
    theme.value = 'dark';
    await nextTick();
    expect(document.documentElement.getAttribute('data-theme')).toBe('dark');
  });
});
