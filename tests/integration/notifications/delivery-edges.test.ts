/**
 * Alerts an on-call DBA depends on, against real receivers (smtp-server, an HTTP server):
 * SMTP as companies run it (a wrong password is refused once, not hammered into an account
 * lock-out; an untrusted certificate names the fix and never the password; a connection
 * dropped mid-DATA is retried and the mail arrives once; a recipient refused does not stop
 * the others and is said), and message bodies that stay bounded and harmless however many
 * databases a run lists and whatever their names are (chat mentions, markdown).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { payload, type NotificationChannel, type NotificationDatabase, type SmtpSettings } from '../../../electron/engine/notifications/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { httpReceiver, smtpReceiver, type SmtpReceiver } from '../../fixtures/notify-receivers.ts';

const retry = { notifyRetry: { attempts: 5, baseDelayMs: 50, timeoutMs: 5_000 } };

function smtpOf(r: SmtpReceiver, over: Partial<SmtpSettings> = {}): SmtpSettings {
  return { host: 'localhost', port: r.port, security: 'starttls', user: r.user, password: r.password, from: 'backstop@example.test', ca: readFileSync(r.caFile, 'utf8'), ...over };
}

function runFailed(databases: NotificationDatabase[]) {
  return payload({
    event: 'run-failed',
    task: 'nightly',
    taskId: 't1',
    runId: 'r1',
    status: 'failed',
    message: `Backup task "nightly": ${databases.length} databases failed.`,
    databases,
    startedAt: '2026-12-06T02:00:00.000Z',
    finishedAt: '2026-12-06T02:10:00.000Z',
  });
}

const one = [{ name: 'billing', status: 'failed' as const, error: { code: 'DUMP_FAILED', message: 'pg_dump failed' } }];

describe('SMTP as companies run it', () => {
  it('a wrong password is tried once (no retries that lock the account), the error names the fix and not the password', async () => {
    const smtp = await smtpReceiver();
    const engine = await testEngine(retry);
    const wrong = 'Wr0ng-pass-DO-NOT-LEAK';
    const ch: NotificationChannel = { kind: 'email', to: ['dba@example.test'], smtp: smtpOf(smtp, { password: wrong }) };
    const r = await engine.notifier.sendNow(ch, runFailed(one));
    expect(r).toEqual({ delivered: false, attempts: 1, error: `the SMTP server localhost:${smtp.port} refused the user name or password (SMTP 535): check them in Settings › E-mail server (the command line: BACKSTOP_SMTP_USER and BACKSTOP_SMTP_PASSWORD)` });
    expect(smtp.logins).toEqual([{ user: smtp.user, ok: false }]);
    expect(smtp.mails).toEqual([]);
    expect(JSON.stringify(engine.deliveries.list())).not.toContain(wrong);
  }, 60_000);

  it('a self-signed certificate not trusted: one attempt, the error names the fix, never the password', async () => {
    const smtp = await smtpReceiver();
    const engine = await testEngine(retry);
    const ch: NotificationChannel = { kind: 'email', to: ['dba@example.test'], smtp: smtpOf(smtp, { ca: null }) };
    const r = await engine.notifier.sendNow(ch, runFailed(one));
    expect(r.delivered).toBe(false);
    expect(r.attempts).toBe(1);
    expect(r.error).toMatch(/presented a TLS certificate this computer does not trust \(self[- ]signed certificate\): add the certificate authority/);
    expect(r.error).not.toContain(smtp.password);
    expect(smtp.logins).toEqual([]);
  }, 60_000);

  it('a connection dropped in the middle of DATA is retried and the mail arrives once', async () => {
    const smtp = await smtpReceiver({ dropDuringData: 1 });
    const engine = await testEngine(retry);
    const ch: NotificationChannel = { kind: 'email', to: ['dba@example.test'], smtp: smtpOf(smtp) };
    const r = await engine.notifier.sendNow(ch, runFailed(one));
    expect(r).toMatchObject({ delivered: true, attempts: 2 });
    expect(smtp.mails).toHaveLength(1);
  }, 60_000);

  it('one of three recipients refused (550): the other two get the mail once, and the refusal is recorded', async () => {
    const smtp = await smtpReceiver({ refuse: (a) => a === 'gone@example.test' });
    const engine = await testEngine(retry);
    const ch: NotificationChannel = { kind: 'email', to: ['dba@example.test', 'gone@example.test', 'oncall@example.test'], smtp: smtpOf(smtp) };
    const r = await engine.notifier.sendNow(ch, runFailed(one));
    expect(r).toEqual({ delivered: true, attempts: 1, error: `the SMTP server localhost:${smtp.port} refused gone@example.test (SMTP 550); the others got it` });
    expect(smtp.mails.map((m) => m.to)).toEqual([['dba@example.test', 'oncall@example.test']]);
    expect(engine.deliveries.list()[0]).toMatchObject({ status: 'delivered', error: expect.stringContaining('refused gone@example.test') });
  }, 60_000);

  it('every recipient refused: not delivered, and not retried (the server will refuse them again)', async () => {
    const smtp = await smtpReceiver({ refuse: () => true });
    const engine = await testEngine(retry);
    const ch: NotificationChannel = { kind: 'email', to: ['gone@example.test'], smtp: smtpOf(smtp) };
    const r = await engine.notifier.sendNow(ch, runFailed(one));
    expect(r).toMatchObject({ delivered: false, attempts: 1, error: expect.stringContaining('(SMTP 550)') });
    expect(smtp.logins).toHaveLength(1);
  }, 60_000);
});

describe('SMTP security that does not match the server', () => {
  it('STARTTLS to a port with TLS from the start (465): the error says to choose TLS', async () => {
    const smtp = await smtpReceiver({ implicitTls: true });
    // 4 s: long enough that a busy machine still connects before it (the greeting is what times out), short for a test.
    const engine = await testEngine({ notifyRetry: { attempts: 1, baseDelayMs: 50, timeoutMs: 4_000 } });
    const r = await engine.notifier.sendNow({ kind: 'email', to: ['dba@example.test'], smtp: smtpOf(smtp) }, runFailed(one));
    expect(r).toEqual({ delivered: false, attempts: 1, error: `the SMTP server localhost:${smtp.port} sent no SMTP greeting within 4 s: a port that expects TLS from the start (usually 465) needs that security (BACKSTOP_SMTP_SECURITY=tls)` });
    // The right setting on the same server works.
    expect(await engine.notifier.sendNow({ kind: 'email', to: ['dba@example.test'], smtp: smtpOf(smtp, { security: 'tls' }) }, runFailed(one))).toMatchObject({ delivered: true });
    expect(smtp.mails.map((m) => m.secure)).toEqual([true]);
  }, 60_000);

  it('TLS from the start to a STARTTLS port (587): tried once, the error says to choose STARTTLS', async () => {
    const smtp = await smtpReceiver();
    const engine = await testEngine(retry);
    const r = await engine.notifier.sendNow({ kind: 'email', to: ['dba@example.test'], smtp: smtpOf(smtp, { security: 'tls' }) }, runFailed(one));
    expect(r).toEqual({ delivered: false, attempts: 1, error: `the SMTP server localhost:${smtp.port} does not speak TLS from the first byte on this port: choose STARTTLS as the security (BACKSTOP_SMTP_SECURITY=starttls; usually port 587), or use the server's TLS port (usually 465)` });
    expect(smtp.logins).toEqual([]);
  }, 60_000);

  it('STARTTLS required and the server offers none: nothing is sent in clear (no login), tried once, the error says why', async () => {
    const smtp = await smtpReceiver({ noStartTls: true });
    const engine = await testEngine(retry);
    const r = await engine.notifier.sendNow({ kind: 'email', to: ['dba@example.test'], smtp: smtpOf(smtp) }, runFailed(one));
    expect(r).toMatchObject({ delivered: false, attempts: 1, error: expect.stringContaining(`the SMTP server localhost:${smtp.port} does not offer STARTTLS, so nothing was sent`) });
    expect(smtp.logins).toEqual([]);
    expect(smtp.mails).toEqual([]);
  }, 60_000);
});

describe('storms', () => {
  it('a run with 20 failed databases and database-failed asked for: 21 mails, each once, though the server takes 2 connections at a time', async () => {
    const smtp = await smtpReceiver({ maxClients: 2 });
    const engine = await testEngine(retry);
    const ch: NotificationChannel = { kind: 'email', to: ['dba@example.test'], on: ['failure'], smtp: smtpOf(smtp) };
    const dbs: NotificationDatabase[] = Array.from({ length: 20 }, (_, i) => ({ name: `db${i}`, status: 'failed', error: { code: 'DUMP_FAILED', message: 'x' } }));
    engine.notifier.notify([ch], runFailed(dbs));
    for (const d of dbs) engine.notifier.notify([ch], payload({ ...runFailed([d]), event: 'database-failed', message: `database ${d.name} failed` }));
    expect(await engine.notifier.flush(60_000)).toBe(true);
    const rows = engine.deliveries.list();
    expect(rows.filter((r) => r.status !== 'delivered').map((r) => r.error)).toEqual([]);
    expect(smtp.mails).toHaveLength(21);
    expect(new Set(smtp.mails.map((m) => m.subject)).size).toBe(21);
  }, 90_000);
});

describe('webhooks refused for good', () => {
  it('a deleted webhook (HTTP 404) is tried once; a rate limit (429) is retried', async () => {
    const hook = await httpReceiver();
    const engine = await testEngine(retry);
    const ch: NotificationChannel = { kind: 'webhook', url: `${hook.url}/slack/T0KEN`, preset: 'slack' };
    hook.failNext(10, 404);
    expect(await engine.notifier.sendNow(ch, runFailed(one))).toEqual({ delivered: false, attempts: 1, error: `${hook.url} answered HTTP 404 (no such webhook: deleted, or its URL mistyped); not retried: save the URL the service gives now in Settings › Notifications (a task file: in the variable its urlEnv names)` });
    hook.failNext(1, 429);
    expect(await engine.notifier.sendNow(ch, runFailed(one))).toEqual({ delivered: true, attempts: 2, error: null });
    expect(hook.requests).toHaveLength(1);
  }, 60_000);
});

describe('bounded, harmless message bodies', () => {
  const many: NotificationDatabase[] = Array.from({ length: 5000 }, (_, i) => ({
    name: `customer_db_${String(i).padStart(5, '0')}`,
    destination: 's3://backups-bucket/nightly',
    status: 'failed',
    error: { code: 'DUMP_FAILED', message: 'pg_dump failed: connection to server was lost' },
  }));

  it('a run-failed listing 5,000 databases: the mail and the chat posts stay within limits and say how many were left out', async () => {
    const smtp = await smtpReceiver();
    const hook = await httpReceiver();
    const engine = await testEngine(retry);
    const p = runFailed(many);
    const chans: NotificationChannel[] = [
      { kind: 'email', to: ['dba@example.test'], smtp: smtpOf(smtp) },
      { kind: 'webhook', url: `${hook.url}/slack`, preset: 'slack' },
      { kind: 'webhook', url: `${hook.url}/teams`, preset: 'teams' },
      { kind: 'webhook', url: `${hook.url}/discord`, preset: 'discord' },
      { kind: 'webhook', url: `${hook.url}/json`, preset: 'json' },
    ];
    for (const ch of chans) expect((await engine.notifier.sendNow(ch, p)).delivered).toBe(true);
    const mail = smtp.mails[0]!;
    expect(mail.raw.length).toBeLessThan(64 * 1024);
    expect(mail.text).toContain('- customer_db_00000 → s3://backups-bucket/nightly: failed (DUMP_FAILED: pg_dump failed: connection to server was lost)');
    expect(mail.text).toMatch(/^… and 4\d\d\d more databases \(\d+ failed\)$/m);
    const body = (path: string) => hook.requests.find((q) => q.path === path)!.body;
    // Slack truncates a message's text after 40,000 characters; Teams refuses a connector card over 28 KB.
    expect((JSON.parse(body('/slack')) as { text: string }).text.length).toBeLessThanOrEqual(40_000);
    expect(JSON.parse(body('/slack')).text).toMatch(/… and \d+ more databases/);
    expect(Buffer.byteLength(body('/teams'))).toBeLessThan(28 * 1024);
    expect(JSON.parse(body('/teams')).text).toMatch(/… and \d+ more databases/);
    expect((JSON.parse(body('/discord')) as { content: string }).content.length).toBeLessThanOrEqual(2000);
    // The JSON preset is for programs: it keeps listing every database (its documented contract).
    expect((JSON.parse(body('/json')) as { databases: unknown[] }).databases).toHaveLength(5000);
  }, 60_000);

  it('failed databases are listed before the ones that went fine, so a cut list still names what failed', async () => {
    const hook = await httpReceiver();
    const engine = await testEngine(retry);
    const ok: NotificationDatabase[] = Array.from({ length: 400 }, (_, i) => ({ name: `fine_${i}`, status: 'success' }));
    const p = runFailed([...ok, { name: 'the_broken_one', status: 'failed', error: { code: 'DUMP_FAILED', message: 'x' } }]);
    await engine.notifier.sendNow({ kind: 'webhook', url: `${hook.url}/discord`, preset: 'discord' }, p);
    expect(JSON.parse(hook.requests[0]!.body).content).toContain('the\\_broken\\_one: failed');
  }, 60_000);

  it('a database named with mentions and markdown pings nobody and formats nothing: Slack escapes <>&, Teams and Discord escape markdown, Discord allows no mentions', async () => {
    const hook = await httpReceiver();
    const engine = await testEngine(retry);
    const p = runFailed([{ name: 'x<!here>_<@U024BE7LH>&*y*~z~ @everyone Ünïcødé_日本', status: 'failed', error: { code: 'DUMP_FAILED', message: 'failed <!channel>' } }]);
    await engine.notifier.sendNow({ kind: 'webhook', url: `${hook.url}/slack`, preset: 'slack' }, p);
    await engine.notifier.sendNow({ kind: 'webhook', url: `${hook.url}/discord`, preset: 'discord' }, p);
    const linked = runFailed([{ name: '[verify your account](https://evil.example)`x`#h|t\\', status: 'failed', error: { code: 'DUMP_FAILED', message: 'x' } }]);
    await engine.notifier.sendNow({ kind: 'webhook', url: `${hook.url}/teams`, preset: 'teams' }, linked);
    await engine.notifier.sendNow({ kind: 'webhook', url: `${hook.url}/discord`, preset: 'discord' }, linked);
    await engine.notifier.sendNow({ kind: 'webhook', url: `${hook.url}/teams`, preset: 'teams' }, p);
    const slack = JSON.parse(hook.requests[0]!.body) as { text: string; mrkdwn?: boolean };
    expect(slack.text).not.toMatch(/[<>]/);
    expect(slack.text).toContain('x&lt;!here&gt;_&lt;@U024BE7LH&gt;&amp;*y*~z~ @everyone Ünïcødé_日本');
    expect(slack.text).toContain('failed &lt;!channel&gt;');
    // Markdown off: underscores and asterisks in names show as typed.
    expect(slack.mrkdwn).toBe(false);
    const discord = JSON.parse(hook.requests[1]!.body) as { content: string; allowed_mentions?: { parse: string[] } };
    expect(discord.content).toContain('x<!here>\\_<@U024BE7LH>&\\*y\\*\\~z\\~ @everyone Ünïcødé\\_日本');
    expect(discord.allowed_mentions).toEqual({ parse: [] });
    // Teams' card text and Discord read markdown (and Teams some HTML): a link in a name stays text, every mark escaped.
    const escapedLink = '\\[verify your account\\](https://evil.example)\\`x\\`\\#h\\|t\\\\';
    const teams = JSON.parse(hook.requests[2]!.body) as { title: string; text: string };
    expect(teams.text).toContain(`${escapedLink}: failed (DUMP\\_FAILED: x)`);
    expect(teams.text).not.toMatch(/(^|[^\\])\[verify/);
    expect(JSON.parse(hook.requests[3]!.body).content).toContain(`${escapedLink}: failed (DUMP\\_FAILED: x)`);
    const teamsHtml = JSON.parse(hook.requests[4]!.body) as { text: string };
    expect(teamsHtml.text).toContain('x&lt;!here&gt;\\_&lt;@U024BE7LH&gt;&amp;\\*y\\*');
  }, 60_000);

  it('non-ASCII database names arrive intact in the mail subject and body', async () => {
    const smtp = await smtpReceiver();
    const engine = await testEngine(retry);
    const name = 'Ünïcødé_日本_данные';
    const p = payload({ ...runFailed([{ name, status: 'failed', error: { code: 'DUMP_FAILED', message: 'x' } }]), message: `Backup task "nightly": 1 database failed (${name}).` });
    expect(await engine.notifier.sendNow({ kind: 'email', to: ['dba@example.test'], smtp: smtpOf(smtp) }, p)).toMatchObject({ delivered: true });
    expect(smtp.mails[0]!.subject).toBe(`[Backstop FAILED] Backup task "nightly": 1 database failed (${name}).`);
    expect(smtp.mails[0]!.text).toContain(`- ${name}: failed (DUMP_FAILED: x)`);
  }, 60_000);
});
