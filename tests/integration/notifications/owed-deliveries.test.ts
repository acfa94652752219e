/**
 * An alert is not lost because Backstop closed while it was still being retried (a webhook
 * outage, a greylisted e-mail): the next start of the app (or serve/agent) on the same data dir
 * carries it on — delivered once, ahead of later alerts to the same channel, its attempts kept —
 * or, when it is too old or its channel was deleted or changed meanwhile, records it not
 * delivered with the reason and says so (notification-failed). The row kept meanwhile holds no
 * secret. A task file's alerts (URLs only in its command's environment) are carried on by that
 * file's next `backstop backup` (a real one, killed while it waited out a Retry-After). Real
 * receivers (an HTTP server, smtp-server), the real keychain; the notifier's waits in-process on
 * a fake clock: the first engine's retry wait never ends (it is closed during it), the next
 * one's pass at once.
 */
import { describe, expect, it, vi } from 'vitest';
import type { Engine, EngineOptions } from '../../../electron/engine/index.ts';
import { appChannel } from '../../../electron/engine/notifications/app-channels.ts';
import type { NotificationChannel, NotificationPayload } from '../../../electron/engine/notifications/index.ts';
import { KeychainSecretStore } from '../../../electron/engine/secrets/index.ts';
import type { Alert } from '../../../electron/shared/domain.ts';
import { runBackstop, writeTaskFile } from '../../fixtures/cli.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { findSecrets } from '../../fixtures/reliability/secrets-scan.ts';
import { httpReceiver, smtpReceiver, trustSmtpCa, type HttpReceiver, runEvent } from '../../fixtures/notify-receivers.ts';
import { data } from '../../fixtures/runs.ts';
import { sqliteFolder } from '../../fixtures/sqlite-files.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { until } from '../../fixtures/until.ts';

const TOKEN = 'owed-T0KEN-8c41d7';
const CLOSED = 'Backstop stopped while it was still trying to deliver it';

/** The first process: its retry waits never end; `waiting(n)` resolves once `n` have begun (as many attempts were refused). */
async function closingEngine(dataDir: string) {
  let begun = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  const engine = await testEngine({
    dataDir,
    notifyRetry: { timeoutMs: 5_000 },
    notifySleep: () => {
      begun++;
      for (const w of waiters) if (begun >= w.n) w.resolve();
      return new Promise<void>(() => {});
    },
  });
  const waiting = (n = 1) => (begun >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve })));
  return { engine, waiting };
}

/** The next process on the same data dir: its waits pass at once; `alerts` the engine raised. */
async function nextEngine(dataDir: string, opts: Partial<EngineOptions> = {}) {
  const waits: number[] = [];
  const engine = await testEngine({ dataDir, notifyRetry: { timeoutMs: 5_000 }, notifySleep: async (ms) => void waits.push(ms), ...opts });
  const alerts: Alert[] = [];
  engine.events.on('alert', (a) => alerts.push(a));
  return { engine, waits, alerts };
}

/** A Settings channel as the engine resolves it for a run (its URL or SMTP password from the keychain). */
async function resolved(engine: Engine, id: string): Promise<NotificationChannel> {
  const settings = data(await engine.call('settings.get', undefined));
  const c = settings.notificationChannels.find((x) => x.id === id)!;
  return (await appChannel(c, settings, new KeychainSecretStore(), engine.dataDir))!;
}

async function webhook(engine: Engine, hook: HttpReceiver, name = 'ops chat') {
  return data(await engine.call('notifications.saveChannel', { channel: { kind: 'webhook', name, on: ['all'] }, url: `${hook.url}/hooks/${TOKEN}` }));
}

const events = (hook: HttpReceiver) => hook.requests.map((r) => (JSON.parse(r.body) as NotificationPayload).event);
const owed = (engine: Engine) => engine.db.prepare('SELECT event, channel_id, attempts FROM notification_outbox ORDER BY id').all();

/**
 * The start of most tests: on a fresh data dir, a first engine (closingEngine) sends run-failed
 * to the Settings channels `save` makes on it, after each of `refusing` was set to refuse its
 * first attempt (503); resolves once each channel's retry wait has begun (the deliveries are owed).
 */
async function owedRunFailed<S extends { id: string }>(refusing: HttpReceiver[], save: (engine: Engine) => Promise<S[]>) {
  const dataDir = tempDir('backstop-data-');
  const first = await closingEngine(dataDir);
  const saved = await save(first.engine);
  for (const r of refusing) r.failNext(1, 503);
  first.engine.notifier.notify(await Promise.all(saved.map((c) => resolved(first.engine, c.id))), runEvent('run-failed'));
  await first.waiting(saved.length);
  return { dataDir, first, saved };
}

describe('a delivery still being retried when Backstop closed', () => {
  it('is carried on by the next start: delivered once, before a later alert to the same channel, its attempts kept', async () => {
    const hook = await httpReceiver();
    const { dataDir, first, saved } = await owedRunFailed([hook], async (engine) => [await webhook(engine, hook)]);
    const channel = saved[0]!;
    expect(owed(first.engine)).toEqual([{ event: 'run-failed', channel_id: channel.id, attempts: 1 }]);
    await first.engine.close();
    expect(hook.refused).toBe(1);
    expect(hook.requests).toEqual([]);
    // Kept without the URL's token (the app database with its WAL, the logs).
    expect(findSecrets({ 'webhook token': TOKEN }, [dataDir])).toEqual([]);

    const next = await nextEngine(dataDir);
    // A run of the new process ends before it resumes (start): its alert goes after the owed one.
    next.engine.notifier.notify([await resolved(next.engine, channel.id)], runEvent('run-succeeded'));
    next.engine.start();
    expect(await next.engine.notifier.flush(20_000)).toBe(true);
    expect(events(hook)).toEqual(['run-failed', 'run-succeeded']);
    expect(JSON.parse(hook.requests[0]!.body)).toEqual(runEvent('run-failed'));
    expect(next.engine.deliveries.list().map((d) => [d.event, d.channelId, d.status, d.attempts, d.error])).toEqual([
      ['run-succeeded', channel.id, 'delivered', 1, null],
      ['run-failed', channel.id, 'delivered', 2, null],
    ]);
    expect(owed(next.engine)).toEqual([]);
    expect(next.alerts).toEqual([]);
    await next.engine.close();

    // Delivered is never sent again: a third start finds nothing owed.
    const third = await nextEngine(dataDir);
    third.engine.start();
    expect(await third.engine.notifier.flush(5_000)).toBe(true);
    expect(events(hook)).toEqual(['run-failed', 'run-succeeded']);
  }, 60_000);

  it('owed by a process that stopped while the app runs (a killed agent, a CLI): carried on within 5 minutes, not only at the next start', async () => {
    const hook = await httpReceiver();
    const { dataDir, first } = await owedRunFailed([hook], async (engine) => [await webhook(engine, hook)]);
    // The app is already running when the other process stops.
    const app = await nextEngine(dataDir);
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      app.engine.start();
      await first.engine.close();
      expect(await app.engine.notifier.flush(5_000)).toBe(true);
      expect(hook.requests).toEqual([]);
      vi.advanceTimersByTime(5 * 60_000);
    } finally {
      vi.useRealTimers();
    }
    expect(await app.engine.notifier.flush(20_000)).toBe(true);
    expect(events(hook)).toEqual(['run-failed']);
    expect(app.engine.deliveries.list().map((d) => [d.event, d.status, d.attempts])).toEqual([['run-failed', 'delivered', 2]]);
  }, 60_000);

  it("a stopped agent's owed heartbeat /fail is not sent by the running app once the app's later run of the task pinged success (the check would read down while the task is fine)", async () => {
    const hook = await httpReceiver();
    const { dataDir, first, saved } = await owedRunFailed([hook], async (engine) => [
      data(await engine.call('notifications.saveChannel', { channel: { kind: 'heartbeat', name: 'healthchecks', method: 'GET' }, url: `${hook.url}/ping/${TOKEN}` })),
    ]);
    const ping = saved[0]!;
    // The app is open; its "Run now" of the same task succeeds and pings while the agent still retries its /fail.
    const app = await nextEngine(dataDir);
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      app.engine.start();
      app.engine.notifier.notify([await resolved(app.engine, ping.id)], runEvent('run-succeeded'));
      expect(await app.engine.notifier.flush(5_000)).toBe(true);
      await first.engine.close();
      vi.advanceTimersByTime(5 * 60_000);
    } finally {
      vi.useRealTimers();
    }
    expect(await app.engine.notifier.flush(20_000)).toBe(true);
    // The last ping the check got is the success: the stale /fail was not sent after it.
    expect(hook.requests.map((r) => r.path)).toEqual([`/ping/${TOKEN}`]);
    expect(owed(app.engine)).toEqual([]);
    // Not said as a failing channel: the channel works, and its last delivery stays the success.
    expect(app.alerts).toEqual([]);
    expect(app.engine.deliveries.last({ channelId: ping.id, channel: 'heartbeat', target: hook.url })?.status).toBe('delivered');
  }, 60_000);

  it('two processes starting at once on the data dir (the app and the agent) carry an owed alert on once between them, and neither takes it again at its 5-minute check', async () => {
    const hook = await httpReceiver();
    const { dataDir, first } = await owedRunFailed([hook], async (engine) => [await webhook(engine, hook)]);
    await first.engine.close();
    // Both take what they find at their creation; the row can be the first one's only.
    const app = await nextEngine(dataDir);
    const agent = await nextEngine(dataDir);
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      app.engine.start();
      agent.engine.start('agent');
      expect(await app.engine.notifier.flush(20_000)).toBe(true);
      expect(await agent.engine.notifier.flush(20_000)).toBe(true);
      vi.advanceTimersByTime(2 * 5 * 60_000);
    } finally {
      vi.useRealTimers();
    }
    expect(await app.engine.notifier.flush(20_000)).toBe(true);
    expect(await agent.engine.notifier.flush(20_000)).toBe(true);
    expect(events(hook)).toEqual(['run-failed']);
    expect(app.engine.deliveries.list().map((d) => [d.event, d.status, d.attempts])).toEqual([['run-failed', 'delivered', 2]]);
    expect(owed(app.engine)).toEqual([]);
    await agent.engine.close();
    await app.engine.close();
  }, 60_000);

  it("a Teams URL whose token is in its query (a workflow's sig=) is kept owed without it, and carried on to the whole URL", async () => {
    const hook = await httpReceiver();
    const path = `/workflows/7f3a/triggers/manual/paths/invoke?api-version=2016-06-01&sig=${TOKEN}`;
    const { dataDir, first, saved } = await owedRunFailed([hook], async (engine) => [
      data(await engine.call('notifications.saveChannel', { channel: { kind: 'webhook', name: 'teams', preset: 'teams', on: ['all'] }, url: `${hook.url}${path}` })),
    ]);
    const teams = saved[0]!;
    expect(owed(first.engine)).toEqual([{ event: 'run-failed', channel_id: teams.id, attempts: 1 }]);
    await first.engine.close();
    // Neither the app database (with its WAL) nor the logs hold the token, nor the URL's path.
    expect(findSecrets({ 'sig token': TOKEN, 'workflow path': '/workflows/7f3a' }, [dataDir])).toEqual([]);

    const next = await nextEngine(dataDir);
    next.engine.start();
    expect(await next.engine.notifier.flush(20_000)).toBe(true);
    expect(hook.requests.map((r) => r.path)).toEqual([path]);
    expect(next.engine.deliveries.list().map((d) => [d.channelId, d.target, d.status, d.attempts])).toEqual([[teams.id, hook.url, 'delivered', 2]]);
    expect(owed(next.engine)).toEqual([]);
    await next.engine.close();
  }, 60_000);

  it('closing during a retry wait (a real timer, a minute) ends it at once: nothing more is sent, and it stays owed', async () => {
    const hook = await httpReceiver();
    const dataDir = tempDir('backstop-data-');
    const engine = await testEngine({ dataDir, notifyRetry: { baseDelayMs: 60_000, timeoutMs: 5_000 } });
    const channel = await webhook(engine, hook);
    hook.failNext(1, 503);
    engine.notifier.notify([await resolved(engine, channel.id)], runEvent('run-failed'));
    await until('the first attempt refused', () => hook.refused === 1 && owed(engine).length === 1, 30_000);
    await engine.close();
    // The wait ended with the close, not after it: close gives attempts in flight at most 5 s, then leaves them
    // going; a delivery still sleeping its minute would be in flight now. (Not a time bound: a loaded machine may
    // take seconds to close the engine, which says nothing about the wait.)
    expect(engine.notifier.inFlight).toBe(0);
    expect(hook.requests).toEqual([]);
    const next = await nextEngine(dataDir);
    expect(next.engine.deliveries.list()).toEqual([]);
    next.engine.start();
    expect(await next.engine.notifier.flush(20_000)).toBe(true);
    expect(events(hook)).toEqual(['run-failed']);
  }, 60_000);

  it('is not sent when over 24 h old at the next start: recorded not delivered with the reason, and said', async () => {
    const hook = await httpReceiver();
    const { dataDir, first, saved } = await owedRunFailed([hook], async (engine) => [await webhook(engine, hook)]);
    const channel = saved[0]!;
    const [queued] = first.engine.db.prepare('SELECT queued_at FROM notification_outbox').all() as { queued_at: string }[];
    await first.engine.close();

    const next = await nextEngine(dataDir, { now: () => new Date(Date.now() + 25 * 3_600_000) });
    next.engine.start();
    expect(await next.engine.notifier.flush(20_000)).toBe(true);
    const reason = `${CLOSED}, and it was over 24 h old (queued ${queued!.queued_at}) when Backstop started again: not sent so late`;
    expect(next.engine.deliveries.list().map((d) => [d.event, d.channelId, d.status, d.attempts, d.error])).toEqual([['run-failed', channel.id, 'failed', 1, reason]]);
    expect(hook.requests).toEqual([]);
    expect(owed(next.engine)).toEqual([]);
    expect(next.alerts.map((a) => [a.kind, a.message])).toEqual([
      ['notification-failed', expect.stringContaining(`Notifications to "ops chat" (webhook, ${hook.url}) are failing: "run-failed" was not delivered after 1 attempt (${reason}).`)],
    ]);
  }, 60_000);

  it("a task file's channel (its URL only in its command's environment) is left by the app's start, and recorded not delivered once over 24 h old", async () => {
    const hook = await httpReceiver();
    const dataDir = tempDir('backstop-data-');
    const first = await closingEngine(dataDir);
    hook.failNext(1, 503);
    first.engine.notifier.notify([{ kind: 'webhook', url: `${hook.url}/hooks/${TOKEN}`, preset: 'json', on: ['all'] }], runEvent('run-failed'));
    await first.waiting();
    await first.engine.close();

    const app = await nextEngine(dataDir);
    app.engine.start();
    expect(await app.engine.notifier.flush(5_000)).toBe(true);
    expect(owed(app.engine)).toEqual([{ event: 'run-failed', channel_id: null, attempts: 1 }]);
    await app.engine.close();

    const later = await nextEngine(dataDir, { now: () => new Date(Date.now() + 25 * 3_600_000) });
    later.engine.start();
    expect(await later.engine.notifier.flush(5_000)).toBe(true);
    expect(later.engine.deliveries.list().map((d) => [d.channelId, d.target, d.status, d.error])).toEqual([[null, hook.url, 'failed', expect.stringMatching(/^Backstop stopped while it was still trying to deliver it, and it was over 24 h old \(queued .+\) when Backstop started again: not sent so late$/)]]);
    expect(owed(later.engine)).toEqual([]);
    expect(hook.requests).toEqual([]);
  }, 60_000);

  it('is not sent when its channel was deleted, or changed to another URL, meanwhile: each recorded not delivered with the reason', async () => {
    const hook = await httpReceiver();
    const pager = await httpReceiver();
    const moved = await httpReceiver();
    const { dataDir, first, saved } = await owedRunFailed([hook, pager], async (engine) => [await webhook(engine, hook, 'ops chat'), await webhook(engine, pager, 'pager')]);
    const [gone, changed] = [saved[0]!, saved[1]!];
    await first.engine.close();
    expect([hook.refused, pager.refused]).toEqual([1, 1]);

    const next = await nextEngine(dataDir);
    expect(data(await next.engine.call('notifications.deleteChannel', { id: gone.id }))).toEqual({ deleted: true });
    data(await next.engine.call('notifications.saveChannel', { channel: { id: changed.id, kind: 'webhook', name: 'pager', on: ['all'] }, url: `${moved.url}/new/${TOKEN}` }));
    next.engine.start();
    expect(await next.engine.notifier.flush(20_000)).toBe(true);
    const rows = next.engine.deliveries.list().map((d) => [d.channelId, d.status, d.error]);
    expect(rows).toEqual(
      expect.arrayContaining([
        [gone.id, 'failed', `${CLOSED}, and its channel was deleted since: not sent`],
        [changed.id, 'failed', `${CLOSED}, and its channel was changed since (its URL, format or filter): not sent to the new settings`],
      ]),
    );
    expect(rows).toHaveLength(2);
    expect([hook.requests, pager.requests, moved.requests]).toEqual([[], [], []]);
    expect(owed(next.engine)).toEqual([]);
    expect(next.alerts.filter((a) => a.kind === 'notification-failed')).toHaveLength(2);
  }, 60_000);

  it('a greylisted e-mail is carried on and arrives once; the row kept meanwhile holds neither the SMTP password nor the URL token', async () => {
    let greylist = true;
    const smtp = await smtpReceiver({ reply: (stage) => (stage === 'rcpt' && greylist ? { code: 451, text: '4.7.1 Greylisted, try again later' } : null) });
    trustSmtpCa(smtp);
    // Refused by the greylist, not by a receiver's failNext.
    const { dataDir, first } = await owedRunFailed([], async (engine) => {
      data(await engine.call('notifications.saveSmtp', { smtp: { host: 'localhost', port: smtp.port, security: 'starttls', user: smtp.user, from: 'backstop@example.test' }, password: smtp.password }));
      return [data(await engine.call('notifications.saveChannel', { channel: { kind: 'email', name: 'dba mail', to: ['dba@example.test'], on: ['failure'] } }))];
    });
    await first.engine.close();
    expect(smtp.mails).toEqual([]);
    // The scan sees the kept row (its recipient), and no password in it.
    expect(findSecrets({ recipient: 'dba@example.test' }, [dataDir]).some((hit) => hit.includes('backstop.db'))).toBe(true);
    expect(findSecrets({ 'SMTP password': smtp.password }, [dataDir])).toEqual([]);

    greylist = false;
    const next = await nextEngine(dataDir);
    next.engine.start();
    expect(await next.engine.notifier.flush(20_000)).toBe(true);
    expect(smtp.mails.map((m) => [m.to, m.subject])).toEqual([[['dba@example.test'], '[Backstop FAILED] Backup task "nightly": 1 database failed (billing).']]);
    expect(next.engine.deliveries.list().map((d) => [d.event, d.status, d.attempts])).toEqual([['run-failed', 'delivered', 2]]);
    expect(owed(next.engine)).toEqual([]);
  }, 60_000);

  it("a killed `backstop backup --config`'s alert is left to the file's next run (the app cannot send it), which sends it first, once", async () => {
    const hook = await httpReceiver();
    const dataDir = tempDir('backstop-data-');
    const work = tempDir();
    const env = { OWED_HOOK_URL: `${hook.url}/hooks/${TOKEN}` };
    const taskFile = writeTaskFile(work, {
      name: 'cron job',
      server: { kind: 'sqlite', folder: sqliteFolder(['shop.db']) },
      destinations: [{ kind: 'local', path: tempDir() }],
      notifications: [{ kind: 'webhook', urlEnv: 'OWED_HOOK_URL', on: ['all'] }],
    });
    // The run's alert is asked to come back in 40 s (the command waits that out): the command is killed meanwhile.
    hook.failNext(1, 503, { 'retry-after': '40' });
    let pid = 0;
    const killed = runBackstop(['backup', '--config', taskFile, '--data-dir', dataDir, '--json'], { env, onSpawn: (p) => (pid = p) });
    await until('the first attempt refused', () => hook.refused === 1, 30_000);
    process.kill(pid, 'SIGKILL');
    expect((await killed).code).toBeNull();
    expect(findSecrets({ 'webhook token': TOKEN }, [dataDir])).toEqual([]);

    // The app starting on the same data dir leaves it (it has not the file's URL, and it is not too old).
    const app = await nextEngine(dataDir);
    app.engine.start();
    expect(await app.engine.notifier.flush(5_000)).toBe(true);
    expect(owed(app.engine)).toEqual([{ event: 'run-succeeded', channel_id: null, attempts: 1 }]);
    await app.engine.close();

    const next = await runBackstop(['backup', '--config', taskFile, '--data-dir', dataDir, '--json'], { env });
    expect(next.code, next.stderr).toBe(0);
    const runs = JSON.parse((await runBackstop(['history', '--data-dir', dataDir, '--json'])).stdout) as { id: string }[];
    const [ran, earlier] = runs;
    const told = () => hook.requests.map((r) => JSON.parse(r.body) as NotificationPayload).map((p) => [p.event, p.runId]);
    expect(told()).toEqual([
      ['run-succeeded', earlier!.id],
      ['run-succeeded', ran!.id],
    ]);
    // Nothing is owed any more: the run after that sends its own alert only.
    expect((await runBackstop(['backup', '--config', taskFile, '--data-dir', dataDir], { env })).code).toBe(0);
    expect(told()).toHaveLength(3);
    expect(told()[2]![1]).not.toBe(earlier!.id);
  }, 120_000);
});
