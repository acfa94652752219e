/**
 * Notifications that leave the machine, end to end on a real SQLite folder, against real
 * receivers on loopback ports: a webhook (JSON and chat presets), a heartbeat
 * (healthchecks.io convention) and e-mail through an SMTP server that demands STARTTLS and
 * a login. Deliveries are retried with backoff when the receiver is down, recorded, and
 * never delay or fail the backup; a failed run never pings the heartbeat's success URL.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { backupCommand, loadTaskFile } from '../../../electron/cli/commands/backup.ts';
import type { NotificationPayload } from '../../../electron/engine/notifications/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { httpReceiver, smtpReceiver } from '../../fixtures/notify-receivers.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { until } from '../../fixtures/until.ts';
import { cliInProcess } from '../../fixtures/cli.ts';
import { rejection } from '../../fixtures/servers/common.ts';
import { tinySqliteDb } from '../../fixtures/sqlite-files.ts';
import type { BackstopError } from '../../../electron/shared/result.ts';

const TOKEN = 'T0KEN-abc123-very-secret';

/** A folder with good.db (and broken.db: a SQLite header then garbage, which fails its backup). */
function setup(notifications: unknown[], opts: { broken?: boolean } = {}) {
  const folder = tempDir();
  const backups = tempDir();
  tinySqliteDb(join(folder, 'good.db'));
  if (opts.broken) {
    const broken = Buffer.alloc(8192, 0x5a);
    Buffer.from('SQLite format 3\0', 'latin1').copy(broken);
    writeFileSync(join(folder, 'broken.db'), broken);
  }
  const task = join(tempDir(), 'task.json');
  writeFileSync(task, JSON.stringify({ name: 'nightly', server: { kind: 'sqlite', folder }, type: 'snapshot', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: backups }], notifications }));
  return { folder, backups, task };
}

const fast = { notifyRetry: { attempts: 4, baseDelayMs: 200, timeoutMs: 5_000 } };

describe('notifications from a task file', () => {
  it('a partial run: the webhook gets run-failed and database-failed, the heartbeat only /fail, e-mail arrives over STARTTLS with a login', async () => {
    const hook = await httpReceiver();
    const beat = await httpReceiver();
    const smtp = await smtpReceiver();
    vi.stubEnv('HOOK_URL', `${hook.url}/hooks/${TOKEN}`);
    vi.stubEnv('BEAT_URL', `${beat.url}/ping/${TOKEN}`);
    vi.stubEnv('BACKSTOP_SMTP_HOST', 'localhost');
    vi.stubEnv('BACKSTOP_SMTP_PORT', String(smtp.port));
    vi.stubEnv('BACKSTOP_SMTP_USER', smtp.user);
    vi.stubEnv('BACKSTOP_SMTP_PASSWORD', smtp.password);
    vi.stubEnv('BACKSTOP_SMTP_FROM', 'backstop@example.test');
    vi.stubEnv('BACKSTOP_SMTP_CA_FILE', smtp.caFile);
    const s = setup(
      [
        { kind: 'webhook', urlEnv: 'HOOK_URL', on: ['failure'] },
        { kind: 'heartbeat', urlEnv: 'BEAT_URL' },
        { kind: 'email', to: ['dba@example.test', 'oncall@example.test'] },
      ],
      { broken: true },
    );
    const engine = await testEngine(fast);
    const summary = await backupCommand(engine, s.task, undefined, undefined);
    expect(summary.status).toBe('partial');

    // backupCommand flushed the deliveries before returning.
    const events = hook.requests.map((r) => JSON.parse(r.body) as NotificationPayload);
    expect(events.map((e) => e.event).sort()).toEqual(['database-failed', 'run-failed']);
    const runFailed = events.find((e) => e.event === 'run-failed')!;
    expect(hook.requests[0]!.contentType).toBe('application/json');
    expect(hook.requests[0]!.path).toBe(`/hooks/${TOKEN}`);
    expect(runFailed).toMatchObject({
      event: 'run-failed',
      category: 'failure',
      task: 'nightly',
      runId: summary.runId,
      status: 'partial',
      message: 'Backup task "nightly": 1 database failed (broken.db).',
      startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      finishedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(runFailed.databases).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'good.db', status: 'success' }),
        expect.objectContaining({ name: 'broken.db', status: 'failed', error: { code: expect.stringMatching(/DUMP_FAILED|INTEGRITY/), message: expect.stringContaining('broken.db') } }),
      ]),
    );
    expect(events.find((e) => e.event === 'database-failed')!.databases.map((d) => d.name)).toEqual(['broken.db']);

    expect(beat.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /ping/${TOKEN}/fail`]);

    const mails = await smtp.waitFor(1);
    expect(mails).toHaveLength(1);
    const mail = mails[0]!;
    expect(mail.secure).toBe(true);
    expect(mail.user).toBe(smtp.user);
    expect(mail.from).toBe('backstop@example.test');
    expect(mail.to.sort()).toEqual(['dba@example.test', 'oncall@example.test']);
    expect(mail.subject).toBe('[Backstop FAILED] Backup task "nightly": 1 database failed (broken.db).');
    expect(mail.text).toContain('Task: nightly');
    expect(mail.text).toContain(`Run: ${summary.runId}`);
    expect(mail.text).toMatch(/^- broken\.db → .*: failed \((DUMP_FAILED|INTEGRITY): .*broken\.db/m);
    expect(mail.text).toMatch(/^- good\.db → .*: success$/m);

    const rows = engine.deliveries.list();
    expect(rows.map((r) => `${r.channel}:${r.event}:${r.status}`).sort()).toEqual(['email:run-failed:delivered', 'heartbeat:run-failed:delivered', 'webhook:database-failed:delivered', 'webhook:run-failed:delivered']);
    // Secrets stay out of the record and the log: a URL's host only, no token, no SMTP password.
    expect(rows.find((r) => r.channel === 'webhook')!.target).toBe(hook.url);
    const stored = JSON.stringify(engine.db.prepare('SELECT * FROM notification_deliveries').all());
    const log = readFileSync(join(engine.logsDir, 'backstop.log'), 'utf8');
    for (const text of [stored, log]) {
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain(smtp.password);
    }
  }, 120_000);

  it('a successful run pings the heartbeat URL itself; failure-only channels stay quiet; "all" and presets', async () => {
    const quiet = await httpReceiver();
    const chat = await httpReceiver();
    const beat = await httpReceiver();
    vi.stubEnv('QUIET_URL', `${quiet.url}/q`);
    vi.stubEnv('SLACK_URL', `${chat.url}/slack/${TOKEN}`);
    vi.stubEnv('DISCORD_URL', `${chat.url}/discord/${TOKEN}`);
    vi.stubEnv('BEAT_URL', `${beat.url}/ping/abc`);
    const s = setup([
      { kind: 'webhook', urlEnv: 'QUIET_URL' },
      { kind: 'webhook', urlEnv: 'SLACK_URL', preset: 'slack', on: ['all'] },
      { kind: 'webhook', urlEnv: 'DISCORD_URL', preset: 'discord', on: ['run-succeeded'] },
      { kind: 'heartbeat', urlEnv: 'BEAT_URL', method: 'POST' },
    ]);
    const engine = await testEngine(fast);
    const summary = await backupCommand(engine, s.task, undefined, undefined);
    expect(summary.status).toBe('success');
    expect(beat.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /ping/abc']);
    expect(beat.requests[0]!.body).toContain('[Backstop OK] Backup task "nightly" succeeded: 1 database backed up.');
    expect(quiet.requests).toEqual([]);
    const slack = chat.requests.find((r) => r.path.startsWith('/slack/'))!;
    expect(JSON.parse(slack.body)).toEqual({ text: expect.stringContaining('[Backstop OK] Backup task "nightly" succeeded'), mrkdwn: false });
    expect(JSON.parse(slack.body).text).toMatch(/- good\.db → .*: success/);
    const discord = chat.requests.find((r) => r.path.startsWith('/discord/'))!;
    expect(Object.keys(JSON.parse(discord.body))).toEqual(['content', 'allowed_mentions']);
    expect(engine.deliveries.list().every((d) => d.status === 'delivered')).toBe(true);
  }, 120_000);
});

describe('a run with many failed databases', () => {
  it('run-failed names the first ten and counts the rest: the mail subject stays one short line', async () => {
    const hook = await httpReceiver();
    vi.stubEnv('HOOK_URL', `${hook.url}/h`);
    const s = setup([{ kind: 'webhook', urlEnv: 'HOOK_URL' }], { broken: true });
    const broken = readFileSync(join(s.folder, 'broken.db'));
    for (let i = 1; i <= 11; i++) writeFileSync(join(s.folder, `broken${String(i).padStart(2, '0')}.db`), broken);
    const engine = await testEngine(fast);
    const summary = await backupCommand(engine, s.task, undefined, undefined);
    expect(summary.status).toBe('partial');
    // One message for the run (database-failed only when asked), listing all twelve.
    expect(hook.requests).toHaveLength(1);
    const p = JSON.parse(hook.requests[0]!.body) as NotificationPayload;
    expect(p.message).toBe('Backup task "nightly": 12 databases failed (broken.db, broken01.db, broken02.db, broken03.db, broken04.db, broken05.db, broken06.db, broken07.db, broken08.db, broken09.db and 2 more).');
    expect(p.databases.filter((d) => d.status === 'failed')).toHaveLength(12);
  }, 120_000);
});

describe('backstop backup --json', () => {
  it('says what became of each notification of the run: delivered, or not and why (no URL path or token)', async () => {
    const ok = await httpReceiver();
    const gone = await httpReceiver();
    // A deleted webhook answers 404 every time: given up at once, so the CLI's wait is short.
    gone.failNext(100, 404);
    vi.stubEnv('OK_URL', `${ok.url}/ok/${TOKEN}`);
    vi.stubEnv('GONE_URL', `${gone.url}/gone/${TOKEN}`);
    const s = setup([{ kind: 'webhook', urlEnv: 'OK_URL' }, { kind: 'webhook', urlEnv: 'GONE_URL', preset: 'slack' }], { broken: true });
    const r = await cliInProcess('backup', '--config', s.task, '--json', '--data-dir', tempDir());
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out) as { status: string; notifications: unknown[] };
    expect(doc.status).toBe('partial');
    // Both delivered in the background at once: their order is the order they finished.
    expect(doc.notifications).toHaveLength(2);
    expect(doc.notifications).toEqual(
      expect.arrayContaining([
        { event: 'run-failed', channel: 'webhook', target: ok.url, status: 'delivered', attempts: 1, error: null },
        { event: 'run-failed', channel: 'webhook', target: gone.url, status: 'failed', attempts: 1, error: `${gone.url} answered HTTP 404 (no such webhook: deleted, or its URL mistyped); not retried: save the URL the service gives now in Settings › Notifications (a task file: in the variable its urlEnv names)` },
      ]),
    );
    expect(r.out).not.toContain(TOKEN);
    const text = await cliInProcess('backup', '--config', s.task, '--data-dir', tempDir());
    expect(text.out).toContain(`notification run-failed → webhook ${gone.url}: failed (${gone.url} answered HTTP 404 (no such webhook: deleted, or its URL mistyped); not retried: save the URL the service gives now in Settings › Notifications (a task file: in the variable its urlEnv names))`);
    expect(text.out).not.toContain(`webhook ${ok.url}`);
  }, 120_000);

  it('a rate limit asking longer than its 60 s wait (Retry-After: 120) is given up at once and said, not cut off unrecorded', async () => {
    const slack = await httpReceiver();
    slack.failNext(100, 429, { 'retry-after': '120' });
    vi.stubEnv('SLACK_URL', `${slack.url}/services/${TOKEN}`);
    const s = setup([{ kind: 'webhook', urlEnv: 'SLACK_URL', preset: 'slack', on: ['all'] }]);
    const r = await cliInProcess('backup', '--config', s.task, '--json', '--data-dir', tempDir());
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as { notifications: unknown[]; notificationsUnfinished?: number };
    expect(doc.notifications).toEqual([
      { event: 'run-succeeded', channel: 'webhook', target: slack.url, status: 'failed', attempts: 1, error: `${slack.url} answered HTTP 429 and asked to wait 120 s (Retry-After), longer than Backstop waits (45 s): not retried sooner, which would extend the limit` },
    ]);
    expect(doc.notificationsUnfinished).toBeUndefined();
    expect(slack.refused).toBe(1);
  }, 120_000);
});

describe('delivery never holds up a backup', () => {
  it('a receiver that is down: the run ends at once, delivery is retried with backoff until it comes back, and recorded', async () => {
    const hook = await httpReceiver();
    const beat = await httpReceiver();
    await hook.down();
    beat.failNext(2, 503);
    vi.stubEnv('HOOK_URL', `${hook.url}/h`);
    vi.stubEnv('BEAT_URL', `${beat.url}/b`);
    const s = setup([{ kind: 'webhook', urlEnv: 'HOOK_URL', on: ['all'] }, { kind: 'heartbeat', urlEnv: 'BEAT_URL' }]);
    const engine = await testEngine({ notifyRetry: { attempts: 6, baseDelayMs: 300, timeoutMs: 5_000 } });
    const { task, server, password, key, credentials } = loadTaskFile(s.task, undefined);
    const { channelsFromFile } = await import('../../../electron/cli/commands/backup.ts');
    const notifications = channelsFromFile([{ kind: 'webhook', urlEnv: 'HOOK_URL', preset: 'json', on: ['all'] }, { kind: 'heartbeat', urlEnv: 'BEAT_URL', method: 'GET' }], s.task, engine.dataDir, () => {});
    const { done } = engine.runner.start({ task, server, password, key, credentials, persisted: false, notifications }, 'full', 'cli');
    const summary = await done;
    expect(summary.status).toBe('success');
    // The run is finished and recorded while the webhook is still undelivered.
    expect(hook.requests).toEqual([]);
    expect(engine.deliveries.list().filter((d) => d.channel === 'webhook')).toEqual([]);
    // Back only once an attempt was refused (the second is counted before it is made), not after a fixed 400 ms
    // that a loaded machine may spend before the first attempt.
    const webhookAttempts = () => (engine.db.prepare("SELECT attempts FROM notification_outbox WHERE channel = 'webhook'").get() as { attempts: number } | undefined)?.attempts ?? 0;
    await until('a refused attempt at the webhook', () => webhookAttempts() >= 2);
    await hook.up();
    expect(await engine.notifier.flush(30_000)).toBe(true);
    expect(hook.requests.map((r) => JSON.parse(r.body).event)).toEqual(['run-succeeded']);
    expect(beat.requests.map((r) => r.path)).toEqual(['/b']);
    const rows = engine.deliveries.list();
    expect(rows.find((r) => r.channel === 'webhook')).toMatchObject({ status: 'delivered', attempts: expect.any(Number), runId: summary.runId, event: 'run-succeeded' });
    expect(rows.find((r) => r.channel === 'webhook')!.attempts).toBeGreaterThan(1);
    expect(rows.find((r) => r.channel === 'heartbeat')).toMatchObject({ status: 'delivered', attempts: 3 });
  }, 120_000);

  it('a receiver that never answers: given up after the retries, recorded as failed, the run still succeeded', async () => {
    const hook = await httpReceiver();
    await hook.down();
    vi.stubEnv('HOOK_URL', `${hook.url}/h/${TOKEN}`);
    const s = setup([{ kind: 'webhook', urlEnv: 'HOOK_URL', on: ['all'] }]);
    const engine = await testEngine({ notifyRetry: { attempts: 3, baseDelayMs: 100, timeoutMs: 2_000 } });
    const summary = await backupCommand(engine, s.task, undefined, undefined);
    expect(summary.status).toBe('success');
    const [row] = engine.deliveries.list();
    expect(row).toMatchObject({ channel: 'webhook', status: 'failed', attempts: 3, target: hook.url, error: `${hook.url} could not be reached (ECONNREFUSED)` });
    expect(JSON.stringify(row)).not.toContain(TOKEN);
  }, 120_000);
});

describe('task-file errors', () => {
  async function refusal(notifications: unknown[]): Promise<BackstopError> {
    const s = setup(notifications);
    const engine = await testEngine(fast);
    const e = await rejection(backupCommand(engine, s.task, undefined, undefined));
    // Refused before a run was recorded.
    expect((engine.db.prepare('SELECT COUNT(*) AS n FROM runs').get() as { n: number }).n).toBe(0);
    return e;
  }

  it('a urlEnv that is not set is AUTH_FAILED; a URL that is not http(s) is VALIDATION', async () => {
    vi.stubEnv('NOT_SET_URL', '');
    expect(await refusal([{ kind: 'webhook', urlEnv: 'NOT_SET_URL' }])).toMatchObject({ code: 'AUTH_FAILED', message: expect.stringMatching(/^notifications\[0\] in .*task\.json: the environment variable NOT_SET_URL is not set\.$/) });
    vi.stubEnv('FTP_URL', 'ftp://example.test/x');
    expect(await refusal([{ kind: 'heartbeat', urlEnv: 'FTP_URL' }])).toMatchObject({ code: 'VALIDATION', message: expect.stringMatching(/notifications\[0\] in .*: the environment variable FTP_URL must hold an http:\/\/ or https:\/\/ URL\.$/) });
  });

  it('e-mail without SMTP settings is VALIDATION naming what to set; an unknown event is MALFORMED_REQUEST', async () => {
    vi.stubEnv('BACKSTOP_SMTP_HOST', '');
    expect(await refusal([{ kind: 'email', to: ['a@b.test'] }])).toMatchObject({ code: 'VALIDATION', message: expect.stringContaining('sends e-mail, but no SMTP server is set up: set BACKSTOP_SMTP_HOST') });
    expect(await refusal([{ kind: 'webhook', urlEnv: 'X', on: ['fialure'] }])).toMatchObject({ code: 'MALFORMED_REQUEST', message: expect.stringContaining('notifications.0.on.0: must be failure, warning, success, all or an event name') });
  });
});
