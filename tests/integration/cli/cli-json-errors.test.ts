/**
 * `--json` prints exactly one JSON document with `error.code` and `error.message` on the error
 * paths a script meets before any server is involved, through the real `backstop` command:
 * no command, a task file that is a folder, has a syntax error (named by line and column) or
 * starts with a UTF-8 byte-order mark (Windows PowerShell's `Out-File -Encoding utf8`), an app
 * database a newer Backstop wrote, whose upgrade fails or whose later write fails (a file-size
 * limit), an unknown subcommand, a locked OS keychain, and an
 * unreachable destination — each with the documented exit code and no secret anywhere.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../../electron/engine/store/migrations.ts';
import { CLI_BIN, oneJsonDocument, REPO_ROOT, runBackstop, writeTaskFile } from '../../fixtures/cli.ts';
import { sqliteFolder } from '../../fixtures/sqlite-files.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

type ErrorDoc = { error: { code: string; message: string } };

/** The run's stdout as its one JSON error document (fails the test on anything else). */
function errorDoc(stdout: string): ErrorDoc['error'] {
  const doc = oneJsonDocument(stdout) as ErrorDoc;
  expect(Object.keys(doc)).toEqual(['error']);
  expect(doc.error).toEqual({ code: expect.any(String), message: expect.any(String) });
  return doc.error;
}

/** An app database as an older Backstop left it: WAL journal, the first `schema` migrations applied and recorded. Open: the caller adds rows and closes it. */
function appDatabaseAt(path: string, schema: number): Database.Database {
  const raw = new Database(path);
  raw.exec('PRAGMA journal_mode = WAL');
  for (const step of MIGRATIONS.slice(0, schema)) raw.exec(step);
  raw.exec(`PRAGMA user_version = ${schema}`);
  return raw;
}

describe('backstop --json on usage and task-file errors', () => {
  it('no command: one document (not the help text), exit 2', async () => {
    const r = await runBackstop(['--json']);
    expect(r.code).toBe(2);
    expect(errorDoc(r.stdout)).toEqual({ code: 'MALFORMED_REQUEST', message: 'No command given. Run "backstop --help".' });
    // Without --json the help is still printed, as before.
    const text = await runBackstop([]);
    expect(text.code).toBe(2);
    expect(text.stdout).toContain('Usage: backstop <command> [options]');
  });

  it('an unknown subcommand is named with the valid ones (keys, servers, tasks, agent), exit 2, nothing opened', async () => {
    const dataDir = join(tempDir(), 'data');
    const cases: [string[], string][] = [
      [['keys', 'frob'], 'Unknown subcommand "keys frob": keys takes generate, list, export or import.'],
      [['servers', 'frob'], 'Unknown subcommand "servers frob": servers takes add, update, remove or export (or nothing, to list the servers).'],
      [['tasks', 'frob'], 'Unknown subcommand "tasks frob": tasks takes add, update, remove or export (or nothing, to list the tasks).'],
      [['agent', 'frob'], 'Unknown subcommand "agent frob": agent takes install, uninstall or status (or nothing, to run the scheduler here).'],
      [['keys'], 'keys needs a subcommand: generate, list, export or import.'],
    ];
    for (const [args, message] of cases) {
      const r = await runBackstop([...args, '--data-dir', dataDir, '--json']);
      expect(r.code, args.join(' ')).toBe(2);
      expect(errorDoc(r.stdout)).toEqual({ code: 'MALFORMED_REQUEST', message: `${message} Run "backstop --help".` });
    }
    expect(existsSync(dataDir)).toBe(false);
  });

  it('a task file with a syntax error names the line and column', async () => {
    const dir = tempDir();
    const path = join(dir, 'task.json');
    writeFileSync(path, '{\n  "name": "nightly",\n  "server": }\n');
    const r = await runBackstop(['backup', '--config', path, '--json']);
    expect(r.code).toBe(2);
    const e = errorDoc(r.stdout);
    expect(e.code).toBe('MALFORMED_REQUEST');
    expect(e.message).toMatch(new RegExp(`^The task file ${path} is not valid JSON at line 3, column 13: `));
    // A file cut short: the position is its end.
    writeFileSync(path, '{\n  "name": "nightly",\n');
    const cut = errorDoc((await runBackstop(['tasks', 'add', '--config', path, '--json'])).stdout);
    expect(cut.message).toMatch(new RegExp(`^The task file ${path} is not valid JSON at line 3, column 1 \\(the end of the file\\): `));
    // A missing comma between two keys.
    writeFileSync(path, '{"name": "nightly"\n "type": "snapshot"}');
    const comma = errorDoc((await runBackstop(['test-restore', '--config', path, '--json'])).stdout);
    expect(comma.message).toMatch(/is not valid JSON at line 2, column 2: /);
  });

  it('a task file that is a folder is said to be unreadable, not invalid JSON', async () => {
    const dir = join(tempDir(), 'task.json');
    mkdirSync(dir);
    const r = await runBackstop(['backup', '--config', dir, '--json']);
    expect(r.code).toBe(2);
    expect(errorDoc(r.stdout)).toEqual({ code: 'MALFORMED_REQUEST', message: `The task file ${dir} cannot be read (it is a folder). Give the path of the JSON file itself.` });
  });

  it('a task file saved with a UTF-8 byte-order mark is read like any other', async () => {
    const folder = sqliteFolder(['shop.db']);
    const path = writeTaskFile(tempDir(), { name: 'bom', server: { kind: 'sqlite', folder }, destinations: [{ kind: 'local', path: join(tempDir(), 'backups') }] });
    writeFileSync(path, `\uFEFF${readFileSync(path, 'utf8')}`);
    const r = await runBackstop(['backup', '--config', path, '--data-dir', tempDir(), '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(oneJsonDocument(r.stdout)).toMatchObject({ status: 'success', databases: [expect.objectContaining({ database: 'shop.db', status: 'ok' })] });
  }, 60_000);
});

describe('backstop --json and the app database', () => {
  it('written by a newer Backstop (an older build installed): FORMAT_TOO_NEW naming both versions, exit 1, the file untouched', async () => {
    const dataDir = tempDir();
    const path = join(dataDir, 'backstop.db');
    const raw = new Database(path);
    raw.exec(`CREATE TABLE future (x INTEGER); PRAGMA user_version = ${MIGRATIONS.length + 3};`);
    raw.close();
    const before = readFileSync(path);
    const r = await runBackstop(['history', '--data-dir', dataDir, '--json']);
    expect(r.code).toBe(1);
    expect(errorDoc(r.stdout)).toEqual({
      code: 'FORMAT_TOO_NEW',
      message: `The app database was written by a newer version of Backstop (schema ${MIGRATIONS.length + 3}, this version knows ${MIGRATIONS.length}). Update Backstop; the file was left untouched.`,
    });
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('an upgrade that fails part-way: STORAGE naming the migration and the cause, exit 1, the file still at its old schema', async () => {
    const dataDir = tempDir();
    const path = join(dataDir, 'backstop.db');
    const raw = appDatabaseAt(path, 9);
    raw.exec("CREATE TABLE unclaimed_secrets (x TEXT); INSERT INTO settings (key, value) VALUES ('theme', '\"dark\"');");
    raw.close();
    const r = await runBackstop(['tasks', '--data-dir', dataDir, '--json']);
    expect(r.code).toBe(1);
    const e = errorDoc(r.stdout);
    expect(e.code).toBe('STORAGE');
    expect(e.message).toBe(
      `Upgrading the app database from schema 9 to ${MIGRATIONS.length} failed at migration 11: table unclaimed_secrets already exists. The database was left unchanged at schema 9: fix the cause (free disk space, or remove what the message names) and start Backstop again.`,
    );
    const after = new Database(path);
    expect(after.prepare('PRAGMA user_version').get()).toMatchObject({ user_version: 9 });
    expect(after.prepare("SELECT value FROM settings WHERE key = 'theme'").get()).toMatchObject({ value: '"dark"' });
    after.close();
  });

  it('an upgrade whose writes fail part-way (a file-size limit): STORAGE naming the migrations and the cause, exit 1, the file still at its old schema with every row', () => {
    const dataDir = tempDir();
    const path = join(dataDir, 'backstop.db');
    // Schema 13 with 20,000 recorded points: migration 14's index on them needs far more than the space left.
    const raw = appDatabaseAt(path, 13);
    const run = raw.prepare("INSERT INTO runs (id, task_id, task_name, trigger, requested_kind, status, started_at) VALUES (?, 't', 'nightly', 'schedule', 'full', 'success', 'x')");
    const row = raw.prepare("INSERT INTO run_databases (run_id, seq, database, destination, kind, status, point_id, started_at) VALUES (?, 1, 'shop', 'local:/b', 'full', 'success', ?, 'x')");
    raw.transaction(() => {
      for (let i = 0; i < 20_000; i++) {
        run.run(`r${i}`);
        row.run(`r${i}`, `20260101T000000000Z-${i.toString(16).padStart(8, '0')}`);
      }
    })();
    raw.close();
    // A file-size limit of 256 KiB (ulimit -f; a quota or a filesystem's file-size cap alike): the WAL write past it fails (EFBIG) at commit, and SQLite rolls the transaction back itself.
    const r = spawnSync('bash', ['-c', `trap '' XFSZ; ulimit -f 256; exec "${process.execPath}" "${CLI_BIN}" history --data-dir "${dataDir}" --json`], {
      cwd: REPO_ROOT,
      env: { ...process.env, NODE_DISABLE_COMPILE_CACHE: '1' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(1);
    expect(errorDoc(r.stdout)).toEqual({
      code: 'STORAGE',
      message: `Upgrading the app database from schema 13 to ${MIGRATIONS.length} failed while saving migrations 14–${MIGRATIONS.length}: disk I/O error. The database was left unchanged at schema 13: fix the cause (free disk space, or remove what the message names) and start Backstop again.`,
    });
    const after = new Database(path);
    expect(after.prepare('PRAGMA user_version').get()).toMatchObject({ user_version: 13 });
    expect(after.prepare('SELECT count(*) AS n FROM run_databases WHERE point_id IS NOT NULL').get()).toMatchObject({ n: 20_000 });
    expect(after.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'run_databases_by_point'").get()).toMatchObject({ n: 0 });
    after.close();
  }, 60_000);

  it('a write that fails after the start (a file-size limit; SQLITE_IOERR): STORAGE naming the file and the fix, exit 1, nothing half-saved', () => {
    const dataDir = tempDir();
    const path = join(dataDir, 'backstop.db');
    // 64 KiB pages and a 40 KiB file-size limit: the app database opens and reads (its shared-memory index is 32 KiB), but its first write-ahead-log frame is past the limit.
    const raw = new Database(path);
    raw.exec('PRAGMA page_size = 65536; PRAGMA journal_mode = WAL;');
    raw.close();
    expect(spawnSync(process.execPath, [CLI_BIN, 'servers', '--data-dir', dataDir], { cwd: REPO_ROOT, encoding: 'utf8' }).status).toBe(0);
    const config = join(tempDir(), 'server.json');
    writeFileSync(config, JSON.stringify({ name: 'files', kind: 'sqlite', folder: tempDir() }));
    const r = spawnSync('bash', ['-c', `trap '' XFSZ; ulimit -f 40; exec "${process.execPath}" "${CLI_BIN}" servers add --config "${config}" --data-dir "${dataDir}" --json`], {
      cwd: REPO_ROOT,
      env: { ...process.env, NODE_DISABLE_COMPILE_CACHE: '1' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(1);
    expect(errorDoc(r.stdout)).toEqual({
      code: 'STORAGE',
      message: expect.stringMatching(
        new RegExp(`^Backstop could not write its app database ${path} \\(disk I/O error, SQLITE_IOERR[A-Z_]*\\)\\. Check the disk that holds ${dataDir}: free space, a file-size limit or quota \\(ulimit -f\\), and that it is writable and not failing; then try again\\.$`),
      ),
    });
    const after = new Database(path);
    expect(after.prepare('SELECT count(*) AS n FROM servers').get()).toMatchObject({ n: 0 });
    after.close();
  }, 60_000);

  it('a damaged app database (not SQLite, or its header overwritten): STORAGE naming the file and what to do, exit 1, the file untouched', async () => {
    for (const content of [Buffer.from('this is not a database\n'.repeat(300)), Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(4080, 0xff)])]) {
      const dataDir = tempDir();
      const path = join(dataDir, 'backstop.db');
      writeFileSync(path, content);
      const r = await runBackstop(['history', '--data-dir', dataDir, '--json']);
      expect(r.code).toBe(1);
      const e = errorDoc(r.stdout);
      expect(e.code).toBe('STORAGE');
      expect(e.message).toMatch(new RegExp(`^The app database at ${path} cannot be read \\(.+\\)\\. It may be damaged: put back a copy of it, or move it aside and Backstop starts with a new one \\(servers, tasks and history are then empty; backups at the destinations are not touched\\)\\.$`));
      expect(readFileSync(path).equals(content)).toBe(true);
    }
  });

  it('a data folder that is a file: STORAGE naming it, exit 1', async () => {
    const file = join(tempDir(), 'not-a-folder');
    writeFileSync(file, 'x');
    const r = await runBackstop(['tasks', '--data-dir', file, '--json']);
    expect(r.code).toBe(1);
    expect(errorDoc(r.stdout)).toEqual({ code: 'STORAGE', message: `The data folder ${file} cannot be used: a file is there, not a folder. Give a folder (--data-dir or BACKSTOP_DATA_DIR; it is created if missing).` });
  });
});

describe('backstop --json when the keychain is locked or a destination is unreachable', () => {
  it('a locked keychain: KEYCHAIN_LOCKED, exit 1, one document', () => {
    const home = tempDir();
    // A fresh D-Bus session whose keyring daemon is started but never unlocked.
    const r = spawnSync(
      'dbus-run-session',
      ['--', 'bash', '-c', `gnome-keyring-daemon --start --components=secrets >/dev/null 2>&1; exec "${process.execPath}" "${CLI_BIN}" keys generate --data-dir "${tempDir()}" --json`],
      { cwd: REPO_ROOT, env: { ...process.env, HOME: home, DBUS_SESSION_BUS_ADDRESS: '' }, encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status, r.stderr).toBe(1);
    const e = errorDoc(r.stdout);
    expect(e.code).toBe('KEYCHAIN_LOCKED');
    expect(e.message).toContain('locked');
  });

  it('an S3 endpoint that refuses connections: one document naming the endpoint, exit 1, no credential printed', async () => {
    const secret = 'qa34b-secret-access-key-value';
    const r = await runBackstop(['points', 's3://bucket/shop', '--endpoint', 'http://127.0.0.1:9', '--data-dir', tempDir(), '--json'], {
      env: { AWS_ACCESS_KEY_ID: 'AKIAQA34BEXAMPLE', AWS_SECRET_ACCESS_KEY: secret },
    });
    expect(r.code).toBe(1);
    const e = errorDoc(r.stdout);
    expect(e.code).toBe('STORAGE');
    expect(e.message).toContain('could not talk to http://127.0.0.1:9 (ECONNREFUSED)');
    expect(r.stdout + r.stderr).not.toContain(secret);
  }, 60_000);
});

describe('backstop --json interrupted while it opens the app database', () => {
  it('SIGINT before the command starts its work: one CANCELED document, exit 130, nothing done', { timeout: 60_000 }, async () => {
    const dataDir = tempDir();
    const path = join(dataDir, 'backstop.db');
    const folder = sqliteFolder(['shop.db']);
    const backups = join(tempDir(), 'backups');
    const task = writeTaskFile(tempDir(), { name: 'early', server: { kind: 'sqlite', folder }, destinations: [{ kind: 'local', path: backups }] });
    // An app database one migration behind, whose write lock another process holds: the command's open waits on it.
    appDatabaseAt(path, MIGRATIONS.length - 1).close();
    const holder = new Database(path);
    holder.exec('BEGIN EXCLUSIVE');
    const child = spawn(process.execPath, [CLI_BIN, 'backup', '--config', task, '--data-dir', dataDir, '--json'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? -1 : null))));
    // Waiting on the lock: the child has the app database open.
    const opened = (): boolean => {
      try {
        return readdirSync(`/proc/${child.pid}/fd`).some((fd) => {
          try {
            return readlinkSync(`/proc/${child.pid}/fd/${fd}`) === path;
          } catch {
            return false;
          }
        });
      } catch {
        return false;
      }
    };
    while (!opened()) await new Promise((r) => setImmediate(r));
    child.kill('SIGINT');
    holder.exec('COMMIT');
    holder.close();
    const code = await closed;
    expect(code, stderr).toBe(130);
    const e = errorDoc(stdout.length < 2000 ? stdout : stdout.slice(0, 2000));
    expect(e.code).toBe('CANCELED');
    expect(e.message).toBe('The command was canceled (SIGINT) before it started its work; nothing was done.');
    // Nothing was run or written.
    const history = oneJsonDocument((await runBackstop(['history', '--data-dir', dataDir, '--json'])).stdout);
    expect(history).toEqual([]);
    expect(() => readdirSync(backups)).toThrow(/ENOENT/);
  });
});
