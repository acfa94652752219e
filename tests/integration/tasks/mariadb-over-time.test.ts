/**
 * A MariaDB task (binary log on) over time, through the engine's contract and the CLI's
 * restore, against two real MariaDB servers.
 *
 * Its server setting pointed at another server with a database of the same name — or the
 * same server at a new address: the next incremental never leaves that database
 * to the other server's binary log (a restore would replay one server's log onto another's
 * dump): it is dumped, as a full with the reason naming both servers; from then on the new
 * server's log covers it, a moment on either side of the move restores as it was there, and
 * one between the two servers' backups is out of range (never one server's dump rolled
 * forward with the other's log).
 *
 * A database dropped and created again under its name between two runs: its next incremental
 * is a dump (the log holding the DROP/CREATE DATABASE does not cover it); a restore to a moment
 * between the drop and that dump is refused (RESTORE_FAILED naming the statement and the fix) —
 * the replay would have run the DROP DATABASE against the source itself — with the source
 * untouched and nothing created; a moment before it restores the old rows, and one after that
 * dump the new ones (the log covering it again).
 *
 * RESET MASTER (the log numbered anew from binlog.000001, as on a server rebuilt at the same
 * address): the next incremental is a dump, not left to a new log chain that lacks the last
 * dump's file, and a moment after it restores; once the new numbering reaches the last dump's
 * file name, a moment before the reset (its log deleted by it) is out of range, never that dump
 * rolled forward with the new file of the same name.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restoreCommand } from '../../../electron/cli/commands/location.ts';
import type { Engine } from '../../../electron/engine/index.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { COVERED_BY_LOG } from '../../../electron/engine/backup/log-coverage.ts';
import { logFileNumber } from '../../../electron/engine/servers/mysql/binlog.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { storedPoints } from '../../fixtures/points.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { serverWithTask } from '../../fixtures/server-task.ts';
import { rejection } from '../../fixtures/servers/common.ts';
import { startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { momentOfItsOwn } from '../../fixtures/whole-seconds.ts';

let a: MariadbServer;
let b: MariadbServer;

/** A server file for `backstop restore --server` naming `s`. */
function serverFile(s: MariadbServer): string {
  const file = join(tempDir(), 'server.json');
  process.env.MOVES_TEST_PASSWORD = s.password;
  writeFileSync(file, JSON.stringify({ kind: 'mysql', host: s.host, port: s.port, user: s.user, passwordEnv: 'MOVES_TEST_PASSWORD', tls: 'disable' }));
  return file;
}

const items = (s: MariadbServer, database: string) => s.sql('SELECT id, name FROM item ORDER BY id', database).trim().split('\n');

beforeAll(async () => {
  [a, b] = await Promise.all([startMariadb({ binlog: true }), startMariadb({ binlog: true })]);
  for (const [s, who] of [[a, 'a'], [b, 'b']] as const) {
    s.sql(`CREATE DATABASE shop; CREATE TABLE shop.item (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO shop.item VALUES (1, 'from ${who}');`);
  }
}, 120_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

describe('a MariaDB task over time', () => {
  it("never leaves a database's incremental to the other server's binary log: it dumps a full, saying why", { timeout: 120_000 }, async () => {
    const engine: Engine = await testEngine({ encoderWorkers: 0 });
    const backups = tempDir();
    const { serverId, taskId } = await serverWithTask(engine, { kind: 'mysql', name: 'shop db', host: a.host, port: a.port, user: a.user, password: a.password, tls: 'disable' }, 'logical', backups);
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    a.sql("INSERT INTO shop.item VALUES (2, 'a again')");
    const onAMoment = await momentOfItsOwn();
    const onA = await runTask(engine, taskId, 'incremental');
    // On its own server the log covers the database: no dump.
    expect(onA.databases.find((d) => d.database === 'shop')).toMatchObject({ status: 'success', kindReason: COVERED_BY_LOG, pointId: null });
    // Between the last read of A's log and the first backup from B: no backup reaches it.
    const unreached = await momentOfItsOwn();

    // The server moved (or the setting now names another server): same user, other port.
    data(await engine.call('servers.update', { id: serverId, server: { kind: 'mysql', name: 'shop db', host: b.host, port: b.port, user: b.user, tls: 'disable' } }));
    b.sql("INSERT INTO shop.item VALUES (3, 'b again')");
    const onB = await runTask(engine, taskId, 'incremental');
    expect(onB.status).toBe('success');
    const shop = onB.databases.find((d) => d.database === 'shop');
    expect(shop).toMatchObject({
      status: 'success',
      kind: 'full',
      pointId: expect.any(String),
      kindReason: `the newest chain in this folder was written from mysql://${a.user}@${a.host}:${a.port}, not from mysql://${b.user}@${b.host}:${b.port}: a new chain starts (the earlier points stay restorable)`,
    });
    const points = await storedPoints(backups, 'shop');
    expect(points.map((p) => [p.kind, p.serverIdentity])).toEqual([
      ['full', `mysql://${a.user}@${a.host}:${a.port}`],
      ['full', `mysql://${b.user}@${b.host}:${b.port}`],
    ]);

    // From now on B's log covers it again, and a moment on either side of the move restores as it was there.
    b.sql("INSERT INTO shop.item VALUES (4, 'b later')");
    const onBMoment = await momentOfItsOwn();
    const later = await runTask(engine, taskId, 'incremental');
    expect(later.databases.find((d) => d.database === 'shop')).toMatchObject({ status: 'success', kindReason: COVERED_BY_LOG, pointId: null });
    const folder = join(backups, encodeDatabaseFolder('shop'));
    await restoreCommand(engine, folder, { asOf: onBMoment, serverFile: serverFile(b), database: 'shop_b' });
    expect(items(b, 'shop_b')).toEqual(['1\tfrom b', '3\tb again', '4\tb later']);
    await restoreCommand(engine, folder, { asOf: onAMoment, serverFile: serverFile(a), database: 'shop_a' });
    expect(items(a, 'shop_a')).toEqual(['1\tfrom a', '2\ta again']);
    // A's dump is never rolled forward with B's log (their files share names): that moment is out of range, nothing created.
    const e = await rejection(restoreCommand(engine, folder, { asOf: unreached, serverFile: serverFile(b), database: 'shop_gap' }));
    expect(e).toMatchObject({ code: 'OUT_OF_RANGE', message: expect.stringContaining(`${unreached.toISOString()} is outside what this database's backups reach. Reachable moments (UTC): `) });
    const ranges = e.message.slice(e.message.indexOf('(UTC): ') + 7, -1).split(', ').map((r) => r.split(' to '));
    expect(ranges).toHaveLength(2);
    for (const [from, to] of ranges) expect(from! > unreached.toISOString() || to! < unreached.toISOString()).toBe(true);
    expect(b.sql("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop_gap'").trim()).toBe('0');
    await engine.close();
  });

  it('a database dropped and created again under its name: its next incremental is a dump; a restore to a moment between is refused and never touches the source; before it, and after that dump, it restores', { timeout: 120_000 }, async () => {
    a.sql('CREATE DATABASE cycle');
    a.sql("CREATE TABLE item (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO item VALUES (1, 'old one');", 'cycle');
    const engine: Engine = await testEngine({ encoderWorkers: 0 });
    const backups = tempDir();
    const { taskId } = await serverWithTask(engine, { kind: 'mysql', name: 'cycle db', host: a.host, port: a.port, user: a.user, password: a.password, tls: 'disable' }, 'logical', backups, {
      excludeDatabases: ['shop', 'shop_a'],
    });
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    a.sql("INSERT INTO item VALUES (2, 'old two')", 'cycle');
    const before = await momentOfItsOwn();
    // Dropped and created again, as an application's reinstall does (tables named without their database).
    a.sql('DROP DATABASE cycle; CREATE DATABASE cycle;');
    a.sql("CREATE TABLE item (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO item VALUES (7, 'new one');", 'cycle');
    const after = await momentOfItsOwn();
    // Its next incremental is a dump, not left to the log (which holds the DROP and CREATE DATABASE).
    const recreated = await runTask(engine, taskId, 'incremental');
    expect(recreated.databases.find((d) => d.database === 'cycle')).toMatchObject({
      status: 'success',
      kind: 'incremental',
      pointId: expect.any(String),
      kindReason: expect.stringContaining('re-dumped: the database was dropped or created again (DROP/CREATE DATABASE in the binary log since its last dump)'),
    });

    const folder = join(backups, encodeDatabaseFolder('cycle'));
    const e = await rejection(restoreCommand(engine, folder, { asOf: after, serverFile: serverFile(a), database: 'cycle_back' }));
    expect(e).toMatchObject({
      code: 'RESTORE_FAILED',
      message: expect.stringMatching(
        /holds a statement on the database "cycle" itself \(dropped, created again or altered\), which a replay under another name would apply to "cycle" itself: "DROP DATABASE cycle"\. .*nothing was created\. Fix: restore a backup point without --as-of .* Moments after a database was dropped and created again are reachable from the first backup run after it/,
      ),
    });
    // The source is as the application left it; nothing half-restored.
    expect(items(a, 'cycle')).toEqual(['7\tnew one']);
    expect(a.sql("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'cycle_back'").trim()).toBe('0');

    await restoreCommand(engine, folder, { asOf: before, serverFile: serverFile(a), database: 'cycle_before' });
    expect(items(a, 'cycle_before')).toEqual(['1\told one', '2\told two']);
    // From that dump on, the log covers it again and moments restore.
    a.sql("INSERT INTO item VALUES (8, 'new two')", 'cycle');
    const later = await momentOfItsOwn();
    const next = await runTask(engine, taskId, 'incremental');
    expect(next.databases.find((d) => d.database === 'cycle')).toMatchObject({ status: 'success', kindReason: COVERED_BY_LOG, pointId: null });
    await restoreCommand(engine, folder, { asOf: later, serverFile: serverFile(a), database: 'cycle_later' });
    expect(items(a, 'cycle_later')).toEqual(['7\tnew one', '8\tnew two']);
    expect(items(a, 'cycle')).toEqual(['7\tnew one', '8\tnew two']);
    await engine.close();
  });

  it('after RESET MASTER (the log numbered anew, as on a server rebuilt at the same address) an incremental is a dump, not left to a log that lacks the last dump\'s file', { timeout: 120_000 }, async () => {
    a.sql('CREATE DATABASE reset_db');
    a.sql("CREATE TABLE item (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO item VALUES (1, 'before reset');", 'reset_db');
    const engine: Engine = await testEngine({ encoderWorkers: 0 });
    const backups = tempDir();
    const all = a.sql('SHOW DATABASES').trim().split('\n');
    const { taskId } = await serverWithTask(engine, { kind: 'mysql', name: 'reset db', host: a.host, port: a.port, user: a.user, password: a.password, tls: 'disable' }, 'logical', backups, {
      excludeDatabases: all.filter((d) => d !== 'reset_db'),
    });
    // A few runs, so the last dump's file number is past what the new numbering reaches at first.
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    for (let i = 0; i < 3; i++) expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    const lastDump = (await storedPoints(backups, 'reset_db')).at(-1)!.meta;
    // Written after the last dump, in the file RESET MASTER then deletes: no stored log holds it.
    a.sql("INSERT INTO item VALUES (9, 'lost in reset')", 'reset_db');
    const lostMoment = await momentOfItsOwn();
    a.sql('RESET MASTER');
    a.sql("INSERT INTO item VALUES (2, 'after reset')", 'reset_db');
    const inc = await runTask(engine, taskId, 'incremental');
    expect(inc.status).toBe('success');
    const row = inc.databases.find((d) => d.database === 'reset_db');
    expect(inc.databases.find((d) => d.database === 'binlog')).toMatchObject({ status: 'success', kind: 'full', kindReason: expect.stringContaining('or RESET MASTER; or this is another server at the address); this read starts a new chain') });
    expect(row).toMatchObject({
      status: 'success',
      kind: 'incremental',
      pointId: expect.any(String),
      kindReason: expect.stringMatching(
        /^re-dumped: the stored binary log does not hold binlog\.\d{6}, the file of the last dump of this database, and every file after it \(the log was numbered anew: RESET MASTER, or another server at this address\)$/,
      ),
    });
    // What was written after the reset is restorable.
    a.sql("INSERT INTO item VALUES (3, 'later')", 'reset_db');
    const later = await momentOfItsOwn();
    expect((await runTask(engine, taskId, 'incremental')).status).toBe('success');
    const folder = join(backups, encodeDatabaseFolder('reset_db'));
    await restoreCommand(engine, folder, { asOf: later, serverFile: serverFile(a), database: 'reset_back' });
    expect(items(a, 'reset_back')).toEqual(['1\tbefore reset', '2\tafter reset', '3\tlater', '9\tlost in reset']);
    // The new numbering reaches the last dump's file: that file of the new log is never taken for the dump's.
    const dumpFile = logFileNumber(lastDump.binlogFile as string)!;
    while (logFileNumber(a.sql('SHOW MASTER STATUS').split('\t')[0]!)!.n <= dumpFile.n) a.sql('FLUSH BINARY LOGS');
    a.sql("INSERT INTO item VALUES (4, 'new numbering')", 'reset_db');
    expect((await runTask(engine, taskId, 'incremental')).status).toBe('success');
    const e = await rejection(restoreCommand(engine, folder, { asOf: lostMoment, serverFile: serverFile(a), database: 'reset_lost' }));
    expect(e).toMatchObject({ code: 'OUT_OF_RANGE' });
    expect(a.sql("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'reset_lost'").trim()).toBe('0');
    await engine.close();
  });
});
