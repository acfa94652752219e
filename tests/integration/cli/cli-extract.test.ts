/**
 * `backstop extract --out FILE` never overwrites, also when FILE appears while the point is
 * being extracted (another program, a second extract): the real command in a child process
 * extracts a 48 MB SQLite point of random blobs; the moment its temporary `.partial-` file appears, the test
 * creates FILE. The command fails with CONFLICT in one JSON document (exit 1), FILE keeps
 * what the other writer put there, and no temporary file is left.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import { CHINOOK, CLI_BIN, runBackstop, writeTaskFile } from '../../fixtures/cli.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

/** A backup of one SQLite folder (`dir`/files, filled by `put`) through the real command: the database folder's location and the data dir. */
async function backedUp(dir: string, put: (folder: string) => void): Promise<{ location: string; dataDir: string }> {
  const folder = join(dir, 'files');
  mkdirSync(folder);
  put(folder);
  const task = writeTaskFile(dir, { server: { kind: 'sqlite', folder }, destinations: [{ kind: 'local', path: join(dir, 'backups') }] });
  const dataDir = join(dir, 'data');
  const backup = await runBackstop(['backup', '--config', task, '--json', '--data-dir', dataDir]);
  expect(backup.code, backup.stderr).toBe(0);
  return { location: (JSON.parse(backup.stdout) as { databases: { location: string }[] }).databases[0]!.location, dataDir };
}

describe('backstop extract', () => {
  it('a file created under the output name during the extract is left as it is: CONFLICT, nothing overwritten, no temporary file', async () => {
    const dir = tempDir();
    const { location, dataDir } = await backedUp(dir, (folder) => {
      const db = new Database(join(folder, 'big.db'));
      // Random: neither compression nor deduplication shrinks it.
      db.exec(`CREATE TABLE blobs (id INTEGER PRIMARY KEY, b BLOB);
               WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 6000) INSERT INTO blobs (b) SELECT randomblob(8000) FROM r;`);
      db.close();
    });

    const outDir = join(dir, 'out');
    mkdirSync(outDir);
    const target = join(outDir, 'big.db');
    // The other writer: creates the output name as soon as the extract's temporary file appears.
    let raced = false;
    const watcher = watch(outDir, (_event, name) => {
      if (raced || !String(name).includes('.partial-')) return;
      raced = true;
      writeFileSync(target, 'the other writer', { flag: 'wx' });
    });
    const run = await runBackstop(['extract', location, '--point', 'latest', '--out', target, '--json', '--data-dir', dataDir]);
    watcher.close();
    expect(raced).toBe(true);
    expect(run.code, run.stderr).toBe(1);
    expect(JSON.parse(run.stdout)).toEqual({
      error: { code: 'CONFLICT', message: `${target} appeared while the point was being extracted; it was left as it is (backstop never overwrites). Choose another file.` },
    });
    expect(readFileSync(target, 'utf8')).toBe('the other writer');
    expect(readdirSync(outDir)).toEqual(['big.db']);
  }, 120_000);

  it('--out - into a reader that stops early (| head): STORAGE saying the output is incomplete, no INTERNAL, no reading marker left', async () => {
    const dir = tempDir();
    const { location, dataDir } = await backedUp(dir, (folder) => {
      copyFileSync(CHINOOK, join(folder, 'chinook.db')); // ~1 MB: more than a pipe holds
    });

    // The reader closes the pipe after the first bytes, as `head -c 16` does.
    const child = spawn(process.execPath, [CLI_BIN, 'extract', location, '--point', 'latest', '--out', '-', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let first = '';
    child.stdout.once('data', (d: Buffer) => {
      first = d.subarray(0, 16).toString('latin1');
      child.stdout.destroy();
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(first).toBe('SQLite format 3\0');
    expect(code).toBe(1);
    expect(stderr).toContain(
      'backstop: STORAGE: The program reading the extract from standard output closed it before the end, so what it got is incomplete (the backup itself is fine). Let it read everything, or extract to a file with --out FILE.',
    );
    expect(stderr).not.toContain('INTERNAL');
    expect(readdirSync(join(location, 'inflight'))).toEqual([]);
  });

  it('--out in a folder that does not exist (or under a file): STORAGE naming the folder and the fix, nothing created, not INTERNAL', async () => {
    const dir = tempDir();
    const { location, dataDir } = await backedUp(dir, (folder) => {
      const db = new Database(join(folder, 'small.db'));
      db.exec('CREATE TABLE t (a); INSERT INTO t VALUES (1);');
      db.close();
    });

    const missing = join(dir, 'no-such-folder');
    writeFileSync(join(dir, 'a-file'), 'x');
    for (const parent of [missing, join(dir, 'a-file')]) {
      const target = join(parent, 'small.db');
      const run = await runBackstop(['extract', location, '--point', 'latest', '--out', target, '--json', '--data-dir', dataDir]);
      expect(run.code, run.stderr).toBe(1);
      expect(JSON.parse(run.stdout)).toEqual({
        error: { code: 'STORAGE', message: `Cannot write ${target}: ${parent} is not an existing folder. Create it, or give --out a file in an existing folder.` },
      });
    }
    expect(existsSync(missing)).toBe(false);
    expect(readFileSync(join(dir, 'a-file'), 'utf8')).toBe('x');
  });
});
