/**
 * Notification channels of the app: set up once in Settings (URLs in the real keychain,
 * never in settings), "Send test", chosen per task, and any alert the engine raises for a
 * stored task (stale database, or a new kind another part emits) delivered to them.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { NotificationPayload } from '../../../electron/engine/notifications/index.ts';
import type { Alert } from '../../../electron/shared/domain.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { httpReceiver } from '../../fixtures/notify-receivers.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { sqliteFolder, storedSqliteTask } from '../../fixtures/sqlite-files.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const TOKEN = 'app-T0KEN-4f9c2e';

const listFiles = (dir: string): string[] => readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => join(dir, f));

async function setup() {
  const engine = await testEngine({ notifyRetry: { attempts: 3, baseDelayMs: 100, timeoutMs: 3_000 } });
  const hook = await httpReceiver();
  const beat = await httpReceiver();
  const webhook = data(await engine.call('notifications.saveChannel', { channel: { kind: 'webhook', name: 'ops chat', on: ['all'] }, url: `${hook.url}/hooks/${TOKEN}` }));
  const heartbeat = data(await engine.call('notifications.saveChannel', { channel: { kind: 'heartbeat', name: 'healthcheck' }, url: `${beat.url}/ping/${TOKEN}` }));
  return { engine, hook, beat, webhook, heartbeat };
}

describe('a channel that stops getting through', () => {
  it('is said once when it starts failing (a local alert naming it, never its URL), shown failing beside it, and again only after it worked in between', async () => {
    const { engine, hook, webhook, heartbeat } = await setup();
    const alerts: Alert[] = [];
    engine.events.on('alert', (a) => alerts.push(a));
    const failing = () => alerts.filter((a) => a.kind === 'notification-failed');
    const task = await storedSqliteTask(engine, sqliteFolder(['sales.db']), tempDir(), { name: 'watched' });
    expect(data(await engine.call('notifications.deliveries', undefined))).toEqual({});

    await hook.down();
    expect((await runTask(engine, task.id)).status).toBe('success');
    await engine.notifier.flush(20_000);
    expect(failing()).toHaveLength(1);
    expect(failing()[0]).toMatchObject({ taskId: null, databases: [] });
    expect(failing()[0]!.message).toMatch(/^Notifications to "ops chat" \(webhook, http:\/\/127\.0\.0\.1:\d+\) are failing: "run-succeeded" was not delivered after 3 attempts \(.+\)\. Alerts sent there are lost until it works again: check the channel in Settings › Notifications and use Send test\.$/);
    expect(failing()[0]!.message).not.toContain(TOKEN);
    const shown = data(await engine.call('notifications.deliveries', undefined));
    expect(shown[webhook.id]).toMatchObject({ event: 'run-succeeded', status: 'failed', attempts: 3, error: expect.any(String) });
    expect(shown[heartbeat.id]).toMatchObject({ event: 'run-succeeded', status: 'delivered', attempts: 1, error: null });
    expect(JSON.stringify(shown)).not.toContain(TOKEN);

    // Still failing: not said again.
    expect((await runTask(engine, task.id)).status).toBe('success');
    await engine.notifier.flush(20_000);
    expect(failing()).toHaveLength(1);

    // Back, then failing again: said again.
    await hook.up();
    expect((await runTask(engine, task.id)).status).toBe('success');
    await engine.notifier.flush(20_000);
    expect(data(await engine.call('notifications.deliveries', undefined))[webhook.id]).toMatchObject({ status: 'delivered' });
    hook.failNext(10, 500);
    expect((await runTask(engine, task.id)).status).toBe('success');
    await engine.notifier.flush(20_000);
    expect(failing()).toHaveLength(2);
    expect(failing()[1]!.message).toContain('answered HTTP 500');
    await engine.close();
  }, 120_000);
});

describe('Settings notification channels', () => {
  it('keep URLs in the keychain only, send a test, and notify a stored task run and its alerts', async () => {
    const { engine, hook, beat, webhook, heartbeat } = await setup();
    expect(webhook).toMatchObject({ kind: 'webhook', name: 'ops chat', preset: 'json', on: ['all'], id: expect.any(String) });
    const settings = data(await engine.call('settings.get', undefined));
    expect(settings.notificationChannels.map((c) => c.name)).toEqual(['ops chat', 'healthcheck']);
    expect(JSON.stringify(engine.db.prepare('SELECT * FROM settings').all())).not.toContain(TOKEN);

    expect(data(await engine.call('notifications.test', { id: webhook.id }))).toEqual({ delivered: true, attempts: 1, error: null });
    const test = JSON.parse(hook.requests[0]!.body) as NotificationPayload;
    expect(test).toMatchObject({ event: 'test', message: 'Test message from Backstop for "ops chat"' });
    expect(data(await engine.call('notifications.test', { id: heartbeat.id }))).toMatchObject({ delivered: true });
    expect(beat.requests.map((r) => r.path)).toEqual([`/ping/${TOKEN}`]);

    const task = await storedSqliteTask(engine, sqliteFolder(['sales.db']), tempDir());
    const run = await runTask(engine, task.id);
    expect(run.status).toBe('success');
    await engine.notifier.flush(20_000);
    expect(beat.requests.map((r) => r.path)).toEqual([`/ping/${TOKEN}`, `/ping/${TOKEN}`]);
    const events = hook.requests.map((r) => (JSON.parse(r.body) as NotificationPayload).event);
    expect(events).toEqual(['test', 'run-succeeded']);

    // An alert of a stored task that is not running, of a kind the notifier has never heard of.
    engine.events.emit('alert', { kind: 'slot-warning' as never, taskId: task.id, message: 'Replication slot backstop_1 holds 12 GB of WAL.', databases: [] });
    engine.events.emit('alert', { kind: 'stale-database', taskId: task.id, message: 'Backup task "app task": sales.db has had no successful backup for too long.', databases: ['sales.db'] });
    await hook.waitFor(4);
    const alerts = hook.requests.slice(2).map((r) => JSON.parse(r.body) as NotificationPayload);
    expect(alerts.map((a) => [a.event, a.category, a.task, a.status]).sort()).toEqual([
      ['slot-warning', 'warning', 'app task', 'warning'],
      ['stale-database', 'warning', 'app task', 'warning'],
    ]);
    expect(alerts.find((a) => a.event === 'stale-database')!.databases).toEqual([{ name: 'sales.db', status: 'warning' }]);
    // Heartbeats only follow runs.
    expect(beat.requests).toHaveLength(2);
  }, 120_000);

  it('a failed test restore is its own event (test-restore-failed) to the task\'s channels, naming the database; no heartbeat follows it', async () => {
    const { engine, hook, beat } = await setup();
    const backups = tempDir();
    const task = await storedSqliteTask(engine, sqliteFolder(['sales.db']), backups, { name: 'proven task' });
    expect((await runTask(engine, task.id)).status).toBe('success');
    await engine.notifier.flush(20_000);
    const before = hook.requests.length;
    // The point's packs are gone (a destination cleaned by hand): the test restore cannot restore it.
    for (const f of listFiles(backups).filter((p) => p.endsWith('.pack'))) rmSync(f);
    const summary = await engine.testRestores.run(await engine.resolveTask(task.id), 'manual');
    expect(summary.status).toBe('failed');
    await hook.waitFor(before + 1);
    const events = hook.requests.slice(before).map((r) => JSON.parse(r.body) as NotificationPayload);
    expect(events.map((e) => e.event)).toEqual(['test-restore-failed']);
    const failed = events[0]!;
    expect(failed).toMatchObject({ category: 'failure', status: 'failed', task: 'proven task', message: 'Test restore of task "proven task": 1 database not restorable as recorded (sales.db).' });
    expect(failed.databases).toEqual([{ name: 'sales.db', status: 'failed' }]);
    // Heartbeats follow backup runs only.
    expect(beat.requests).toHaveLength(1);
  }, 120_000);

  it('a task that chooses no channel notifies nobody; a test to a receiver that is down answers what happened', async () => {
    const { engine, hook, beat, webhook } = await setup();
    const task = await storedSqliteTask(engine, sqliteFolder(['sales.db']), tempDir(), { name: 'quiet task', notifications: [] });
    expect((await runTask(engine, task.id)).status).toBe('success');
    await engine.notifier.flush(20_000);
    expect(hook.requests).toEqual([]);
    expect(beat.requests).toEqual([]);

    await hook.down();
    expect(data(await engine.call('notifications.test', { id: webhook.id }))).toEqual({ delivered: false, attempts: 3, error: `${hook.url} could not be reached (ECONNREFUSED)` });
  }, 120_000);

  it('refuses a channel without its URL or with a URL that is not http(s), and an unknown channel', async () => {
    const engine = await testEngine();
    expect(await engine.call('notifications.saveChannel', { channel: { kind: 'webhook', name: 'x' } })).toMatchObject({ ok: false, code: 'VALIDATION', message: 'Enter the webhook URL.' });
    expect(await engine.call('notifications.saveChannel', { channel: { kind: 'heartbeat', name: 'x' }, url: 'ftp://example.test/x' })).toMatchObject({ ok: false, code: 'VALIDATION', message: 'The URL must start with http:// or https://.' });
    expect(await engine.call('notifications.test', { id: 'nope' })).toMatchObject({ ok: false, code: 'NOT_FOUND', message: 'There is no notification channel nope; it may have been deleted.' });
    expect(data(await engine.call('settings.get', undefined)).notificationChannels).toEqual([]);
  }, 60_000);
});
