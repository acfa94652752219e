/**
 * Every `backstop` command end to end on real SQLite folders: backup from a task file,
 * points, verify, restore, extract, prune, demo and agent — with their JSON output, exit
 * codes and the errors a script can hit. Each runs the built command as a child process
 * (bin/backstop.mjs → out/cli), the way a user or a script runs it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { UNCHANGED } from '../../../electron/engine/backup/unchanged-stream.ts';
import { cli, CLI_BIN, runBackstop } from '../../fixtures/cli.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { chownTree, unprivilegedUser, type OsUser } from '../../fixtures/servers/common.ts';

const ROOT = join(import.meta.dirname, '../../..');
const CHINOOK = join(ROOT, '../shared/fixtures/chinook/Chinook_Sqlite.sqlite');

function setup(extra: Record<string, unknown> = {}) {
  const folder = tempDir();
  const backups = tempDir();
  const dataDir = tempDir();
  copyFileSync(CHINOOK, join(folder, 'chinook.sqlite'));
  const task = join(tempDir(), 'task.json');
  writeFileSync(
    task,
    JSON.stringify({
      name: 'files',
      server: { kind: 'sqlite', folder },
      type: 'snapshot',
      schedule: { full: '0 2 * * *' },
      destinations: [{ kind: 'local', path: backups }],
      ...extra,
    }),
  );
  const serverFile = join(tempDir(), 'server.json');
  writeFileSync(serverFile, JSON.stringify({ kind: 'sqlite', folder }));
  return { folder, backups, dataDir, task, serverFile, location: join(backups, encodeDatabaseFolder('chinook.sqlite')) };
}

/**
 * Why the `postgres` OS user cannot run this checkout's CLI, or null when it can (or when the
 * tests do not run as root, so no other user is needed). On a CI machine Node or the checkout
 * may sit under a folder only root may enter (`~/.cache/backstop-node` under /root, a 0700
 * temp folder): then the tests that need another user are skipped, saying so.
 */
async function whyAnotherUserCannotRunCli(): Promise<string | null> {
  const osUser = unprivilegedUser('postgres');
  if (!osUser) return null;
  await cli('info'); // builds out/cli as the checkout's owner first
  const probe = spawnSync(process.execPath, [CLI_BIN, 'info', '--json'], { encoding: 'utf8', cwd: tmpdir(), uid: osUser.uid, gid: osUser.gid });
  if (probe.status === 0) return null;
  return `the postgres OS user cannot run ${process.execPath} ${CLI_BIN} here (${probe.error?.message ?? (probe.stderr || probe.stdout).trim().split('\n')[0]})`;
}

/** Skips the running test (with the reason) when another OS user cannot run the CLI here. */
async function needAnotherUser(ctx: { skip: (note?: string) => never }): Promise<void> {
  const why = await whyAnotherUserCannotRunCli();
  if (why) {
    console.warn(`skipped: ${why}`);
    ctx.skip(why);
  }
}

/**
 * Runs `backup --config` of `s` as an OS user other than root (root reads and writes everything):
 * as root, the `postgres` OS user; otherwise this user. `restrict(osUser)` takes the access away.
 */
async function backupAsAnotherUser(s: ReturnType<typeof setup>, restrict: (osUser: OsUser | null) => void) {
  const osUser = unprivilegedUser('postgres');
  const tmp = tempDir(); // a temp folder the user may write (the system one may not allow it)
  if (osUser) {
    await cli('info'); // builds out/cli as the checkout's owner first
    chmodSync(s.folder, 0o755);
    for (const f of readdirSync(s.folder)) chmodSync(join(s.folder, f), 0o644);
    chmodSync(s.task, 0o644);
    // The task file's own temp folder (0700 from mkdtemp) — never the system temp folder
    // itself, whose mode (1777) every other test relies on.
    const taskFolder = dirname(s.task);
    if (!taskFolder.startsWith(join(tmpdir(), 'backstop-'))) throw new Error(`refusing to chmod ${taskFolder}`);
    chmodSync(taskFolder, 0o755);
    for (const dir of [s.backups, s.dataDir, tmp]) chownTree(dir, osUser);
  }
  restrict(osUser);
  const run = spawnSync(process.execPath, [CLI_BIN, 'backup', '--config', s.task, '--data-dir', s.dataDir, '--json'], {
    encoding: 'utf8',
    cwd: tmpdir(),
    env: { ...process.env, HOME: s.dataDir, TMPDIR: tmp },
    ...(osUser ? { uid: osUser.uid, gid: osUser.gid } : {}),
  });
  return { run, who: osUser ? 'postgres' : userInfo().username };
}

describe('backstop CLI commands', () => {
  it('backup of a folder with a symbolic link and a non-UTF-8 file name: both listed as skipped with the fix, the real file backed up', async () => {
    const s = setup();
    symlinkSync('chinook.sqlite', join(s.folder, 'alias.sqlite'));
    writeFileSync(Buffer.concat([Buffer.from(join(s.folder, 'caf')), Buffer.from([0xe9]), Buffer.from('.db')]), readFileSync(CHINOOK));
    const backup = await cli('backup', '--config', s.task, '--data-dir', s.dataDir, '--json');
    expect(backup.code, backup.err).toBe(0);
    const result = JSON.parse(backup.out);
    expect(result.status).toBe('success');
    expect(result.databases).toEqual([
      expect.objectContaining({ database: 'chinook.sqlite', status: 'ok' }),
      { database: 'alias.sqlite', status: 'skipped', warning: expect.stringMatching(/^"alias\.sqlite" is a symbolic link \(to .*chinook\.sqlite\), so it was not backed up — .*that file is backed up as "chinook\.sqlite"$/) },
      { database: 'caf\uFFFD.db', status: 'skipped', warning: expect.stringMatching(/^the file name "caf\\xe9\.db" .* is not valid UTF-8, so it was not backed up — rename it to a UTF-8 name to back it up$/) },
    ]);
    expect(readdirSync(s.backups).sort()).toEqual([encodeDatabaseFolder('chinook.sqlite')]);
  });

  it('backup by an OS user that may not read one database file: that file is listed as skipped naming the user and the fix, never silently left out', async (ctx) => {
    await needAnotherUser(ctx);
    const s = setup();
    copyFileSync(CHINOOK, join(s.folder, 'private.sqlite'));
    const { run, who } = await backupAsAnotherUser(s, (osUser) => chmodSync(join(s.folder, 'private.sqlite'), osUser ? 0o600 : 0o000));
    expect(run.status, run.stdout + run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.databases).toEqual([
      expect.objectContaining({ database: 'chinook.sqlite', status: 'ok' }),
      {
        database: 'private.sqlite',
        status: 'skipped',
        warning: `Backstop may not read "private.sqlite" (permission denied), so it was not backed up — if it is an SQLite database, let the OS user ${who} read it and its folder's -wal/-shm files (e.g. setfacl -m u:${who}:r, or a group with read access), or exclude it from the task`,
      },
    ]);
    expect(readdirSync(s.backups)).toEqual([encodeDatabaseFolder('chinook.sqlite')]);
  });

  it('a WAL-mode database in a folder the backup user may not write: PERMISSION_DENIED naming the -wal/-shm files, the user and the fix', async (ctx) => {
    await needAnotherUser(ctx);
    const s = setup();
    const wal = new Database(join(s.folder, 'wal.sqlite'));
    wal.exec("PRAGMA journal_mode = WAL; CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('x')");
    wal.close(); // the last connection removes -wal and -shm: a reader must create them
    expect(readdirSync(s.folder).sort()).toEqual(['chinook.sqlite', 'wal.sqlite']);
    for (const type of ['snapshot', 'logical']) {
      writeFileSync(s.task, JSON.stringify({ ...JSON.parse(readFileSync(s.task, 'utf8')), type }));
      const { run, who } = await backupAsAnotherUser(s, () => chmodSync(s.folder, 0o555));
      expect(run.status, run.stdout + run.stderr).toBe(1);
      const result = JSON.parse(run.stdout);
      expect(result.databases[0]).toMatchObject({ database: 'chinook.sqlite', status: 'ok' });
      expect(result.databases[1]).toMatchObject({ database: 'wal.sqlite', status: 'failed', error: { code: 'PERMISSION_DENIED' } });
      expect(result.databases[1].error.message).toMatch(
        new RegExp(
          `^(Snapshotting|Dumping) "wal\\.sqlite": "wal\\.sqlite" is in WAL mode, and reading it needs its "-wal" and "-shm" files, which the OS user ${who} may not create in "${s.folder}" \\(.*attempt to write a readonly database\\)\\. Let that user write to the folder \\(e\\.g\\. setfacl -m u:${who}:rwx on it\\), or run the backup as the user that owns the database\\.$`,
        ),
      );
      expect(readdirSync(s.folder).sort()).toEqual(['chinook.sqlite', 'wal.sqlite']);
    }
  });

  it('backup → points → verify → restore → extract → prune, with JSON output', async () => {
    const s = setup();
    const backup = await cli('backup', '--config', s.task, '--data-dir', s.dataDir, '--json');
    expect(backup.code).toBe(0);
    const result = JSON.parse(backup.out);
    expect(result.databases).toEqual([
      expect.objectContaining({ database: 'chinook.sqlite', status: 'ok', kind: 'full', point: expect.any(String), bytesRead: expect.any(Number), bytesStored: expect.any(Number) }),
    ]);
    // Unchanged: the incremental stores nothing, no point (kindReason says so; "point" is null).
    const same = JSON.parse((await cli('backup', '--config', s.task, '--kind', 'incremental', '--data-dir', s.dataDir, '--json')).out);
    expect(same.databases[0]).toMatchObject({ status: 'ok', kind: 'incremental', kindReason: UNCHANGED, point: null, bytesStored: 0 });
    const changing = new Database(join(s.folder, 'chinook.sqlite'));
    changing.exec("UPDATE Artist SET Name = Name || ' (live)' WHERE ArtistId = 1");
    changing.close();
    const inc = JSON.parse((await cli('backup', '--config', s.task, '--kind', 'incremental', '--data-dir', s.dataDir, '--json')).out);
    expect(inc.databases[0]).toMatchObject({ status: 'ok', kind: 'incremental', kindReason: null, point: expect.any(String) });

    const points = JSON.parse((await cli('points', s.location, '--data-dir', s.dataDir, '--json')).out);
    expect(points.map((p: { kind: string }) => p.kind)).toEqual(['full', 'incremental']);
    expect(points[0]).toEqual({ id: result.databases[0].point, kind: 'full', type: 'snapshot', createdAt: expect.any(String), bytes: expect.any(Number), parentId: null });
    // The incremental names the point it continues (what was written after what, whatever the dates say).
    expect(points[1].parentId).toBe(points[0].id);

    expect(JSON.parse((await cli('verify', s.location, '--data-dir', s.dataDir, '--json')).out)).toMatchObject({ ok: true, pointsChecked: 2 });

    const restore = await cli('restore', s.location, '--point', 'latest', '--server', s.serverFile, '--database', 'copy.sqlite', '--data-dir', s.dataDir, '--json');
    expect(restore.code).toBe(0);
    expect(JSON.parse(restore.out)).toEqual({ database: 'copy.sqlite', path: join(s.folder, 'copy.sqlite'), notes: [] });
    const db = new Database(join(s.folder, 'copy.sqlite'), { readonly: true });
    expect((db.prepare('SELECT count(*) AS n FROM Track').get() as { n: number }).n).toBe(3503);
    db.close();

    // --jobs is a whole number of at least 1, as for restore-server: 0 is a usage error, nothing created.
    const noJobs = await cli('restore', s.location, '--point', 'latest', '--server', s.serverFile, '--database', 'jobs.sqlite', '--jobs', '0', '--data-dir', s.dataDir, '--json');
    expect(noJobs.code).toBe(2);
    expect(JSON.parse(noJobs.out)).toEqual({ error: { code: 'MALFORMED_REQUEST', message: '--jobs must be a whole number of at least 1, not "0". Run "backstop --help".' } });
    expect(existsSync(join(s.folder, 'jobs.sqlite'))).toBe(false);

    // A moment of a backup that has restore points only: OUT_OF_RANGE naming --point, nothing created.
    const moment = await cli('restore', s.location, '--as-of', new Date().toISOString(), '--server', s.serverFile, '--database', 'at.sqlite', '--data-dir', s.dataDir, '--json');
    expect(moment.code).toBe(1);
    expect(JSON.parse(moment.out).error).toMatchObject({ code: 'OUT_OF_RANGE', message: expect.stringMatching(/only be restored to one of its restore points.*--point ID\|latest/) });
    expect(existsSync(join(s.folder, 'at.sqlite'))).toBe(false);

    const out = join(tempDir(), 'chinook-extracted.sqlite');
    const extract = await cli('extract', s.location, '--point', points[0].id, '--out', out, '--data-dir', s.dataDir, '--json');
    expect(extract.code).toBe(0);
    expect(readFileSync(out).subarray(0, 16).toString('latin1')).toBe('SQLite format 3\0');
    expect(readFileSync(out).length).toBe(points[0].bytes);
    const again = await cli('extract', s.location, '--out', out, '--data-dir', s.dataDir, '--json');
    expect(again.code).toBe(1);
    expect(JSON.parse(again.out).error).toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('never overwrites') });

    const prune = await cli('prune', s.location, '--min-age', '7d', '--keep-last', '1', '--dry-run', '--data-dir', s.dataDir, '--json');
    expect(prune.code).toBe(0);
    expect(JSON.parse(prune.out)).toMatchObject({ deleted: [], plan: [{ action: 'keep', reason: 'newest point' }, { action: 'keep', reason: 'younger than 7 days' }] });
    // The three backups (the unchanged one too) and the restore (a refused request, like the moment above, records nothing).
    const history = JSON.parse((await cli('history', '--data-dir', s.dataDir, '--json')).out) as { runKind?: string }[];
    expect(history.map((r) => r.runKind ?? 'backup')).toEqual(['restore', 'backup', 'backup', 'backup']);
    // Each row has the fields docs/CLI.md ("History") gives, a backup's without runKind and restore.
    const documented = ['id', 'taskId', 'taskName', 'trigger', 'requestedKind', 'status', 'startedAt', 'endedAt', 'errorCode', 'errorMessage', 'keyFingerprint', 'databases'];
    expect(Object.keys(history[1]!).sort()).toEqual([...documented].sort());
    expect(Object.keys(history[0]!).sort()).toEqual([...documented, 'runKind', 'restore'].sort());

    // `history --task` takes the task's name as `backstop history` prints it (the task file's
    // "files", "Restores") as well as its id; a name no task or run has is NOT_FOUND, not an empty list.
    const runsOf = async (task: string) => (JSON.parse((await cli('history', '--task', task, '--data-dir', s.dataDir, '--json')).out) as { taskName: string }[]).map((r) => r.taskName);
    expect(await runsOf('files')).toEqual(['files', 'files', 'files']);
    expect(await runsOf('file-files')).toEqual(['files', 'files', 'files']);
    expect(await runsOf('Restores')).toEqual(['Restores']);
    const unknown = await cli('history', '--task', 'no such task', '--data-dir', s.dataDir, '--json');
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.out).error).toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('No task has the id or name "no such task"') });
  });

  it('rejects a task file with unknown keys or no schedule, naming the problem', async () => {
    const s = setup({ colour: 'blue' });
    const r = await cli('backup', '--config', s.task, '--data-dir', s.dataDir, '--json');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out).error).toMatchObject({ code: 'MALFORMED_REQUEST', message: expect.stringContaining('task.json: unknown key "colour"') });
    const t = setup({ schedule: {} });
    const r2 = await cli('backup', '--config', t.task, '--data-dir', t.dataDir, '--json');
    expect(JSON.parse(r2.out).error.message).toContain('needs a full or an incremental schedule');
    const missing = await cli('backup', '--config', '/nonexistent/task.json', '--json');
    expect(JSON.parse(missing.out).error).toEqual({ code: 'MALFORMED_REQUEST', message: 'The task file /nonexistent/task.json does not exist.' });
    const noConfig = await cli('backup', '--json');
    expect(JSON.parse(noConfig.out).error.message).toContain('backup needs --config');
  });

  it('refuses an S3 destination in an archive storage class (GLACIER, deep_archive) before the run: VALIDATION naming the classes that work, nothing recorded', async () => {
    for (const storageClass of ['GLACIER', 'deep_archive']) {
      // The endpoint answers nothing: a run that got that far would fail otherwise, never with this refusal.
      const s = setup({ destinations: [{ kind: 's3', bucket: 'backups', endpoint: 'http://127.0.0.1:9', storageClass, accessKeyIdEnv: 'QA_S3_KEY', secretAccessKeyEnv: 'QA_S3_SECRET' }] });
      const r = await runBackstop(['backup', '--config', s.task, '--data-dir', s.dataDir, '--json'], { env: { ...process.env, QA_S3_KEY: 'k', QA_S3_SECRET: 's' } });
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout).error).toEqual({
        code: 'VALIDATION',
        message: expect.stringMatching(new RegExp(`^destinations\\.0\\.storageClass: ${storageClass} objects cannot be read without a restore request .* Choose STANDARD, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING or GLACIER_IR`)) as string,
      });
      expect(JSON.parse((await cli('history', '--data-dir', s.dataDir, '--json')).out)).toEqual([]);
    }
  });

  it('encrypts with a key from a file, reads with BACKSTOP_KEY, and rejects a wrong key', async () => {
    const key = randomBytes(32).toString('base64');
    const keyFile = join(tempDir(), 'key.txt');
    writeFileSync(keyFile, `BACKSTOP ENCRYPTION KEY\n\nKey (base64, 256 bits):\n${key}\n`);
    const s = setup({ encryption: { mode: 'key', keyFile } });
    expect((await cli('backup', '--config', s.task, '--data-dir', s.dataDir, '--json')).code).toBe(0);
    const noKey = await cli('points', s.location, '--data-dir', s.dataDir, '--json');
    expect(noKey.code).toBe(1);
    expect(JSON.parse(noKey.out).error).toMatchObject({ code: 'KEY_REQUIRED', message: expect.stringContaining('--key-file') });
    process.env.BACKSTOP_KEY = key;
    try {
      expect(JSON.parse((await cli('points', s.location, '--data-dir', s.dataDir, '--json')).out)).toHaveLength(1);
      process.env.BACKSTOP_KEY = randomBytes(32).toString('base64');
      const wrong = await cli('verify', s.location, '--data-dir', s.dataDir, '--json');
      expect(JSON.parse(wrong.out).error).toMatchObject({ code: 'KEY_MISMATCH' });
    } finally {
      delete process.env.BACKSTOP_KEY;
    }
  });

  it('reports a failed database with exit code 1 and its error', async () => {
    const s = setup();
    const broken = Buffer.alloc(8192, 0x5a);
    Buffer.from('SQLite format 3\0', 'latin1').copy(broken);
    writeFileSync(join(s.folder, 'broken.db'), broken);
    const r = await cli('backup', '--config', s.task, '--data-dir', s.dataDir, '--json');
    expect(r.code).toBe(1);
    const byDb = Object.fromEntries(JSON.parse(r.out).databases.map((d: { database: string }) => [d.database, d]));
    expect(byDb['broken.db']).toMatchObject({ status: 'failed', error: { code: expect.any(String), message: expect.stringContaining('broken.db') } });
    expect(byDb['chinook.sqlite']).toMatchObject({ status: 'ok' });
  });

  it('explains a location that is not a backup folder', async () => {
    const s = setup();
    await cli('backup', '--config', s.task, '--data-dir', s.dataDir);
    const r = await cli('points', s.backups, '--data-dir', s.dataDir, '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).error).toMatchObject({ code: 'NOT_A_BACKUP', message: expect.stringContaining('common root') });
  });

  it('runs the demo: backup, incremental, restore and verify', async () => {
    const dataDir = tempDir();
    const r = await cli('demo', '--data-dir', dataDir, '--json');
    expect(r.code).toBe(0);
    const { steps } = JSON.parse(r.out);
    expect(steps.map((s: { step: string }) => s.step)).toEqual(['samples', 'full', 'change', 'incremental', 'restore', 'verify']);
    expect(readdirSync(join(dataDir, 'samples')).filter((f) => f.startsWith('shop-restored-'))).toHaveLength(1);
  });

  it('runs the agent until SIGTERM', async () => {
    const dataDir = tempDir();
    const child = spawn(process.execPath, [CLI_BIN, 'agent', '--data-dir', dataDir, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`agent did not start: ${out}`)), 30_000);
      child.stdout.on('data', () => {
        if (out.includes('"started"')) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    expect(out.trim().split('\n').map((l) => JSON.parse(l))).toEqual([{ agent: 'started', dataDir, tasks: 0 }, { agent: 'stopping' }]);
  });
});
