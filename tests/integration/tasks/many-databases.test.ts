/**
 * A PostgreSQL server with many small databases (issue #21), through a real engine whose
 * backup jobs run in a JobWorkerPool (the app's executor), counted by the pool's hooks:
 *
 * - a full and an unchanged incremental of 12 databases (six per job thread) reuse job
 *   workers (no more thread starts than jobs run at once), store nothing for the
 *   incremental (no point), and every database restores (whole-server restore under a prefix) with its source's content;
 * - a job whose reused worker dies mid-job fails alone with WORKER_CRASHED, its folder gets
 *   no point, the other databases succeed, and the pool replaces the worker;
 * - a run cancelled mid-way leaves every folder with only whole, verifying points and no
 *   in-flight marker, and the next run succeeds.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../../electron/engine/index.ts';
import { pooledExecutor } from '../../../electron/engine/backup/worker-executor.ts';
import type { BackupJobSpec } from '../../../electron/engine/backup/job-spec.ts';
import { UNCHANGED } from '../../../electron/engine/backup/unchanged-stream.ts';
import { JobWorkerPool } from '../../../electron/engine/runtime/worker-job.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { garbageReport } from '../../fixtures/reliability/repo-check.ts';
import { data, runTask, waitForRun } from '../../fixtures/runs.ts';
import { serverRestoreAndWait } from '../../fixtures/restores.ts';
import { PG_BIN, pgContentFingerprint, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { pointIds } from '../../fixtures/points.ts';
import { serverWithTask } from '../../fixtures/server-task.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

// Twelve databases: six jobs per job thread (2), so every thread runs several jobs in each run
// and reuse is what is counted; more databases only repeat the same hand-outs (CI wall time).
const N = 12;
const names = Array.from({ length: N }, (_, i) => `cust${String(i + 1).padStart(2, '0')}`);

let pg: PgServer;
beforeAll(async () => {
  pg = await startPostgres();
  const script = join(mkdtempSync(join(tmpdir(), 'backstop-many-')), 'many.sql');
  writeFileSync(
    script,
    names
      .map(
        (db) =>
          `CREATE DATABASE ${db};\n\\c ${db}\nCREATE TABLE customer_orders (id int PRIMARY KEY, item text NOT NULL, amount numeric(10,2) NOT NULL);\n` +
          `INSERT INTO customer_orders SELECT i, md5('${db}' || i), (i * 7 % 1000) / 10.0 FROM generate_series(1, 200) i;\n`,
      )
      .join(''),
  );
  pg.loadFile(script, 'postgres');
  rmSync(join(script, '..'), { recursive: true, force: true });
}, 120_000);
afterAll(async () => {
  await pg?.stop();
});

interface Counted {
  pool: JobWorkerPool;
  /** Jobs handed out, with how many jobs their worker had run before. */
  jobs: { database: string; jobsBefore: number; worker: Worker }[];
}

function countedPool(onJob?: (worker: Worker, spec: BackupJobSpec, jobsBefore: number) => void): Counted {
  const jobs: Counted['jobs'] = [];
  // Idle workers stay for the whole test: reuse across runs is counted, not timed.
  const pool = new JobWorkerPool('backup-job', {
    idleMs: 600_000,
    onJob: (worker, job, jobsBefore) => {
      const spec = job as BackupJobSpec;
      jobs.push({ database: spec.database, jobsBefore, worker });
      onJob?.(worker, spec, jobsBefore);
    },
  });
  return { pool, jobs };
}

async function setUp(counted: Counted): Promise<{ engine: Engine; serverId: string; taskId: string; backups: string }> {
  const engine = await testEngine({ executor: pooledExecutor(counted.pool) });
  data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
  const backups = tempDir();
  const { serverId, taskId } = await serverWithTask(engine, { kind: 'postgres', name: 'pg', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' }, 'logical', backups, { excludeDatabases: ['postgres'] });
  const limit = data(await engine.call('settings.get', undefined)).maxConcurrentBackups;
  expect(limit).toBe(2);
  return { engine, serverId, taskId, backups };
}

describe('a PostgreSQL server with many small databases', () => {
  it('runs a full and an unchanged incremental in reused job workers, stores nothing the second time, and restores every database', { timeout: 900_000 }, async () => {
    const counted = countedPool();
    const { engine, serverId, taskId, backups } = await setUp(counted);
    const full = await runTask(engine, taskId, 'full');
    expect(full.status).toBe('success');
    const dbRows = full.databases.filter((d) => !d.serverStream);
    expect(dbRows.map((d) => d.database).sort()).toEqual(names);
    // One job per database plus globals.sql, in no more workers than jobs run at once (2).
    expect(counted.jobs).toHaveLength(N + 1);
    expect(counted.pool.started).toBeLessThanOrEqual(2);
    expect(counted.jobs.filter((j) => j.jobsBefore > 0).length).toBeGreaterThanOrEqual(N + 1 - 2);

    const inc = await runTask(engine, taskId, 'incremental');
    expect(inc.status).toBe('success');
    const incRows = inc.databases.filter((d) => !d.serverStream);
    expect(incRows.map((d) => d.kind)).toEqual(incRows.map(() => 'incremental'));
    // The second run reused the workers the first left idle: no new thread.
    expect(counted.pool.started).toBeLessThanOrEqual(2);
    const fullStored = dbRows.reduce((n, d) => n + d.bytesStored, 0);
    const incStored = incRows.reduce((n, d) => n + d.bytesStored, 0);
    // Each unchanged dump differs from its base only in pg_dump's header timestamp, which the
    // archive's format names as volatile: no point at all (unchanged-incremental.test.ts).
    expect(fullStored).toBeGreaterThan(N * 4000);
    expect(incStored).toBe(0);
    expect(incRows.every((d) => d.status === 'success' && d.kindReason === UNCHANGED && d.pointId === null)).toBe(true);
    for (const db of names) expect(await pointIds(backups, db)).toHaveLength(1);

    const done = await serverRestoreAndWait(engine, { destination: { kind: 'local', path: backups }, taskId, serverId, only: names, naming: { prefix: 'r_' } }, 600_000);
    expect(done.error).toBeNull();
    expect(done.databases.map((d) => [d.database, d.status])).toEqual(names.map((n) => [n, 'ok']));
    for (const db of names) expect(pgContentFingerprint(pg, `r_${db}`)).toEqual(pgContentFingerprint(pg, db));
    for (const db of names) pg.psql(`DROP DATABASE r_${db}`);
    await counted.pool.close();
  });

  it('fails only the database whose reused worker dies mid-job (WORKER_CRASHED), replaces the worker, and the others succeed', { timeout: 300_000 }, async () => {
    const victim = names[6]!; // mid-run: its worker has run jobs before
    let victimJobsBefore = -1;
    const counted = countedPool((worker, spec, jobsBefore) => {
      if (spec.database !== victim || victimJobsBefore >= 0) return; // the first run's job only
      victimJobsBefore = jobsBefore;
      // The thread dies with the job in it, as a crash or an out-of-memory kill would end it.
      setImmediate(() => void worker.terminate());
    });
    const { engine, taskId, backups } = await setUp(counted);
    const run = await runTask(engine, taskId, 'full');
    expect(victimJobsBefore).toBeGreaterThan(0);
    expect(run.status).toBe('partial');
    const failed = run.databases.filter((d) => d.status !== 'success');
    expect(failed.map((d) => [d.database, d.status, d.errorCode])).toEqual([[victim, 'failed', 'WORKER_CRASHED']]);
    expect(failed[0]!.errorMessage).toBe(`The worker for the backup of ${victim} exited unexpectedly (exit code 1); nothing it was writing was committed.`);
    expect(run.databases.filter((d) => d.status === 'success')).toHaveLength(N);
    // Nothing of the victim's job was committed; its folder (if the job got that far) has no
    // point: it shows nothing (the thread died between creating it and writing the repository's
    // header, or while writing it: only a hidden temp file of that put, which listings never
    // show and a later sweep removes) or a repository with no point and nothing a collection
    // would skip. Which one depends on when the thread died (on a loaded machine, earlier).
    const folder = join(backups, encodeDatabaseFolder(victim));
    const made = readdirSync(backups).includes(encodeDatabaseFolder(victim)) && (await new LocalBackend(folder).list('')).length > 0;
    if (made) expect((await garbageReport(new LocalBackend(folder))).skipped).toBeNull();
    if (made) expect(await pointIds(backups, victim)).toEqual([]);
    // The dead worker was replaced by one new thread; the rest were reused.
    expect(counted.pool.started).toBe(3);
    expect(counted.jobs).toHaveLength(N + 1);

    const again = await runTask(engine, taskId, 'incremental');
    expect(again.databases.filter((d) => d.status !== 'success').map((d) => [d.database, d.errorCode, d.errorMessage])).toEqual([]);
    expect(await pointIds(backups, victim)).toHaveLength(1);
    await counted.pool.close();
  });

  it('a run cancelled mid-way leaves only whole points and no in-flight marker, and the next run succeeds', { timeout: 300_000 }, async () => {
    let handed = 0;
    let cancel: () => void = () => undefined;
    const counted = countedPool(() => {
      if (++handed === 6) cancel(); // half-way through the 13 jobs
    });
    const { engine, taskId, backups } = await setUp(counted);
    cancel = () => void engine.call('tasks.cancel', { id: taskId });
    const { runId } = data(await engine.call('tasks.runNow', { id: taskId, kind: 'full' }));
    const run = await waitForRun(engine, runId, 240_000);
    expect(run.status).toBe('canceled');
    const ok = run.databases.filter((d) => d.status === 'success').map((d) => d.database);
    expect(ok.length).toBeLessThan(N + 1);
    for (const db of names) {
      if (!readdirSync(backups).includes(encodeDatabaseFolder(db))) continue;
      const points = await pointIds(backups, db);
      expect(points.length).toBe(ok.includes(db) ? 1 : 0);
      const g = await garbageReport(new LocalBackend(join(backups, encodeDatabaseFolder(db))));
      expect(g.markers).toBe(0);
      if (points.length) expect(data(await engine.call('restore.verify', { location: { kind: 'local', path: join(backups, encodeDatabaseFolder(db)) } })).ok).toBe(true);
    }
    const next = await runTask(engine, taskId, 'incremental');
    expect(next.databases.filter((d) => d.status !== 'success').map((d) => [d.database, d.errorCode, d.errorMessage])).toEqual([]);
    for (const db of names) expect((await pointIds(backups, db)).length).toBeGreaterThanOrEqual(1);
    await counted.pool.close();
  });
});
