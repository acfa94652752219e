/**
 * Ctrl-C (SIGINT) or SIGTERM while `backstop backup` or `backstop restore` works, against a
 * real PostgreSQL 15 and the real command in a child process: the work is cancelled as the
 * window's Cancel cancels it — the backup commits nothing (the earlier point stays, verifies,
 * no in-flight marker is left) and is recorded as canceled; the restore drops the database it
 * was creating — the command still prints exactly one JSON document, and exits 130 (SIGINT)
 * or 143 (SIGTERM). `restore-server` stops its running restores (each drops what it was
 * creating) and `test-restore` removes its scratch database; both are canceled in History
 * (a canceled test restore is no test-restore failure). A second signal quits at once and
 * says what may be left behind.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { CLI_BIN, REPO_ROOT, runBackstop, type CliRun } from '../../fixtures/cli.ts';
import { PG_BIN, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';

let pg: PgServer;
let dir: string;
let task: string;
let target: string;
let location: string;
const env = () => ({ BACKSTOP_TEST_PG_PASSWORD: pg.password });
const exists = (db: string) => pg.psql(`SELECT count(*) FROM pg_database WHERE datname = '${db}'`).trim() === '1';

beforeAll(async () => {
  pg = await startPostgres();
  // Big enough that its dump and its restore each take a while (about a second or more).
  pg.psql('CREATE DATABASE big');
  pg.psql("CREATE TABLE orders (id int PRIMARY KEY, note text NOT NULL); INSERT INTO orders SELECT i, md5(i::text) || md5((i * 7)::text) FROM generate_series(1, 500000) i;", 'big');
  dir = mkdtempSync(join(tmpdir(), 'backstop-cli-sig-'));
  const server = { kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, passwordEnv: 'BACKSTOP_TEST_PG_PASSWORD', tls: 'disable' };
  task = join(dir, 'task.json');
  writeFileSync(task, JSON.stringify({ name: 'sig', server, type: 'logical', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: join(dir, 'backups') }], excludeDatabases: ['postgres'], tools: { binDir: PG_BIN } }));
  target = join(dir, 'target.json');
  writeFileSync(target, JSON.stringify(server));
  const first = await runBackstop(['backup', '--config', task, '--json', '--data-dir', join(dir, 'data')], { env: env() });
  expect(JSON.parse(first.stdout).status, first.stderr).toBe('success');
  location = join(dir, 'backups', encodeDatabaseFolder('big'));
}, 120_000);

afterAll(async () => {
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs the command; once `ready()` holds (polled), sends it the first of `signals`, and each
 * next one as soon as the command has said (on stderr) that it is cancelling — not after a
 * fixed delay, which a quick cancel can outrun.
 */
function interrupted(argv: string[], ready: () => boolean, signals: NodeJS.Signals[]): Promise<CliRun & { sent: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_BIN, ...argv, '--data-dir', join(dir, 'data')], { cwd: REPO_ROOT, env: { ...process.env, ...env() }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const poll = setInterval(() => {
      if (sent || child.exitCode !== null || !ready()) return;
      sent = true;
      clearInterval(poll);
      child.kill(signals[0]!);
    }, 20);
    let more = signals.slice(1);
    child.stderr.on('data', () => {
      if (!more.length || !stderr.includes(': cancelling')) return;
      for (const s of more) child.kill(s);
      more = [];
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(poll);
      resolve({ code, stdout, stderr, sent });
    });
  });
}

const points = async () => JSON.parse((await runBackstop(['points', location, '--json', '--data-dir', join(dir, 'data')])).stdout) as { id: string }[];
const inflight = () => (existsSync(join(location, 'inflight')) ? readdirSync(join(location, 'inflight')) : []);

describe('an interrupted command', () => {
  it('Ctrl-C during a backup: canceled, nothing committed, the earlier point intact, one JSON document, exit 130', async () => {
    const before = await points();
    expect(before).toHaveLength(1);
    // Interrupted while the point is being written (its in-flight marker is there).
    const r = await interrupted(['backup', '--config', task, '--kind', 'full', '--json'], () => inflight().length > 0, ['SIGINT']);
    expect(r.sent).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain('backstop: SIGINT: cancelling');
    const doc = JSON.parse(r.stdout) as { status: string; databases: { database: string; status: string; point: string | null; error?: { code: string } }[] };
    expect(doc.status).toBe('canceled');
    expect(doc.databases.find((d) => d.database === 'big')).toMatchObject({ status: 'failed', point: null, error: { code: 'CANCELED' } });
    expect((await points()).map((p) => p.id)).toEqual(before.map((p) => p.id));
    expect(inflight()).toEqual([]);
    const verify = await runBackstop(['verify', location, '--json', '--data-dir', join(dir, 'data')]);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, pointsChecked: 1 });
    const history = JSON.parse((await runBackstop(['history', '--json', '--limit', '1', '--data-dir', join(dir, 'data')])).stdout) as { status: string }[];
    expect(history[0]!.status).toBe('canceled');
  }, 120_000);

  it('SIGTERM during a restore: the half-restored database is dropped, CANCELED in one JSON document, exit 143', async () => {
    const r = await interrupted(['restore', location, '--point', 'latest', '--server', target, '--database', 'big_copy', '--json'], () => exists('big_copy'), ['SIGTERM']);
    expect(r.sent).toBe(true);
    expect(r.code, r.stderr).toBe(143);
    expect(JSON.parse(r.stdout)).toEqual({ error: { code: 'CANCELED', message: 'The restore was canceled (SIGTERM); what it had created on the target was removed.' } });
    expect(exists('big_copy')).toBe(false);
    // The same restore, not interrupted, still works.
    const again = await runBackstop(['restore', location, '--point', 'latest', '--server', target, '--database', 'big_copy', '--json', '--data-dir', join(dir, 'data')], { env: env() });
    expect(again.code, again.stderr).toBe(0);
    expect(pg.psql('SELECT count(*) FROM orders', 'big_copy').trim()).toBe('500000');
    pg.psql('DROP DATABASE big_copy');
  }, 120_000);

  it('SIGTERM (systemd stop) during restore-server: stopped at once, the half-restored database dropped, CANCELED in its row, History says canceled, exit 143', async () => {
    const r = await interrupted(['restore-server', join(dir, 'backups'), '--server', target, '--prefix', 'rs_', '--json'], () => exists('rs_big'), ['SIGTERM']);
    expect(r.sent).toBe(true);
    expect(r.code, r.stderr).toBe(143);
    const doc = JSON.parse(r.stdout) as { status: string; databases: { database: string; status: string; error?: { code: string; message: string } }[] };
    expect(doc.status).toBe('failed');
    expect(doc.databases).toEqual([expect.objectContaining({ database: 'big', status: 'failed', error: { code: 'CANCELED', message: '"big" was not restored: the restore was canceled while it ran; what it had created ("rs_big") was removed. Run the same restore again to complete it.' } })]);
    expect(exists('rs_big')).toBe(false);
    const [run] = JSON.parse((await runBackstop(['history', '--json', '--limit', '1', '--kind', 'restore', '--data-dir', join(dir, 'data')])).stdout) as { status: string }[];
    expect(run!.status).toBe('canceled');
  }, 120_000);

  it('SIGTERM during test-restore: the scratch database removed, one JSON document, History says canceled, exit 143', async () => {
    const scratch = () => pg.psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'backstop\\_test\\_%'").trim() !== '0';
    const r = await interrupted(['test-restore', '--config', task, '--json'], scratch, ['SIGTERM']);
    expect(r.sent).toBe(true);
    expect(r.code, r.stderr).toBe(143);
    const doc = JSON.parse(r.stdout) as { status: string; databases: { database: string; status: string; checks: { name: string; ok: boolean; detail: string }[] }[] };
    expect(doc.status).toBe('canceled');
    expect(doc.databases).toEqual([
      expect.objectContaining({ database: 'big', status: 'failed', checks: [{ name: 'restore', ok: false, detail: 'CANCELED: the test restore was canceled before this restore finished; it says nothing about the backup' }] }),
    ]);
    expect(scratch()).toBe(false);
    const [run] = JSON.parse((await runBackstop(['history', '--json', '--limit', '1', '--kind', 'test-restore', '--data-dir', join(dir, 'data')])).stdout) as { status: string }[];
    expect(run!.status).toBe('canceled');
  }, 120_000);

  it('a second Ctrl-C quits at once and says what may be left behind', async () => {
    const r = await interrupted(['restore', location, '--point', 'latest', '--server', target, '--database', 'big_quit', '--json'], () => exists('big_quit'), ['SIGINT', 'SIGINT']);
    expect(r.sent).toBe(true);
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('backstop: SIGINT again: quitting at once. A restore may have left a partial database or folder behind (drop it)');
    // Quit before its result: nothing on stdout.
    expect(r.stdout).toBe('');
    pg.psql('DROP DATABASE IF EXISTS big_quit WITH (FORCE)');
  }, 120_000);
});
