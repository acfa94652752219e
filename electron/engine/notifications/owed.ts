/**
 * Deliveries a Backstop process that stopped (closed, killed, the machine rebooted) still owed
 * (store/notification-outbox-table.ts), resolved for `Notifier.resume` to their channel as it is
 * now — or the reason they are not sent, recorded as not delivered: never sent to a place they
 * were not meant for, nor so late they would read as news.
 *
 * Contract: `OWED_MAX_AGE_MS` (24 h) bounds the age of what is resumed. A Settings channel's
 * (`settingsOwed`: the app, serve and agent at their start) is not sent when the channel was
 * deleted, lost its URL or SMTP server, or changed (`sameChannel`: URL, recipients, filter, SMTP
 * server). A task file's (`fileOwed`: the next `backstop backup --config` of that file, the only
 * one with its URLs, from the environment) goes to the file's channel that is the same, else is
 * not sent. `forSettings` / `forFile` say which rows each one takes: a task file's row is left to
 * that file's next run until it is too old, then whoever starts records it.
 */
import type { Settings } from '../../shared/domain.ts';
import type { SecretStore } from '../secrets/index.ts';
import type { OutboxEntry } from '../store/index.ts';
import { appChannel } from './app-channels.ts';
import { sameChannel, type NotificationChannel } from './channels.ts';
import type { OwedChannel } from './notifier.ts';

export const OWED_MAX_AGE_MS = 24 * 3_600_000;

const CLOSED = 'Backstop stopped while it was still trying to deliver it';

function tooOld(e: OutboxEntry, now: Date): string | null {
  const age = now.getTime() - Date.parse(e.queuedAt);
  return age <= OWED_MAX_AGE_MS ? null : `${CLOSED}, and it was over ${OWED_MAX_AGE_MS / 3_600_000} h old (queued ${e.queuedAt}) when Backstop started again: not sent so late`;
}

/** The rows the app, serve or agent take at their start: Settings channels', and a task file's once too old. */
export const forSettings = (now: Date) => (e: OutboxEntry) => e.channelId !== null || tooOld(e, now) !== null;

/** The rows the next `backstop backup --config` of a task file takes: its own, from a task file's channels. */
export const forFile = (taskId: string) => (e: OutboxEntry) => e.channelId === null && e.taskId === taskId;

export async function settingsOwed(e: OutboxEntry, settings: Settings, secrets: SecretStore, dataDir: string, now: Date): Promise<OwedChannel> {
  const old = tooOld(e, now);
  if (old) return { reason: old };
  const c = settings.notificationChannels.find((x) => x.id === e.channelId);
  if (!c) return { reason: `${CLOSED}, and its channel was deleted since: not sent` };
  const ch = await appChannel(c, settings, secrets, dataDir);
  if (!ch) return { reason: `${CLOSED}, and its channel has no ${c.kind === 'email' ? 'SMTP server' : 'URL'} any more: not sent` };
  if (!sameChannel(ch, e.fingerprint)) {
    return { reason: `${CLOSED}, and its channel was changed since (its ${c.kind === 'email' ? 'recipients, filter or SMTP server' : c.kind === 'webhook' ? 'URL, format or filter' : 'URL or method'}): not sent to the new settings` };
  }
  return { channel: ch };
}

export function fileOwed(e: OutboxEntry, channels: readonly NotificationChannel[], now: Date): OwedChannel {
  const old = tooOld(e, now);
  if (old) return { reason: old };
  const ch = channels.find((c) => c.kind === e.channel && sameChannel(c, e.fingerprint));
  return ch ? { channel: ch } : { reason: `${CLOSED}, and the task file no longer has that channel as it was (its URL, format, filter or recipients changed): not sent` };
}
