/**
 * An incremental of an unchanged database stores no point (issue #21), on real servers
 * through the engine's contract:
 *
 * - PostgreSQL: two real `pg_dump -Fc -Z0` dumps of one database differ only in the bytes
 *   the header parser names (the creation time); an unchanged incremental adds no file to
 *   any database folder and reports success, no point, UNCHANGED, 0 bytes stored (history
 *   too); a change that keeps the dump's length (one value for another of equal length) is
 *   stored; a restore after an unchanged run gives the data; the server's `globals.sql`
 *   (pg_dumpall's random `\restrict` key aside) stores nothing either, a new role is stored;
 * - two destinations where one lacks the newest point: that one gets a point, the other not;
 * - SQLite folders and MariaDB the same (their dumps are byte-identical when unchanged).
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../../electron/engine/index.ts';
import { UNCHANGED } from '../../../electron/engine/backup/unchanged-stream.ts';
import { REDUMPED } from '../../../electron/engine/backup/log-coverage.ts';
import { openRepository } from '../../../electron/engine/repository/index.ts';
import { destinationId } from '../../../electron/engine/destinations/index.ts';
import { connectorFor, encodeDatabaseFolder, PG_GLOBALS_STREAM, SERVER_FOLDER } from '../../../electron/engine/servers/index.ts';
import { pgArchiveVolatile } from '../../../electron/engine/servers/postgres/archive-header.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import type { Run } from '../../../electron/shared/domain.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { mariadbFingerprint, startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { PG_BIN, pgContentFingerprint, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { pointIds, storedPoints } from '../../fixtures/points.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { filesUnder } from '../../fixtures/reliability/common.ts';

/** Every file under `dir` with its size: an unchanged run must leave this exactly as it was. */
function files(dir: string): Record<string, number> {
  return Object.fromEntries(filesUnder(dir).map((f) => [f, statSync(join(dir, f)).size]));
}

/** A task on `serverId` (weekly full, hourly incremental) backing up to local `destinations`. */
async function hourlyTask(engine: Engine, serverId: string, type: 'logical' | 'snapshot', destinations: string[], extra: { excludeDatabases?: string[] } = {}): Promise<string> {
  const schedule = { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' };
  return data(await engine.call('tasks.create', { name: type, serverId, type, schedule, destinations: destinations.map((path) => ({ kind: 'local' as const, path })), ...extra })).id;
}

const rowsOf = (run: Run, db: string) => run.databases.filter((d) => d.database === db);
const globalsFolder = `${SERVER_FOLDER}/${encodeDatabaseFolder(PG_GLOBALS_STREAM.name)}`;

/** The points of the task's globals.sql (the server folder). */
const globalsPoints = (backups: string) => storedPoints(join(backups, SERVER_FOLDER), PG_GLOBALS_STREAM.name);

/** The database's row of an unchanged run at every destination: success, no point, UNCHANGED (+ why it re-dumped), nothing stored. */
function expectUnchanged(run: Run, db: string, reason = UNCHANGED): void {
  const rows = rowsOf(run, db);
  expect(rows.length).toBeGreaterThan(0);
  for (const r of rows) expect({ status: r.status, kind: r.kind, kindReason: r.kindReason, pointId: r.pointId, bytesStored: r.bytesStored }).toEqual({ status: 'success', kind: 'incremental', kindReason: reason, pointId: null, bytesStored: 0 });
  for (const r of rows) expect(r.bytesRead).toBeGreaterThan(0);
}

function expectStored(run: Run, db: string, reason: string | null = null): void {
  const rows = rowsOf(run, db);
  expect(rows.length).toBeGreaterThan(0);
  for (const r of rows) {
    expect(r).toMatchObject({ status: 'success', kind: 'incremental', kindReason: reason });
    expect(r.pointId).toEqual(expect.any(String));
    expect(r.bytesStored).toBeGreaterThan(0);
  }
}

describe('PostgreSQL: an unchanged database gets no new point', () => {
  let pg: PgServer;
  const dbs = ['alpha', 'beta', 'gamma'];
  beforeAll(async () => {
    pg = await startPostgres();
    for (const db of dbs) {
      pg.psql(`CREATE DATABASE ${db}`);
      pg.psql(`CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL); INSERT INTO t SELECT i, md5('${db}' || i) FROM generate_series(1, 300) i;`, db);
    }
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
  });

  async function setUp(destinations: string[]): Promise<{ engine: Engine; serverId: string; taskId: string }> {
    const engine = await testEngine({ encoderWorkers: 0 });
    data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
    const server = data(await engine.call('servers.create', { kind: 'postgres', name: 'pg', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' }));
    return { engine, serverId: server.id, taskId: await hourlyTask(engine, server.id, 'logical', destinations, { excludeDatabases: ['postgres'] }) };
  }

  it('two real dumps of an unchanged database differ only in the header bytes the parser names', async () => {
    const connector = connectorFor({ kind: 'postgres', id: 's', name: 'pg', host: pg.host, port: pg.port, user: pg.user, tls: 'disable' } as never, { password: pg.password, toolPaths: { postgres: PG_BIN, mysql: null } });
    const dumps: Buffer[] = [];
    for (let i = 0; i < 2; i++) {
      const d = await connector.openDump('alpha', 'logical');
      const parts: Buffer[] = [];
      for await (const c of d.stream) parts.push(Buffer.from(c as Uint8Array));
      await d.done;
      dumps.push(Buffer.concat(parts));
      await new Promise((r) => setTimeout(r, 1100)); // the time fields count seconds
    }
    const [a, b] = dumps as [Buffer, Buffer];
    expect(a.length).toBe(b.length);
    const ranges = pgArchiveVolatile(a);
    // PostgreSQL 15: archive 1.14, 4-byte ints, compression an int (5 bytes), then 7 time ints of 5 bytes.
    expect(ranges).toEqual([[16, 51]]);
    expect(pgArchiveVolatile(b)).toEqual(ranges);
    const differing = [...a.keys()].filter((i) => a[i] !== b[i]);
    expect(differing.length).toBeGreaterThan(0); // a second passed: tm_sec moved
    for (const i of differing) expect(i >= 16 && i < 51).toBe(true);
  });

  it('stores nothing for unchanged databases, stores a same-length change, and restores after an unchanged run', { timeout: 300_000 }, async () => {
    const backups = tempDir();
    const { engine, serverId, taskId } = await setUp([backups]);
    const full = await runTask(engine, taskId, 'full');
    expect(full.status).toBe('success');
    // A first incremental: the full already records what the next one is compared with.
    const before = files(backups);
    const inc = await runTask(engine, taskId, 'incremental');
    expect(inc.status).toBe('success');
    for (const db of dbs) expectUnchanged(inc, db);
    for (const db of dbs) expect(await pointIds(backups, db)).toHaveLength(1);
    // globals.sql too: pg_dumpall's `\restrict` key differs on every run, nothing else does.
    expectUnchanged(inc, PG_GLOBALS_STREAM.name);
    expect(await globalsPoints(backups)).toHaveLength(1);
    // Not a byte more anywhere under the root.
    expect(files(backups)).toEqual(before);
    // (runTask reads the run back from the history: the rows above are what History shows.)

    // One value for another of the same length: the dump keeps its length, and is stored.
    pg.psql(`UPDATE t SET v = md5('changed') WHERE id = 7`, 'beta');
    const changed = await runTask(engine, taskId, 'incremental');
    expectStored(changed, 'beta');
    expect(rowsOf(changed, 'beta')[0]!.bytesRead).toBe(rowsOf(inc, 'beta')[0]!.bytesRead);
    expectUnchanged(changed, 'alpha');
    expectUnchanged(changed, 'gamma');
    expect(await pointIds(backups, 'beta')).toHaveLength(2);
    expect(await pointIds(backups, 'alpha')).toHaveLength(1);

    expectUnchanged(changed, PG_GLOBALS_STREAM.name);

    // And the next run finds beta unchanged against its new point; a new role is stored.
    pg.psql(`CREATE ROLE unchanged_probe NOLOGIN`);
    const again = await runTask(engine, taskId, 'incremental');
    for (const db of dbs) expectUnchanged(again, db);
    expectStored(again, PG_GLOBALS_STREAM.name);
    const stored = await globalsPoints(backups);
    expect(stored).toHaveLength(2);
    const script: Buffer[] = [];
    const globalsRepo = await openRepository(new LocalBackend(join(backups, globalsFolder)));
    for await (const c of await globalsRepo.readPoint(stored.at(-1)!.id)) script.push(Buffer.from(c as Uint8Array));
    expect(Buffer.concat(script).toString()).toContain('CREATE ROLE unchanged_probe;');
    pg.psql(`DROP ROLE unchanged_probe`);

    for (const db of ['alpha', 'beta']) {
      const restored = await restoreAndWait(engine, { location: { kind: 'local', path: join(backups, encodeDatabaseFolder(db)) }, pointId: 'latest', serverId, database: `r_${db}` });
      expect(restored).toMatchObject({ status: 'success' });
      expect(pgContentFingerprint(pg, `r_${db}`)).toEqual(pgContentFingerprint(pg, db));
      pg.psql(`DROP DATABASE r_${db}`);
    }
    expect(pg.psql(`SELECT v FROM t WHERE id = 7`, 'beta').trim()).toBe(pg.psql(`SELECT md5('changed')`).trim());
  });

  it('with two destinations, the one whose newest point differs gets a point and the other does not', { timeout: 300_000 }, async () => {
    const [one, two] = [tempDir(), tempDir()];
    const { engine, taskId } = await setUp([one, two]);
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    pg.psql(`UPDATE t SET v = md5('second') WHERE id = 9`, 'gamma');
    const inc = await runTask(engine, taskId, 'incremental');
    expectStored(inc, 'gamma');
    // Destination two loses its newest point: its newest is now the full, which differs from the database.
    const two_ = await openRepository(new LocalBackend(join(two, encodeDatabaseFolder('gamma'))));
    const newest = (await two_.listPoints()).at(-1)!;
    expect(newest.kind).toBe('incremental');
    await two_.deletePoints([newest.id]);
    const oneBefore = files(join(one, encodeDatabaseFolder('gamma')));

    const next = await runTask(engine, taskId, 'incremental');
    expect(next.status).toBe('success');
    const rows = rowsOf(next, 'gamma');
    const at = (dir: string) => rows.find((r) => r.destination === destinationId({ kind: 'local', path: dir }))!;
    expect([at(one).kindReason, at(one).pointId, at(one).bytesStored]).toEqual([UNCHANGED, null, 0]);
    // The point deleted by hand is said (History's reason; a points-missing alert): the incremental continues from the full.
    expect(at(two).kindReason).toMatch(new RegExp(`^a newer restore point this task wrote here is gone from the folder \\(newest ${newest.id}, written .* UTC\\): the folder was rolled back to an older copy, or points were deleted outside this task's retention; this incremental continues from `));
    expect(at(two).pointId).toEqual(expect.any(String));
    expect(at(two).bytesStored).toBeGreaterThan(0);
    expect(files(join(one, encodeDatabaseFolder('gamma')))).toEqual(oneBefore);
    expect(await pointIds(one, 'gamma')).toHaveLength(2);
    expect(await pointIds(two, 'gamma')).toHaveLength(2);
  });
});

describe('SQLite folder: an unchanged database gets no new point', () => {
  it('stores nothing for an unchanged file and a point for a same-length change', { timeout: 120_000 }, async () => {
    const folder = tempDir('backstop-sqlite-same-');
    const backups = tempDir();
    for (const name of ['a.db', 'b.db']) {
      const db = new Database(join(folder, name));
      db.exec("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL); INSERT INTO item (name) SELECT 'item-' || value FROM generate_series(1000, 2999);");
      db.close();
    }
    const engine = await testEngine({ encoderWorkers: 0 });
    const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder }));
    const task = { id: await hourlyTask(engine, server.id, 'snapshot', [backups]) };
    expect((await runTask(engine, task.id, 'full')).status).toBe('success');
    const before = files(backups);
    const inc = await runTask(engine, task.id, 'incremental');
    expectUnchanged(inc, 'a.db');
    expectUnchanged(inc, 'b.db');
    expect(files(backups)).toEqual(before);

    const db = new Database(join(folder, 'b.db'));
    db.exec("UPDATE item SET name = 'item-9999' WHERE id = 5");
    db.close();
    const changed = await runTask(engine, task.id, 'incremental');
    expectStored(changed, 'b.db');
    expectUnchanged(changed, 'a.db');
    expect(await pointIds(backups, 'b.db')).toHaveLength(2);
    expect(await pointIds(backups, 'a.db')).toHaveLength(1);
  });
});

describe('MariaDB: an unchanged database gets no new point', () => {
  let maria: MariadbServer;
  beforeAll(async () => {
    maria = await startMariadb();
    maria.sql(
      "CREATE DATABASE shop; CREATE TABLE shop.item (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL); INSERT INTO shop.item VALUES (1, 'lamp'), (2, 'desk'), (3, 'sofa');" +
        "CREATE DATABASE crm; CREATE TABLE crm.contact (id INT PRIMARY KEY, email VARCHAR(80) NOT NULL); INSERT INTO crm.contact VALUES (1, 'a@example.com'), (2, 'b@example.com');",
    );
  }, 120_000);
  afterAll(async () => {
    await maria?.stop();
  });

  it('stores nothing for unchanged databases, a point for a same-length change, and restores after an unchanged run', { timeout: 300_000 }, async () => {
    const engine = await testEngine({ encoderWorkers: 0 });
    const backups = tempDir();
    const server = data(await engine.call('servers.create', { kind: 'mysql', name: 'maria', host: maria.host, port: maria.port, user: maria.user, password: maria.password, tls: 'disable' }));
    const task = { id: await hourlyTask(engine, server.id, 'logical', [backups]) };
    expect((await runTask(engine, task.id, 'full')).status).toBe('success');
    const inc = await runTask(engine, task.id, 'incremental');
    expect(inc.status).toBe('success');
    // The binary log is off, so each incremental re-dumps: that reason follows UNCHANGED, and the window's hint still finds it.
    const redumped = rowsOf(inc, 'shop')[0]!.kindReason!.slice(`${UNCHANGED}; `.length);
    expect(redumped).toMatch(new RegExp(`^${REDUMPED}the binary log is off`));
    expectUnchanged(inc, 'shop', `${UNCHANGED}; ${redumped}`);
    expectUnchanged(inc, 'crm', `${UNCHANGED}; ${redumped}`);
    expect(data(await engine.call('tasks.status', undefined)).find((t) => t.taskId === task.id)!.logFallback).toBe(redumped.slice(REDUMPED.length));

    maria.sql("UPDATE shop.item SET name = 'lump' WHERE id = 1");
    const changed = await runTask(engine, task.id, 'incremental');
    expectStored(changed, 'shop', redumped);
    expect(rowsOf(changed, 'shop')[0]!.bytesRead).toBe(rowsOf(inc, 'shop')[0]!.bytesRead);
    expectUnchanged(changed, 'crm', `${UNCHANGED}; ${redumped}`);
    expect(await pointIds(backups, 'shop')).toHaveLength(2);
    expect(await pointIds(backups, 'crm')).toHaveLength(1);

    for (const db of ['shop', 'crm']) {
      const restored = await restoreAndWait(engine, { location: { kind: 'local', path: join(backups, encodeDatabaseFolder(db)) }, pointId: 'latest', serverId: server.id, database: `r_${db}` });
      expect(restored).toMatchObject({ status: 'success' });
      expect(mariadbFingerprint(maria, `r_${db}`).tables).toEqual(mariadbFingerprint(maria, db).tables);
    }
    expect(maria.sql('SELECT name FROM r_shop.item WHERE id = 1').trim()).toBe('lump');
  });
});
