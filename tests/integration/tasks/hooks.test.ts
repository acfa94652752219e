/**
 * Pre/post hooks around each database's backup, on a real SQLite folder through the task
 * file: argv arrays (a hostile database name reaches the hook as data in
 * BACKSTOP_DATABASE, never as shell syntax), output captured into history, and what a
 * failing or hanging hook does under each onFailure policy (fail the run / skip the
 * database / only warn).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backupCommand } from '../../../electron/cli/commands/backup.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { HistoryTable } from '../../../electron/engine/store/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { tinySqliteDb } from '../../fixtures/sqlite-files.ts';

const HOSTILE = "x'; touch PWNED; $(touch PWNED2).db";

/**
 * The hook: /bin/sh running a script that logs "phase database status" and prints a line,
 * then exits with $2 (or sleeps for $3 seconds) when the database is $1.
 */
function setup(names = ['alpha.db', 'beta.db']) {
  const folder = tempDir();
  const backups = tempDir();
  const work = tempDir();
  for (const n of names) tinySqliteDb(join(folder, n));
  const log = join(work, 'hook.log');
  const script = join(work, 'hook.sh');
  writeFileSync(
    script,
    `printf '%s|%s|%s|%s\\n' "$BACKSTOP_PHASE" "$BACKSTOP_DATABASE" "$BACKSTOP_STATUS" "$BACKSTOP_TASK" >> '${log}'
echo "hook says hello to $BACKSTOP_DATABASE"
if [ "$BACKSTOP_DATABASE" = "$1" ]; then
  if [ -n "$3" ]; then sleep "$3"; fi
  echo "refusing $1" >&2
  exit "$2"
fi
exit 0
`,
  );
  const task = join(work, 'task.json');
  writeFileSync(task, JSON.stringify({ name: 'hooked', server: { kind: 'sqlite', folder }, type: 'snapshot', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: backups }] }));
  const points = (db: string) => {
    const p = join(backups, encodeDatabaseFolder(db), 'points');
    return existsSync(p) ? readdirSync(p).length : 0;
  };
  const logLines = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []);
  return { folder, backups, work, task, script, points, logLines };
}

/** Puts `hooks` into the task file (the hook script's path is known only after setup). */
function setHooks(task: string, hooks: Record<string, unknown>): void {
  writeFileSync(task, JSON.stringify({ ...JSON.parse(readFileSync(task, 'utf8')), hooks }));
}

describe('task hooks', () => {
  it('run around each database with its name in the environment, never through a shell; output lands in history', async () => {
    const s = setup(['alpha.db', HOSTILE]);
    setHooks(s.task, { pre: ['/bin/sh', s.script, 'none', '0'], post: ['/bin/sh', s.script, 'none', '0'] });
    const engine = await testEngine();
    const summary = await backupCommand(engine, s.task, undefined, undefined);
    expect(summary.status).toBe('success');
    expect(s.logLines().sort()).toEqual([`post|${HOSTILE}|success|hooked`, 'post|alpha.db|success|hooked', `pre|${HOSTILE}||hooked`, 'pre|alpha.db||hooked'].sort());
    expect(['PWNED', 'PWNED2'].flatMap((f) => [join(s.work, f), join(s.folder, f), f]).filter((f) => existsSync(f))).toEqual([]);
    expect(s.points('alpha.db')).toBe(1);
    expect(s.points(HOSTILE)).toBe(1);
    const history = new HistoryTable(engine.db).hooks(summary.runId);
    expect(history).toHaveLength(4);
    expect(history.find((h) => h.phase === 'pre' && h.database === HOSTILE)).toMatchObject({ argv: ['/bin/sh', s.script, 'none', '0'], status: 'ok', exitCode: 0, action: 'none', output: `hook says hello to ${HOSTILE}\n` });
    expect(summary.hooks).toEqual(history);
  }, 120_000);

  it('onFailure "fail": a failing pre hook fails the run with HOOK_FAILED, and that database is not backed up', async () => {
    const s = setup();
    setHooks(s.task, { pre: ['/bin/sh', s.script, 'beta.db', '3'], onFailure: 'fail' });
    const engine = await testEngine();
    const summary = await backupCommand(engine, s.task, undefined, undefined);
    expect(summary.status).toBe('failed');
    expect(summary.error).toEqual({ code: 'HOOK_FAILED', message: "The pre hook for beta.db: /bin/sh exited with code 3. The task's hooks say a failing hook fails the run." });
    expect(summary.databases.find((d) => d.database === 'beta.db')).toMatchObject({ status: 'failed', error: { code: 'HOOK_FAILED' } });
    expect(s.points('beta.db')).toBe(0);
    expect(summary.hooks!.find((h) => h.database === 'beta.db')).toMatchObject({ status: 'failed', exitCode: 3, action: 'fail', output: 'hook says hello to beta.db\nrefusing beta.db\n' });
  }, 120_000);

  it('onFailure "skip": the database is skipped with the reason, the others are backed up', async () => {
    const s = setup();
    setHooks(s.task, { pre: ['/bin/sh', s.script, 'beta.db', '4'], onFailure: 'skip' });
    const engine = await testEngine();
    const summary = await backupCommand(engine, s.task, undefined, undefined);
    expect(summary.status).toBe('success');
    expect(summary.skipped).toEqual([{ database: 'beta.db', reason: "The pre hook for beta.db: /bin/sh exited with code 4. Skipped, as the task's hooks say." }]);
    expect(s.points('alpha.db')).toBe(1);
    expect(s.points('beta.db')).toBe(0);
  }, 120_000);

  it('onFailure "warn": every database is backed up and the run carries a warning; a failing post hook warns too', async () => {
    const s = setup();
    setHooks(s.task, { pre: ['/bin/sh', s.script, 'beta.db', '5'], post: ['/bin/sh', s.script, 'alpha.db', '6'], onFailure: 'warn' });
    const engine = await testEngine();
    const summary = await backupCommand(engine, s.task, undefined, undefined);
    expect(summary.status).toBe('success');
    expect(summary.warnings.sort()).toEqual(['The post hook for alpha.db: /bin/sh exited with code 6.', 'The pre hook for beta.db: /bin/sh exited with code 5.']);
    expect(s.points('alpha.db')).toBe(1);
    expect(s.points('beta.db')).toBe(1);
  }, 120_000);

  it('a hook that hangs is stopped at its timeout and counts as failed (skip policy)', async () => {
    const s = setup();
    setHooks(s.task, { pre: ['/bin/sh', s.script, 'beta.db', '1', '60'], timeoutSeconds: 1, onFailure: 'skip' });
    const engine = await testEngine();
    const t0 = Date.now();
    const summary = await backupCommand(engine, s.task, undefined, undefined);
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(summary.status).toBe('success');
    expect(summary.skipped).toEqual([{ database: 'beta.db', reason: "The pre hook for beta.db: /bin/sh did not finish within 1 s and was stopped. Skipped, as the task's hooks say." }]);
    expect(summary.hooks!.find((h) => h.database === 'beta.db')).toMatchObject({ status: 'timeout', action: 'skip' });
    expect(s.points('alpha.db')).toBe(1);
  }, 120_000);

  it('a failing post hook under "fail" keeps the backup but fails the run; a command that does not exist is HOOK_FAILED too', async () => {
    const s = setup();
    setHooks(s.task, { post: ['/bin/sh', s.script, 'alpha.db', '7'] });
    const engine = await testEngine();
    const summary = await backupCommand(engine, s.task, undefined, undefined);
    expect(summary.status).toBe('failed');
    expect(summary.error).toMatchObject({ code: 'HOOK_FAILED', message: expect.stringContaining('The post hook for alpha.db: /bin/sh exited with code 7.') });
    expect(s.points('alpha.db')).toBe(1);

    setHooks(s.task, { pre: ['./no-such-hook'], onFailure: 'skip' });
    const second = await backupCommand(engine, s.task, undefined, undefined);
    expect(second.skipped.map((d) => d.reason).sort()).toEqual([
      `The pre hook for alpha.db: ${join(s.work, 'no-such-hook')} could not be started (ENOENT). Give the command's full path, and check that it exists and is executable. Skipped, as the task's hooks say.`,
      `The pre hook for beta.db: ${join(s.work, 'no-such-hook')} could not be started (ENOENT). Give the command's full path, and check that it exists and is executable. Skipped, as the task's hooks say.`,
    ]);
  }, 120_000);
});
