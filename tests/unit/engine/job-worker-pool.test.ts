/**
 * JobWorkerPool with the real backup-job worker entry on small SQLite files (no server):
 * jobs one after another reuse one thread (counted, not timed); a job's own error leaves
 * the worker usable; a worker that dies mid-job fails that job alone with WORKER_CRASHED and
 * is replaced; a job cancelled before it starts answers CANCELED and commits nothing (a
 * cancel mid-run: tests/integration/tasks/many-databases.test.ts); each job opens its own
 * repository (a second job to another folder never sees the first's points); two
 * `sharesThread` jobs run in one worker at once, and its crash fails both; an unexpected
 * error answers INTERNAL and hands its stack over as the cause, for the log.
 */
import { execFileSync } from 'node:child_process';
import type { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { BackupJobSpec } from '../../../electron/engine/backup/job-spec.ts';
import type { JobOutcome } from '../../../electron/engine/backup/run-job.ts';
import { pooledExecutor } from '../../../electron/engine/backup/worker-executor.ts';
import { Location } from '../../../electron/engine/destinations/index.ts';
import { openRepository } from '../../../electron/engine/repository/index.ts';
import { JobWorkerPool, type JobWorkerPoolOptions } from '../../../electron/engine/runtime/worker-job.ts';
import type { Server } from '../../../electron/shared/domain.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

function sqliteFolder(names: string[]): string {
  const folder = tempDir();
  for (const n of names) execFileSync('sqlite3', [join(folder, n), `CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t(v) VALUES ('${n}'), ('two');`]);
  return folder;
}

function spec(folder: string, database: string, root: string): BackupJobSpec {
  const server = { id: 's1', name: 'files', kind: 'sqlite', folder, passwordRef: null } as unknown as Server;
  return {
    server,
    password: null,
    toolPaths: {},
    database,
    serverStream: false,
    folder: database,
    backupType: 'snapshot',
    requestedKind: 'full',
    keyBase64: null,
    serverIdentity: 'sqlite://test',
    engineVersion: 'test',
    dumpToolVersion: 'test',
    destinations: [{ kind: 'local', path: root }],
    credentials: [null],
    retention: { minAgeDays: 0, keepLast: null },
    encoderWorkers: 1,
  };
}

async function points(root: string, database: string): Promise<number> {
  const repo = await openRepository(Location.of({ kind: 'local', path: root }, null, database).backend(), { workers: 0 });
  return (await repo.listPoints()).length;
}

function pool(onJob?: JobWorkerPoolOptions['onJob']): JobWorkerPool {
  const p = new JobWorkerPool('backup-job', { idleMs: 60_000, ...(onJob ? { onJob } : {}) });
  onTestFinished(() => p.close());
  return p;
}

const never = new AbortController().signal;

describe('JobWorkerPool (backup jobs)', () => {
  it('runs jobs one after another in one reused worker, each with its own repository, and a failed job leaves the worker usable', async () => {
    const names = ['a.db', 'b.db', 'c.db'];
    const folder = sqliteFolder(names);
    const roots = names.map(() => tempDir());
    const p = pool();
    const run = pooledExecutor(p);
    for (const [i, n] of names.entries()) {
      const [o] = await run(spec(folder, n, roots[i]!), never, () => {});
      expect(o!.status).toBe('success');
    }
    // The job's own error (a database that is not in the folder) is an answer, not a crash.
    const [missing] = await run(spec(folder, 'gone.db', tempDir()), never, () => {});
    expect(missing!.status).toBe('failed');
    expect(missing!.error?.code).not.toBe('WORKER_CRASHED');
    const [again] = await run(spec(folder, 'a.db', roots[0]!), never, () => {});
    expect(again!.status).toBe('success');
    expect(p.started).toBe(1);
    expect(await points(roots[0]!, 'a.db')).toBe(2);
    expect(await points(roots[1]!, 'b.db')).toBe(1);
    expect(await points(roots[2]!, 'c.db')).toBe(1);
  });

  it('an unexpected error in a job answers INTERNAL with the generic message, and hands its stack over as the cause for the log (never in the message)', async () => {
    const folder = sqliteFolder(['a.db']);
    const p = pool();
    // A spec no caller builds (no destination list): the job trips over it with a TypeError.
    const broken = { ...spec(folder, 'a.db', tempDir()), destinations: null } as unknown as BackupJobSpec;
    const e = await p.run(broken, { label: 'a broken job' }).then(
      () => null,
      (err: unknown) => err as Error & { code?: string; cause?: Error },
    );
    expect(e?.code).toBe('INTERNAL');
    expect(e?.message).toBe('An unexpected error occurred. Details are in the Backstop log.');
    expect(e?.cause?.stack).toMatch(/^TypeError: Cannot read properties of null[\s\S]*\n\s+at /);
    // The worker answered: it stays for the next job.
    const [ok] = await pooledExecutor(p)(spec(folder, 'a.db', tempDir()), never, () => {});
    expect(ok!.status).toBe('success');
    expect(p.started).toBe(1);
  });

  it('fails only the job whose reused worker dies (WORKER_CRASHED, nothing committed) and starts a fresh worker for the next', async () => {
    const folder = sqliteFolder(['a.db', 'b.db']);
    const root = tempDir();
    let kill = false;
    const p = pool((worker) => {
      if (kill) setImmediate(() => void worker.terminate());
    });
    const run = pooledExecutor(p);
    expect((await run(spec(folder, 'a.db', root), never, () => {}))[0]!.status).toBe('success');
    kill = true;
    const [crashed] = await run(spec(folder, 'b.db', root), never, () => {});
    kill = false;
    expect(crashed!.status).toBe('failed');
    expect(crashed!.error).toEqual({ code: 'WORKER_CRASHED', message: 'The worker for the backup of b.db exited unexpectedly (exit code 1); nothing it was writing was committed.' });
    const [next] = await run(spec(folder, 'b.db', root), never, () => {});
    expect(next!.status).toBe('success');
    expect(p.started).toBe(2);
    expect(await points(root, 'b.db')).toBe(1);
  });

  it('warm starts idle workers ahead of the jobs, which then run in them (no new thread), at most maxIdle, and close ends them', async () => {
    const folder = sqliteFolder(['a.db', 'b.db']);
    const root = tempDir();
    const started: Worker[] = [];
    const ranIn: Worker[] = [];
    const p = new JobWorkerPool('backup-job', { idleMs: 60_000, maxIdle: 3, onWorkerStart: (w) => started.push(w), onJob: (w) => ranIn.push(w) });
    onTestFinished(() => p.close());
    p.warm(2);
    p.warm(2); // already two idle: nothing more
    expect(p.started).toBe(2);
    const run = pooledExecutor(p);
    const [a, b] = await Promise.all([run(spec(folder, 'a.db', root), never, () => {}), run(spec(folder, 'b.db', root), never, () => {})]);
    expect([a![0]!.status, b![0]!.status]).toEqual(['success', 'success']);
    expect(p.started).toBe(2);
    expect(new Set(ranIn)).toEqual(new Set(started));
    p.warm(10);
    expect(p.started).toBe(3); // maxIdle bounds the idle workers
    const exits = started.map((w) => new Promise((r) => w.once('exit', r)));
    await p.close();
    await Promise.all(exits);
    expect(await points(root, 'a.db')).toBe(1);
    expect(await points(root, 'b.db')).toBe(1);
  });

  it('sharesThread jobs run two at once in one worker (one thread for both), a third or an unmarked job gets its own; a crash of the shared worker fails both, nothing committed', async () => {
    const folder = sqliteFolder(['a.db', 'b.db', 'c.db', 'd.db']);
    const root = tempDir();
    const ranIn = new Map<string, Worker>();
    let kill = false;
    const p = new JobWorkerPool('backup-job', {
      idleMs: 60_000,
      onJob: (w, job) => {
        ranIn.set((job as BackupJobSpec).database, w);
        if (kill && (job as BackupJobSpec).database === 'b.db') setImmediate(() => void w.terminate());
      },
    });
    onTestFinished(() => p.close());
    const run = pooledExecutor(p);
    const shared = (n: string, r = root) => ({ ...spec(folder, n, r), sharesThread: true });
    const outcomes = await Promise.all([run(shared('a.db'), never, () => {}), run(shared('b.db'), never, () => {}), run(spec(folder, 'c.db', root), never, () => {}), run(shared('d.db'), never, () => {})]);
    expect(outcomes.map((o) => o[0]!.status)).toEqual(['success', 'success', 'success', 'success']);
    expect(ranIn.get('a.db')).toBe(ranIn.get('b.db'));
    expect(new Set(ranIn.values()).size).toBe(3);
    expect(p.started).toBe(3);
    for (const n of ['a.db', 'b.db', 'c.db', 'd.db']) expect(await points(root, n)).toBe(1);

    // The shared worker dies: both of its jobs fail, nothing of theirs is committed; the pool goes on.
    const crashRoot = tempDir();
    kill = true;
    const [a, b] = await Promise.all([run(shared('a.db', crashRoot), never, () => {}), run(shared('b.db', crashRoot), never, () => {})]);
    kill = false;
    expect(ranIn.get('a.db')).toBe(ranIn.get('b.db'));
    expect([a![0]!.error, b![0]!.error]).toEqual([
      { code: 'WORKER_CRASHED', message: 'The worker for the backup of a.db exited unexpectedly (exit code 1); nothing it was writing was committed.' },
      { code: 'WORKER_CRASHED', message: 'The worker for the backup of b.db exited unexpectedly (exit code 1); nothing it was writing was committed.' },
    ]);
    expect(await points(crashRoot, 'a.db').catch(() => 0)).toBe(0);
    expect(await points(crashRoot, 'b.db').catch(() => 0)).toBe(0);
    const [next] = await run(shared('a.db', crashRoot), never, () => {});
    expect(next!.status).toBe('success');
    expect(await points(crashRoot, 'a.db')).toBe(1);
  });

  it('a job cancelled before it starts answers CANCELED without reaching a worker, and commits nothing', async () => {
    const folder = sqliteFolder(['a.db']);
    const root = tempDir();
    const p = pool();
    const run = pooledExecutor(p);
    const c = new AbortController();
    c.abort();
    const [o] = (await run(spec(folder, 'a.db', root), c.signal, () => {})) as JobOutcome[];
    expect(o!.status).toBe('canceled');
    expect(o!.error?.code).toBe('CANCELED');
    expect(o!.pointId).toBeNull();
    const [ok] = await run(spec(folder, 'a.db', root), never, () => {});
    expect(ok!.status).toBe('success');
    expect(await points(root, 'a.db')).toBe(1);
    expect(p.started).toBe(1);
  });
});
