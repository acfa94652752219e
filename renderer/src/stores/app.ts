/** Facts about the running app (version, platform, data and log folders, who schedules, whether the window is the agent's client). */
import { defineStore } from 'pinia';
import type { AppInfo, SchedulerOwnerInfo } from '@shared/domain.ts';
import { call, onEvent } from '../api';
import { useResource } from './resource';

export const useAppStore = defineStore('app', () => {
  const info = useResource(() => call('app.info'), null as AppInfo | null);
  /** Which process schedules this data dir's tasks: this app, or `backstop agent` (one at a time). */
  const scheduler = useResource(() => call('scheduler.owner'), null as SchedulerOwnerInfo | null);
  // The shell switched between the agent's engine and its own (the agent started or went away).
  onEvent('scheduler.changed', (info) => {
    scheduler.data.value = info;
  });
  return {
    scheduler: scheduler.data,
    refreshScheduler: scheduler.refresh,
    info: info.data,
    loaded: info.loaded,
    loading: info.loading,
    error: info.error,
    refresh: info.refresh,
  };
});
