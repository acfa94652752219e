/**
 * One scheduler per data dir (issue #25): `backstop agent` (a real child process) holds
 * `<dataDir>/scheduler.lock`; a second agent refuses with CONFLICT naming it; the app-side
 * engine on the same data dir does not schedule and `scheduler.owner` names the agent;
 * after `kill -9` of the agent the lock is stale and the next starter takes over.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createEngine } from '../../../electron/engine/index.ts';
import { CLI_BIN, oneJsonDocument, REPO_ROOT, runBackstop } from '../../fixtures/cli.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

/** Starts `backstop agent --json` and resolves once it printed that it started. */
function startAgent(dataDir: string): Promise<{ child: ChildProcess; started: unknown }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_BIN, 'agent', '--data-dir', dataDir, '--json'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0]!;
      if (out.includes('\n')) resolve({ child, started: JSON.parse(line) });
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => reject(new Error(`agent exited ${code} before starting: ${out}${err}`)));
  });
}

describe('one scheduler per data dir', () => {
  it('the agent holds the lock; a second agent and the app do not schedule; after kill -9 the next starter takes over', async () => {
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
