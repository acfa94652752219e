/**
 * Notification channels in Settings: save (a URL goes to the engine, which keeps it in the
 * keychain; it is never read back), delete, and "Send test". The list itself is part of the
 * settings (`settings.notificationChannels`), refreshed by `settings.changed`.
 * `deliveries`: each channel's last delivery (`notifications.deliveries`), read when the view
 * shows them, after a test, and when the engine says a channel started failing.
 */
import { defineStore } from 'pinia';
import { onScopeDispose, ref } from 'vue';
import type { ChannelDelivery } from '@shared/domain.ts';
import type { CommandInput, CommandResult } from '@shared/ipc/index.ts';
import { call, onEvent } from '../api';
import { useAction, useResource } from './resource';
import { useSettingsStore } from './settings';

export type TestOutcome = CommandResult<'notifications.test'>;

export const useNotificationsStore = defineStore('notifications', () => {
  const action = useAction();
  const settings = useSettingsStore();
  /** The last "Send test" outcome per channel id. */
  const tests = ref<Record<string, TestOutcome | 'sending'>>({});
  const deliveries = useResource(() => call('notifications.deliveries'), {} as Record<string, ChannelDelivery>);
  const off = onEvent('alert', (a) => {
    if (a.kind === 'notification-failed' && deliveries.loaded.value) void deliveries.refresh();
  });
  onScopeDispose(off);

  async function save(input: CommandInput<'notifications.saveChannel'>): Promise<boolean> {
    const saved = await action.run(() => call('notifications.saveChannel', input));
    if (saved) await settings.refresh();
    return saved !== null;
  }

  async function remove(id: string): Promise<void> {
    if (await action.run(() => call('notifications.deleteChannel', { id }))) await settings.refresh();
  }

  async function sendTest(id: string): Promise<void> {
    tests.value = { ...tests.value, [id]: 'sending' };
    const outcome = await action.run(() => call('notifications.test', { id }));
    const next = { ...tests.value };
    if (outcome) next[id] = outcome;
    else delete next[id];
    tests.value = next;
    void deliveries.refresh();
  }

  return { save, remove, sendTest, tests, deliveries: deliveries.data, refreshDeliveries: deliveries.refresh, pending: action.pending, error: action.error, clearError: action.clearError };
});
