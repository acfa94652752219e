/**
 * Backing up a MariaDB replica (where DBAs point a backup to spare the primary), against real
 * MariaDB 10.11 servers: a primary (binary log on) and replicas streaming from it over TCP (GTID).
 * - log_slave_updates OFF (MariaDB's default): the replica's own binary log lacks every change it
 *   replicates, so an incremental read from it would silently miss them. The incremental re-dumps,
 *   with the reason (what to set) in the history (and the server check's warnings), and a restore of
 *   the latest point has the primary's rows.
 * - log_slave_updates ON, read_only=ON and a backup user with only the privileges Backstop names (no
 *   READ_ONLY ADMIN): incrementals read the log, and a restore to a moment has the replicated rows.
 * - a replica with read_only=ON as a restore target: READ_ONLY naming the fix, nothing created
 *   (also for a user whose privileges would let it write there: the replica would diverge).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../../electron/engine/index.ts';
import { COVERED_BY_LOG } from '../../../electron/engine/backup/log-coverage.ts';
import { restoreCommand } from '../../../electron/cli/commands/location.ts';
import type { Run } from '../../../electron/shared/domain.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { rejection } from '../../fixtures/servers/common.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { serverWithTask } from '../../fixtures/server-task.ts';
import { startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { nextSecond } from '../../fixtures/whole-seconds.ts';
import { writeFileSync } from 'node:fs';

let primary: MariadbServer;
let engine: Engine;
/** The primary's GTID position before the test's data: replicas start there (and replicate the data). */
let base = '';

const replicas: MariadbServer[] = [];

/** A replica of `primary` (binary log on, server_id `id`, `args` more options), replicating everything after `base`. */
async function replicaOf(id: number, args: string[] = []): Promise<MariadbServer> {
  const r = await startMariadb({ binlog: true, args: [`--server-id=${id}`, ...args] });
  replicas.push(r);
  r.sql(
    `SET GLOBAL gtid_slave_pos = '${base}';
     CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = ${primary.port}, MASTER_USER = 'repl', MASTER_PASSWORD = 'repl-pw-1', MASTER_USE_GTID = slave_pos;
     START SLAVE;`,
  );
  caughtUp(r);
  return r;
}

/** Waits (on the replica, server-side) until it has applied everything the primary has logged so far. */
function caughtUp(r: MariadbServer): void {
  const pos = primary.sql('SELECT @@gtid_binlog_pos').trim();
  expect(r.sql(`SELECT MASTER_GTID_WAIT('${pos}', 30)`).trim()).toBe('0');
}

function serverFile(server: MariadbServer): string {
  const file = join(tempDir(), 'server.json');
  process.env.REPLICA_TEST_PASSWORD = server.password;
  writeFileSync(file, JSON.stringify({ kind: 'mysql', host: server.host, port: server.port, user: server.user, passwordEnv: 'REPLICA_TEST_PASSWORD', tls: 'disable' }));
  return file;
}

async function task(name: string, server: MariadbServer, user = server.user, password = server.password): Promise<{ id: string; backups: string; serverId: string }> {
  const backups = tempDir();
  const { serverId, taskId } = await serverWithTask(engine, { kind: 'mysql', name, host: server.host, port: server.port, user, password, tls: 'disable' }, 'logical', backups);
  return { id: taskId, backups, serverId };
}

function rowsOf(run: Run, database: string) {
  return run.databases.filter((d) => d.database === database);
}

function items(server: MariadbServer, database: string): string {
  return server.sql('SELECT GROUP_CONCAT(name ORDER BY id) FROM item', database).trim();
}

beforeAll(async () => {
  primary = await startMariadb({ binlog: true });
  primary.sql("CREATE USER 'repl'@'%' IDENTIFIED BY 'repl-pw-1'; GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';");
  base = primary.sql('SELECT @@gtid_binlog_pos').trim();
  // A backup user with what Backstop asks for, no more (replicated to the replicas).
  primary.sql("CREATE USER 'bk'@'%' IDENTIFIED BY 'bk-pw-1'; GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, REPLICATION SLAVE, BINLOG MONITOR, RELOAD ON *.* TO 'bk'@'%';");
  primary.sql("CREATE DATABASE shop; CREATE TABLE shop.item (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(50)); INSERT INTO shop.item (name) VALUES ('lamp');");
}, 60_000);

afterAll(async () => {
  for (const r of replicas) await r.stop();
  await primary?.stop();
});

describe('backing up a MariaDB replica', () => {
  it("log_slave_updates OFF (the default): the replica's log lacks the replicated changes, so an incremental re-dumps naming the fix, and the latest point has the primary's rows; with read_only=ON it is refused as a restore target", async () => {
    engine = await testEngine({ encoderWorkers: 0 });
    const replica = await replicaOf(2);
    expect(replica.sql('SELECT @@log_slave_updates, @@log_bin').trim()).toBe('0\t1');
    const { id, backups, serverId } = await task('replica-off', replica);
    // The server check names it beforehand.
    expect(data(await engine.call('servers.test', { id: serverId })).warnings).toEqual([
      expect.stringMatching(/^The MySQL\/MariaDB server .* is a replica with log_slave_updates OFF: its binary log lacks the changes it replicates.*set log_slave_updates=ON in the replica's configuration/),
    ]);
    const full = await runTask(engine, id, 'full');
    expect(full.status).toBe('success');
    // Rows written on the primary, replicated (the replica's own log does not get them).
    primary.sql("INSERT INTO item (name) VALUES ('from primary 1'), ('from primary 2')", 'shop');
    caughtUp(replica);
    expect(items(replica, 'shop')).toBe('lamp,from primary 1,from primary 2');
    const inc = await runTask(engine, id, 'incremental');
    expect(inc.status).toBe('success');
    expect(rowsOf(inc, 'binlog')).toEqual([]);
    expect(rowsOf(inc, 'shop')[0]).toMatchObject({
      status: 'success',
      kind: 'incremental',
      pointId: expect.any(String),
      kindReason: expect.stringMatching(/^re-dumped: the MySQL\/MariaDB server .* is a replica with log_slave_updates OFF: its binary log lacks the changes it replicates.*log_slave_updates=ON/),
    });
    expect(data(await engine.call('tasks.status', undefined)).find((t) => t.taskId === id)!.logFallback).toContain('log_slave_updates=ON');
    const r = await restoreCommand(engine, join(backups, 'shop'), { point: 'latest', serverFile: serverFile(replica), database: 'shop_back' });
    expect(r).toBeTruthy();
    expect(items(replica, 'shop_back')).toBe('lamp,from primary 1,from primary 2');
    // A replica stopped for maintenance is still one (its log lacks what it applied before): still re-dumps.
    primary.sql("INSERT INTO item (name) VALUES ('from primary 3')", 'shop');
    caughtUp(replica);
    replica.sql('STOP SLAVE');
    expect(rowsOf(await runTask(engine, id, 'incremental'), 'shop')[0]).toMatchObject({ kind: 'incremental', pointId: expect.any(String), kindReason: expect.stringContaining('log_slave_updates OFF') });
    replica.sql('START SLAVE');

    // The replica set read_only=ON as a restore target: READ_ONLY naming the fix before anything is created, also for
    // this user, whose privileges (READ_ONLY ADMIN) would let it write there (the replica would diverge from its primary).
    replica.sql('SET GLOBAL read_only = ON');
    try {
      const e = await rejection(restoreCommand(engine, join(backups, 'shop'), { point: 'latest', serverFile: serverFile(replica), database: 'shop_ro' }));
      expect(e).toMatchObject({ code: 'READ_ONLY', message: expect.stringMatching(/is read-only \(read_only=ON\).*Nothing was created.*Restore onto the primary/) });
      expect(replica.sql("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop_ro'").trim()).toBe('0');
      // The replica's own databases are as they were.
      expect(items(replica, 'shop')).toBe(items(primary, 'shop'));
    } finally {
      replica.sql('SET GLOBAL read_only = OFF');
    }
    await restoreCommand(engine, join(backups, 'shop'), { point: 'latest', serverFile: serverFile(primary), database: 'shop_on_primary' });
    expect(items(primary, 'shop_on_primary')).toContain('from primary 3');
  }, 180_000);

  it('log_slave_updates ON, read_only=ON, a backup user without READ_ONLY ADMIN: incrementals read the replica\'s log, and a restore to a moment has the replicated rows', async () => {
    engine = await testEngine({ encoderWorkers: 0 });
    const replica = await replicaOf(3, ['--log-slave-updates=ON', '--read-only=ON']);
    const { id, backups, serverId } = await task('replica-on', replica, 'bk', 'bk-pw-1');
    expect(data(await engine.call('servers.test', { id: serverId })).warnings).toEqual([]);
    expect((await runTask(engine, id, 'full')).status).toBe('success');
    primary.sql("INSERT INTO item (name) VALUES ('logged on replica')", 'shop');
    caughtUp(replica);
    // A moment in a second of its own (the log's timestamps are whole seconds).
    await nextSecond();
    const moment = new Date();
    const expected = items(replica, 'shop');
    await nextSecond();
    const inc = await runTask(engine, id, 'incremental');
    expect(rowsOf(inc, 'shop')[0]).toMatchObject({ status: 'success', kind: 'incremental', kindReason: COVERED_BY_LOG });
    expect(rowsOf(inc, 'binlog')[0]).toMatchObject({ status: 'success' });
    await restoreCommand(engine, join(backups, 'shop'), { asOf: moment, serverFile: serverFile(primary), database: 'shop_moment' });
    expect(items(primary, 'shop_moment')).toBe(expected);
    expect(expected).toContain('logged on replica');
  }, 180_000);
});
