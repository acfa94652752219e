/**
 * `backstop` as cron, systemd and shell scripts run it — the real command in a child process
 * over real SQLite folders: what a script relies on beyond the happy path.
 * - A run whose backups were stored but that History could not record (the data folder's disk
 *   filled up during the run: a small tmpfs mounted by the test, filled by the task's own post
 *   hook) exits 1, not 0, with its stored points listed and restorable; the log on that full
 *   disk drops its lines (said once on stderr) instead of failing the run as INTERNAL.
 * - A task file's run killed with -9 and closed by a later, different command (`history`) is
 *   told to that command's user on stderr (its file's notifications cannot be sent by a command
 *   that does not read the file), while stdout stays one JSON document; `backstop agent` starting
 *   tells its stderr (the service's log).
 * - `restore-server` over a root where one database's backups are damaged: exit 1, `partial`,
 *   the INTEGRITY error names the damaged database folder (what `verify` takes), nothing
 *   half-created on the target.
 * - stdout that cannot take the result — a reader that closed it early (EPIPE) or a file on a
 *   full disk (/dev/full) — is no crash trace after the work was done: exit 0 for a reader
 *   that left, 1 with a stderr line for a lost result; the run is stored and recorded.
 * - The environment cron and systemd give — TZ empty (`TZ=`) or POSIX-style (`:/etc/localtime`,
 *   `UTC0`), HOME empty, LANG=C, a read-only cwd: a task file without `schedule.timezone` backs up
 *   a database with a non-ASCII name (Node has no IANA zone for such a TZ; the run was refused),
 *   and the default data dir stays absolute (an empty HOME made it `.config/Backstop` under the cwd,
 *   and the start-up hung in a cwd under /proc).
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Run } from '../../../electron/shared/domain.ts';
import { startAgent } from '../../fixtures/agent-process.ts';
import { CLI_BIN, REPO_ROOT, runBackstop, writeTaskFile } from '../../fixtures/cli.ts';
import { heldHook, killedBackup } from '../../fixtures/held-hook.ts';
import { sqliteFolder } from '../../fixtures/sqlite-files.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { TmpfsMounts } from '../../fixtures/tmpfs.ts';

/** A tmpfs of `size` on `dir` (we run as root), unmounted when the test ends (before its temp folder is removed: onTestFinished runs in reverse). */
function tryMount(dir: string, size: string): boolean {
  const tmpfs = new TmpfsMounts();
  if (!tmpfs.tryMount(dir, size)) return false;
  onTestFinished(() => tmpfs.unmountAll());
  return true;
}

describe('backstop in a script', () => {
  it('a run History could not record (data folder disk full) exits 1; its stored point is listed and restorable', async (ctx) => {
    const work = tempDir('backstop-cli-script-');
    const dataDir = join(work, 'data');
    mkdirSync(dataDir);
    if (!tryMount(dataDir, '3m')) ctx.skip('mount -t tmpfs is not permitted here');
    const folder = sqliteFolder(['shop.db']);
    const backups = join(work, 'backups');
    // After the database's backup is stored, its post hook fills the data folder's disk.
    const task = writeTaskFile(work, {
      name: 'nightly',
      server: { kind: 'sqlite', folder },
      destinations: [{ kind: 'local', path: backups }],
      hooks: { post: ['/bin/sh', '-c', `dd if=/dev/zero of='${dataDir}/filler' bs=4k 2>/dev/null; exit 0`] },
    });
    const r = await runBackstop(['backup', '--config', task, '--data-dir', dataDir, '--json']);
    const doc = JSON.parse(r.stdout) as { status: string; error?: { code: string; message: string }; databases: { database: string; status: string; point: string | null; location: string }[] };
    expect(doc.error).toEqual({ code: 'DISK_FULL', message: expect.stringMatching(/^History could not record this run: Backstop could not write its app database .+backstop\.db: the disk is full .+ The backups listed in this run were stored at their destinations\.$/) });
    expect(doc.databases).toEqual([expect.objectContaining({ database: 'shop.db', status: 'ok', point: expect.any(String) })]);
    expect(r.code, r.stderr).toBe(1);
    // The log, on the same full disk, drops its lines and says so once; it never fails the run (INTERNAL).
    expect(r.stderr).toBe(`backstop: the log ${join(dataDir, 'logs', 'backstop.log')} cannot be written (ENOSPC: no space left on device, write); log lines are dropped until it can.\n`);
    // The stored point is there and restores, once the disk has room again.
    execFileSync('rm', [join(dataDir, 'filler')]);
    const points = await runBackstop(['points', doc.databases[0]!.location, '--data-dir', dataDir, '--json']);
    expect((JSON.parse(points.stdout) as { id: string }[]).map((p) => p.id)).toEqual([doc.databases[0]!.point]);
    const target = join(work, 'target.json');
    const restored = join(work, 'restored');
    mkdirSync(restored);
    writeFileSync(target, JSON.stringify({ kind: 'sqlite', folder: restored }));
    const back = await runBackstop(['restore', doc.databases[0]!.location, '--point', 'latest', '--server', target, '--database', 'shop.db', '--data-dir', dataDir, '--json']);
    expect(back.code, back.stdout).toBe(0);
    expect(existsSync(join(restored, 'shop.db'))).toBe(true);
  }, 60_000);

  it('a task file\'s run killed with -9, closed by a later `backstop history` (or `backstop agent` starting): that command tells its user on stderr, stdout stays one document', { timeout: 60_000 }, async () => {
    const dataDir = tempDir('backstop-cli-script-data-');
    const work = tempDir('backstop-cli-script-work-');
    const held = heldHook(work, 60);
    const task = writeTaskFile(work, {
      name: 'cron job',
      server: { kind: 'sqlite', folder: sqliteFolder(['shop.db']) },
      schedule: { full: '0 2 * * 0' },
      destinations: [{ kind: 'local', path: join(work, 'backups') }],
      hooks: held.hooks,
    });
    await killedBackup(task, dataDir, held);
    const r = await runBackstop(['history', '--data-dir', dataDir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const [killed] = JSON.parse(r.stdout) as Run[];
    expect(killed).toMatchObject({ taskName: 'cron job', status: 'failed', errorCode: 'WORKER_CRASHED' });
    expect(r.stderr).toBe(
      `backstop: Backup task "cron job" did not finish (run started ${killed!.startedAt}): ${killed!.errorMessage} It was recorded as failed (WORKER_CRASHED); this command does not read its task file, so that file's notifications were not sent.\n`,
    );
    // Told once: the next command has nothing to tell.
    const again = await runBackstop(['history', '--data-dir', dataDir, '--json']);
    expect([again.code, again.stderr]).toEqual([0, '']);
    // Closed by `backstop agent` starting (a service): told to its stderr, the service's log.
    await killedBackup(task, dataDir, held);
    const agent = await startAgent(dataDir);
    const stopped = new Promise((r) => agent.child.once('exit', r));
    agent.child.kill('SIGTERM');
    await stopped;
    const [second] = JSON.parse((await runBackstop(['history', '--data-dir', dataDir, '--json'])).stdout) as Run[];
    expect(second).toMatchObject({ taskName: 'cron job', status: 'failed', errorCode: 'WORKER_CRASHED' });
    expect(agent.stderr()).toContain(`backstop: Backup task "cron job" did not finish (run started ${second!.startedAt}): ${second!.errorMessage} It was recorded as failed (WORKER_CRASHED); this command does not read its task file, so that file's notifications were not sent.\n`);
  });

  it('restore-server over a root with one damaged database folder: exit 1, partial, the INTEGRITY error names that folder, nothing half-created', async () => {
    const work = tempDir('backstop-cli-script-rs-');
    const dataDir = join(work, 'data');
    const root = join(work, 'backups');
    const task = writeTaskFile(work, { name: 'files', server: { kind: 'sqlite', folder: sqliteFolder(['shop.db', 'Sales Q1 ü.db']) }, destinations: [{ kind: 'local', path: root }] });
    const backup = await runBackstop(['backup', '--config', task, '--data-dir', dataDir, '--json']);
    expect(backup.code, backup.stdout).toBe(0);
    // One byte of the damaged database's only pack flipped on the disk (bit rot, a bad copy).
    const damaged = (JSON.parse(backup.stdout) as { databases: { database: string; location: string }[] }).databases.find((d) => d.database === 'Sales Q1 ü.db')!.location;
    const pack = execFileSync('find', [join(damaged, 'packs'), '-type', 'f'], { encoding: 'utf8' }).trim();
    const bytes = readFileSync(pack);
    bytes[bytes.length >> 1]! ^= 0xff;
    writeFileSync(pack, bytes);
    const target = join(work, 'target');
    mkdirSync(target);
    writeFileSync(join(work, 'server.json'), JSON.stringify({ kind: 'sqlite', folder: target }));
    const r = await runBackstop(['restore-server', root, '--server', join(work, 'server.json'), '--prefix', 'r_', '--data-dir', dataDir, '--json']);
    expect(r.code, r.stderr).toBe(1);
    const doc = JSON.parse(r.stdout) as { status: string; databases: { database: string; status: string; error?: { code: string; message: string } }[] };
    expect(doc.status).toBe('partial');
    expect(doc.databases.find((d) => d.database === 'shop.db')).toMatchObject({ status: 'ok' });
    expect(doc.databases.find((d) => d.database === 'Sales Q1 ü.db')).toMatchObject({
      status: 'failed',
      error: { code: 'INTEGRITY', message: expect.stringMatching(/^Restore point \S+ is damaged: pack [0-9a-f]+ holds a bad chunk .*/) },
    });
    expect(doc.databases.find((d) => d.database === 'Sales Q1 ü.db')!.error!.message.endsWith(` The damaged backups are in ${damaged} (check them with \`backstop verify\` on that folder).`)).toBe(true);
    // Nothing half-created: only the good database is on the target.
    expect(readdirSync(target)).toEqual(['r_shop.db']);
    // The folder named is what verify takes.
    const verify = await runBackstop(['verify', damaged, '--data-dir', dataDir, '--json']);
    expect([verify.code, (JSON.parse(verify.stdout) as { ok: boolean }).ok]).toEqual([1, false]);
  }, 60_000);

  it('stdout a reader closes early (`| head -c 10`) or a full disk (`> /dev/full`): no crash trace; the backup is stored and recorded; exit 0 and 1', async () => {
    const work = tempDir('backstop-cli-script-out-');
    const dataDir = join(work, 'data');
    const task = writeTaskFile(work, { name: 'piped', server: { kind: 'sqlite', folder: sqliteFolder(['shop.db']) }, destinations: [{ kind: 'local', path: join(work, 'backups') }] });
    const run = (stdout: 'closed' | number) =>
      new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [CLI_BIN, 'backup', '--config', task, '--data-dir', dataDir, '--json'], { cwd: REPO_ROOT, stdio: ['ignore', stdout === 'closed' ? 'pipe' : stdout, 'pipe'] });
        // The reader is gone before the result is written: the write meets EPIPE.
        if (stdout === 'closed') child.stdout!.destroy();
        let stderr = '';
        child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stderr }));
      });
    const closed = await run('closed');
    expect([closed.code, closed.stderr]).toEqual([0, '']);
    const devFull = openSync('/dev/full', 'w');
    const full = await run(devFull);
    closeSync(devFull);
    expect([full.code, full.stderr]).toEqual([1, "backstop: the result could not be written to stdout (ENOSPC: no space left on device, write); the command's work itself succeeded. Free space on the disk stdout goes to, or send it elsewhere.\n"]);
    // Both runs did their work and are in History.
    const history = JSON.parse((await runBackstop(['history', '--data-dir', dataDir, '--json'])).stdout) as Run[];
    expect(history.map((r) => [r.taskName, r.status])).toEqual([
      ['piped', 'success'],
      ['piped', 'success'],
    ]);
  }, 60_000);

  it('cron/systemd environments: TZ empty or POSIX-style, no HOME, LANG=C with a non-ASCII database name, a read-only cwd — the task file without a timezone still backs up', async () => {
    const work = tempDir('backstop-cli-script-env-');
    const task = writeTaskFile(work, { name: 'cron', server: { kind: 'sqlite', folder: sqliteFolder(['Sales Q1 ü.db']) }, destinations: [{ kind: 'local', path: join(work, 'backups') }] });
    for (const TZ of ['', ':/etc/localtime', 'UTC0']) {
      const r = await runBackstop(['backup', '--config', task, '--data-dir', join(work, 'data'), '--json'], { env: { TZ, HOME: '', LANG: 'C', LC_ALL: 'C' }, cwd: '/proc' });
      expect(r.code, `TZ=${TZ}: ${r.stdout}`).toBe(0);
      expect((JSON.parse(r.stdout) as { databases: { database: string; status: string }[] }).databases.map((d) => [d.database, d.status])).toEqual([['Sales Q1 ü.db', 'ok']]);
    }
    // An empty HOME and a relative XDG_CONFIG_HOME never make the default data dir relative to the cwd.
    const info = await runBackstop(['info', '--json'], { env: { HOME: '', XDG_CONFIG_HOME: 'relative', BACKSTOP_DATA_DIR: '' }, cwd: work });
    expect(info.code, info.stderr).toBe(0);
    expect((JSON.parse(info.stdout) as { dataDir: string }).dataDir).toBe(join(userInfo().homedir, '.config', 'Backstop'));
  }, 60_000);
});
