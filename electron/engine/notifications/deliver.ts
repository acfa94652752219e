/**
 * One delivery attempt per channel kind: a webhook POST (JSON, or a chat preset's body),
 * a heartbeat request (the URL on success, URL + "/fail" on failure, the healthchecks.io
 * convention), an e-mail over SMTP (nodemailer; TLS from the first byte or STARTTLS
 * required, with auth).
 *
 * Contract: resolves when the receiver accepted (HTTP 2xx; the SMTP server queued the
 * mail), rejects otherwise with an Error whose message names no secret (a URL's host, an
 * HTTP status, an SMTP reply code), and gives up after `timeoutMs`.
 */
import { describeTarget, type NotificationChannel, type WebhookPreset } from './channels.ts';
import { headline, plainText, type NotificationPayload } from './events.ts';

const DISCORD_MAX = 2000;

/** The request body a webhook preset sends. */
export function webhookBody(preset: WebhookPreset, p: NotificationPayload): unknown {
  switch (preset) {
    case 'json':
      return p;
    case 'slack':
      return { text: plainText(p) };
    case 'teams':
      return { title: headline(p), text: plainText(p).split('\n').join('\n\n') };
    case 'discord': {
      const text = plainText(p);
      return { content: text.length > DISCORD_MAX ? `${text.slice(0, DISCORD_MAX - 1)}…` : text };
    }
  }
}

/** The heartbeat's URL for a run's outcome: the URL itself, or with "/fail" appended. */
export function heartbeatUrl(url: string, failed: boolean): string {
  if (!failed) return url;
  const u = new URL(url);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/fail`;
  return u.toString();
}

async function http(url: string, init: RequestInit, target: string, timeoutMs: number): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    const name = (e as Error).name;
    throw new Error(name === 'TimeoutError' ? `${target} did not answer within ${Math.round(timeoutMs / 1000)} s` : `${target} could not be reached${cause ? ` (${cause})` : ''}`);
  }
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) throw new Error(`${target} answered HTTP ${res.status}`);
}

export async function deliver(ch: NotificationChannel, p: NotificationPayload, timeoutMs: number): Promise<void> {
  const target = describeTarget(ch);
  if (ch.kind === 'webhook') {
    await http(ch.url, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': 'Backstop' }, body: JSON.stringify(webhookBody(ch.preset, p)) }, target, timeoutMs);
    return;
  }
  if (ch.kind === 'heartbeat') {
    const url = heartbeatUrl(ch.url, p.category === 'failure');
    const init: RequestInit = ch.method === 'POST' ? { method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': 'Backstop' }, body: plainText(p) } : { method: 'GET', headers: { 'user-agent': 'Backstop' } };
    await http(url, init, target, timeoutMs);
    return;
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
    socketTimeout: timeoutMs,
  });
  try {
    await transport.sendMail({ from: s.from, to: ch.to, subject: headline(p), text: plainText(p) });
  } catch (e) {
    throw new Error(smtpFailure(`the SMTP server ${s.host}:${s.port}`, e));
  } finally {
    transport.close();
  }
}

// OpenSSL's reasons a certificate is not trusted (they quote nothing secret).
const CERT_REASON = /(self[- ]signed certificate(?: in certificate chain)?|unable to verify the first certificate|unable to get local issuer certificate|certificate has expired|certificate is not yet valid|Hostname\/IP does not match certificate's altnames)/i;

/** What went wrong with an SMTP delivery and the fix, from nodemailer's error (never its raw text, which may quote the dialogue). */
function smtpFailure(where: string, e: unknown): string {
  const err = e as { code?: string; responseCode?: number; message?: unknown };
  const cert = CERT_REASON.exec(typeof err.message === 'string' ? err.message : '');
  if (cert) {
    return `${where} presented a TLS certificate this computer does not trust (${cert[1]}): add the certificate authority that signed it to the system's trusted certificates (the command line also takes caFile in smtp.json or BACKSTOP_SMTP_CA_FILE), or use the host name the certificate names`;
  }
  if (err.code === 'EAUTH') return `${where} refused the user name or password${err.responseCode ? ` (SMTP ${err.responseCode})` : ''}: check them in Settings › E-mail server`;
  return `${where} refused or failed${err.responseCode ? ` (SMTP ${err.responseCode})` : err.code ? ` (${err.code})` : ''}`;
}
