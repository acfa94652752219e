/**
 * One scheduler per data dir (issue #25): `backstop agent` (a real child process) holds
 * `<dataDir>/scheduler.lock`; a second agent refuses with CONFLICT naming it; the app-side
 * engine on the same data dir does not schedule and `scheduler.owner` names the agent;
 * after `kill -9` of the agent the lock is stale and the next starter takes over.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../../electron/engine/index.ts';
import { startAgent } from '../../fixtures/agent-process.ts';
import { CLI_BIN, oneJsonDocument, runBackstop } from '../../fixtures/cli.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

describe('one scheduler per data dir', () => {
  it('the agent holds the lock; a second agent and the app do not schedule; after kill -9 the next starter takes over', { timeout: 300_000 }, async () => {
    const dataDir = tempDir();
    const dir = tempDir();
    mkdirSync(join(dir, 'files'));
    writeFileSync(join(dir, 'task.json'), JSON.stringify({ name: 'files', server: { kind: 'sqlite', name: 'files', folder: 'files' }, type: 'snapshot', schedule: { full: '0 3 * * *' }, destinations: [{ kind: 'local', path: 'out' }] }));
    const added = await runBackstop(['tasks', 'add', '--config', join(dir, 'task.json'), '--data-dir', dataDir, '--json']);
    expect(added.code, added.stdout).toBe(0);
    const taskId = (oneJsonDocument(added.stdout) as { id: string }).id;

    const { child, started } = await startAgent(dataDir);
    expect(started).toEqual({ agent: 'started', dataDir, tasks: 1 });
    const lock = JSON.parse(readFileSync(join(dataDir, 'scheduler.lock'), 'utf8')) as { pid: number; who: string };
    expect(lock).toMatchObject({ pid: child.pid, who: 'agent' });

    // A second agent refuses, naming the first.
    const second = await runBackstop(['agent', '--data-dir', dataDir, '--json']);
    expect(second.code).toBe(1);
    const refused = oneJsonDocument(second.stdout) as { error: { code: string; message: string } };
    expect(refused.error.code).toBe('CONFLICT');
    expect(refused.error.message).toMatch(new RegExp(`^Another "backstop agent" \\(pid ${child.pid} on .+, since .+\\) already schedules the tasks of ${dataDir}; only one process may\\. Stop that agent \\(kill ${child.pid}, or "backstop agent uninstall" if it runs as a service\\), then start this one again\\.$`));

    // The app's engine on the same data dir: not scheduling, and it says who is.
    const app = await createEngine({ dataDir });
    try {
      const r = app.start('app');
      expect(r).toMatchObject({ scheduling: false, heldBy: { who: 'agent', pid: child.pid } });
      expect(app.scheduler.armedTaskIds()).toEqual([]);
      expect(await app.command('scheduler.owner')).toMatchObject({ owner: { who: 'agent', pid: child.pid }, self: false });

      // kill -9: no clean-up runs, the lock file stays, but it is stale.
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      expect(existsSync(join(dataDir, 'scheduler.lock'))).toBe(true);
      expect(await app.command('scheduler.owner')).toEqual({ owner: null, self: false });
    } finally {
      await app.close();
    }

    // The next starter takes over and schedules; an agent started now refuses, naming the app.
    const next = await createEngine({ dataDir });
    try {
      expect(next.start('app')).toEqual({ scheduling: true });
      expect(next.scheduler.armedTaskIds()).toEqual([taskId]);
      expect(await next.command('scheduler.owner')).toMatchObject({ owner: { who: 'app', pid: process.pid }, self: true });
      const agent = await runBackstop(['agent', '--data-dir', dataDir, '--json']);
      expect(agent.code).toBe(1);
      expect((oneJsonDocument(agent.stdout) as { error: { message: string } }).error.message).toMatch(/^The Backstop app \(pid \d+ on .+\) already schedules the tasks of .+ Quit the app \(its tray menu → Quit\), then start this one again\.$/);
    } finally {
      await next.close();
    }
    // A clean close releases the lock: the agent starts.
    expect(existsSync(join(dataDir, 'scheduler.lock'))).toBe(false);
    const { child: again } = await startAgent(dataDir);
    const stopped = new Promise<number | null>((r) => again.once('exit', r));
    again.kill('SIGTERM');
    expect(await stopped).toBe(0);
    expect(existsSync(join(dataDir, 'scheduler.lock'))).toBe(false);
  });
});

describe('backstop agent install|status|uninstall', () => {
  it('dry-run prints the unit and writes nothing; install writes it (and says why it did not start here); status names the running agent and the next runs; uninstall removes it', { timeout: 300_000 }, async () => {
    const home = tempDir();
    const dataDir = tempDir();
    const env = { HOME: home, XDG_CONFIG_HOME: '' };
    const unit = join(home, '.config/systemd/user/backstop-agent.service');

    const dry = await runBackstop(['agent', 'install', '--user', '--dry-run', '--data-dir', dataDir, '--json'], { env });
    expect(dry.code, dry.stderr).toBe(0);
    const plan = oneJsonDocument(dry.stdout) as { dryRun: boolean; path: string; definition: string; commands: string[] };
    expect(plan).toMatchObject({ dryRun: true, platform: 'linux', scope: 'user', path: unit, commands: ['systemctl --user daemon-reload', 'systemctl --user enable --now backstop-agent.service'] });
    expect(plan.definition).toContain(`ExecStart=${process.execPath} ${CLI_BIN} agent --data-dir ${dataDir}`);
    expect(existsSync(unit)).toBe(false);
    const human = await runBackstop(['agent', 'install', '--dry-run', '--data-dir', dataDir], { env });
    expect(human.stdout).toContain(`Would write ${unit}:`);
    expect(human.stdout).toContain('[Service]');

    // This container has no systemd user manager: the unit is written, the start is reported as failed with what to run.
    const inst = await runBackstop(['agent', 'install', '--data-dir', dataDir, '--json'], { env });
    const installed = oneJsonDocument(inst.stdout) as { started: boolean; notes: string[]; commands: { command: string; ok: boolean; output: string }[] };
    expect(readFileSync(unit, 'utf8')).toBe(plan.definition);
    if (installed.started) {
      expect(inst.code).toBe(0);
    } else {
      expect(inst.code).toBe(1);
      expect(installed.notes.at(-1)).toMatch(/^The definition is written, but "systemctl --user daemon-reload" failed: .+\. Start it by hand: systemctl --user daemon-reload && systemctl --user enable --now backstop-agent\.service\.$/);
    }

    mkdirSync(join(dataDir, 'files'));
    writeFileSync(join(dataDir, 'task.json'), JSON.stringify({ name: 'files', server: { kind: 'sqlite', name: 'files', folder: 'files' }, type: 'snapshot', schedule: { full: '30 3 * * *', timezone: 'UTC' }, destinations: [{ kind: 'local', path: 'out' }] }));
    expect((await runBackstop(['tasks', 'add', '--config', join(dataDir, 'task.json'), '--data-dir', dataDir])).code).toBe(0);
    const idle = oneJsonDocument((await runBackstop(['agent', 'status', '--data-dir', dataDir, '--json'], { env })).stdout);
    expect(idle).toMatchObject({ running: false, scheduler: null, services: [{ scope: 'user', path: unit, installed: true }, { scope: 'system', installed: expect.any(Boolean) }] });

    const { child } = await startAgent(dataDir);
    const st = await runBackstop(['agent', 'status', '--data-dir', dataDir, '--json'], { env });
    const status = oneJsonDocument(st.stdout) as { tasks: { nextRun: { at: string } }[] };
    expect(status).toMatchObject({ running: true, scheduler: { who: 'agent', pid: child.pid }, tasks: [{ name: 'files', enabled: true, nextRun: { kind: 'full' } }] });
    expect(status.tasks[0]!.nextRun.at).toMatch(/T03:30:00(\.000)?Z$/);
    const text = await runBackstop(['agent', 'status', '--data-dir', dataDir], { env });
    expect(text.stdout).toContain(`backstop agent runs (pid ${child.pid}, since `);
    child.kill('SIGTERM');

    const un = await runBackstop(['agent', 'uninstall', '--data-dir', dataDir, '--json'], { env });
    expect(oneJsonDocument(un.stdout)).toMatchObject({ path: unit, removed: true });
    expect(existsSync(unit)).toBe(false);
    const both = await runBackstop(['agent', 'install', '--user', '--system', '--json'], { env });
    expect(both.code).toBe(2);
    expect(oneJsonDocument(both.stdout)).toEqual({ error: { code: 'MALFORMED_REQUEST', message: 'agent install takes --user or --system, not both. Run "backstop --help".' } });
  });
});
