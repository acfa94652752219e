/**
 * Commands of the Settings notification channels: save (secrets to the keychain), delete,
 * the SMTP server, and "Send test".
 *
 * Contract: a webhook or heartbeat channel needs a URL when it is created (VALIDATION
 * otherwise); a URL is never returned or stored outside the keychain. `notifications.test`
 * sends one message of event "test" through the channel now, with the usual retries, and
 * answers what became of it (a delivery failure is an answer, not an error).
 * `notifications.smtp` says whether the SMTP password is saved, never what it is;
 * `notifications.testSmtp` sends a test mail to one address through the SMTP server e-mail
 * channels use (VALIDATION when there is none), answering like `notifications.test`.
 * `notifications.deliveries`: each Settings channel's last delivery, secret-free.
 */
import { randomUUID } from 'node:crypto';
import type { ChannelDelivery, NotificationChannelSetting } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';
import { appChannel, appSmtp, SMTP_PASSWORD_REF, urlRef } from '../notifications/app-channels.ts';
import { payload, type Notifier } from '../notifications/index.ts';
import type { SecretStore } from '../secrets/index.ts';
import type { NotificationDeliveriesTable, SettingsTable } from '../store/index.ts';
import type { Handlers } from './dispatch.ts';
import type { EventBus } from '../events/event-bus.ts';

type NotificationHandlers = Pick<
  Handlers,
  'notifications.saveChannel' | 'notifications.deleteChannel' | 'notifications.saveSmtp' | 'notifications.test' | 'notifications.smtp' | 'notifications.testSmtp' | 'notifications.deliveries'
>;

export interface NotificationHandlerDeps {
  settings: SettingsTable;
  secrets: SecretStore;
  notifier: Notifier;
  deliveries: NotificationDeliveriesTable;
  events: EventBus;
  dataDir: string;
  now: () => Date;
}

export function createNotificationHandlers(d: NotificationHandlerDeps): NotificationHandlers {
  const changed = () => d.events.emit('settings.changed', d.settings.get());
  return {
    'notifications.saveChannel': async ({ channel, url }) => {
      const list = d.settings.get().notificationChannels;
      const id = channel.id ?? randomUUID();
      const existing = list.find((c) => c.id === id);
      if (channel.id && !existing) throw new BackstopError('NOT_FOUND', `There is no notification channel ${channel.id}; it may have been deleted. Add it again.`);
      if (existing && existing.kind !== channel.kind) throw new BackstopError('VALIDATION', `A ${existing.kind} channel cannot become a ${channel.kind} channel; add a new channel instead.`);
      if (channel.kind !== 'email') {
        if (url !== undefined) {
          const proto = new URL(url).protocol;
          if (proto !== 'http:' && proto !== 'https:') throw new BackstopError('VALIDATION', 'The URL must start with http:// or https://.');
        } else if (!existing || !(await d.secrets.get(urlRef(id)))) {
          throw new BackstopError('VALIDATION', `Enter the ${channel.kind === 'webhook' ? 'webhook' : 'heartbeat'} URL.`);
        }
      }
      if (!existing && list.length >= 20) throw new BackstopError('VALIDATION', 'At most 20 notification channels; delete one first.');
      const saved = { ...channel, id } as NotificationChannelSetting;
      if (url !== undefined && channel.kind !== 'email') await d.secrets.set(urlRef(id), url);
      d.settings.patch({ notificationChannels: existing ? list.map((c) => (c.id === id ? saved : c)) : [...list, saved] });
      changed();
      return d.settings.get().notificationChannels.find((c) => c.id === id)!;
    },
    'notifications.deleteChannel': async ({ id }) => {
      const list = d.settings.get().notificationChannels;
      if (!list.some((c) => c.id === id)) return { deleted: false };
      d.settings.patch({ notificationChannels: list.filter((c) => c.id !== id) });
      await d.secrets.delete(urlRef(id));
      changed();
      return { deleted: true };
    },
    'notifications.saveSmtp': async ({ smtp, password }) => {
      if (smtp === null) {
        d.settings.patch({ smtp: null });
        await d.secrets.delete(SMTP_PASSWORD_REF);
      } else {
        if (password !== undefined) await d.secrets.set(SMTP_PASSWORD_REF, password);
        d.settings.patch({ smtp });
      }
      changed();
      return d.settings.get().smtp;
    },
    'notifications.test': async ({ id }) => {
      const settings = d.settings.get();
      const c = settings.notificationChannels.find((x) => x.id === id);
      if (!c) throw new BackstopError('NOT_FOUND', `There is no notification channel ${id}; it may have been deleted.`);
      const ch = await appChannel(c, settings, d.secrets, d.dataDir);
      if (!ch) {
        throw new BackstopError('VALIDATION', c.kind === 'email' ? 'Set up the SMTP server first (Settings › E-mail server).' : `The URL of "${c.name}" is not in the keychain any more; enter it again.`);
      }
      const at = d.now().toISOString();
      return d.notifier.sendNow(
        ch,
        payload({ event: 'test', task: '(test)', taskId: '', runId: null, status: 'success', message: `Test message from Backstop for "${c.name}"`, databases: [], startedAt: at, finishedAt: at }),
      );
    },
    'notifications.deliveries': () => {
      const out: Record<string, ChannelDelivery> = {};
      for (const c of d.settings.get().notificationChannels) {
        const last = d.deliveries.last({ channelId: c.id, channel: c.kind, target: '' });
        if (last) out[c.id] = { at: last.at, event: last.event, status: last.status, attempts: last.attempts, error: last.error };
      }
      return out;
    },
    'notifications.smtp': async () => ({ smtp: d.settings.get().smtp, passwordSaved: (await d.secrets.get(SMTP_PASSWORD_REF)) !== null }),
    'notifications.testSmtp': async ({ to }) => {
      const smtp = await appSmtp(d.settings.get(), d.secrets, d.dataDir);
      if (!smtp) throw new BackstopError('VALIDATION', 'Set up the SMTP server first (Settings › E-mail server): enter its host and save.');
      const at = d.now().toISOString();
      return d.notifier.sendNow(
        { kind: 'email', to: [to], smtp },
        payload({ event: 'test', task: '(test)', taskId: '', runId: null, status: 'success', message: `Test message from Backstop to ${to}: the SMTP server ${smtp.host}:${smtp.port} works.`, databases: [], startedAt: at, finishedAt: at }),
      );
    },
  };
}
