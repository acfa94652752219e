/**
 * PostgreSQL snapshot tasks (base backup + WAL) against clusters a DBA set up differently
 * from the default: a WAL segment size of 1 MB and of 64 MB (initdb --wal-segsize), data
 * checksums (initdb -k) with wal_compression (lz4, zstd), a standby as the task's server, and
 * a timeline switch (a standby made with pg_basebackup -R, promoted). Each goes full →
 * incremental → restore of one database and of the whole cluster to a moment, the data
 * compared with the source's.
 */

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../../electron/engine/index.ts';
import { PgConnection } from '../../../electron/engine/servers/postgres/connection.ts';
import { SERVER_FOLDER, startDataDirectory } from '../../../electron/engine/servers/index.ts';
import { restoreCommand } from '../../../electron/cli/commands/location.ts';
import { chownTree } from '../../fixtures/servers/common.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { PG_BIN, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { storedPoints } from '../../fixtures/points.ts';
import { walTask, privateTmpDir, pgServerFile, untilPromoted } from '../../fixtures/wal-task.ts';

let small: PgServer; // --wal-segsize=1, data checksums, wal_compression=lz4
let large: PgServer; // --wal-segsize=64, wal_compression=zstd

beforeAll(async () => {
  [small, large] = await Promise.all([
    startPostgres({ initdbArgs: ['--wal-segsize=1', '-k'], settings: ['wal_compression=lz4'] }),
    startPostgres({ initdbArgs: ['--wal-segsize=64'], settings: ['wal_compression=zstd'] }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([small?.stop(), large?.stop()]);
});

const now = (pg: PgServer) => pg.psql(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`).trim();
const pause = () => new Promise((r) => setTimeout(r, 300));
const rows = (pg: PgServer, database: string) => pg.psql("SELECT string_agg(id || note, ',' ORDER BY id) FROM ledger", database).trim();

/** The temporary clusters of a restore of one database go to a private TMPDIR; a server file for --server. */
function restoreSetup(pg: PgServer): { serverFile: string } {
  privateTmpDir();
  return { serverFile: pgServerFile(pg) };
}

/** Restores the whole cluster (at a moment or its latest point) into a new folder, starts it, and returns `query`'s rows from `database`. */
async function clusterRows(engine: Engine, location: string, at: { asOf: Date } | { point: 'latest' }, pg: PgServer, database: string, query: string): Promise<string> {
  const parent = tempDir();
  if (pg.osUser) chownTree(parent, pg.osUser);
  const folder = join(parent, 'cluster');
  expect(await restoreCommand(engine, location, { ...at, folder })).toMatchObject({ cluster: true, path: folder });
  const running = await startDataDirectory(folder, { user: 'postgres', toolPaths: { postgres: PG_BIN }, socketOnly: true });
  try {
    const conn = new PgConnection({ kind: 'postgres', host: running.host, port: running.port, user: 'postgres', tls: 'disable' }, null, { binDir: PG_BIN });
    await untilPromoted(conn);
    return (await conn.query(query, { database }))[0]?.[0] ?? '';
  } finally {
    await running.stop();
  }
}

/**
 * Full, incrementals (more WAL than a few segments of 1 MB), a restore of one database and of
 * the whole cluster to a moment between two commits; returns the segment size the chain recorded.
 */
async function roundTrip(pg: PgServer): Promise<number> {
  const { engine, backups, taskId } = await walTask(pg);
  pg.psql('CREATE DATABASE odd');
  pg.psql('CREATE TABLE ledger (id int PRIMARY KEY, note text); CREATE TABLE filler (v text)', 'odd');
  pg.psql("INSERT INTO ledger VALUES (0, 'zero')", 'odd');
  expect((await runTask(engine, taskId, 'full')).databases[0]).toMatchObject({ kind: 'full', status: 'success' });
  // Past the second the reachable range starts in (it is rounded up to a whole second).
  await new Promise((r) => setTimeout(r, 1100));
  // ~3 MB of WAL: several 1 MB segments, part of one 64 MB segment.
  pg.psql("INSERT INTO filler SELECT repeat(md5(g::text), 20) FROM generate_series(1, 4000) g; INSERT INTO ledger VALUES (1, 'one')", 'odd');
  await pause();
  const afterOne = now(pg);
  await pause();
  pg.psql("INSERT INTO ledger VALUES (2, 'two')", 'odd');
  expect((await runTask(engine, taskId, 'incremental')).databases[0]).toMatchObject({ kind: 'incremental', status: 'success' });
  pg.psql("UPDATE ledger SET note = 'three' WHERE id = 0; INSERT INTO ledger VALUES (3, 'three')", 'odd');
  expect((await runTask(engine, taskId, 'incremental')).databases[0]).toMatchObject({ kind: 'incremental', status: 'success' });

  const points = await storedPoints(join(backups, SERVER_FOLDER), 'base.tar');
  const segmentSize = (points[0]!.meta.wal as { segmentSize: number }).segmentSize;
  expect(points.every((p) => (p.meta.wal as { segmentSize: number }).segmentSize === segmentSize)).toBe(true);

  const { serverFile } = restoreSetup(pg);
  const serverRoot = join(backups, SERVER_FOLDER);
  expect(await restoreCommand(engine, serverRoot, { asOf: new Date(afterOne), serverFile, database: 'odd_one', sourceDatabase: 'odd' })).toMatchObject({ database: 'odd_one', cluster: false });
  expect(rows(pg, 'odd_one')).toBe('0zero,1one');
  expect(pg.psql('SELECT count(*) FROM filler', 'odd_one').trim()).toBe('4000');
  expect(rows(pg, 'odd')).toBe('0three,1one,2two,3three');
  // The whole cluster to the same moment, into a new data directory, started.
  expect(await clusterRows(engine, serverRoot, { asOf: new Date(afterOne) }, pg, 'odd', "SELECT string_agg(id || note, ',' ORDER BY id) || ' ' || (SELECT count(*) FROM filler) FROM ledger")).toBe('0zero,1one 4000');
  pg.psql('DROP DATABASE odd_one');
  await engine.close();
  return segmentSize;
}

describe('PostgreSQL WAL tasks on clusters with non-default settings', () => {
  it('a 1 MB WAL segment size, data checksums and wal_compression=lz4: full, incremental, restore of one database to a moment and of the cluster', async () => {
    expect(small.psql("SELECT current_setting('wal_segment_size') || ' ' || current_setting('data_checksums') || ' ' || current_setting('wal_compression')").trim()).toBe('1MB on lz4');
    expect(await roundTrip(small)).toBe(1024 * 1024);
  }, 180_000);

  it('a 64 MB WAL segment size and wal_compression=zstd: full, incremental, restore of one database to a moment and of the cluster', async () => {
    expect(large.psql("SELECT current_setting('wal_segment_size') || ' ' || current_setting('wal_compression')").trim()).toBe('64MB zstd');
    expect(await roundTrip(large)).toBe(64 * 1024 * 1024);
  }, 180_000);

  it('a standby is refused naming the fix, nothing created on it; a timeline switch (that standby promoted, the task pointed at it): the next incremental is a full naming the switch; moments before and after restore right, one in between is OUT_OF_RANGE', async () => {
    const primary = small;
    const { engine, backups, taskId, serverId } = await walTask(primary);
    const one = (pg: PgServer, asOf: string, database: string) => restoreCommand(engine, join(backups, SERVER_FOLDER), { asOf: new Date(asOf), serverFile: restoreSetup(pg).serverFile, database, sourceDatabase: 'tl' });
    primary.psql('CREATE DATABASE tl');
    primary.psql("CREATE TABLE ledger (id int PRIMARY KEY, note text); INSERT INTO ledger VALUES (0, 'zero')", 'tl');
    expect((await runTask(engine, taskId, 'full')).databases[0]).toMatchObject({ kind: 'full', status: 'success' });
    await new Promise((r) => setTimeout(r, 1100));
    primary.psql("INSERT INTO ledger VALUES (1, 'one')", 'tl');
    await pause();
    const beforeSwitch = now(primary);
    await pause();
    primary.psql("INSERT INTO ledger VALUES (2, 'two')", 'tl');
    expect((await runTask(engine, taskId, 'incremental')).databases[0]).toMatchObject({ kind: 'incremental', status: 'success' });

    // A standby of the primary: a task pointed at it is refused, naming the fix; caught up, then promoted: timeline 2; the task's server now points at it (a failover).
    const standby = await startPostgres({ standbyOf: primary });
    try {
      const target = primary.psql('SELECT pg_current_wal_lsn()').trim();
      for (let i = 0; i < 300 && standby.psql(`SELECT pg_last_wal_replay_lsn() >= '${target}'`).trim() !== 't'; i++) await new Promise((r) => setTimeout(r, 100));
      // A task pointed at the standby itself (while it is one).
      const onStandby = await walTask(standby);
      const refused = await runTask(onStandby.engine, onStandby.taskId, 'full');
      expect(refused.databases[0]).toMatchObject({
        status: 'failed',
        errorCode: 'DUMP_FAILED',
        errorMessage: `The PostgreSQL server ${standby.host}:${standby.port} is a standby (in recovery): a snapshot task takes its WAL through a replication slot of its own and switches WAL files, which only a primary does. Nothing was created on the server. Fix: point the task's server at the primary (after a failover: the promoted server), or use a task of type logical.`,
      });
      expect(standby.psql('SELECT count(*) FROM pg_replication_slots').trim()).toBe('0');
      await onStandby.engine.close();
      expect(standby.psql('SELECT pg_promote()').trim()).toBe('t');
      expect(standby.psql("SELECT timeline_id FROM pg_control_checkpoint()").trim()).toMatch(/^[12]$/); // the end-of-recovery checkpoint may come later
      data(await engine.call('servers.update', { id: serverId, server: { kind: 'postgres', name: 'pg', host: standby.host, port: standby.port, user: standby.user, password: standby.password, tls: 'disable' } }));
      await pause();
      const inGap = now(standby);
      standby.psql("INSERT INTO ledger VALUES (3, 'three')", 'tl');
      const switched = await runTask(engine, taskId, 'incremental');
      expect(switched.databases[0]).toMatchObject({ kind: 'full', status: 'success', kindReason: "WAL chain broken: the server's timeline changed from 1 to 2 (a failover or a promotion)" });
      await new Promise((r) => setTimeout(r, 1100));
      standby.psql("INSERT INTO ledger VALUES (4, 'four')", 'tl');
      await pause();
      const afterSwitch = now(standby);
      await pause();
      standby.psql("INSERT INTO ledger VALUES (5, 'five')", 'tl');
      expect((await runTask(engine, taskId, 'incremental')).databases[0]).toMatchObject({ kind: 'incremental', status: 'success' });
      const points = await storedPoints(join(backups, SERVER_FOLDER), 'base.tar');
      expect(points.map((p) => `${p.kind}:${(p.meta.wal as { timeline: number }).timeline}`)).toEqual(['full:1', 'incremental:1', 'full:2', 'incremental:2']);

      // Before the switch: from the timeline-1 chain; after it: from the timeline-2 chain; both onto the new primary.
      await one(standby, beforeSwitch, 'tl_before');
      expect(rows(standby, 'tl_before')).toBe('0zero,1one');
      await one(standby, afterSwitch, 'tl_after');
      expect(rows(standby, 'tl_after')).toBe('0zero,1one,2two,3three,4four');
      expect(await clusterRows(engine, join(backups, SERVER_FOLDER), { point: 'latest' }, standby, 'tl', "SELECT string_agg(id || note, ',' ORDER BY id) FROM ledger")).toBe(rows(standby, 'tl'));
      // Between the last WAL of timeline 1 and the base backup of timeline 2 nothing is stored: refused, nothing created.
      await expect(one(standby, inGap, 'tl_gap')).rejects.toMatchObject({ code: 'OUT_OF_RANGE', message: expect.stringMatching(/The backups reach .* UTC to .* UTC; .* UTC to .* UTC\. Nothing was created\.$/) });
      expect(standby.psql("SELECT count(*) FROM pg_database WHERE datname = 'tl_gap'").trim()).toBe('0');
    } finally {
      await engine.close();
      await standby.stop();
    }
  }, 240_000);
});
