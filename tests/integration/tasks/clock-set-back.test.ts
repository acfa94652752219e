/**
 * The workstation's clock set back between runs (NTP correcting a clock that was ahead, a VM
 * resumed from a snapshot, a clock set by hand), on real backups through the engine's contract
 * and the CLI; only `Date` is moved (jobs inline, so it dates the points):
 * - SQLite, 40 minutes back: the incrementals after it continue the last point written, not the
 *   point dated ahead, and `restore --point latest` gives the last backup's rows; `points --json`
 *   names each point's parent, and History raises no "newer points are gone" for the full;
 * - SQLite, a day back: a database changed and changed back is stored (it equals the point
 *   dated ahead, not the last one written), so "latest" restores what the database holds;
 * - SQLite: `prune --min-age 0d --keep-last 1` keeps the last point written (the point dated
 *   ahead is kept too, by its own rule), and a point dated ahead does not stop age retention
 *   of the others;
 * - PostgreSQL dump task, a day back: the same for `pg_dump` points;
 * - MariaDB with the binary log, a day back: the next incrementals stay covered by the log,
 *   each log read continues the last one (no file stored twice), no "newer points are gone"
 *   alarm, and a restore to the end of the last read has every row.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Engine } from '../../../electron/engine/index.ts';
import { COVERED_BY_LOG } from '../../../electron/engine/backup/log-coverage.ts';
import { restoreCommand } from '../../../electron/cli/commands/location.ts';
import { encodeDatabaseFolder, SERVER_FOLDER } from '../../../electron/engine/servers/index.ts';
import type { Run, TaskInput } from '../../../electron/shared/domain.ts';
import { cliInProcess as cli, oneJsonDocument } from '../../fixtures/cli.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { MemorySecretStore } from '../../fixtures/memory-secret-store.ts';
import { storedPoints } from '../../fixtures/points.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

afterEach(() => {
  vi.useRealTimers();
});

/** `Date` reads `ms` ahead of the real clock (frozen there) until `vi.useRealTimers()`. */
function clockAhead(ms: number): void {
  vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + ms });
}

const schedule = { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' };

async function createTask(engine: Engine, serverId: string, type: TaskInput['type'], retention: TaskInput['retention'] = { minAgeDays: 30, keepLast: null }): Promise<{ id: string; backups: string }> {
  const backups = tempDir('backstop-clock-back-');
  const t = data(await engine.call('tasks.create', { name: `clock ${type}`, serverId, type, schedule, retention, destinations: [{ kind: 'local', path: backups }] }));
  return { id: t.id, backups };
}

async function ok(engine: Engine, id: string, kind: 'full' | 'incremental'): Promise<Run> {
  const run = await runTask(engine, id, kind);
  expect(run.status, JSON.stringify(run.databases)).toBe('success');
  return run;
}

/** An engine (jobs inline) with `server` saved, and a `server.json` naming it for the CLI's restore (its password in the environment). */
async function engineFor(kind: 'postgres' | 'mysql', server: { host: string; port: number; user: string; password: string }): Promise<{ engine: Engine; serverId: string; serverFile: string }> {
  const engine = await testEngine({ encoderWorkers: 0, jobs: 'inline' });
  const { host, port, user, password } = server;
  const serverId = data(await engine.call('servers.create', { kind, name: kind, host, port, user, password, tls: 'disable' })).id;
  const serverFile = join(tempDir(), 'server.json');
  const passwordEnv = `CLOCK_BACK_${kind.toUpperCase()}_PASSWORD`;
  process.env[passwordEnv] = password;
  writeFileSync(serverFile, JSON.stringify({ kind, host, port, user, passwordEnv, tls: 'disable' }));
  return { engine, serverId, serverFile };
}

describe('SQLite folder: the clock set back between runs', () => {
  let engine: Engine;
  let source: string;
  let serverId: string;

  const ledger = (sql: string) => {
    const db = new Database(join(source, 'ledger.db'));
    db.exec(sql);
    db.close();
  };

  /** One engine per test over one small SQLite folder; jobs inline, so a moved `Date` dates the points. */
  async function start(): Promise<void> {
    source = tempDir('backstop-clock-src-');
    ledger('CREATE TABLE entry (id INTEGER PRIMARY KEY, amount INTEGER); INSERT INTO entry (amount) VALUES (1), (2), (3)');
    engine = await testEngine({ secrets: new MemorySecretStore(), encoderWorkers: 0, jobs: 'inline' });
    serverId = data(await engine.call('servers.create', { kind: 'sqlite', name: 'ledger files', folder: source })).id;
  }

  /** `restore --point latest` of the ledger into a new file: its amounts. */
  async function latestAmounts(backups: string): Promise<number[]> {
    const target = tempDir('backstop-clock-restore-');
    const server = join(tempDir(), 'server.json');
    writeFileSync(server, JSON.stringify({ kind: 'sqlite', folder: target }));
    const folder = join(backups, encodeDatabaseFolder('ledger.db'));
    const r = await cli('restore', folder, '--point', 'latest', '--server', server, '--database', 'latest.db', '--data-dir', tempDir(), '--json');
    expect(r.code, r.err || r.out).toBe(0);
    const copy = new Database(join(target, 'latest.db'));
    const amounts = copy.prepare('SELECT amount FROM entry ORDER BY id').all().map((row) => (row as { amount: number }).amount);
    copy.close();
    return amounts;
  }

  it('40 minutes back: the next incrementals continue the last point written, and "latest" restores its rows', async () => {
    await start();
    const { id, backups } = await createTask(engine, serverId, 'snapshot');
    clockAhead(40 * MINUTE);
    const full = (await ok(engine, id, 'full')).databases[0]!.pointId!;
    vi.useRealTimers(); // NTP corrects the clock: 40 minutes back
    ledger('INSERT INTO entry (amount) VALUES (42)');
    const first = (await ok(engine, id, 'incremental')).databases[0]!.pointId!;
    ledger('INSERT INTO entry (amount) VALUES (43)');
    const secondRun = (await ok(engine, id, 'incremental')).databases[0]!;
    const second = secondRun.pointId!;
    // Nothing is missing from the folder: History raises no "newer points are gone" for the full dated later.
    expect(secondRun.kindReason).toBeNull();

    const points = await storedPoints(backups, 'ledger.db');
    const byId = new Map(points.map((p) => [p.id, p]));
    expect(byId.get(first)).toMatchObject({ kind: 'incremental', parentId: full, chainId: full });
    // The point it continues is the last one written, though the full is dated 40 minutes later.
    expect(byId.get(second)).toMatchObject({ kind: 'incremental', parentId: first, chainId: full });
    expect(Date.parse(byId.get(full)!.createdAt)).toBeGreaterThan(Date.parse(byId.get(second)!.createdAt));
    expect(await latestAmounts(backups)).toEqual([1, 2, 3, 42, 43]);

    // `points` lists them by date (the full dated ahead last), each naming the point it continues.
    const listed = await cli('points', join(backups, encodeDatabaseFolder('ledger.db')), '--data-dir', tempDir(), '--json');
    expect(listed.code, listed.err).toBe(0);
    expect((oneJsonDocument(listed.out) as { id: string; parentId: string | null }[]).map((p) => [p.id, p.parentId])).toEqual([
      [first, full],
      [second, first],
      [full, null],
    ]);
  });

  it('a day back: a database changed and changed back is stored, not "unchanged" against the point dated ahead, and "latest" restores what it holds', async () => {
    await start();
    const { id, backups } = await createTask(engine, serverId, 'snapshot');
    clockAhead(DAY);
    const full = (await ok(engine, id, 'full')).databases[0]!.pointId!;
    vi.useRealTimers();
    const file = join(source, 'ledger.db');
    const atFull = readFileSync(file);
    ledger('INSERT INTO entry (amount) VALUES (42)');
    const added = (await ok(engine, id, 'incremental')).databases[0]!.pointId!;
    // The change undone (the file put back): as it was at the full, but not as at the last backup.
    writeFileSync(file, atFull);
    const back = (await ok(engine, id, 'incremental')).databases[0]!;
    expect(back).toMatchObject({ status: 'success', kind: 'incremental', pointId: expect.any(String) });
    expect((await storedPoints(backups, 'ledger.db')).find((p) => p.id === back.pointId)).toMatchObject({ parentId: added, chainId: full });
    expect(await latestAmounts(backups)).toEqual([1, 2, 3]);
  });

  it('prune by count keeps the last point written (and the one dated ahead); a point dated ahead does not stop age retention of the others', async () => {
    await start();
    const { id, backups } = await createTask(engine, serverId, 'snapshot');
    const folder = join(backups, encodeDatabaseFolder('ledger.db'));
    // Two fulls 40 and 30 hours ago, then one while the clock was three days ahead.
    const t0 = Date.now();
    const old: string[] = [];
    for (const hours of [40, 30]) {
      vi.useFakeTimers({ toFake: ['Date'], now: t0 - hours * 60 * MINUTE });
      old.push((await ok(engine, id, 'full')).databases[0]!.pointId!);
    }
    vi.useRealTimers();
    clockAhead(3 * DAY);
    const ahead = (await ok(engine, id, 'full')).databases[0]!.pointId!;
    vi.useRealTimers();
    ledger('INSERT INTO entry (amount) VALUES (7)');
    const inc = (await ok(engine, id, 'incremental')).databases[0]!.pointId!;
    ledger('INSERT INTO entry (amount) VALUES (8)');
    const last = (await ok(engine, id, 'incremental')).databases[0]!.pointId!;

    // The incrementals after the correction continue the newest point not dated ahead (nothing links them to it).
    expect((await storedPoints(backups, 'ledger.db')).find((p) => p.id === inc)).toMatchObject({ parentId: old[1], chainId: old[1] });
    // Age: the older full is older than a day and newer points exist: deleted (the other is the kept incrementals' full);
    // nothing waits for the point dated ahead to come of age.
    const byAge = await cli('prune', folder, '--min-age', '1d', '--data-dir', tempDir(), '--json');
    expect(byAge.code, byAge.err).toBe(0);
    const aged = oneJsonDocument(byAge.out) as { plan: { id: string; action: string; reason: string }[]; deleted: string[] };
    expect(aged.deleted).toEqual([old[0]]);
    expect(aged.plan.find((d) => d.id === ahead)).toEqual({ id: ahead, action: 'keep', reason: 'taken after now: the clock was ahead when it was written, or is behind now' });

    // Count: the last point written is the newest, whatever the dates say.
    const byCount = await cli('prune', folder, '--min-age', '0d', '--keep-last', '1', '--data-dir', tempDir(), '--json');
    expect(byCount.code, byCount.err).toBe(0);
    const counted = oneJsonDocument(byCount.out) as { plan: { id: string; action: string; reason: string }[]; deleted: string[] };
    expect(counted.plan[0]).toEqual({ id: last, action: 'keep', reason: 'newest point' });
    expect(counted.deleted).toEqual([inc]);
    expect((await storedPoints(backups, 'ledger.db')).map((p) => p.id).sort()).toEqual([last, old[1]!, ahead].sort());
    expect(await latestAmounts(backups)).toEqual([1, 2, 3, 7, 8]);
  });

  it('no jump, read with a clock two hours behind the writer\'s (another machine): "latest" is the last point written, not last week\'s chain, and a prune by count keeps this week\'s', async () => {
    await start();
    const { id, backups } = await createTask(engine, serverId, 'snapshot');
    const folder = join(backups, encodeDatabaseFolder('ledger.db'));
    const t0 = Date.now();
    const at = async (ago: number, kind: 'full' | 'incremental', amount: number) => {
      if (ago > 0) vi.useFakeTimers({ toFake: ['Date'], now: t0 - ago });
      else vi.useRealTimers();
      if (amount) ledger(`INSERT INTO entry (amount) VALUES (${amount})`);
      return (await ok(engine, id, kind)).databases[0]!.pointId!;
    };
    // Last week's chain, then this week's: its last incremental written just now.
    const full1 = await at(8 * DAY, 'full', 0);
    const inc1 = await at(7 * DAY + 60 * MINUTE, 'incremental', 41);
    const full2 = await at(DAY, 'full', 42);
    const inc2a = await at(3 * 60 * MINUTE, 'incremental', 43);
    const inc2b = await at(0, 'incremental', 44);
    expect((await storedPoints(backups, 'ledger.db')).find((p) => p.id === inc2b)).toMatchObject({ parentId: inc2a, chainId: full2 });

    // This machine's clock two hours behind: the last point is dated more than an hour after its now.
    clockAhead(-120 * MINUTE);
    expect(await latestAmounts(backups)).toEqual([1, 2, 3, 41, 42, 43, 44]);
    const byCount = await cli('prune', folder, '--min-age', '0d', '--keep-last', '2', '--data-dir', tempDir(), '--json');
    expect(byCount.code, byCount.err).toBe(0);
    const counted = oneJsonDocument(byCount.out) as { plan: { id: string; action: string; reason: string }[]; deleted: string[] };
    expect(counted.plan[0]).toEqual({ id: inc2b, action: 'keep', reason: 'newest point' });
    expect(counted.deleted.sort()).toEqual([full1, inc1].sort());
    expect((await storedPoints(backups, 'ledger.db')).map((p) => p.id).sort()).toEqual([full2, inc2a, inc2b].sort());
    expect(await latestAmounts(backups)).toEqual([1, 2, 3, 41, 42, 43, 44]);
  });
});

describe('PostgreSQL dump task: the clock set back a day', () => {
  let pg: PgServer;
  beforeAll(async () => {
    pg = await startPostgres();
    pg.psql('CREATE DATABASE ledger');
    pg.psql('CREATE TABLE entry (id int PRIMARY KEY, amount int NOT NULL); INSERT INTO entry SELECT i, i FROM generate_series(1, 3) i;', 'ledger');
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
  });

  it('the incrementals after it continue the last point written; a change undone is stored, and "latest" restores the rows the database holds', async () => {
    const { engine, serverId, serverFile: server } = await engineFor('postgres', pg);
    const { id, backups } = await createTask(engine, serverId, 'logical');
    const of = (run: Run) => run.databases.find((d) => d.database === 'ledger')!;
    clockAhead(DAY);
    const full = of(await ok(engine, id, 'full')).pointId!;
    vi.useRealTimers();
    pg.psql('INSERT INTO entry VALUES (42, 42)', 'ledger');
    const added = of(await ok(engine, id, 'incremental')).pointId!;
    pg.psql('DELETE FROM entry WHERE id = 42', 'ledger');
    const back = of(await ok(engine, id, 'incremental'));
    expect(back).toMatchObject({ status: 'success', kind: 'incremental', pointId: expect.any(String) });
    const points = await storedPoints(backups, 'ledger');
    expect(points.find((p) => p.id === added)).toMatchObject({ parentId: full });
    expect(points.find((p) => p.id === back.pointId)).toMatchObject({ parentId: added, chainId: full });

    const r = await cli('restore', join(backups, encodeDatabaseFolder('ledger')), '--point', 'latest', '--server', server, '--database', 'ledger_latest', '--data-dir', tempDir(), '--json');
    expect(r.code, r.err || r.out).toBe(0);
    expect(pg.psql('SELECT string_agg(id::text, \',\' ORDER BY id) FROM entry', 'ledger_latest').trim()).toBe('1,2,3');
  }, 180_000);
});

describe('MariaDB with the binary log: the clock set back a day', () => {
  let db: MariadbServer;
  beforeAll(async () => {
    db = await startMariadb({ binlog: true });
    db.sql('CREATE DATABASE till');
    db.sql('CREATE TABLE sale (id INT PRIMARY KEY, amount INT NOT NULL); INSERT INTO sale VALUES (1, 10), (2, 20);', 'till');
  }, 120_000);
  afterAll(async () => {
    await db?.stop();
  });

  it('the next incrementals stay covered by the log, each read continues the last one (no file stored twice), and the last moment restores every row', async () => {
    const { engine, serverId, serverFile: server } = await engineFor('mysql', db);
    const { id, backups } = await createTask(engine, serverId, 'logical');
    const of = (run: Run, name: string) => run.databases.find((d) => d.database === name)!;
    clockAhead(DAY);
    expect(of(await ok(engine, id, 'full'), 'till')).toMatchObject({ kind: 'full', pointId: expect.any(String) });
    vi.useRealTimers();
    const incrementals: Run[] = [];
    for (const row of [3, 4]) {
      db.sql(`INSERT INTO sale VALUES (${row}, ${row * 10})`, 'till');
      incrementals.push(await ok(engine, id, 'incremental'));
    }
    for (const run of incrementals) {
      expect(of(run, 'till')).toMatchObject({ kind: 'incremental', kindReason: COVERED_BY_LOG, pointId: null });
      // Each read continues the last one; the full's read (dated ahead, its file needed by no dump) went by the log's retention, which is no alarm.
      expect(of(run, 'binlog')).toMatchObject({ status: 'success', kind: 'incremental', kindReason: null, pointId: expect.any(String) });
    }
    const reads = await storedPoints(join(backups, SERVER_FOLDER), 'binlog');
    const [first, second] = incrementals.map((run) => reads.find((p) => p.id === of(run, 'binlog').pointId)!);
    expect(second!.parentId).toBe(first!.id);
    // No file read and stored twice (the second read starts after the first's last file, not after the full's).
    const files = reads.flatMap((p) => p.meta.binlogFiles as string[]);
    expect(files.length).toBeGreaterThan(0);
    expect(new Set(files).size).toBe(files.length);

    await restoreCommand(engine, join(backups, encodeDatabaseFolder('till')), { asOf: new Date(String(second!.meta.binlogEndAt)), serverFile: server, database: 'till_now' });
    expect(db.sql('SELECT GROUP_CONCAT(id ORDER BY id) FROM sale', 'till_now').trim()).toBe('1,2,3,4');
  }, 240_000);
});
