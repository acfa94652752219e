/**
 * What `backstop backup` does with the folders a task file names, on real SQLite files and
 * real file systems: relative paths resolve against the task file's folder; a missing
 * tools.binDir is an error; a destination root is created only on the task's first use,
 * with a warning, and a root that vanished afterwards (an unmounted disk) is
 * DESTINATION_MISSING with nothing written; a read-only file system is READ_ONLY, and the
 * backups already on it stay listed and intact.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { CHINOOK, cliInProcess as cli, writeTaskFile } from '../../fixtures/cli.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { TmpfsMounts } from '../../fixtures/tmpfs.ts';


function sqliteFolder(): string {
  const folder = tempDir();
  copyFileSync(CHINOOK, join(folder, 'chinook.sqlite'));
  return folder;
}

describe('task-file paths', () => {
  it('resolves relative destination, SQLite folder, keyFile and binDir against the task file, not the cwd', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'db'));
    copyFileSync(CHINOOK, join(dir, 'db', 'chinook.sqlite'));
    mkdirSync(join(dir, 'tools'));
    writeFileSync(join(dir, 'nightly.key'), `${Buffer.alloc(32, 7).toString('base64')}\n`);
    const task = writeTaskFile(dir, {
      server: { kind: 'sqlite', folder: 'db' },
      destinations: [{ kind: 'local', path: 'backups' }],
      encryption: { mode: 'key', keyFile: 'nightly.key' },
      tools: { binDir: 'tools' },
    });
    const r = await cli('backup', '--config', task, '--data-dir', tempDir(), '--json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc.databases[0]).toMatchObject({ database: 'chinook.sqlite', status: 'ok', location: join(dir, 'backups', encodeDatabaseFolder('chinook.sqlite')) });
    expect(readdirSync(join(dir, 'backups'))).toEqual([encodeDatabaseFolder('chinook.sqlite')]);
    expect(existsSync(join(process.cwd(), 'backups'))).toBe(false);
  });

  it('refuses a tools.binDir that does not exist, naming the folder and the key', async () => {
    const dir = tempDir();
    const task = writeTaskFile(dir, { server: { kind: 'sqlite', folder: sqliteFolder() }, destinations: [{ kind: 'local', path: join(dir, 'b') }], tools: { binDir: '/opt/no-such-tools/bin' } });
    const r = await cli('backup', '--config', task, '--data-dir', tempDir(), '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toEqual({
      error: { code: 'VALIDATION', message: `The client-tools folder /opt/no-such-tools/bin (\`tools.binDir\` in ${task}) does not exist. Fix the path, or remove \`tools\` to use the tools on PATH.` },
    });
    expect(existsSync(join(dir, 'b'))).toBe(false);
  });
});

describe('destination roots', () => {
  it('creates a missing root on first use with a warning, and never re-creates it once written', async () => {
    const dir = tempDir();
    const root = join(dir, 'disk', 'backstop');
    const task = writeTaskFile(dir, { server: { kind: 'sqlite', folder: sqliteFolder() }, destinations: [{ kind: 'local', path: root }] });
    const dataDir = tempDir();
    const first = await cli('backup', '--config', task, '--data-dir', dataDir, '--json');
    expect(first.code).toBe(0);
    expect(JSON.parse(first.out).warnings).toEqual([`Created the destination folder ${root}: it did not exist and this task had not written there before.`]);

    rmSync(join(dir, 'disk'), { recursive: true }); // the disk is not mounted any more
    const second = await cli('backup', '--config', task, '--data-dir', dataDir, '--json');
    expect(second.code).toBe(1);
    const doc = JSON.parse(second.out);
    expect(doc.status).toBe('failed');
    expect(doc.databases).toEqual([
      expect.objectContaining({
        database: 'chinook.sqlite',
        status: 'failed',
        error: {
          code: 'DESTINATION_MISSING',
          message: `Destination folder ${root} is missing — is the disk mounted? Backstop never re-creates a destination that existed, so a backup cannot silently fill the system disk. Mount it, or create the folder if you moved it on purpose.`,
        },
      }),
    ]);
    expect(existsSync(join(dir, 'disk'))).toBe(false);
    const history = JSON.parse((await cli('history', '--data-dir', dataDir, '--json')).out);
    expect(history[0]).toMatchObject({ status: 'failed', databases: [{ status: 'failed', errorCode: 'DESTINATION_MISSING' }] });
  });
});

describe('a destination on a read-only file system', () => {
  const mounts = new TmpfsMounts();
  const disks: string[] = [];
  afterAll(() => {
    mounts.unmountAll();
    for (const d of disks) rmSync(d, { recursive: true, force: true });
  });

  function tmpfs(): string | null {
    const m = mkdtempSync(join(tmpdir(), 'backstop-ro-'));
    disks.push(m);
    return mounts.tryMount(m, '64m') ? m : null;
  }

  it('is READ_ONLY for every database, and the backups already there stay listed and intact', async (ctx) => {
    const m = tmpfs();
    if (!m) return ctx.skip('mount -t tmpfs is not permitted here (needs root)');
    const folder = sqliteFolder();
    const dir = tempDir();
    const task = writeTaskFile(dir, { server: { kind: 'sqlite', folder }, destinations: [{ kind: 'local', path: join(m, 'backups') }] });
    const dataDir = tempDir();
    expect((await cli('backup', '--config', task, '--data-dir', dataDir, '--json')).code).toBe(0);
    execFileSync('mount', ['-o', 'remount,ro', m]);
    copyFileSync(CHINOOK, join(folder, 'second.sqlite')); // a database whose folder does not exist yet

    const r = await cli('backup', '--config', task, '--data-dir', dataDir, '--json');
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out);
    expect(doc.status).toBe('failed');
    expect(doc.databases.map((d: { database: string }) => d.database).sort()).toEqual(['chinook.sqlite', 'second.sqlite']);
    for (const d of doc.databases) {
      expect(d.error, JSON.stringify(doc.databases)).toBeTruthy();
      expect(d.error.code, JSON.stringify(d.error)).toBe('READ_ONLY');
      expect(d.error.message).toContain('the destination is on a read-only file system (EROFS). Remount it read-write or choose another destination');
    }
    const location = join(m, 'backups', encodeDatabaseFolder('chinook.sqlite'));
    const points = JSON.parse((await cli('points', location, '--data-dir', dataDir, '--json')).out);
    expect(points).toHaveLength(1);
    expect(JSON.parse((await cli('verify', location, '--data-dir', dataDir, '--json')).out)).toMatchObject({ ok: true, pointsChecked: 1 });
    expect(readdirSync(join(m, 'backups'))).toEqual([encodeDatabaseFolder('chinook.sqlite')]);
  });
});
