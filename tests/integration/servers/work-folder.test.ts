/**
 * Work copies go to the data dir, not a RAM-backed /tmp (runtime/work-folder.ts): with TMPDIR
 * unset, an SQLite snapshot's consistent copy is made in `<data dir>/work` by the engine's job
 * thread and removed after the run; a `work` that cannot be used fails the run naming it and
 * the fix, with no point written. (TMPDIR, when set, is used instead: concurrent-writers-sqlite's
 * DISK_FULL test and the PITR tests point it at their own folders.)
 */
import { mkdirSync, readdirSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine } from '../../fixtures/engine.ts';
import { runTask } from '../../fixtures/runs.ts';
import { sqliteFolder, storedSqliteTask } from '../../fixtures/sqlite-files.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const saved = process.env.TMPDIR;
beforeAll(() => {
  delete process.env.TMPDIR;
});
afterAll(() => {
  if (saved !== undefined) process.env.TMPDIR = saved;
});

describe('the work folder (TMPDIR unset)', () => {
  it('an SQLite snapshot copies the database into <data dir>/work in the job thread, and leaves nothing there', async () => {
    const dataDir = tempDir('backstop-data-');
    const work = join(dataDir, 'work');
    mkdirSync(work, { mode: 0o700 });
    const seen: string[] = [];
    const watcher = watch(work, (_event, name) => {
      if (name) seen.push(name);
    });
    try {
      const engine = await testEngine({ dataDir });
      const task = await storedSqliteTask(engine, sqliteFolder(['app.db']), tempDir());
      const run = await runTask(engine, task.id, 'full');
      expect(run.status, run.databases.map((d) => d.errorMessage).join('; ')).toBe('success');
    } finally {
      watcher.close();
    }
    expect(seen.some((n) => /^backstop-sqlite-\d+-/.test(n))).toBe(true);
    expect(readdirSync(work)).toEqual([]);
  });

  it('a work folder that is not a folder fails the run naming it and the fix; no point is written', async () => {
    const dataDir = tempDir('backstop-data-');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'work'), 'not a folder');
    const engine = await testEngine({ dataDir });
    const backups = tempDir();
    const task = await storedSqliteTask(engine, sqliteFolder(['app.db']), backups);
    const run = await runTask(engine, task.id, 'full');
    expect(run.status).toBe('failed');
    expect(run.databases.map((d) => [d.status, d.errorCode, d.errorMessage])).toEqual([
      ['failed', 'VALIDATION', `Snapshotting "app.db" needs a temporary folder in ${join(dataDir, 'work')}, but a file is there, not a folder (ENOTDIR). Move that file away, or point TMPDIR at a folder the OS user Backstop runs as may write, with room for the copy.`],
    ]);
    expect((readdirSync(backups, { recursive: true }) as string[]).filter((f) => /(^|\/)points\/./.test(f))).toEqual([]);
  });
});
