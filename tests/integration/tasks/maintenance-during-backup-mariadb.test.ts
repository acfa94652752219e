/**
 * A DBA's maintenance during a running server-wide MariaDB backup (real server, real
 * mariadb-dump), synchronised on the run's own steps — the job of a database starting, the
 * dump waiting on a table lock the DBA holds — never on sleeps:
 *
 * - a database dropped after the run listed the server, before its turn: the run carries on,
 *   that database's row says DATABASE_NOT_FOUND naming it as dropped, every other database
 *   gets its point, and the dropped one's folder gets no point (its earlier point stays whole);
 * - ALTER / TRUNCATE / RENAME / DROP TABLE on a table of the database being dumped, after the
 *   dump's snapshot but before mariadb-dump reads that table: nothing is stored, the row's
 *   code is SCHEMA_CHANGED with a message naming the table and saying a new run will take it,
 *   the earlier point stays whole, and the next run succeeds;
 * - an in-place ALTER TABLE (ALGORITHM=INSTANT ADD COLUMN) there raises nothing: the point
 *   restores the new definition with the snapshot's rows.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../../electron/engine/index.ts';
import type { JobExecutor } from '../../../electron/engine/backup/worker-executor.ts';
import { hookedExecutor as hooked } from '../../fixtures/hooked-executor.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { mariadbSession, startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { pointIds } from '../../fixtures/points.ts';
import { serverWithTask } from '../../fixtures/server-task.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

let db: MariadbServer;
beforeAll(async () => {
  db = await startMariadb();
}, 120_000);
afterAll(async () => {
  await db?.stop();
});

async function setUp(executor: JobExecutor, exclude: string[] = []): Promise<{ engine: Engine; taskId: string; backups: string; serverId: string }> {
  const engine = await testEngine({ executor });
  const backups = tempDir();
  const ids = await serverWithTask(engine, { kind: 'mysql', name: 'maria', host: db.host, port: db.port, user: db.user, password: db.password, tls: 'disable' }, 'logical', backups, { schedule: { full: '0 2 * * *', timezone: 'UTC' }, ...(exclude.length ? { excludeDatabases: exclude } : {}) });
  return { engine, backups, ...ids };
}

const rows = (n: number): string => Array.from({ length: n }, (_, i) => `(${i + 1}, MD5(${i + 1}))`).join(',');

/** A DBA's own session (the mariadb client on the socket), kept open between statements. */
const session = () => mariadbSession(db);

/** Resolves once a connection matching `where` (information_schema.PROCESSLIST) waits for a metadata lock. */
async function waitsOnLock(where: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (db.sql(`SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ${where} AND STATE LIKE 'Waiting for % metadata lock'`).trim() !== '0') return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`nothing waited on a lock (${where})`);
}

/** Resolves once a connection of `user` waits for a metadata lock in `schema` (the dump reached the locked table). */
async function dumpWaitsOnLock(schema: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    const n = db.sql(`SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '${db.user}' AND DB = '${schema}' AND STATE LIKE 'Waiting for table metadata lock'`).trim();
    if (n !== '0') return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error('the dump never reached the locked table');
}

describe('maintenance during a running MariaDB server-wide backup', () => {
  it('a database dropped after the listing, before its turn: DATABASE_NOT_FOUND naming it, the others get their points, its earlier point stays', { timeout: 120_000 }, async () => {
    for (const d of ['keep_a', 'gone_b', 'keep_c']) db.sql(`CREATE DATABASE ${d}; CREATE TABLE ${d}.t (id int PRIMARY KEY, v text); INSERT INTO ${d}.t VALUES (1, 'x'), (2, 'y');`);
    let drop = false;
    const { engine, taskId, backups } = await setUp(
      hooked((spec) => {
        if (drop && spec.database === 'gone_b') db.sql('DROP DATABASE gone_b');
      }),
    );
    const first = await runTask(engine, taskId, 'full');
    expect(first.status).toBe('success');
    const before = await pointIds(backups, 'gone_b');
    expect(before).toHaveLength(1);
    drop = true;
    const run = await runTask(engine, taskId, 'full');
    const gone = run.databases.filter((d) => d.database === 'gone_b');
    expect(gone.map((d) => [d.status, d.errorCode])).toEqual([['failed', 'DATABASE_NOT_FOUND']]);
    expect(gone[0]!.errorMessage).toMatch(
      /^Database "gone_b" does not exist on the MySQL\/MariaDB server 127\.0\.0\.1:\d+ any more: it was dropped after the backup run listed the server's databases, before its turn; nothing was stored for it and its earlier points are kept\.$/,
    );
    expect(run.databases.filter((d) => d.database !== 'gone_b').every((d) => d.status === 'success')).toBe(true);
    expect(run.databases.map((d) => d.database)).toEqual(expect.arrayContaining(['keep_a', 'keep_c']));
    expect(await pointIds(backups, 'keep_a')).toHaveLength(2);
    expect(await pointIds(backups, 'gone_b')).toEqual(before);
    db.sql('DROP DATABASE keep_a; DROP DATABASE keep_c;');
  });

  for (const [ddl, sql] of [
    ['ALTER TABLE (rebuilding)', 'ALTER TABLE shop.z_orders MODIFY item varchar(100), ALGORITHM=COPY'],
    ['TRUNCATE', 'TRUNCATE TABLE shop.z_orders'],
    ['RENAME TABLE', 'RENAME TABLE shop.z_orders TO shop.z_orders_old'],
    ['DROP TABLE', 'DROP TABLE shop.z_orders'],
  ] as const) {
    it(`${ddl} on a table after the dump's snapshot, before mariadb-dump reads it: nothing stored, SCHEMA_CHANGED naming the table, the next run succeeds`, { timeout: 120_000 }, async () => {
      const { engine, taskId, backups, arm } = await ddlDuringDump(sql);
      const before = await pointIds(backups, 'shop');
      const run = await arm();
      const shop = run.databases.filter((d) => d.database === 'shop');
      expect(shop.map((d) => [d.status, d.errorCode, d.pointId])).toEqual([['failed', 'SCHEMA_CHANGED', null]]);
      expect(shop[0]!.errorMessage).toBe(
        'Table `z_orders` of database "shop" was changed (ALTER, TRUNCATE, RENAME or DROP TABLE) while it was being backed up, after the backup\'s snapshot, so it could not be read consistently; nothing was stored and the earlier points are untouched. Run the backup again once the maintenance is done (the next scheduled run also takes it).',
      );
      expect(run.status).toBe('partial');
      expect(run.databases.filter((d) => d.database !== 'shop').every((d) => d.status === 'success')).toBe(true);
      expect(await pointIds(backups, 'shop')).toEqual(before);
      expect(data(await engine.call('restore.verify', { location: { kind: 'local', path: join(backups, encodeDatabaseFolder('shop')) } })).ok).toBe(true);
      const next = await runTask(engine, taskId, 'full');
      expect(next.status).toBe('success');
      expect(await pointIds(backups, 'shop')).toHaveLength(2);
    });
  }

  it('DROP DATABASE while mariadb-dump reads it: DATABASE_NOT_FOUND saying it was dropped during its backup, nothing stored, its earlier point kept', { timeout: 120_000 }, async () => {
    const { engine, backups, arm } = await ddlDuringDump('DROP DATABASE shop', true);
    const before = await pointIds(backups, 'shop');
    const run = await arm();
    const shop = run.databases.filter((d) => d.database === 'shop');
    expect(shop, JSON.stringify(shop)).toHaveLength(1);
    const row = shop[0]!;
    // The DROP is queued behind the DBA's lock with the dump and is usually granted first (MDL
    // gives pending exclusive locks priority): DATABASE_NOT_FOUND. Which of the two the server
    // lets go first is its choice (seen once in ~9 runs the other way), so every outcome a DBA
    // could get is checked, none as a pass without its own assertions:
    // - the drop went first and was over when Backstop asked: DATABASE_NOT_FOUND, nothing stored;
    // - the drop was still removing tables when asked: SCHEMA_CHANGED naming one, nothing stored;
    // - the dump went first (the DROP then waited for its snapshot to end): a whole point.
    if (row.status === 'failed') {
      expect(row.pointId).toBeNull();
      expect(await pointIds(backups, 'shop')).toEqual(before);
      if (row.errorCode === 'DATABASE_NOT_FOUND') expect(row.errorMessage).toBe('Database "shop" was dropped while it was being backed up; nothing was stored for it and its earlier points are kept.');
      else expect([row.errorCode, row.errorMessage], JSON.stringify(row)).toEqual(['SCHEMA_CHANGED', expect.stringMatching(/^Table `(a_big|z_orders)` of database "shop" was changed .*nothing was stored and the earlier points are untouched/)]);
    } else {
      expect(row.status, JSON.stringify(row)).toBe('success');
      expect(await pointIds(backups, 'shop')).toHaveLength(before.length + 1);
      expect(data(await engine.call('restore.verify', { location: { kind: 'local', path: join(backups, encodeDatabaseFolder('shop')) } })).ok).toBe(true);
    }
  });

  it('an in-place ALTER TABLE (instant ADD COLUMN) after the snapshot raises nothing: the point holds the new definition with the snapshot\'s rows', { timeout: 120_000 }, async () => {
    const { engine, backups, serverId, arm } = await ddlDuringDump('ALTER TABLE shop.z_orders ADD COLUMN note text, ALGORITHM=INSTANT');
    db.sql("INSERT INTO shop.z_orders (id, item) VALUES (1000, 'late')");
    const run = await arm();
    expect(run.status).toBe('success');
    const restored = await restoreAndWait(engine, { location: { kind: 'local', path: join(backups, encodeDatabaseFolder('shop')) }, pointId: 'latest', serverId, database: 'shop_copy' });
    expect(restored.status).toBe('success');
    expect(db.sql("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'shop_copy' AND TABLE_NAME = 'z_orders' ORDER BY ORDINAL_POSITION").split('\n').filter(Boolean)).toEqual(['id', 'item', 'note']);
    expect(db.sql('SELECT COUNT(*), COUNT(note) FROM shop_copy.z_orders').trim()).toBe('51\t0');
    db.sql('DROP DATABASE shop_copy');
  });
});

/**
 * A task over the server with database `shop` (a_big, then z_orders), a first full run
 * done; `arm()` runs again with the DBA's `sql` made after the dump's snapshot and before
 * mariadb-dump reads z_orders: the DBA holds a_big locked until the dump waits on it.
 */
async function ddlDuringDump(sql: string, background = false) {
  db.sql(
    'DROP DATABASE IF EXISTS shop; CREATE DATABASE shop; CREATE TABLE shop.a_big (id int PRIMARY KEY, v text); CREATE TABLE shop.z_orders (id int PRIMARY KEY, item text);' +
      `INSERT INTO shop.a_big VALUES ${rows(200)}; INSERT INTO shop.z_orders VALUES ${rows(50)};`,
  );
  let dba: ReturnType<typeof session> | null = null;
  let interfere = false;
  let ddlDone: Promise<void> = Promise.resolve();
  const { engine, taskId, backups, serverId } = await setUp(
    hooked(async (spec) => {
      if (!interfere || spec.database !== 'shop') return;
      interfere = false;
      const own = session();
      dba = own;
      await own.ask('LOCK TABLES shop.a_big WRITE');
      ddlDone = dumpWaitsOnLock('shop').then(async () => {
        if (!background) {
          db.sql(sql);
          await own.ask('UNLOCK TABLES');
          return;
        }
        // A statement that itself waits on the DBA's lock (DROP DATABASE): queued behind it, then the lock let go.
        const other = session();
        const done = other.ask(sql);
        await waitsOnLock(`INFO = '${sql}'`);
        await own.ask('UNLOCK TABLES');
        await done;
        await other.close();
      });
    }),
  );
  const first = await runTask(engine, taskId, 'full');
  expect(first.status).toBe('success');
  return {
    engine,
    taskId,
    backups,
    serverId,
    arm: async () => {
      interfere = true;
      const run = await runTask(engine, taskId, 'full');
      await ddlDone;
      await (dba as ReturnType<typeof session> | null)?.close();
      return run;
    },
  };
}
