/**
 * Notification channels as the engine uses them: resolved, with their secrets (a webhook
 * or heartbeat URL, the SMTP password) in memory only. Where they come from — a task
 * file's `notifications` with `urlEnv`, or the keychain — is the caller's business.
 *
 * Contract: `describeTarget` is what history and logs may show of a channel: a URL's
 * scheme and host (never its path or query, which carry tokens), or the recipients.
 */
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
