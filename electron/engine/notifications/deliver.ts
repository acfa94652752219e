/**
 * One delivery attempt per channel kind: a webhook POST (JSON, or a chat preset's body),
 * a heartbeat request (the URL on success, URL + "/fail" on failure, the healthchecks.io
 * convention), an e-mail over SMTP (nodemailer; TLS from the first byte or STARTTLS
 * required, with auth).
 *
 * Contract: resolves when the receiver accepted (HTTP 2xx — for Teams, a 2xx whose body does
 * not say the post failed, which its connectors answer with 200; the SMTP server queued the
 * mail for at least one recipient — with a note naming the recipients it refused, else null),
 * rejects otherwise with an Error whose message names no secret (a URL's host, an HTTP status,
 * an SMTP reply code), and gives up after `timeoutMs`. A refusal that the same try would meet
 * again (a login or certificate refused, every recipient refused, an HTTP 4xx other than
 * 408/429, a redirect — never followed: the URL's token stays put —, an SMTP 5xx) is a
 * `PermanentDeliveryError`: not retried — retrying a wrong password gets a company account
 * locked. A receiver that says when to come back (HTTP Retry-After, seconds or a date;
 * Discord's JSON `retry_after`) throws a `RetryLaterError` with that wait. Recipients an SMTP
 * server deferred (4xx) while others took the mail throw a `DeferredRecipientsError` naming
 * them: retried to them alone, the others never get it twice. Chat bodies stay within each
 * service's limits, and names in them ping nobody and format nothing (Slack's control
 * characters escaped with markdown off, Teams' and Discord's markdown marks escaped, Discord's
 * mentions disabled).
 */
import { describeTarget, type NotificationChannel, type WebhookPreset } from './channels.ts';
import { headline, plainText, type NotificationPayload } from './events.ts';
import type { SmtpSettings } from './smtp-settings.ts';

/** A delivery refused for a reason another attempt would meet again. */
export class PermanentDeliveryError extends Error {}

/** A temporary refusal that said how long to wait (HTTP Retry-After): not before `retryAfterMs`. */
export class RetryLaterError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

/**
 * The SMTP server took the mail for some recipients (`delivered`; none when every one was refused)
 * and deferred `deferred` (4xx: greylisting, a full mailbox); `refused` notes the ones refused for good.
 */
export class DeferredRecipientsError extends Error {
  constructor(
    message: string,
    readonly deferred: string[],
    readonly delivered: boolean,
    readonly refused: string | null,
  ) {
    super(message);
  }
}

// Documented limits: Discord's content 2,000 characters; Slack truncates a text after 40,000;
// a Teams connector card is refused over 28 KB.
const DISCORD_MAX = 2000;
const SLACK_MAX = 40_000;
const TEAMS_MAX_BYTES = 27_000;
const SUBJECT_MAX = 250;

/** Slack's control characters (`<!here>`, `<@U…>` mentions, links) as the entities Slack documents. */
const slackEscape = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Markdown's inline marks (emphasis, code, links, headings, tables) backslash-escaped, as Teams'
 * connector cards and Discord read them: a database named a_b_c or [x](https://…) shows as typed,
 * never as formatting or a link. Teams' card text also takes some HTML: its <>& as entities.
 */
const markdownEscape = (t: string) => t.replace(/[\\`*_~[\]#|]/g, '\\$&');
const teamsEscape = (t: string) => markdownEscape(t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'));

/** The body `build(n)` makes with a text cut to n characters, the largest tried that fits `fits`. */
function fitted(build: (chars: number) => unknown, fits: (body: unknown) => boolean, start: number): unknown {
  let n = start;
  let body = build(n);
  while (!fits(body) && n > 500) body = build((n = Math.floor(n / 2)));
  return body;
}

/** The request body a webhook preset sends. */
export function webhookBody(preset: WebhookPreset, p: NotificationPayload): unknown {
  switch (preset) {
    case 'json':
      return p;
    case 'slack':
      // mrkdwn off: a database named a_b_c or *x* shows as typed.
      return fitted((n) => ({ text: slackEscape(plainText(p, n)), mrkdwn: false }), (b) => (b as { text: string }).text.length <= SLACK_MAX, SLACK_MAX);
    case 'teams':
      // The title is shown as typed (Teams formats only a card's text).
      return fitted((n) => ({ title: headline(p).slice(0, SUBJECT_MAX), text: teamsEscape(plainText(p, n)).split('\n').join('\n\n') }), (b) => Buffer.byteLength(JSON.stringify(b)) <= TEAMS_MAX_BYTES, 12_000);
    case 'discord':
      // No @everyone / @here / role or user mention in a name pings anyone; markdown marks show as typed.
      return fitted((n) => ({ content: markdownEscape(plainText(p, n)), allowed_mentions: { parse: [] } }), (b) => (b as { content: string }).content.length <= DISCORD_MAX, DISCORD_MAX);
  }
}

/** The heartbeat's URL for a run's outcome: the URL itself, or with "/fail" appended. */
export function heartbeatUrl(url: string, failed: boolean): string {
  if (!failed) return url;
  const u = new URL(url);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/fail`;
  return u.toString();
}

// What a 4xx that comes again means for a webhook or heartbeat URL, and its fix.
const GONE = 'no such webhook: deleted, or its URL mistyped';
const TOKEN = 'its token refused: revoked, or its URL mistyped';
const HTTP_WHY: Record<number, string> = { 401: TOKEN, 403: TOKEN, 404: GONE, 410: GONE };
const URL_FIX = 'not retried: save the URL the service gives now in Settings › Notifications (a task file: in the variable its urlEnv names)';

/**
 * How long a refusal asked to wait, in ms, or null: the Retry-After header (seconds, or an HTTP
 * date against `now`), else a JSON body's `retry_after` in seconds (Discord's rate limits).
 */
function retryAfterMs(header: string | null, body: string, now: Date): number | null {
  const h = header?.trim();
  if (h) {
    if (/^\d+(\.\d+)?$/.test(h)) return Math.ceil(Number(h) * 1000);
    const at = Date.parse(h);
    if (!Number.isNaN(at)) return Math.max(0, at - now.getTime());
  }
  try {
    const v = (JSON.parse(body) as { retry_after?: unknown }).retry_after;
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return Math.ceil(v * 1000);
  } catch {
    // Not JSON: no wait said.
  }
  return null;
}

/** Where a redirect points, as history may show it: scheme and host only (a path carries tokens). */
function movedTo(location: string | null, from: string): string | null {
  try {
    return location ? new URL(location, from).origin : null;
  } catch {
    return null;
  }
}

/**
 * Teams' connectors answer 200 to a message they did not post (so other senders do not disable the
 * webhook), with "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP
 * error 429 …" as the body: the status behind it, or null for a body that says nothing of the kind.
 */
function teamsRefusal(body: string): number | null {
  const m = /^\s*Webhook message delivery failed[^]*?returned HTTP error (\d{3})/i.exec(body);
  return m ? Number(m[1]) : /^\s*Webhook message delivery failed/i.test(body) ? 500 : null;
}

async function http(url: string, init: RequestInit, target: string, timeoutMs: number, now: Date, preset?: WebhookPreset): Promise<void> {
  let res: Response;
  try {
    // A redirect is not followed: the URL's token would go to wherever it points.
    res = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    const name = (e as Error).name;
    throw new Error(name === 'TimeoutError' ? `${target} did not answer within ${Math.round(timeoutMs / 1000)} s` : `${target} could not be reached${cause ? ` (${cause})` : ''}`);
  }
  const body = await res.text().catch(() => '');
  const behind = res.ok && preset === 'teams' ? teamsRefusal(body.slice(0, 10_000)) : null;
  if (behind !== null) {
    // 429 and 5xx come and go; another refusal (413: the card too large, 400) comes again.
    const again = behind !== 408 && behind !== 429 && behind < 500;
    const message = `${target} answered HTTP ${res.status}, but Teams did not post the message (Teams answered HTTP ${behind}${again ? '; not retried' : ''})`;
    throw new (again ? PermanentDeliveryError : Error)(message);
  }
  if (res.ok) return;
  if (res.status >= 300 && res.status < 400) {
    const to = movedTo(res.headers.get('location'), url);
    throw new PermanentDeliveryError(`${target} answered HTTP ${res.status} (moved${to ? ` to ${to}` : ''}; not followed, so the URL's token goes nowhere else); ${URL_FIX}`);
  }
  // A 4xx (the webhook deleted, the payload refused) comes again; 408/429 and 5xx may not.
  const permanent = res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429;
  if (permanent) {
    const why = HTTP_WHY[res.status];
    throw new PermanentDeliveryError(`${target} answered HTTP ${res.status}${why ? ` (${why}); ${URL_FIX}` : ''}`);
  }
  const wait = retryAfterMs(res.headers.get('retry-after'), body.slice(0, 10_000), now);
  const message = `${target} answered HTTP ${res.status}`;
  throw wait === null ? new Error(message) : new RetryLaterError(message, wait);
}

/** `now`: the clock a Retry-After date is measured against. */
export async function deliver(ch: NotificationChannel, p: NotificationPayload, timeoutMs: number, now: Date = new Date()): Promise<string | null> {
  const target = describeTarget(ch);
  if (ch.kind === 'webhook') {
    await http(ch.url, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': 'Backstop' }, body: JSON.stringify(webhookBody(ch.preset, p)) }, target, timeoutMs, now, ch.preset);
    return null;
  }
  if (ch.kind === 'heartbeat') {
    const url = heartbeatUrl(ch.url, p.category === 'failure');
    const init: RequestInit = ch.method === 'POST' ? { method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': 'Backstop' }, body: plainText(p) } : { method: 'GET', headers: { 'user-agent': 'Backstop' } };
    await http(url, init, target, timeoutMs, now);
    return null;
  }
  const s = ch.smtp;
  // Loaded on first use: only e-mail needs it, and the CLI's start stays light.
  const { default: nodemailer } = await import('nodemailer');
  const transport = nodemailer.createTransport({
    host: s.host,
    port: s.port,
    secure: s.security === 'tls',
    requireTLS: s.security === 'starttls',
    ignoreTLS: s.security === 'none',
    ...(s.user ? { auth: { user: s.user, pass: s.password ?? '' } } : {}),
    tls: s.ca ? { ca: s.ca } : {},
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    // Longer than the set-up (connect + greeting, which connectionTimeout bounds): an idle-socket timer equal to it
    // raced the greeting's, and a silent TLS-only port then said "Timeout" instead of naming the missing greeting.
    socketTimeout: 2 * timeoutMs,
  });
  const where = `the SMTP server ${s.host}:${s.port}`;
  try {
    const subject = headline(p);
    const info = await transport.sendMail({ from: s.from, to: ch.to, subject: subject.length > SUBJECT_MAX ? `${subject.slice(0, SUBJECT_MAX - 1)}…` : subject, text: plainText(p) });
    // The server took it for some recipients and refused others: delivered, and said; the ones deferred (4xx) are retried.
    const { refused, deferred } = splitRejected(where, (info.rejectedErrors ?? []) as RcptError[]);
    if (deferred) throw new DeferredRecipientsError(deferred.message, deferred.to, true, refused);
    return refused;
  } catch (e) {
    if (e instanceof DeferredRecipientsError) throw e;
    // Every recipient refused, some only for now: retried to those alone.
    const { refused, deferred } = splitRejected(where, ((e as { code?: string }).code === 'EENVELOPE' ? ((e as { rejectedErrors?: RcptError[] }).rejectedErrors ?? []) : []) as RcptError[]);
    if (deferred && refused) throw new DeferredRecipientsError(deferred.message, deferred.to, false, refused);
    throw smtpFailure(where, s.security, timeoutMs, e);
  } finally {
    transport.close();
  }
}

interface RcptError {
  recipient?: string;
  responseCode?: number;
}

/**
 * Recipients the server refused at RCPT TO: a note naming the ones refused for good (5xx), and the
 * ones deferred (4xx: greylisting, a full mailbox) with the message said of them.
 */
function splitRejected(where: string, errors: RcptError[]): { refused: string | null; deferred: { to: string[]; message: string } | null } {
  const said = (list: RcptError[], verb: string) => `${where} ${verb} ${list.map((r) => r.recipient ?? '?').join(', ')}${list[0]?.responseCode ? ` (SMTP ${list[0].responseCode})` : ''}`;
  const gone = errors.filter((r) => !r.responseCode || r.responseCode >= 500);
  const later = errors.filter((r) => r.responseCode && r.responseCode < 500);
  return {
    refused: gone.length ? `${said(gone, 'refused')}; the others got it` : null,
    deferred: later.length ? { to: later.map((r) => r.recipient ?? '').filter(Boolean), message: said(later, 'deferred') } : null,
  };
}

// OpenSSL's reasons a certificate is not trusted (they quote nothing secret).
const CERT_REASON = /(self[- ]signed certificate(?: in certificate chain)?|unable to verify the first certificate|unable to get local issuer certificate|certificate has expired|certificate is not yet valid|Hostname\/IP does not match certificate's altnames)/i;

/**
 * What went wrong with an SMTP delivery and the fix, from nodemailer's error (never its raw
 * text, which may quote the dialogue); permanent when another attempt would be refused the
 * same way: the certificate, the login (retrying locks accounts), a security setting the
 * server does not speak, any 5xx reply (the sender, every recipient, the message refused). A 4xx
 * (greylisting, too many connections, no storage) says what it usually means: it is retried.
 */
function smtpFailure(where: string, security: SmtpSettings['security'], timeoutMs: number, e: unknown): Error {
  const err = e as { code?: string; command?: string; responseCode?: number; message?: unknown };
  const message = typeof err.message === 'string' ? err.message : '';
  const cert = CERT_REASON.exec(message);
  if (cert) {
    return new PermanentDeliveryError(
      `${where} presented a TLS certificate this computer does not trust (${cert[1]}): add the certificate authority that signed it to the system's trusted certificates (the command line also takes caFile in smtp.json or BACKSTOP_SMTP_CA_FILE), or use the host name the certificate names`,
    );
  }
  if (err.code === 'EAUTH') return new PermanentDeliveryError(`${where} refused the user name or password${err.responseCode ? ` (SMTP ${err.responseCode})` : ''}: check them in Settings › E-mail server (the command line: BACKSTOP_SMTP_USER and BACKSTOP_SMTP_PASSWORD)`);
  // STARTTLS required and the server does not offer it: nothing (no login, no mail) went out unencrypted.
  if (err.code === 'ETLS') {
    return new PermanentDeliveryError(`${where} does not offer STARTTLS, so nothing was sent (the login and the mail would cross the network readable): if it has a port with TLS from the start (usually 465), choose that security (BACKSTOP_SMTP_SECURITY=tls) and port`);
  }
  // TLS from the first byte to a port that talks plain SMTP first (587, 25).
  if (security === 'tls' && /wrong version number|packet length too long|unknown protocol|record layer failure/i.test(message)) {
    return new PermanentDeliveryError(`${where} does not speak TLS from the first byte on this port: choose STARTTLS as the security (BACKSTOP_SMTP_SECURITY=starttls; usually port 587), or use the server's TLS port (usually 465)`);
  }
  // A port that expects TLS from the first byte (465) says nothing to a plain client.
  if (err.code === 'ETIMEDOUT' && ((e as { timeoutType?: string }).timeoutType === 'GREETING_TIMEOUT' || /greeting/i.test(message))) {
    return new Error(`${where} sent no SMTP greeting within ${Math.round(timeoutMs / 1000)} s${security === 'tls' ? '' : ': a port that expects TLS from the start (usually 465) needs that security (BACKSTOP_SMTP_SECURITY=tls)'}`);
  }
  const code = err.responseCode ?? 0;
  if (code >= 400 && code < 500) return new Error(`${where} refused for now (SMTP ${code}: ${SMTP_LATER[code] ?? 'a temporary refusal'})`);
  const text = `${where} refused or failed${code ? ` (SMTP ${code})` : err.code ? ` (${err.code})` : ''}`;
  return code >= 500 ? new PermanentDeliveryError(text) : new Error(text);
}

// What a temporary SMTP refusal usually means (RFC 5321; greylisting answers 450 or 451).
const SMTP_LATER: Record<number, string> = {
  421: 'the server is busy or limits connections',
  450: 'greylisting or a mailbox busy',
  451: 'greylisting or a local error',
  452: 'the server is short of storage',
};
