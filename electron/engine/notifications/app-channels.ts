/**
 * The app's notification channels: set up once in Settings (secrets in the keychain) and
 * chosen per task (`task.notifications`: channel ids; absent = every channel).
 *
 * Contract: a webhook's or heartbeat's URL and the SMTP password are stored only in the
 * keychain (`notify.<id>.url`, `notify.smtp.password`) and registered with the log
 * redactor when read; settings hold names, kinds and filters. A channel whose secret is
 * gone is left out (and logged), never a reason to fail a run.
 */
import type { NotificationChannelSetting, Settings, Task } from '../../shared/domain.ts';
import type { SecretStore } from '../secrets/index.ts';
import type { NotificationChannel } from './channels.ts';
import { smtpSettings, type SmtpSettings } from './smtp-settings.ts';

export const urlRef = (id: string) => `notify.${id}.url`;
export const SMTP_PASSWORD_REF = 'notify.smtp.password';

/** The SMTP server of Settings (password from the keychain), else the environment's or smtp.json's. */
export async function appSmtp(settings: Settings, secrets: SecretStore, dataDir: string): Promise<SmtpSettings | null> {
  const s = settings.smtp;
  if (!s) return smtpSettings(dataDir);
  return { host: s.host, port: s.port, security: s.security, user: s.user, password: await secrets.get(SMTP_PASSWORD_REF), from: s.from, ca: null };
}

/** One Settings channel, ready to deliver; null when its URL (or the SMTP server) is missing. */
export async function appChannel(c: NotificationChannelSetting, settings: Settings, secrets: SecretStore, dataDir: string): Promise<NotificationChannel | null> {
  if (c.kind === 'email') {
    const smtp = await appSmtp(settings, secrets, dataDir);
    return smtp ? { kind: 'email', id: c.id, to: c.to, smtp, ...(c.on ? { on: c.on } : {}) } : null;
  }
  const url = await secrets.get(urlRef(c.id));
  if (!url) return null;
  return c.kind === 'webhook' ? { kind: 'webhook', id: c.id, url, preset: c.preset, ...(c.on ? { on: c.on } : {}) } : { kind: 'heartbeat', id: c.id, url, method: c.method };
}

/** The channels a stored task notifies. */
export async function channelsForTask(task: Task, settings: Settings, secrets: SecretStore, dataDir: string, onMissing: (c: NotificationChannelSetting) => void): Promise<NotificationChannel[]> {
  const chosen = task.notifications ? settings.notificationChannels.filter((c) => task.notifications!.includes(c.id)) : settings.notificationChannels;
  const out: NotificationChannel[] = [];
  for (const c of chosen) {
    const ch = await appChannel(c, settings, secrets, dataDir);
    if (ch) out.push(ch);
    else onMissing(c);
  }
  return out;
}
