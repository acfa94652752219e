/**
 * Restores and retention deletions are History runs (issue #24 item 5), with real SQLite
 * files, a real S3-compatible server (s3rver) and the real keychain:
 * - a running restore is listed by `restore.active` with its latest progress until it ends;
 * - a restore through the engine's service (the window's path) is a 'restore' run with its
 *   source folder, point, target server, new name, bytes and origin 'app';
 * - a restore onto a taken name is a failed run with DATABASE_EXISTS, and the file is untouched;
 * - a restore that fails mid-way (a damaged pack) is a failed run with INTEGRITY, and nothing is left;
 * - a whole-server restore from the window is one run with a row per database (one failed: partial);
 * - `backstop restore` and `backstop restore-server` (in process) are runs with origin 'cli';
 * - a restore from S3 records the s3:// folder and never the secret key;
 * - retention that deletes points is a 'retention' run listing them (ids, times, kinds);
 *   retention that deletes nothing records no run, and a task's last run stays its backup;
 * - `backstop history` shows each run's kind and `--kind` filters by it;
 * - `backstop restore` and `restore-server` that History could not record (the data folder's
 *   disk filled mid-restore, a real tmpfs) keep what they restored, exit 1 and say so on stderr
 *   and in their one document (`error`, DISK_FULL), naming what History shows instead; the
 *   window's restore (its app database turned read-only mid-restore) succeeds with a note saying so.
 */
import Database from 'libsql';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { openRepository } from '../../../electron/engine/repository/index.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import type { Run } from '../../../electron/shared/domain.ts';
import type { ServerRestoreFinished } from '../../../electron/shared/server-restore.ts';
import { CHINOOK, cliInProcess, writeTaskFile } from '../../fixtures/cli.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from '../../fixtures/s3rver.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { TmpfsMounts } from '../../fixtures/tmpfs.ts';

async function sqliteTask(opts: { retention?: { minAgeDays: number; minAgeHours: number; keepLast: number }; origin?: 'app' | 'cli' | 'agent'; dataDir?: string } = {}) {
  const engine = await testEngine({ encoderWorkers: 0, ...(opts.origin ? { origin: opts.origin } : {}), ...(opts.dataDir ? { dataDir: opts.dataDir } : {}) });
  const folder = tempDir();
  const backups = tempDir();
  copyFileSync(CHINOOK, join(folder, 'chinook.sqlite'));
  const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder }));
  const task = data(
    await engine.call('tasks.create', {
      name: 'nightly',
      serverId: server.id,
      type: 'snapshot',
      schedule: { full: '0 2 * * *', incremental: null, timezone: 'UTC' },
      encryption: { mode: 'none' },
      destinations: [{ kind: 'local', path: backups }],
      ...(opts.retention ? { retention: opts.retention } : {}),
    }),
  );
  return { engine, folder, backups, server, task, dbFolder: join(backups, encodeDatabaseFolder('chinook.sqlite')) };
}

const runsOf = async (engine: Awaited<ReturnType<typeof testEngine>>, runKind?: Run['runKind']): Promise<Run[]> =>
  data(await engine.call('history.list', { limit: 100, ...(runKind ? { runKind } : {}) }));

const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const lastRunOf = async (engine: Awaited<ReturnType<typeof testEngine>>, taskId: string): Promise<string | undefined> =>
  data(await engine.call('tasks.status', undefined)).find((s) => s.taskId === taskId)?.lastRun?.runId;

describe('restores in History', () => {
  it('restore.active lists a running restore (a reloaded window finds it) with its latest progress, until it finishes', async () => {
    const { engine, server, task, dbFolder } = await sqliteTask();
    const backup = await runTask(engine, task.id, 'full');
    const seen: { progress: unknown[]; active: unknown[] } = { progress: [], active: [] };
    const offProgress = engine.events.on('restore.progress', async (p) => {
      seen.progress.push(p);
      seen.active.push(data(await engine.call('restore.active', undefined))[0]?.progress);
    });
    let finished = false;
    const offFinished = engine.events.on('restore.finished', () => (finished = true));
    const { restoreId } = data(await engine.call('restore.start', { location: { kind: 'local', path: dbFolder }, pointId: backup.databases[0]!.pointId!, serverId: server.id, database: 'copy.sqlite' }));
    // Answered before the job thread can report anything: listed, with no progress yet.
    expect(data(await engine.call('restore.active', undefined))).toEqual([{ restoreId, database: 'copy.sqlite', serverId: server.id, startedAt: expect.any(String), progress: null }]);
    await vi.waitFor(() => expect(finished).toBe(true), { timeout: 60_000 });
    offProgress();
    offFinished();
    // While it ran, the list carried each progress event as it came.
    expect(seen.progress.length).toBeGreaterThan(0);
    expect(seen.active).toEqual(seen.progress);
    expect(data(await engine.call('restore.active', undefined))).toEqual([]);
  });

  it('records a restore through the engine service: source, point, target server, new name, bytes, origin', async () => {
    const { engine, folder, server, task, dbFolder } = await sqliteTask();
    const backup = await runTask(engine, task.id, 'full');
    const pointId = backup.databases[0]!.pointId!;
    const r = await restoreAndWait(engine, { location: { kind: 'local', path: dbFolder }, pointId, serverId: server.id, database: 'copy.sqlite' });
    expect(r).toMatchObject({ status: 'success', database: 'copy.sqlite' });

    const [run, ...more] = await runsOf(engine, 'restore');
    expect(more).toEqual([]);
    expect(run).toMatchObject({
      runKind: 'restore',
      taskId: 'restores',
      taskName: 'Restores',
      trigger: 'manual',
      status: 'success',
      errorCode: null,
      restore: { origin: 'app', scope: 'database', source: dbFolder, point: pointId, asOf: null, server: { name: 'files', kind: 'sqlite', host: null }, folder: null },
    });
    expect(run!.endedAt).not.toBeNull();
    expect(run!.databases).toHaveLength(1);
    expect(run!.databases[0]).toMatchObject({ database: 'copy.sqlite', restoredAs: 'copy.sqlite', destination: dbFolder, status: 'success', pointId, kind: 'full' });
    // The bytes restored are the point's stream: the Chinook file's size.
    expect(run!.databases[0]!.bytesRead).toBe(readFileSync(join(folder, 'chinook.sqlite')).length);
    expect(run!.databases[0]!.durationMs).toBeGreaterThanOrEqual(0);
    // A restore is not the task's last run, and the unfiltered list holds both kinds.
    expect((await runsOf(engine)).map((x) => x.runKind ?? 'backup').sort()).toEqual(['backup', 'restore']);
    expect(await lastRunOf(engine, task.id)).toBe(backup.id);
  });

  it('records the origin of the process the engine runs in (serve / agent: "agent")', async () => {
    const { engine, server, task, dbFolder } = await sqliteTask({ origin: 'agent' });
    await runTask(engine, task.id, 'full');
    expect(await restoreAndWait(engine, { location: { kind: 'local', path: dbFolder }, pointId: 'latest', serverId: server.id, database: 'served.sqlite' })).toMatchObject({ status: 'success' });
    const [run] = await runsOf(engine, 'restore');
    expect(run).toMatchObject({ trigger: 'manual', status: 'success', restore: { origin: 'agent', point: 'latest' }, databases: [{ restoredAs: 'served.sqlite' }] });
  });

  it('records a restore onto a taken name as failed with DATABASE_EXISTS, and leaves that file untouched', async () => {
    const { engine, folder, server, task, dbFolder } = await sqliteTask();
    await runTask(engine, task.id, 'full');
    writeFileSync(join(folder, 'taken.sqlite'), 'precious');
    const r = await restoreAndWait(engine, { location: { kind: 'local', path: dbFolder }, pointId: 'latest', serverId: server.id, database: 'taken.sqlite' });
    expect(r).toMatchObject({ status: 'failed', error: { code: 'DATABASE_EXISTS' } });
    expect(readFileSync(join(folder, 'taken.sqlite'), 'utf8')).toBe('precious');

    const [run] = await runsOf(engine, 'restore');
    expect(run).toMatchObject({ status: 'failed', errorCode: 'DATABASE_EXISTS', errorMessage: r.error!.message, restore: { point: 'latest' } });
    expect(run!.errorMessage).toContain('taken.sqlite');
    expect(run!.databases).toEqual([
      expect.objectContaining({ database: 'taken.sqlite', restoredAs: 'taken.sqlite', status: 'failed', errorCode: 'DATABASE_EXISTS', errorMessage: r.error!.message, bytesRead: 0 }),
    ]);
  });

  it('records a restore that fails mid-way (a damaged pack) as failed with INTEGRITY; nothing is left behind', async () => {
    const { engine, folder, server, task, dbFolder } = await sqliteTask();
    await runTask(engine, task.id, 'full');
    const packs = readdirSync(join(dbFolder, 'packs'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    const pack = join(packs[0]!.parentPath, packs[0]!.name);
    const bytes = readFileSync(pack);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(pack, bytes);
    const r = await restoreAndWait(engine, { location: { kind: 'local', path: dbFolder }, pointId: 'latest', serverId: server.id, database: 'damaged.sqlite' });
    expect(r).toMatchObject({ status: 'failed', error: { code: 'INTEGRITY' } });
    expect(existsSync(join(folder, 'damaged.sqlite'))).toBe(false);
    const [run] = await runsOf(engine, 'restore');
    expect(run).toMatchObject({ status: 'failed', errorCode: 'INTEGRITY', errorMessage: r.error!.message, databases: [{ restoredAs: 'damaged.sqlite', status: 'failed', errorCode: 'INTEGRITY', bytesRead: 0 }] });
  });

  it("records the window's whole-server restore as one run with a row per database; a taken name makes it partial", async () => {
    const { engine, folder, backups, server, task } = await sqliteTask();
    copyFileSync(CHINOOK, join(folder, 'second.sqlite'));
    await runTask(engine, task.id, 'full');
    const target = tempDir();
    writeFileSync(join(target, 'old_second.sqlite'), 'precious');
    const targetServer = data(await engine.call('servers.create', { kind: 'sqlite', name: 'staging', folder: target }));
    let finished: ServerRestoreFinished | null = null;
    const off = engine.events.on('restore.serverFinished', (f) => (finished = f));
    data(await engine.call('restore.serverStart', { destination: { kind: 'local', path: backups }, serverId: targetServer.id, naming: { prefix: 'old_' }, taskId: task.id }));
    while (finished === null) await new Promise((r) => setTimeout(r, 50));
    off();
    expect(server.id).not.toBe(targetServer.id);
    const [run, ...more] = await runsOf(engine, 'restore');
    expect(more).toEqual([]);
    expect(run).toMatchObject({ status: 'partial', trigger: 'manual', restore: { origin: 'app', scope: 'server', source: backups, point: 'latest', server: { name: 'staging', kind: 'sqlite', host: null } } });
    const rows = Object.fromEntries(run!.databases.map((d) => [d.database, d]));
    expect(rows['chinook.sqlite']).toMatchObject({ restoredAs: 'old_chinook.sqlite', status: 'success' });
    expect(rows['chinook.sqlite']!.bytesRead).toBeGreaterThan(0);
    expect(rows['second.sqlite']).toMatchObject({ restoredAs: 'old_second.sqlite', status: 'failed', errorCode: 'DATABASE_EXISTS', bytesRead: 0 });
    expect(readFileSync(join(target, 'old_second.sqlite'), 'utf8')).toBe('precious');
  });

  it('records `backstop restore` and `backstop restore-server` with origin cli, and `history` shows and filters the kind', async () => {
    const { engine, folder, backups, task, dbFolder } = await sqliteTask();
    await runTask(engine, task.id, 'full');
    const dataDir = engine.dataDir;
    await engine.close();
    const target = tempDir();
    const serverFile = join(tempDir(), 'server.json');
    writeFileSync(serverFile, JSON.stringify({ kind: 'sqlite', folder: target }));

    const one = await cliInProcess('restore', dbFolder, '--point', 'latest', '--server', serverFile, '--database', 'one.sqlite', '--data-dir', dataDir, '--json');
    expect(one.code, one.out + one.err).toBe(0);
    const whole = await cliInProcess('restore-server', backups, '--server', serverFile, '--prefix', 'all_', '--data-dir', dataDir, '--json');
    expect(whole.code, whole.out + whole.err).toBe(0);
    const taken = await cliInProcess('restore', dbFolder, '--point', 'latest', '--server', serverFile, '--database', 'one.sqlite', '--data-dir', dataDir, '--json');
    expect(taken.code).toBe(1);
    expect(JSON.parse(taken.out)).toMatchObject({ error: { code: 'DATABASE_EXISTS' } });

    const h = await cliInProcess('history', '--kind', 'restore', '--data-dir', dataDir, '--json');
    expect(h.code).toBe(0);
    const runs = JSON.parse(h.out) as Run[];
    expect(runs.map((r) => [r.runKind, r.trigger, r.restore?.origin, r.restore?.scope, r.status])).toEqual([
      ['restore', 'cli', 'cli', 'database', 'failed'],
      ['restore', 'cli', 'cli', 'server', 'success'],
      ['restore', 'cli', 'cli', 'database', 'success'],
    ]);
    expect(runs[0]).toMatchObject({ errorCode: 'DATABASE_EXISTS', databases: [{ restoredAs: 'one.sqlite', status: 'failed', errorCode: 'DATABASE_EXISTS' }] });
    expect(runs[1]).toMatchObject({ restore: { source: backups, point: 'latest', server: { kind: 'sqlite', host: null } }, databases: [{ database: 'chinook.sqlite', restoredAs: 'all_chinook.sqlite', status: 'success' }] });
    expect(runs[1]!.databases[0]!.bytesRead).toBe(readFileSync(join(folder, 'chinook.sqlite')).length);
    expect(runs[2]).toMatchObject({ restore: { source: dbFolder }, databases: [{ database: 'one.sqlite', restoredAs: 'one.sqlite', status: 'success' }] });
    expect(readFileSync(join(target, 'one.sqlite')).subarray(0, 15).toString()).toBe('SQLite format 3');

    // Text output: one line per run with its kind; --kind backup leaves the restores out.
    const text = await cliInProcess('history', '--data-dir', dataDir);
    expect(text.out.split('\n').map((l) => l.split('\t').slice(1))).toEqual([
      ['restore', 'Restores', 'failed'],
      ['restore', 'Restores', 'success'],
      ['restore', 'Restores', 'success'],
      ['backup', 'nightly', 'success'],
    ]);
    const backups_ = JSON.parse((await cliInProcess('history', '--kind', 'backup', '--data-dir', dataDir, '--json')).out) as Run[];
    expect(backups_.map((r) => r.taskName)).toEqual(['nightly']);
    const bad = await cliInProcess('history', '--kind', 'everything', '--data-dir', dataDir, '--json');
    expect(bad.code).not.toBe(0);
    expect(JSON.parse(bad.out)).toEqual({ error: { code: 'MALFORMED_REQUEST', message: 'history --kind must be one of backup, test-restore, restore, retention. Run "backstop --help".' } });
  });
});

describe('a restore from S3 in History', () => {
  let s3: S3rverHandle;
  const saved = { ...process.env };
  beforeAll(async () => {
    s3 = await startS3rver(['backstop']);
    process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
    process.env.BACKSTOP_S3_ENDPOINT = s3.endpoint;
  }, 30_000);
  afterAll(async () => {
    for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'BACKSTOP_S3_ENDPOINT']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    await s3?.stop();
  });

  it('records the s3:// folder and the target, never the access or secret key', async () => {
    const folder = tempDir();
    copyFileSync(CHINOOK, join(folder, 'chinook.sqlite'));
    const taskFile = writeTaskFile(tempDir(), { name: 's3', server: { kind: 'sqlite', folder }, destinations: [{ kind: 's3', bucket: 'backstop', prefix: 'hist', endpoint: s3.endpoint }] });
    const dataDir = tempDir();
    const backup = await cliInProcess('backup', '--config', taskFile, '--data-dir', dataDir, '--json');
    expect(backup.code, backup.out).toBe(0);
    const target = tempDir();
    const serverFile = join(tempDir(), 'server.json');
    writeFileSync(serverFile, JSON.stringify({ kind: 'sqlite', folder: target }));
    const location = `s3://backstop/hist/${encodeDatabaseFolder('chinook.sqlite')}`;
    const r = await cliInProcess('restore', location, '--point', 'latest', '--server', serverFile, '--database', 'from-s3.sqlite', '--data-dir', dataDir, '--json');
    expect(r.code, r.out + r.err).toBe(0);
    const h = await cliInProcess('history', '--kind', 'restore', '--data-dir', dataDir, '--json');
    const [run] = JSON.parse(h.out) as Run[];
    expect(run).toMatchObject({ status: 'success', restore: { origin: 'cli', source: location, server: { kind: 'sqlite' } }, databases: [{ restoredAs: 'from-s3.sqlite', status: 'success' }] });
    // No secret in any recorded run: the whole history as the CLI gives it.
    const all = (await cliInProcess('history', '--data-dir', dataDir, '--json')).out;
    expect(all).toContain(location);
    expect(all).not.toContain(S3RVER_CREDENTIALS.secretAccessKey);
  });
});

describe('retention in History', () => {
  it('records a retention run listing the deleted points, only when it deleted something', async () => {
    const { engine, task, dbFolder } = await sqliteTask({ retention: { minAgeDays: 0, minAgeHours: 0, keepLast: 1 } });
    const first = await runTask(engine, task.id, 'full');
    // One point: retention keeps it and deletes nothing — no retention run.
    expect(await runsOf(engine, 'retention')).toEqual([]);
    const second = await runTask(engine, task.id, 'full');
    const retention = await runsOf(engine, 'retention');
    expect(retention).toHaveLength(1);
    const run = retention[0]!;
    expect(run).toMatchObject({ taskId: task.id, taskName: 'nightly', runKind: 'retention', status: 'success', trigger: 'manual', errorCode: null });
    const oldId = first.databases[0]!.pointId!;
    expect(run.databases).toHaveLength(1);
    expect(run.databases[0]).toMatchObject({
      database: 'chinook.sqlite',
      destination: second.databases[0]!.destination,
      status: 'success',
      deletedPoints: [{ id: oldId, kind: 'full', createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) }],
    });
    // Bytes freed: what garbage collection removed (0 here: the second full shares every chunk with the first).
    expect(run.databases[0]!.bytesFreed).toBe(0);
    // The point is really gone from the folder: only the second one is left.
    const points = data(await engine.call('restore.inspect', { location: { kind: 'local', path: dbFolder } })).points;
    expect(points.map((p) => p.id)).toEqual([second.databases[0]!.pointId]);
    // The task's last run is still its backup, not the retention after it.
    expect(await lastRunOf(engine, task.id)).toBe(second.id);
  });

  it('a point a restore is reading is kept and said so in the retention run; the next run deletes it', async () => {
    const { engine, task, dbFolder } = await sqliteTask({ retention: { minAgeDays: 0, minAgeHours: 0, keepLast: 1 } });
    const first = await runTask(engine, task.id, 'full');
    const oldId = first.databases[0]!.pointId!;
    // A restore (here: the repository's hold, as a moment restore takes it) reads the first point while the next run's retention runs.
    const hold = await (await openRepository(new LocalBackend(dbFolder))).holdPoints([oldId]);
    const second = await runTask(engine, task.id, 'full');
    const [kept] = await runsOf(engine, 'retention');
    expect(kept!.databases).toHaveLength(1);
    expect(kept!.databases[0]).toMatchObject({ database: 'chinook.sqlite', status: 'success', deletedPoints: [], keptInUse: [oldId] });
    await hold.release();
    const third = await runTask(engine, task.id, 'full');
    const [latest] = await runsOf(engine, 'retention');
    expect(latest!.id).not.toBe(kept!.id);
    expect(latest!.databases[0]!.deletedPoints!.map((p) => p.id)).toContain(oldId);
    expect(latest!.databases[0]!.keptInUse).toBeUndefined();
    const points = data(await engine.call('restore.inspect', { location: { kind: 'local', path: dbFolder } })).points.map((p) => p.id);
    expect(points).toEqual([third.databases[0]!.pointId]);
    expect(second.databases[0]!.pointId).not.toBe(third.databases[0]!.pointId);
  });
});

describe('a restore History could not record', () => {
  it('`backstop restore` and `restore-server` whose data folder disk fills mid-restore: what was restored stays, exit 1, stderr and the document say History lacks it', async (ctx) => {
    const dataDir = tempDir('backstop-data-');
    const tmpfs = new TmpfsMounts();
    if (!tmpfs.tryMount(dataDir, '16m')) ctx.skip('mount -t tmpfs is not permitted here');
    // Registered after tempDir's removal, so run before it (onTestFinished runs in reverse).
    ctx.onTestFinished(() => tmpfs.unmountAll());
    const { engine, folder, backups, task, dbFolder } = await sqliteTask({ dataDir });
    await runTask(engine, task.id, 'full');
    await engine.close();
    const target = tempDir();
    const serverFile = join(tempDir(), 'server.json');
    writeFileSync(serverFile, JSON.stringify({ kind: 'sqlite', folder: target }));
    // Once an armed restore has created its file, the data folder's disk fills up — synchronously,
    // so before the restore takes another step: its History writes after the work fail (SQLITE_FULL).
    const filler = join(dataDir, 'filler');
    let armed = false;
    const watcher = watch(target, (_event, name) => {
      if (!armed || !name?.startsWith('.backstop-restore-') || !existsSync(join(target, name))) return;
      armed = false;
      spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { stdio: 'ignore' });
    });
    onTestFinished(() => watcher.close());
    const cause = (path: string) =>
      new RegExp(
        `^History could not record this restore: Backstop could not write its app database ${esc(join(dataDir, 'backstop.db'))}: the disk is full \\(.+, SQLITE_FULL\\)\\. Free space on the disk that holds ${esc(dataDir)}, then try again\\. The restore itself finished: ${path}\\. History lists it as still running, and a later Backstop command records it as failed \\(WORKER_CRASHED\\): it did not fail\\.$`,
      );
    const sound = (path: string) => {
      const db = new Database(path, { readonly: true });
      try {
        return [(db.prepare('PRAGMA quick_check').get() as { quick_check: string }).quick_check, (db.prepare('SELECT count(*) AS n FROM Track').get() as { n: number }).n];
      } finally {
        db.close();
      }
    };

    armed = true;
    const one = await cliInProcess('restore', dbFolder, '--point', 'latest', '--server', serverFile, '--database', 'copy.sqlite', '--data-dir', dataDir, '--json');
    expect(existsSync(filler)).toBe(true);
    const doc = JSON.parse(one.out) as { database: string; path: string; notes: string[]; error?: { code: string; message: string } };
    expect(doc).toEqual({ database: 'copy.sqlite', path: join(target, 'copy.sqlite'), notes: [], error: { code: 'DISK_FULL', message: expect.stringMatching(cause(`"copy\\.sqlite" was restored \\(${esc(join(target, 'copy.sqlite'))}\\)`)) } });
    expect(one.err).toBe(`backstop: DISK_FULL: ${doc.error!.message}`);
    expect(one.code).toBe(1);
    // The restore itself is whole: a sound database holding what was backed up.
    expect(sound(join(target, 'copy.sqlite'))).toEqual(sound(join(folder, 'chinook.sqlite')));
    // What the message says History shows: the restore as still running (this process is alive).
    rmSync(filler);
    const [run] = JSON.parse((await cliInProcess('history', '--kind', 'restore', '--data-dir', dataDir, '--json')).out) as Run[];
    expect(run).toMatchObject({ runKind: 'restore', status: 'running', restore: { source: dbFolder } });

    armed = true;
    const whole = await cliInProcess('restore-server', backups, '--server', serverFile, '--prefix', 'all_', '--data-dir', dataDir, '--json');
    expect(existsSync(filler)).toBe(true);
    const server = JSON.parse(whole.out) as { status: string; databases: { database: string; restoredAs: string; status: string }[]; notes: string[]; error?: { code: string; message: string } };
    // Restored, so "ok" — though the restore journal could not mark it done either (said in a note).
    expect(server).toMatchObject({ status: 'success', databases: [{ database: 'chinook.sqlite', restoredAs: 'all_chinook.sqlite', status: 'ok' }], error: { code: 'DISK_FULL', message: expect.stringMatching(cause('1 database restored, as listed')) } });
    expect(server.notes).toEqual([expect.stringMatching(/^"all_chinook\.sqlite" was restored, but the restore journal could not record it as done \(Backstop could not write its app database .+: the disk is full .+\)\.$/)]);
    expect(whole.err).toBe(`backstop: DISK_FULL: ${server.error!.message}`);
    expect(whole.code).toBe(1);
    expect(sound(join(target, 'all_chinook.sqlite'))).toEqual(sound(join(folder, 'chinook.sqlite')));
  }, 60_000);

  it("the window's restore whose app database turns read-only mid-restore: success, the restored file kept, a note naming History's failure", async () => {
    const { engine, folder, server, task, dbFolder } = await sqliteTask();
    await runTask(engine, task.id, 'full');
    // Once the restore is under way, every write to the app database fails (SQLITE_READONLY from the real driver: a data folder remounted read-only).
    let turned = false;
    engine.events.on('restore.progress', () => {
      if (!turned) engine.db.exec('PRAGMA query_only = ON');
      turned = true;
    });
    const r = await restoreAndWait(engine, { location: { kind: 'local', path: dbFolder }, pointId: 'latest', serverId: server.id, database: 'copy.sqlite' });
    engine.db.exec('PRAGMA query_only = OFF');
    expect(turned).toBe(true);
    expect(r).toMatchObject({ status: 'success', database: 'copy.sqlite', error: null });
    expect(r.notes).toEqual([
      expect.stringMatching(
        new RegExp(
          `^History could not record this restore: Backstop could not write its app database ${esc(join(engine.dataDir, 'backstop.db'))}: it is read-only \\(.+SQLITE_READONLY\\)\\. .+ The restore itself finished: "copy\\.sqlite" was restored \\(${esc(join(folder, 'copy.sqlite'))}\\)\\. History lists it as still running, and a later Backstop command records it as failed \\(WORKER_CRASHED\\): it did not fail\\.$`,
        ),
      ),
    ]);
    expect(readFileSync(join(folder, 'copy.sqlite')).subarray(0, 15).toString()).toBe('SQLite format 3');
  }, 60_000);
});
