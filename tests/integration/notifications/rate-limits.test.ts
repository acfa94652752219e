/**
 * Alerts meeting rate limits and temporary refusals, against real receivers (an HTTP server, smtp-server)
 * with the notifier's waits on a fake clock (no real sleeps): a chat webhook's 429 and a proxy's 503 with
 * Retry-After (seconds, or Discord's JSON `retry_after`) are waited out — never retried sooner, never
 * waited on for an hour; a 4xx that would come again is tried once and names the fix; an SMTP greylist
 * (450/451), a busy server (421) or a full one (452) is retried long enough to get past a 5-minute
 * greylist, a 5xx is not retried, and a recipient deferred while others took the mail gets it once
 * later, the others not twice; a webhook down for a while gets each alert once, in order.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Notifier, type FailingChannel, type NotificationChannel, type RetryPolicy, type SmtpSettings } from '../../../electron/engine/notifications/index.ts';
import type { Engine } from '../../../electron/engine/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { httpReceiver, smtpReceiver, type SmtpReceiver, runEvent } from '../../fixtures/notify-receivers.ts';

/** A notifier of `engine` whose waits advance a fake clock (`clock.ms`) instead of sleeping; `onWait` runs after each. */
function fakeClockNotifier(engine: Engine, opts: { retry?: Partial<RetryPolicy>; onWait?: (ms: number) => Promise<void> | void } = {}) {
  const clock = { ms: 0, waits: [] as number[], failing: [] as FailingChannel[] };
  const notifier = new Notifier({
    logger: engine.logger,
    deliveries: engine.deliveries,
    now: () => new Date(Date.UTC(2026, 11, 6) + clock.ms),
    retry: { timeoutMs: 5_000, ...opts.retry },
    onFailing: (f) => clock.failing.push(f),
    sleep: async (ms) => {
      clock.waits.push(ms);
      clock.ms += ms;
      await opts.onWait?.(ms);
    },
  });
  return { notifier, clock };
}

function smtpOf(r: SmtpReceiver): SmtpSettings {
  return { host: 'localhost', port: r.port, security: 'starttls', user: r.user, password: r.password, from: 'backstop@example.test', ca: readFileSync(r.caFile, 'utf8') };
}

const FIX = 'not retried: save the URL the service gives now in Settings › Notifications (a task file: in the variable its urlEnv names)';

describe('webhook rate limits', () => {
  it('Slack 429 with Retry-After: 30 is retried after 30 s (not sooner, which extends the limit), once delivered', async () => {
    const hook = await httpReceiver();
    const engine = await testEngine();
    const { notifier, clock } = fakeClockNotifier(engine);
    hook.failNext(1, 429, { 'retry-after': '30' }, 'rate_limited');
    const ch: NotificationChannel = { kind: 'webhook', url: `${hook.url}/services/T0KEN`, preset: 'slack' };
    expect(await notifier.sendNow(ch, runEvent('run-failed'))).toEqual({ delivered: true, attempts: 2, error: null });
    expect(clock.waits).toEqual([30_000]);
    expect(hook.requests).toHaveLength(1);
  });

  it("Discord's JSON retry_after (seconds, fractional) is honoured when no header says it", async () => {
    const hook = await httpReceiver();
    const engine = await testEngine();
    const { notifier, clock } = fakeClockNotifier(engine);
    hook.failNext(1, 429, { 'content-type': 'application/json' }, JSON.stringify({ message: 'You are being rate limited.', retry_after: 12.5, global: false }));
    const ch: NotificationChannel = { kind: 'webhook', url: `${hook.url}/api/webhooks/1/T0KEN`, preset: 'discord' };
    expect(await notifier.sendNow(ch, runEvent('run-failed'))).toEqual({ delivered: true, attempts: 2, error: null });
    expect(clock.waits).toEqual([12_500]);
  });

  it('a proxy 503 with Retry-After as an HTTP date is waited out; a 429 without Retry-After keeps the backoff', async () => {
    const hook = await httpReceiver();
    const engine = await testEngine();
    const { notifier, clock } = fakeClockNotifier(engine);
    // Dates have whole seconds: 120 s from the fake "now" (Date.UTC(2026, 11, 6)).
    hook.failNext(1, 503, { 'retry-after': new Date(Date.UTC(2026, 11, 6) + 120_000).toUTCString() });
    const ch: NotificationChannel = { kind: 'webhook', url: `${hook.url}/hook`, preset: 'json', on: ['all'] };
    notifier.notify([ch], runEvent('run-failed'));
    expect(await notifier.flush(30_000)).toBe(true);
    hook.failNext(1, 429);
    notifier.notify([ch], runEvent('run-failed'));
    expect(await notifier.flush(30_000)).toBe(true);
    expect(clock.waits).toEqual([120_000, 2_000]);
    expect(engine.deliveries.list().map((d) => [d.status, d.attempts])).toEqual([
      ['delivered', 2],
      ['delivered', 2],
    ]);
  });

  it('"Send test" (someone waiting at the window) waits out a Retry-After up to 45 s; a longer one is said at once', async () => {
    const hook = await httpReceiver();
    const engine = await testEngine();
    const { notifier, clock } = fakeClockNotifier(engine);
    const ch: NotificationChannel = { kind: 'webhook', url: `${hook.url}/hook`, preset: 'json' };
    hook.failNext(1, 429, { 'retry-after': '40' });
    expect(await notifier.sendNow(ch, runEvent('run-failed'))).toEqual({ delivered: true, attempts: 2, error: null });
    hook.failNext(1, 503, { 'retry-after': '120' });
    expect(await notifier.sendNow(ch, runEvent('run-failed'))).toEqual({
      delivered: false,
      attempts: 1,
      error: `${hook.url} answered HTTP 503 and asked to wait 120 s (Retry-After), longer than Backstop waits (45 s): not retried sooner, which would extend the limit`,
    });
    expect(clock.waits).toEqual([40_000]);
  });

  it('a Retry-After longer than Backstop waits (an hour) is not retried sooner: one attempt, the error says so', async () => {
    const hook = await httpReceiver();
    const engine = await testEngine();
    const { notifier, clock } = fakeClockNotifier(engine);
    hook.failNext(5, 429, { 'retry-after': '3600' });
    const ch: NotificationChannel = { kind: 'webhook', id: 'w1', url: `${hook.url}/services/T0KEN`, preset: 'slack', on: ['all'] };
    notifier.notify([ch], runEvent('run-failed'));
    expect(await notifier.flush(30_000)).toBe(true);
    const error = `${hook.url} answered HTTP 429 and asked to wait 3600 s (Retry-After), longer than Backstop waits (300 s): not retried sooner, which would extend the limit`;
    expect(engine.deliveries.list().map((d) => [d.status, d.attempts, d.error])).toEqual([['failed', 1, error]]);
    // The channel is told failing (notification-failed), with that error.
    expect(clock.failing).toEqual([{ channel: 'webhook', channelId: 'w1', target: hook.url, event: 'run-failed', attempts: 1, error }]);
    expect(clock.waits).toEqual([]);
    expect(hook.refused).toBe(1);
  });

  it('the alerts after one told to wait an hour are not sent before then either: the service is asked once, not once per alert', async () => {
    const hook = await httpReceiver();
    const engine = await testEngine();
    const { notifier } = fakeClockNotifier(engine);
    hook.failNext(5, 429, { 'retry-after': '3600' });
    const ch: NotificationChannel = { kind: 'webhook', id: 'w1', url: `${hook.url}/api/webhooks/1/T0KEN`, preset: 'discord', on: ['all'] };
    notifier.notify([ch], runEvent('run-failed'));
    notifier.notify([ch], runEvent('run-succeeded'));
    expect(await notifier.flush(30_000)).toBe(true);
    expect(hook.refused).toBe(1);
    expect(engine.deliveries.list().map((d) => [d.event, d.status, d.attempts, d.error])).toEqual(
      expect.arrayContaining([
        ['run-failed', 'failed', 1, `${hook.url} answered HTTP 429 and asked to wait 3600 s (Retry-After), longer than Backstop waits (300 s): not retried sooner, which would extend the limit`],
        ['run-succeeded', 'failed', 0, `${hook.url} asked to wait until 2026-12-06T01:00:00.000Z (Retry-After), longer than Backstop waits (300 s): not sent before then, which would extend the limit`],
      ]),
    );
  });

  it('404, 410, 401 and 403 (a deleted webhook, a revoked token) are tried once, and the error names the fix', async () => {
    const hook = await httpReceiver();
    const engine = await testEngine();
    const { notifier, clock } = fakeClockNotifier(engine);
    const ch: NotificationChannel = { kind: 'webhook', url: `${hook.url}/services/T0KEN`, preset: 'slack' };
    const why: Record<number, string> = { 404: 'no such webhook: deleted, or its URL mistyped', 410: 'no such webhook: deleted, or its URL mistyped', 401: 'its token refused: revoked, or its URL mistyped', 403: 'its token refused: revoked, or its URL mistyped' };
    for (const status of [404, 410, 401, 403]) {
      hook.failNext(5, status);
      expect(await notifier.sendNow(ch, runEvent('run-failed'))).toEqual({ delivered: false, attempts: 1, error: `${hook.url} answered HTTP ${status} (${why[status]}); ${FIX}` });
    }
    expect(clock.waits).toEqual([]);
    expect(hook.refused).toBe(4);
  });
  it('a URL that redirects (http:// moved to https://) is not followed (the token stays put), tried once, and names where it moved', async () => {
    const hook = await httpReceiver();
    const engine = await testEngine();
    const { notifier, clock } = fakeClockNotifier(engine);
    hook.failNext(5, 301, { location: 'https://hooks.example.test/services/T0KEN' });
    const ch: NotificationChannel = { kind: 'webhook', url: `${hook.url}/services/T0KEN`, preset: 'slack' };
    expect(await notifier.sendNow(ch, runEvent('run-failed'))).toEqual({
      delivered: false,
      attempts: 1,
      error: `${hook.url} answered HTTP 301 (moved to https://hooks.example.test; not followed, so the URL's token goes nowhere else); ${FIX}`,
    });
    expect(clock.waits).toEqual([]);
    expect(hook.refused).toBe(1);
  });
  it("Teams' connector answering 200 with 'delivery failed … HTTP error 429' in the body is not taken as delivered: retried, posted once", async () => {
    const hook = await httpReceiver();
    const engine = await testEngine();
    const { notifier, clock } = fakeClockNotifier(engine);
    const wrapped = (code: number) => `Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error ${code} with ContextId tcid=0,server=msgapi-production-weu-azsc2-4-170,cv=Qo2b6vJ8kUi.0..`;
    hook.failNext(1, 200, { 'content-type': 'text/plain; charset=utf-8' }, wrapped(429));
    const ch: NotificationChannel = { kind: 'webhook', url: `${hook.url}/webhookb2/T0KEN/IncomingWebhook/x/y`, preset: 'teams' };
    expect(await notifier.sendNow(ch, runEvent('run-failed'))).toEqual({ delivered: true, attempts: 2, error: null });
    expect(clock.waits).toEqual([2_000]);
    expect(hook.requests).toHaveLength(1);
    // A card Teams refused for good (too large) is not retried.
    hook.failNext(5, 200, {}, wrapped(413));
    expect(await notifier.sendNow(ch, runEvent('run-failed'))).toEqual({ delivered: false, attempts: 1, error: `${hook.url} answered HTTP 200, but Teams did not post the message (Teams answered HTTP 413; not retried)` });
  });
});

describe('SMTP temporary refusals', () => {
  const greylist = { code: 451, text: '4.7.1 Greylisted, please try again later' };

  it('a 5-minute greylist (451 at RCPT) is outlasted by the default retries: the mail arrives once', async () => {
    let clock = { ms: 0 };
    const smtp = await smtpReceiver({ reply: (stage) => (stage === 'rcpt' && clock.ms < 300_000 ? greylist : null) });
    const engine = await testEngine();
    const n = fakeClockNotifier(engine);
    clock = n.clock;
    n.notifier.notify([{ kind: 'email', to: ['dba@example.test'], on: ['all'], smtp: smtpOf(smtp) }], runEvent('run-failed'));
    expect(await n.notifier.flush(60_000)).toBe(true);
    expect(engine.deliveries.list().map((d) => [d.status, d.error])).toEqual([['delivered', null]]);
    expect(smtp.mails.map((m) => m.to)).toEqual([['dba@example.test']]);
    expect(n.clock.ms).toBeGreaterThanOrEqual(300_000);
  });

  it('a busy server (421 at connect) and a full one (452 at RCPT) are retried; a greylist at the end of DATA too', async () => {
    let refusals: ({ stage: string; code: number; text: string } | undefined)[] = [];
    const smtp = await smtpReceiver({
      reply: (stage) => {
        if (refusals[0]?.stage !== stage) return null;
        const r = refusals.shift()!;
        return { code: r.code, text: r.text };
      },
    });
    const engine = await testEngine();
    const { notifier } = fakeClockNotifier(engine);
    const ch: NotificationChannel = { kind: 'email', to: ['dba@example.test'], on: ['all'], smtp: smtpOf(smtp) };
    refusals = [{ stage: 'connect', code: 421, text: '4.7.0 Too many connections, try again later' }, { stage: 'rcpt', code: 452, text: '4.3.1 Insufficient system storage' }, { stage: 'data', ...greylist }];
    expect(await notifier.sendNow(ch, runEvent('run-failed'))).toEqual({ delivered: true, attempts: 4, error: null });
    expect(smtp.mails).toHaveLength(1);
  });

  it('a 5xx refusal of the message (554 at the end of DATA) is not retried', async () => {
    const smtp = await smtpReceiver({ reply: (stage) => (stage === 'data' ? { code: 554, text: '5.7.1 Message rejected as spam' } : null) });
    const engine = await testEngine();
    const { notifier, clock } = fakeClockNotifier(engine);
    const r = await notifier.sendNow({ kind: 'email', to: ['dba@example.test'], smtp: smtpOf(smtp) }, runEvent('run-failed'));
    expect(r).toEqual({ delivered: false, attempts: 1, error: 'the SMTP server localhost:' + smtp.port + ' refused or failed (SMTP 554)' });
    expect(clock.waits).toEqual([]);
    expect(smtp.mails).toHaveLength(0);
  });

  it('one recipient greylisted while another took the mail: the deferred one gets it once later, the other not twice', async () => {
    let clock = { ms: 0 };
    const smtp = await smtpReceiver({ reply: (stage, address) => (stage === 'rcpt' && address === 'oncall@example.test' && clock.ms < 300_000 ? greylist : null) });
    const engine = await testEngine();
    const n = fakeClockNotifier(engine);
    clock = n.clock;
    n.notifier.notify([{ kind: 'email', to: ['dba@example.test', 'oncall@example.test'], on: ['all'], smtp: smtpOf(smtp) }], runEvent('run-failed'));
    expect(await n.notifier.flush(60_000)).toBe(true);
    expect(engine.deliveries.list().map((d) => [d.status, d.error])).toEqual([['delivered', null]]);
    expect(smtp.mails.map((m) => m.to)).toEqual([['dba@example.test'], ['oncall@example.test']]);
  });

  it('every recipient refused at first, one for good (550) and one greylisted: the greylisted one gets it once, the refusal is noted', async () => {
    let clock = { ms: 0 };
    const rcpts: string[] = [];
    const smtp = await smtpReceiver({
      reply: (stage, address) => {
        if (stage !== 'rcpt') return null;
        rcpts.push(address!);
        if (address === 'gone@example.test') return { code: 550, text: '5.1.1 mailbox unavailable' };
        return clock.ms < 300_000 ? greylist : null;
      },
    });
    const engine = await testEngine();
    const n = fakeClockNotifier(engine);
    clock = n.clock;
    n.notifier.notify([{ kind: 'email', to: ['gone@example.test', 'oncall@example.test'], on: ['all'], smtp: smtpOf(smtp) }], runEvent('run-failed'));
    expect(await n.notifier.flush(60_000)).toBe(true);
    expect(engine.deliveries.list().map((d) => [d.status, d.error])).toEqual([['delivered', `the SMTP server localhost:${smtp.port} refused gone@example.test (SMTP 550); the others got it`]]);
    expect(smtp.mails.map((m) => m.to)).toEqual([['oncall@example.test']]);
    // The address refused for good was asked once, not on every retry.
    expect(rcpts.filter((a) => a === 'gone@example.test')).toHaveLength(1);
  });

  it('a recipient deferred on every attempt: delivered to the others, and the note names the one that never got it', async () => {
    const smtp = await smtpReceiver({ reply: (stage, address) => (stage === 'rcpt' && address === 'oncall@example.test' ? greylist : null) });
    const engine = await testEngine();
    const { notifier } = fakeClockNotifier(engine, { retry: { attempts: 3 } });
    const r = await notifier.sendNow({ kind: 'email', to: ['dba@example.test', 'oncall@example.test'], smtp: smtpOf(smtp) }, runEvent('run-failed'));
    expect(r).toEqual({ delivered: true, attempts: 3, error: `the SMTP server localhost:${smtp.port} refused for now (SMTP 451: greylisting or a local error) for oncall@example.test, still after 3 attempts; the others got it` });
    expect(smtp.mails.map((m) => m.to)).toEqual([['dba@example.test']]);
  });

  it('every attempt refused for a while (421): one notification-failed naming the code, the mail never half-sent', async () => {
    const smtp = await smtpReceiver({ reply: (stage) => (stage === 'connect' ? { code: 421, text: '4.7.0 Service not available' } : null) });
    const engine = await testEngine();
    const { notifier, clock } = fakeClockNotifier(engine, { retry: { attempts: 3 } });
    notifier.notify([{ kind: 'email', id: 'm1', to: ['dba@example.test'], on: ['all'], smtp: smtpOf(smtp) }], runEvent('run-failed'));
    expect(await notifier.flush(30_000)).toBe(true);
    expect(clock.failing).toEqual([{ channel: 'email', channelId: 'm1', target: 'dba@example.test', event: 'run-failed', attempts: 3, error: `the SMTP server localhost:${smtp.port} refused for now (SMTP 421: the server is busy or limits connections)` }]);
    expect(smtp.mails).toHaveLength(0);
  });
});

describe('a receiver down for a while', () => {
  it('refusing connections for 3 attempts: run-failed arrives once, then run-succeeded, and the deliveries say so', async () => {
    const hook = await httpReceiver();
    const engine = await testEngine();
    let waits = 0;
    const { notifier } = fakeClockNotifier(engine, { onWait: async () => (++waits === 3 ? hook.up() : undefined) });
    await hook.down();
    const ch: NotificationChannel = { kind: 'webhook', id: 'w1', url: `${hook.url}/hook/T0KEN`, preset: 'json', on: ['all'] };
    notifier.notify([ch], runEvent('run-failed'));
    notifier.notify([ch], runEvent('run-succeeded'));
    expect(await notifier.flush(30_000)).toBe(true);
    expect(hook.requests.map((r) => (JSON.parse(r.body) as { event: string }).event)).toEqual(['run-failed', 'run-succeeded']);
    expect(engine.deliveries.list().map((d) => [d.event, d.status, d.attempts, d.error])).toEqual(
      expect.arrayContaining([
        ['run-failed', 'delivered', 4, null],
        ['run-succeeded', 'delivered', 1, null],
      ]),
    );
  });

  it('"Send test" to a receiver that is down answers after the first 5 attempts (about 30 s), not the alerts\' 8.5 minutes', async () => {
    const hook = await httpReceiver();
    const engine = await testEngine();
    const { notifier, clock } = fakeClockNotifier(engine);
    await hook.down();
    const ch: NotificationChannel = { kind: 'webhook', url: `${hook.url}/hook/T0KEN`, preset: 'json' };
    expect(await notifier.sendNow(ch, runEvent('run-failed'))).toEqual({ delivered: false, attempts: 5, error: `${hook.url} could not be reached (ECONNREFUSED)` });
    expect(clock.waits).toEqual([2_000, 4_000, 8_000, 16_000]);
    // The alerts themselves keep trying: 9 attempts, 510 s of waits.
    notifier.notify([{ ...ch, on: ['all'] }], runEvent('run-failed'));
    expect(await notifier.flush(30_000)).toBe(true);
    expect(clock.waits.slice(4)).toEqual([2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000]);
  });
});
