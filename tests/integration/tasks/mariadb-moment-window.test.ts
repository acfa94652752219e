/**
 * The window's restore to a moment, through the engine's contract (`restore.inspect`,
 * `restore.start`), against a real MariaDB 10.11 with the binary log on:
 * - `restore.inspect` of a database folder names the reachable range (`momentRanges`: from
 *   the dump's snapshot to the last stored log read); a server-level stream has none (null);
 * - `restore.start` with `asOf` inside the range restores the database as it was then;
 * - a moment outside it fails with OUT_OF_RANGE naming the range, and `sourceDatabase` on a
 *   database folder with VALIDATION: in both cases no database is created.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDatabaseFolder, SERVER_FOLDER } from '../../../electron/engine/servers/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { serverWithTask } from '../../fixtures/server-task.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { nextSecond } from '../../fixtures/whole-seconds.ts';

let db: MariadbServer;

function exists(name: string): boolean {
  return db.sql(`SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${name}'`).trim() === '1';
}

beforeAll(async () => {
  db = await startMariadb({ binlog: true });
  db.sql('CREATE DATABASE shop');
  db.sql(`CREATE TABLE item (id INT PRIMARY KEY, name VARCHAR(50)); INSERT INTO item VALUES (1, 'lamp'), (2, 'desk');`, 'shop');
}, 60_000);

afterAll(async () => {
  await db?.stop();
});

describe('restore to a moment from the window (MariaDB binary log)', () => {
  it('inspect names the reachable range; start with asOf restores the database as it was then; outside the range nothing is created', async () => {
    const engine = await testEngine({ encoderWorkers: 0 });
    const backups = tempDir();
    const { serverId, taskId } = await serverWithTask(engine, { kind: 'mysql', name: 'binlog', host: db.host, port: db.port, user: db.user, password: db.password, tls: 'disable' }, 'logical', backups);
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    await nextSecond();
    db.sql(`INSERT INTO item VALUES (3, 'shelf'); DELETE FROM item WHERE id = 1;`, 'shop');
    await nextSecond();
    const moment = new Date();
    await nextSecond();
    db.sql(`DROP TABLE item;`, 'shop');
    expect((await runTask(engine, taskId, 'incremental')).status).toBe('success');

    const location = { kind: 'local' as const, path: join(backups, encodeDatabaseFolder('shop')) };
    const info = data(await engine.call('restore.inspect', { location }));
    expect(info.serverKind).toBe('mysql');
    expect(info.momentRanges).toHaveLength(1);
    const range = info.momentRanges![0]!;
    expect(Date.parse(range.from)).toBeLessThan(moment.getTime());
    expect(Date.parse(range.to)).toBeGreaterThan(moment.getTime());
    expect(Date.parse(range.to)).toBeLessThanOrEqual(Date.now());
    // A server-level stream (the users and grants) reaches no moment.
    const grants = data(await engine.call('restore.inspect', { location: { kind: 'local', path: join(backups, SERVER_FOLDER, 'grants.sql') } }));
    expect(grants.momentRanges).toBeNull();

    // Inside the range: the table as it was at the moment (before the drop).
    const ok = await restoreAndWait(engine, { location, asOf: moment.toISOString(), serverId: serverId, database: 'shop_then' });
    expect(ok).toMatchObject({ status: 'success', database: 'shop_then', error: null, notes: expect.arrayContaining([expect.stringContaining('the binary log up to that second')]) });
    expect(db.sql('SELECT id, name FROM item ORDER BY id', 'shop_then').trim().split('\n')).toEqual(['2\tdesk', '3\tshelf']);

    // Before the dump: OUT_OF_RANGE naming the range; nothing created.
    const before = new Date(Date.parse(range.from) - 3_600_000).toISOString();
    const out = await restoreAndWait(engine, { location, asOf: before, serverId: serverId, database: 'shop_never' });
    expect(out).toMatchObject({ status: 'failed', error: { code: 'OUT_OF_RANGE' } });
    expect(out.error!.message).toContain(`is outside what this database's backups reach. Reachable moments (UTC): ${range.from} to ${range.to}.`);
    expect(exists('shop_never')).toBe(false);

    // A source database applies only to a PostgreSQL cluster backup: refused, nothing created.
    const wrong = await restoreAndWait(engine, { location, asOf: moment.toISOString(), sourceDatabase: 'shop', serverId: serverId, database: 'shop_never' });
    expect(wrong).toMatchObject({ status: 'failed', error: { code: 'VALIDATION', message: expect.stringContaining('applies only to a PostgreSQL cluster backup') } });
    expect(exists('shop_never')).toBe(false);

    // A malformed moment never reaches the engine.
    expect(await engine.call('restore.start', { location, asOf: 'yesterday', serverId: serverId, database: 'shop_never' })).toMatchObject({ ok: false, code: 'MALFORMED_REQUEST' });
  }, 180_000);
});
