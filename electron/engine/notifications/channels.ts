/**
 * Notification channels as the engine uses them: resolved, with their secrets (a webhook
 * or heartbeat URL, the SMTP password) in memory only. Where they come from — a task
 * file's `notifications` with `urlEnv`, or the keychain — is the caller's business.
 *
 * Contract: `describeTarget` is what history and logs may show of a channel: a URL's
 * scheme and host (never its path or query, which carry tokens), or the recipients.
 * `channelFingerprint` tells whether a channel still delivers where and how it did (its URL,
 * preset or method, filter, recipients, SMTP server, port, security, user and sender — not the
 * SMTP password, whose fix is no re-targeting): a salted SHA-256, stored for a delivery still
 * owed (store/notification-outbox-table.ts), which reveals none of them.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { SmtpSettings } from './smtp-settings.ts';

export type WebhookPreset = 'json' | 'slack' | 'teams' | 'discord';

/** `id`: the Settings channel it was made from (a task file's channels have none). */
export type NotificationChannel =
  | { kind: 'webhook'; id?: string; url: string; preset: WebhookPreset; on?: string[] }
  | { kind: 'heartbeat'; id?: string; url: string; method: 'GET' | 'POST' }
  | { kind: 'email'; id?: string; to: string[]; on?: string[]; smtp: SmtpSettings };

export function describeTarget(ch: NotificationChannel): string {
  if (ch.kind === 'email') return ch.to.join(', ');
  try {
    const u = new URL(ch.url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '(invalid URL)';
  }
}

function fingerprintWith(ch: NotificationChannel, salt: string): string {
  const what =
    ch.kind === 'email'
      ? { kind: ch.kind, id: ch.id ?? null, to: ch.to, on: ch.on ?? null, smtp: [ch.smtp.host, ch.smtp.port, ch.smtp.security, ch.smtp.user, ch.smtp.from] }
      : ch.kind === 'webhook'
        ? { kind: ch.kind, id: ch.id ?? null, url: ch.url, preset: ch.preset, on: ch.on ?? null }
        : { kind: ch.kind, id: ch.id ?? null, url: ch.url, method: ch.method };
  return `${salt}.${createHash('sha256').update(salt).update(JSON.stringify(what)).digest('hex')}`;
}

export function channelFingerprint(ch: NotificationChannel): string {
  return fingerprintWith(ch, randomBytes(16).toString('hex'));
}

/** Whether `ch` is the channel `fingerprint` was taken of, unchanged. */
export function sameChannel(ch: NotificationChannel, fingerprint: string): boolean {
  const salt = fingerprint.split('.')[0] ?? '';
  return salt !== '' && fingerprintWith(ch, salt) === fingerprint;
}
