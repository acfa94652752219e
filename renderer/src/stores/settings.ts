/** App settings. `settings.changed` carries the full settings, so no refetch is needed. */
import { defineStore } from 'pinia';
import { computed, onScopeDispose } from 'vue';
import { DEFAULT_SETTINGS } from '@shared/domain.ts';
import type { Settings, SettingsPatch, ToolInfo } from '@shared/domain.ts';
import { call, onEvent } from '../api';
import { useAction, useResource } from './resource';

export const useSettingsStore = defineStore('settings', () => {
  const current = useResource(() => call('settings.get'), null as Settings | null);
  const action = useAction();

  /** The settings in force: the engine's once loaded, the defaults before. */
  const settings = computed<Settings>(() => current.data.value ?? DEFAULT_SETTINGS);
  const theme = computed(() => settings.value.theme);

  /** Saves a patch; resolves to true on success, false with `actionError` set. */
  async function save(patch: SettingsPatch): Promise<boolean> {
    const saved = await action.run(() => call('settings.set', patch));
    if (saved) {
      current.data.value = saved;
      current.loaded.value = true;
    }
    return saved !== null;
  }

  /** Client tools found (tool folders from these settings, PATH, usual places) with their versions. */
  const tools = useResource(() => call('tools.detect'), [] as ToolInfo[]);

  onScopeDispose(
    onEvent('settings.changed', (payload) => {
      current.data.value = payload;
      current.loaded.value = true;
    }),
  );

  return {
    settings,
    theme,
    loaded: current.loaded,
    loading: current.loading,
    error: current.error,
    saving: action.pending,
    actionError: action.error,
    refresh: current.refresh,
    save,
    clearActionError: action.clearError,
    tools: tools.data,
    toolsLoaded: tools.loaded,
    toolsLoading: tools.loading,
    toolsError: tools.error,
    detectTools: tools.refresh,
  };
});
