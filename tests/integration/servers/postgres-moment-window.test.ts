/**
 * The window's restore to a moment of a PostgreSQL cluster backup (base backup + WAL),
 * through the engine's contract, against a real PostgreSQL 15:
 * - `restore.inspect` of the cluster backup names the reachable range (`momentRanges`);
 * - `restore.start` with `asOf` + `sourceDatabase` restores one database as it was then
 *   into a new database on the server; with `asOf` + a folder, the whole cluster, set to
 *   recover to that moment;
 * - the restore reports its steps (`restore.progress` `step`/`steps`): WAL fetch, base backup,
 *   WAL replay, dump, load for one database; WAL fetch and base backup for a whole cluster;
 * - the range starts at the base backup (once a WAL backup follows it): a moment between the
 *   full and the first WAL backup is inside it;
 * - a moment outside the range — before the base backup, or past the last WAL received —
 *   OUT_OF_RANGE naming it, no database and no folder created.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RestoreProgressInfo } from '../../../electron/shared/domain.ts';
import { encodeDatabaseFolder, SERVER_FOLDER } from '../../../electron/engine/servers/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { chownTree } from '../../fixtures/servers/common.ts';
import { PG_BIN, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { serverWithTask } from '../../fixtures/server-task.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

let pg: PgServer;

beforeAll(async () => {
  pg = await startPostgres();
});

afterAll(async () => {
  await pg?.stop();
});

describe('restore to a moment from the window (PostgreSQL base backup + WAL)', () => {
  it('inspect names the range; start restores one database or the whole cluster at a moment; outside it nothing is created', async () => {
    const engine = await testEngine({ encoderWorkers: 0 });
    data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
    const backups = tempDir();
    const { serverId, taskId } = await serverWithTask(engine, { kind: 'postgres', name: 'pg', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' }, 'snapshot', backups);
    pg.psql('CREATE DATABASE pitr');
    pg.psql('CREATE TABLE ledger (id int PRIMARY KEY, note text)', 'pitr');
    const serverNow = () => pg.psql(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`).trim();
    const beforeFull = serverNow();
    await new Promise((r) => setTimeout(r, 300));
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    // After the full (past the second its range starts in), before the first WAL backup: reachable once one follows.
    await new Promise((r) => setTimeout(r, 1100));
    pg.psql("INSERT INTO ledger VALUES (0, 'zero')", 'pitr');
    const afterFull = serverNow();
    await new Promise((r) => setTimeout(r, 300));
    const location = { kind: 'local' as const, path: join(backups, SERVER_FOLDER, encodeDatabaseFolder('base.tar')) };
    // A base backup alone reaches no moment yet.
    expect(data(await engine.call('restore.inspect', { location })).momentRanges).toBeNull();
    expect((await runTask(engine, taskId, 'incremental')).status).toBe('success');
    const now = () => pg.psql(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`).trim();
    const pause = () => new Promise((r) => setTimeout(r, 300));
    pg.psql("INSERT INTO ledger VALUES (1, 'one'), (2, 'two')", 'pitr');
    await pause();
    const afterTwo = now();
    await pause();
    pg.psql('DROP TABLE ledger', 'pitr');
    expect((await runTask(engine, taskId, 'incremental')).status).toBe('success');

    const info = data(await engine.call('restore.inspect', { location }));
    expect(info.momentRanges).toHaveLength(1);
    const range = info.momentRanges![0]!;
    expect(Date.parse(range.from)).toBeGreaterThan(Date.parse(beforeFull));
    expect(Date.parse(range.from)).toBeLessThanOrEqual(Date.parse(afterFull));
    expect(Date.parse(range.to)).toBeGreaterThan(Date.parse(afterTwo));

    // One database of the cluster, as it was after the two rows, into a new database, step by step.
    const progress: RestoreProgressInfo[] = [];
    const off = engine.events.on('restore.progress', (p) => progress.push(p));
    const one = await restoreAndWait(engine, { location, asOf: afterTwo, sourceDatabase: 'pitr', serverId: serverId, database: 'pitr_two' });
    expect(one).toMatchObject({ status: 'success', database: 'pitr_two', path: null, error: null });
    expect(pg.psql("SELECT string_agg(id || note, ',' ORDER BY id) FROM ledger", 'pitr_two').trim()).toBe('0zero,1one,2two');
    const stepsSeen = (list: RestoreProgressInfo[]) => [...new Set(list.filter((p) => p.step).map((p) => p.step))];
    expect(stepsSeen(progress)).toEqual(['wal-fetch', 'base-backup', 'wal-replay', 'dump', 'load']);
    expect(progress.find((p) => p.step)!.steps).toEqual(['wal-fetch', 'base-backup', 'wal-replay', 'dump', 'load']);
    // The base backup step counts up to the base backup's size.
    const base = progress.filter((p) => p.step === 'base-backup');
    expect(base.at(-1)!.done).toBe(base.at(-1)!.total);
    expect(base.at(-1)!.total).toBeGreaterThan(1024 * 1024);
    expect(progress.at(-1)!.phase).toBe('done');
    progress.length = 0;

    // The whole cluster into a new data directory, set to recover to that moment.
    const parent = tempDir();
    if (pg.osUser) chownTree(parent, pg.osUser);
    const folder = join(parent, 'cluster');
    const whole = await restoreAndWait(engine, { location, asOf: afterTwo, serverId: serverId, database: 'base.tar', options: { folder } });
    expect(whole).toMatchObject({ status: 'success', path: folder, error: null });
    expect(readFileSync(join(folder, 'postgresql.auto.conf'), 'utf8')).toContain(`recovery_target_time = '${new Date(afterTwo).toISOString().replace('T', ' ').replace('Z', '+00')}'`);
    expect(existsSync(join(folder, 'recovery.signal'))).toBe(true);
    expect(stepsSeen(progress)).toEqual(['wal-fetch', 'base-backup']);
    off();

    // Outside the range: OUT_OF_RANGE naming it; no database, no folder.
    const early = new Date(Date.parse(range.from) - 3_600_000).toISOString();
    const refused = await restoreAndWait(engine, { location, asOf: early, sourceDatabase: 'pitr', serverId: serverId, database: 'pitr_early' });
    expect(refused).toMatchObject({ status: 'failed', error: { code: 'OUT_OF_RANGE', message: expect.stringMatching(/is outside what the backups of this server reach\. The backups reach \d{4}-.* UTC to \d{4}-.* UTC\. Nothing was created\./) } });
    expect(pg.psql("SELECT count(*) FROM pg_database WHERE datname = 'pitr_early'").trim()).toBe('0');
    // Before the base backup: not reachable by time.
    const gap = await restoreAndWait(engine, { location, asOf: beforeFull, sourceDatabase: 'pitr', serverId: serverId, database: 'pitr_gap' });
    expect(gap).toMatchObject({ status: 'failed', error: { code: 'OUT_OF_RANGE', message: expect.stringContaining(`The backups reach ${utc(range.from)} to ${utc(range.to)}. Nothing was created.`) } });
    expect(pg.psql("SELECT count(*) FROM pg_database WHERE datname = 'pitr_gap'").trim()).toBe('0');
    // One second past the last WAL received: refused too, whatever the server did since.
    const past = await restoreAndWait(engine, { location, asOf: new Date(Date.parse(range.to) + 1000).toISOString(), sourceDatabase: 'pitr', serverId: serverId, database: 'pitr_past' });
    expect(past).toMatchObject({ status: 'failed', error: { code: 'OUT_OF_RANGE' } });
    expect(pg.psql("SELECT count(*) FROM pg_database WHERE datname = 'pitr_past'").trim()).toBe('0');
    const late = join(parent, 'late');
    const refused2 = await restoreAndWait(engine, { location, asOf: new Date(Date.now() + 3_600_000).toISOString(), serverId: serverId, database: 'base.tar', options: { folder: late } });
    expect(refused2).toMatchObject({ status: 'failed', error: { code: 'OUT_OF_RANGE' } });
    expect(existsSync(late)).toBe(false);
  }, 240_000);
});

/** How the engine names a moment in its messages (pitr.ts): "2026-12-04 14:02:00 UTC". */
function utc(iso: string): string {
  return `${iso.slice(0, 19).replace('T', ' ')} UTC`;
}
