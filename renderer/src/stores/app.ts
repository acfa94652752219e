/** Facts about the running app (version, platform, data and log folders). */
import { defineStore } from 'pinia';
import type { AppInfo } from '@shared/domain.ts';
import { call } from '../api';
import { useResource } from './resource';

export const useAppStore = defineStore('app', () => {
  const info = useResource(() => call('app.info'), null as AppInfo | null);
  return {
    info: info.data,
    loaded: info.loaded,
    loading: info.loading,
    error: info.error,
    refresh: info.refresh,
  };
});
