/**
 * Settings › E-mail server: the SMTP server e-mail channels use. Loads what is saved (and
 * whether a password is in the keychain — never the password), saves (a typed password goes
 * to the engine once, which keeps it in the keychain; an empty one keeps the saved one),
 * removes, and sends a test mail to an address.
 *
 * Contract: actions never reject; a refusal is in `error` (the engine's code and message).
 */
import { defineStore } from 'pinia';
import { ref, shallowRef } from 'vue';
import type { SmtpSetting } from '@shared/domain.ts';
import type { CommandResult } from '@shared/ipc/index.ts';
import { call } from '../api';
import { useAction } from './resource';

export type SmtpTestOutcome = CommandResult<'notifications.testSmtp'>;

export const useSmtpStore = defineStore('smtp', () => {
  const action = useAction();
  const smtp = shallowRef<SmtpSetting | null>(null);
  const passwordSaved = ref(false);
  const loaded = ref(false);
  const test = shallowRef<SmtpTestOutcome | 'sending' | null>(null);

  async function load(): Promise<void> {
    const r = await action.run(() => call('notifications.smtp'));
    if (!r) return;
    smtp.value = r.smtp;
    passwordSaved.value = r.passwordSaved;
    loaded.value = true;
  }

  /** Saves the server (null removes it and its password); `password` only when one was typed. */
  async function save(next: SmtpSetting | null, password?: string): Promise<boolean> {
    await action.run(() => call('notifications.saveSmtp', { smtp: next, ...(password ? { password } : {}) }));
    if (action.error.value) return false;
    await load();
    return true;
  }

  async function sendTest(to: string): Promise<void> {
    test.value = 'sending';
    test.value = await action.run(() => call('notifications.testSmtp', { to }));
  }

  return { smtp, passwordSaved, loaded, test, load, save, sendTest, pending: action.pending, error: action.error, clearError: action.clearError };
});
