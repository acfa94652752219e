/**
 * Per-database runs on a real SQLite folder: `backstop backup --only a,b` and the engine's
 * `tasks.runNow` with `databases` back up just the named databases; a name the server lacks
 * or the task excludes is VALIDATION before anything is recorded or written.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { cli } from '../../fixtures/cli.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { data, waitForRun } from '../../fixtures/runs.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { sqliteFolder, storedSqliteTask } from '../../fixtures/sqlite-files.ts';

function setup(extra: Record<string, unknown> = {}) {
  const folder = sqliteFolder(['alpha.db', 'beta.db', 'gamma.db']);
  const backups = tempDir();
  const dataDir = tempDir();
  const task = join(tempDir(), 'task.json');
  writeFileSync(task, JSON.stringify({ name: 'files', server: { kind: 'sqlite', folder }, type: 'snapshot', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: backups }], ...extra }));
  return { folder, backups, dataDir, task };
}

async function historyCount(dataDir: string): Promise<number> {
  const h = await cli('history', '--data-dir', dataDir, '--json');
  return (JSON.parse(h.out) as unknown[]).length;
}

describe('backstop backup --only', () => {
  it('backs up just the named databases', async () => {
    const s = setup();
    const r = await cli('backup', '--config', s.task, '--data-dir', s.dataDir, '--only', 'alpha.db,gamma.db', '--json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out);
    expect(out.status).toBe('success');
    expect(out.databases.map((d: { database: string }) => d.database).sort()).toEqual(['alpha.db', 'gamma.db']);
    expect(readdirSync(s.backups).sort()).toEqual(['alpha.db', 'gamma.db'].map(encodeDatabaseFolder).sort());
  });

  it('refuses a name the server does not have, naming it and the databases there, with nothing recorded or written', async () => {
    const s = setup();
    const r = await cli('backup', '--config', s.task, '--data-dir', s.dataDir, '--only', 'alpha.db,Nope.db', '--json');
    expect(r.code).toBe(1);
    const out = JSON.parse(r.out).error;
    expect(out.code).toBe('VALIDATION');
    expect(out.message).toBe('The server of task "files" has no database "Nope.db". Its databases: "alpha.db", "beta.db", "gamma.db". Names are case-sensitive; fix the database list.');
    expect(readdirSync(s.backups)).toEqual([]);
    expect(await historyCount(s.dataDir)).toBe(0);
  });

  it('refuses a name the task excludes', async () => {
    const s = setup({ excludeDatabases: ['beta.db'] });
    const r = await cli('backup', '--config', s.task, '--data-dir', s.dataDir, '--only', 'beta.db', '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).error).toMatchObject({
      code: 'VALIDATION',
      message: 'Task "files" excludes "beta.db". Remove it from the database list, or from the task\'s excluded databases.',
    });
    expect(readdirSync(s.backups)).toEqual([]);
  });

  it('an empty name is a usage error', async () => {
    const s = setup();
    const r = await cli('backup', '--config', s.task, '--data-dir', s.dataDir, '--only', 'alpha.db,', '--json');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out).error).toEqual({ code: 'MALFORMED_REQUEST', message: '--only needs database names separated by commas, like --only billing,crm. Run "backstop --help".' });
  });
});

describe('tasks.runNow with databases', () => {
  it('runs only those databases, and refuses an unknown one before a run starts', async () => {
    const s = setup();
    const engine = await testEngine();
    const task = await storedSqliteTask(engine, s.folder, s.backups);
    const bad = await engine.call('tasks.runNow', { id: task.id, databases: ['missing'] });
    expect(bad).toMatchObject({ ok: false, code: 'VALIDATION', message: expect.stringContaining('has no database "missing"') });
    expect(data(await engine.call('history.list', { limit: 10 }))).toEqual([]);

    const { runId } = data(await engine.call('tasks.runNow', { id: task.id, databases: ['beta.db'] }));
    const run = await waitForRun(engine, runId);
    expect(run.status).toBe('success');
    expect(run.databases.map((d) => d.database)).toEqual(['beta.db']);
    expect(readdirSync(s.backups)).toEqual([encodeDatabaseFolder('beta.db')]);
  });
});
