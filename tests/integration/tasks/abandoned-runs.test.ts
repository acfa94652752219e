/**
 * A scheduled run whose process is killed (a real `backstop agent`, SIGKILL mid-run, over a real
 * SQLite folder, a real webhook receiver as the task's notification channel):
 * - the next Backstop start (here a one-shot `backstop history`, a real CLI process) closes it
 *   as failed (WORKER_CRASHED) and sends one run-failed alert to the task's channel, naming the
 *   run and what happens next, before that short-lived process exits;
 * - the killed run was the scheduled full: the next scheduler start (the app's engine) runs one
 *   catch-up full at once instead of leaving the week without one;
 * - a later start sends nothing more and runs nothing more;
 * - a task file's run (`backstop backup --config`, killed): the next `backstop backup` of that
 *   file closes it and tells the file's own channel once, then runs as usual.
 */
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../../electron/engine/index.ts';
import type { NotificationPayload } from '../../../electron/engine/notifications/index.ts';
import { ScheduleStateTable } from '../../../electron/engine/store/index.ts';
import type { Run } from '../../../electron/shared/domain.ts';
import { startAgent } from '../../fixtures/agent-process.ts';
import { runBackstop, writeTaskFile } from '../../fixtures/cli.ts';
import { httpReceiver } from '../../fixtures/notify-receivers.ts';
import { data, waitForRun } from '../../fixtures/runs.ts';
import { sqliteFolder, storedSqliteTask } from '../../fixtures/sqlite-files.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { heldHook, killedBackup } from '../../fixtures/held-hook.ts';
import { until } from '../../fixtures/until.ts';


describe('a scheduled run killed mid-run', () => {
  it('is closed at the next start with one alert saying what happens next, and a killed scheduled full is caught up once', { timeout: 180_000 }, async () => {
    const dataDir = tempDir('backstop-abandoned-data-');
    const backups = tempDir('backstop-abandoned-backups-');
    const work = tempDir('backstop-abandoned-work-');
    const held = heldHook(work);
    const hook = await httpReceiver();
    // A full every minute (5-field cron): the agent's own timer starts the run at the next minute, trigger "schedule".
    const setup = await createEngine({ dataDir });
    let taskId: string;
    try {
      data(await setup.call('notifications.saveChannel', { channel: { kind: 'webhook', name: 'ops chat', on: ['all'] }, url: `${hook.url}/hooks/abandoned` }));
      const task = await storedSqliteTask(setup, sqliteFolder(['shop.db']), backups, {
        name: 'weekly',
        schedule: { full: '* * * * *', incremental: null, timezone: 'UTC' },
        hooks: held.hooks,
      });
      taskId = task.id;
      // Slots up to now count as handled, so the agent's start catches nothing up: its run is the timer's.
      new ScheduleStateTable(setup.db).setLastSlot(taskId, new Date());
    } finally {
      await setup.close();
    }

    const { child } = await startAgent(dataDir);
    const exited = new Promise((r) => child.once('exit', r));
    try {
      await until('the scheduled full to start in the agent', held.started, 90_000);
      child.kill('SIGKILL');
      await exited;
    } finally {
      held.release(); // lets the orphaned hook shell end
    }

    // The next start — a one-shot CLI command — closes it, and its alert reaches the channel before that process exits.
    const listed = await runBackstop(['history', '--data-dir', dataDir, '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const [killed] = JSON.parse(listed.stdout) as Run[];
    expect(killed).toMatchObject({ status: 'failed', errorCode: 'WORKER_CRASHED', trigger: 'schedule', requestedKind: 'full' });
    expect(killed!.errorMessage).toMatch(/stopped before it finished \(killed, crashed, or the machine lost power or was shut down\).* Its full is caught up once: the scheduler runs one full \(trigger catch-up\) when it next starts/);
    expect(hook.requests).toHaveLength(1);
    const alert = JSON.parse(hook.requests[0]!.body) as NotificationPayload;
    expect(alert).toMatchObject({ event: 'run-failed', category: 'failure', status: 'failed', task: 'weekly', taskId, runId: killed!.id });
    expect(alert.message).toBe(`Backup task "weekly" did not finish (run started ${killed!.startedAt}): ${killed!.errorMessage}`);

    // The app starts scheduling: one catch-up full, at once (not at the next full slot).
    const app = await createEngine({ dataDir });
    try {
      expect(app.start('app')).toEqual({ scheduling: true });
      const catchUp = await until('the catch-up full', async () => data(await app.call('history.list', { limit: 10 })).find((r) => r.trigger === 'catch-up'), 30_000);
      const done = await waitForRun(app, catchUp.id);
      expect(done).toMatchObject({ status: 'success', requestedKind: 'full' });
      expect(done.databases.map((d) => [d.database, d.kind, d.status])).toEqual([['shop.db', 'full', 'success']]);
      await app.notifier.flush(20_000);
    } finally {
      await app.close();
    }
    const events = hook.requests.map((r) => (JSON.parse(r.body) as NotificationPayload).event);
    expect(events).toEqual(['run-failed', 'run-succeeded']);

    // A later start finds nothing more to close or announce.
    const later = await runBackstop(['history', '--data-dir', dataDir, '--json']);
    expect((JSON.parse(later.stdout) as Run[]).map((r) => [r.trigger, r.status])).toEqual([
      ['catch-up', 'success'],
      ['schedule', 'failed'],
    ]);
    expect(hook.requests).toHaveLength(2);
  });

  it('a task file\'s killed run is told to the file\'s channel by its next `backstop backup`, once', { timeout: 120_000 }, async () => {
    const dataDir = tempDir('backstop-abandoned-file-data-');
    const work = tempDir('backstop-abandoned-file-work-');
    const held = heldHook(work);
    const hook = await httpReceiver();
    const env = { QA_HOOK_URL: `${hook.url}/hooks/file` };
    const taskFile = writeTaskFile(work, {
      name: 'cron job',
      server: { kind: 'sqlite', folder: sqliteFolder(['shop.db']) },
      schedule: { full: '0 2 * * 0' },
      destinations: [{ kind: 'local', path: tempDir('backstop-abandoned-file-backups-') }],
      hooks: held.hooks,
      notifications: [{ kind: 'webhook', urlEnv: 'QA_HOOK_URL', on: ['failure'] }],
    });
    await killedBackup(taskFile, dataDir, held, env);
    expect(hook.requests).toHaveLength(0);
    const next = await runBackstop(['backup', '--config', taskFile, '--data-dir', dataDir, '--json'], { env });
    expect(next.code, next.stderr).toBe(0);
    const [ran, killed] = JSON.parse((await runBackstop(['history', '--data-dir', dataDir, '--json'])).stdout) as Run[];
    expect([ran!.status, killed!.status, killed!.errorCode]).toEqual(['success', 'failed', 'WORKER_CRASHED']);
    expect(hook.requests).toHaveLength(1);
    const told = JSON.parse(hook.requests[0]!.body) as NotificationPayload;
    expect(told).toMatchObject({ event: 'run-failed', task: 'cron job', runId: killed!.id, status: 'failed' });
    expect(told.message).toBe(`Backup task "cron job" did not finish (run started ${killed!.startedAt}): ${killed!.errorMessage}`);
    // The run after that tells nothing more.
    expect((await runBackstop(['backup', '--config', taskFile, '--data-dir', dataDir, '--json'], { env })).code).toBe(0);
    expect(hook.requests).toHaveLength(1);
  });
});
