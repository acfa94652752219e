/**
 * The app's notification channels: set up once in Settings (secrets in the keychain) and
 * chosen per task (`task.notifications`: channel ids; absent = every channel).
 *
 * Contract: a webhook's or heartbeat's URL and the SMTP password are stored only in the
 * keychain (`notify.<id>.url`, `notify.smtp.password`) and registered with the log
 * redactor when read; settings hold names, kinds and filters. A channel whose secret is
 * gone is left out (and logged), never a reason to fail a run.
 * `owedChannel` resolves a delivery a stopped process still owed (notifier.ts `resume`) to its
 * Settings channel as it is now — or the reason it is not sent: older than `OWED_MAX_AGE_MS`, a
 * task file's channel (its URL was in that command's environment), the channel deleted, its URL
 * or SMTP server gone, or the channel changed (`sameChannel`): never to a place it was not meant for.
 */
import type { NotificationChannelSetting, Settings, Task } from '../../shared/domain.ts';
import type { SecretStore } from '../secrets/index.ts';
import type { OutboxEntry } from '../store/index.ts';
import { sameChannel, type NotificationChannel } from './channels.ts';
import type { OwedChannel } from './notifier.ts';
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

/** An owed alert older than this when Backstop starts again is not sent so late (it would read as news). */
export const OWED_MAX_AGE_MS = 24 * 3_600_000;

const CLOSED = 'Backstop stopped while it was still trying to deliver it';

/** An owed delivery's Settings channel as it is now, or why it is not sent. */
export async function owedChannel(e: OutboxEntry, settings: Settings, secrets: SecretStore, dataDir: string, now: Date): Promise<OwedChannel> {
  const age = now.getTime() - Date.parse(e.queuedAt);
  if (!(age <= OWED_MAX_AGE_MS)) {
    return { reason: `${CLOSED}, and it was over ${OWED_MAX_AGE_MS / 3_600_000} h old (queued ${e.queuedAt}) when Backstop started again: not sent so late` };
  }
  if (e.channelId === null) {
    return { reason: `${CLOSED} (a task file's channel: its URL is read from the environment of the command that ran it, so only that command could send it)` };
  }
  const c = settings.notificationChannels.find((x) => x.id === e.channelId);
  if (!c) return { reason: `${CLOSED}, and its channel was deleted since: not sent` };
  const ch = await appChannel(c, settings, secrets, dataDir);
  if (!ch) return { reason: `${CLOSED}, and its channel has no ${c.kind === 'email' ? 'SMTP server' : 'URL'} any more: not sent` };
  if (!sameChannel(ch, e.fingerprint)) {
    return { reason: `${CLOSED}, and its channel was changed since (its ${c.kind === 'email' ? 'recipients, filter or SMTP server' : c.kind === 'webhook' ? 'URL, format or filter' : 'URL or method'}): not sent to the new settings` };
  }
  return { channel: ch };
}
