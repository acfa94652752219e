/**
 * PostgreSQL snapshot tasks as base backup + WAL through a replication slot the task owns,
 * against a real PostgreSQL 15 (wal_level=replica, max_wal_senders, replication in
 * pg_hba): the full creates the slot, an incremental stores only the WAL written since
 * (bytes, never time), a slot dropped or a spool lost behind Backstop's back makes the
 * next run a full with "WAL chain broken: …".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PgConnection } from '../../../electron/engine/servers/postgres/connection.ts';
import { WalBackup } from '../../../electron/engine/backup/wal-backup.ts';
import { parseLsn, WAL_BLOCK_BYTES } from '../../../electron/engine/servers/postgres/wal-stream.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert, Destination, Run } from '../../../electron/shared/domain.ts';
import { openRepository } from '../../../electron/engine/repository/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { encodeDatabaseFolder, SERVER_FOLDER, slotNameFor } from '../../../electron/engine/servers/index.ts';
import { restoreCommand } from '../../../electron/cli/commands/location.ts';
import { startDataDirectory } from '../../../electron/engine/servers/index.ts';
import { chownTree } from '../../fixtures/servers/common.ts';
import { data, runTask, waitForRun } from '../../fixtures/runs.ts';
import { PG_BIN, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { TmpfsMounts } from '../../fixtures/tmpfs.ts';
import { walTask, privateTmpDir, pgServerFile, untilPromoted } from '../../fixtures/wal-task.ts';

let pg: PgServer;

beforeAll(async () => {
  pg = await startPostgres();
  pg.psql('CREATE DATABASE shop');
  // ~40 MB of table data, half compressible: an incremental after a small change must cost a small fraction of it.
  pg.psql("CREATE TABLE big (id int PRIMARY KEY, payload text); INSERT INTO big SELECT g, repeat(md5(g::text || random()::text), 10) FROM generate_series(1, 100000) g", 'shop');
  // A settled table, as a large database is: a fresh load's first VACUUM would be WAL of its own.
  // WAL is received in whole segments: start the test's WAL in a fresh one.
  pg.psql('VACUUM (FREEZE, ANALYZE) big', 'shop');
  pg.psql('CHECKPOINT');
  pg.psql('SELECT pg_switch_wal()');
});

afterAll(async () => {
  await pg?.stop();
});

/** A task's local destinations moved to a subfolder `name` (a second task never shares a destination). */
const subfolders = (destinations: readonly Destination[], name: string): Destination[] => destinations.map((d) => (d.kind === 'local' ? { ...d, path: join(d.path, name) } : d));
const baseFolder = (backups: string) => join(backups, SERVER_FOLDER, encodeDatabaseFolder('base.tar'));

describe('PostgreSQL snapshot task: base backup + WAL', () => {
  it('creates the task slot with the full, stores only the WAL in an incremental, and records the chain', async () => {
    const { engine, backups, taskId } = await walTask(pg);
    const slot = slotNameFor(taskId);
    expect(slot).toMatch(/^backstop_[a-z0-9]{1,12}_[0-9a-f]{8}$/);
    const full = await runTask(engine, taskId, 'incremental');
    expect(full.status).toBe('success');
    expect(full.databases[0]).toMatchObject({ database: 'base.tar', kind: 'full', kindReason: 'first backup at this destination' });
    expect(pg.psql(`SELECT slot_type || ':' || (restart_lsn IS NOT NULL) FROM pg_replication_slots WHERE slot_name = '${slot}'`).trim()).toBe('physical:true');

    pg.psql("UPDATE big SET payload = 'changed' WHERE id % 1000 = 0", 'shop');
    const inc = await runTask(engine, taskId, 'incremental');
    expect(inc.status).toBe('success');
    const row = inc.databases[0]!;
    expect(row).toMatchObject({ kind: 'incremental', kindReason: null });
    const fullRow = full.databases[0]!;
    // 100 changed rows: the WAL is a few hundred KB against a base backup of ~70 MB.
    expect(row.bytesRead).toBeGreaterThan(0);
    expect(row.bytesRead).toBeLessThan(fullRow.bytesRead / 20);
    expect(row.bytesStored).toBeLessThan(fullRow.bytesStored / 20);

    const repo = await openRepository(new LocalBackend(baseFolder(backups)));
    const points = await repo.listPoints();
    expect(points.map((p) => [p.kind, p.meta.format])).toEqual([
      ['full', 'pg-basebackup-tar'],
      ['incremental', 'pg-wal-tar'],
    ]);
    // WAL is cut into fixed blocks (no content-defined cuts: it never recurs by content).
    expect(points[1]!.chunking).toEqual({ kind: 'fixed', size: WAL_BLOCK_BYTES });
    // …compressed at the WAL points' own level (1), whatever the repository's (3 here); the restore below reads it as any other.
    expect(points[1]!.stats.bytesNewByLevel).toEqual({ '1': points[1]!.stats.bytesNew });
    const wal = points[1]!.meta.wal as Record<string, unknown>;
    expect(wal).toMatchObject({ slot, timeline: 1, systemId: expect.stringMatching(/^\d+$/), startLsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/), endLsn: expect.any(String), endTime: expect.any(String) });
    expect((points[0]!.meta.wal as Record<string, unknown>).slot).toBe(slot);

    // The spool keeps nothing that every destination has committed.
    const spool = join(engine.dataDir, 'wal-spool', slot);
    expect(readdirSync(spool).filter((f) => !f.endsWith('.partial'))).toEqual([]);

    // --point latest (the WAL point): the base backup, replaying the WAL to that point's end on first start.
    const parent = tempDir();
    if (pg.osUser) chownTree(parent, pg.osUser);
    const folder = join(parent, 'latest');
    const restored = await restoreCommand(engine, join(backups, SERVER_FOLDER), { point: 'latest', folder });
    expect(restored).toMatchObject({ cluster: true, path: folder });
    const running = await startDataDirectory(folder, { user: 'postgres', toolPaths: { postgres: PG_BIN }, socketOnly: true });
    try {
      const conn = new PgConnection({ kind: 'postgres', host: running.host, port: running.port, user: 'postgres', tls: 'disable' }, null, { binDir: PG_BIN });
      await untilPromoted(conn);
      expect((await conn.query("SELECT count(*) FROM big WHERE payload = 'changed'", { database: 'shop' }))[0]?.[0]).toBe('100');
    } finally {
      await running.stop();
    }
    await engine.close();
  });

  it('retention never cuts a WAL chain in the middle: a kept WAL point keeps every earlier point of its chain; a chain goes whole', async () => {
    const { engine, backups, taskId } = await walTask(pg, tempDir(), { retention: { minAgeDays: 0, minAgeHours: 0, keepLast: 3 } });
    // Each point as F (base backup) or W (WAL) and its chain's id.
    const points = async () => (await (await openRepository(new LocalBackend(baseFolder(backups)))).listPoints()).map((p) => `${p.kind === 'full' ? 'F' : 'W'}${p.chainId}`);
    const run = async (kind: 'full' | 'incremental') => {
      pg.psql(`UPDATE big SET payload = '${kind}' WHERE id % 5000 = 0`, 'shop');
      expect((await runTask(engine, taskId, kind)).status).toBe('success');
    };
    await run('full');
    for (let i = 0; i < 3; i++) await run('incremental');
    await run('full');
    // Per point, keepLast 3 keeps the new full and the last two WAL points (and their full): the first WAL point,
    // which they replay on top of, would go. It stays: the old chain is whole.
    const [c1, c2] = [...new Set((await points()).map((p) => p.slice(1)))];
    expect(await points()).toEqual([`F${c1}`, `W${c1}`, `W${c1}`, `W${c1}`, `F${c2}`]);
    await run('full');
    await run('full');
    // The newest 3 are now fulls: nothing of the first chain is kept, so it goes whole.
    expect((await points()).some((p) => p.endsWith(c1!))).toBe(false);
    expect(await points()).toHaveLength(3);
    await engine.close();
  }, 300_000);

  it('takes a full with "WAL chain broken" when the slot was dropped or the spool lost behind its back', async () => {
    const { engine, taskId } = await walTask(pg);
    const slot = slotNameFor(taskId);
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    pg.psql(`SELECT pg_drop_replication_slot('${slot}')`);
    const after = await runTask(engine, taskId, 'incremental');
    expect(after.status).toBe('success');
    expect(after.databases[0]).toMatchObject({ kind: 'full', kindReason: `WAL chain broken: replication slot "${slot}" no longer exists on the server (it was dropped outside Backstop)` });
    // The full made a new slot: the chain continues.
    pg.psql("INSERT INTO big VALUES (-1, 'one more')", 'shop');
    expect((await runTask(engine, taskId, 'incremental')).databases[0]).toMatchObject({ kind: 'incremental' });

    // The spool is lost and the slot moved on, and the server recycled the WAL: a gap.
    pg.psql("INSERT INTO big VALUES (-2, 'gap')", 'shop');
    rmSync(join(engine.dataDir, 'wal-spool', slot), { recursive: true, force: true });
    pg.psql('SELECT pg_switch_wal()');
    pg.psql(`SELECT pg_replication_slot_advance('${slot}', pg_current_wal_lsn())`);
    pg.psql('CHECKPOINT');
    const gap = await runTask(engine, taskId, 'incremental');
    expect(gap.databases[0]!.kind).toBe('full');
    expect(gap.databases[0]!.kindReason).toMatch(/^WAL chain broken: the WAL from [0-9A-F/]+ to [0-9A-F/]+ was not kept/);
    await engine.close();
  });

  it('commits nothing when pg_receivewal fails while the point is already being written from the segments it completed; the spool keeps them and the next incremental continues the chain', async () => {
    const { engine, backups, taskId } = await walTask(pg);
    const slot = slotNameFor(taskId);
    const spool = join(engine.dataDir, 'wal-spool', slot);
    const admin = new PgConnection({ kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, tls: 'disable' }, pg.password, { binDir: PG_BIN });
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    pg.psql("UPDATE big SET payload = 'opened' WHERE id % 1000 = 1", 'shop');
    expect((await runTask(engine, taskId, 'incremental')).databases[0]).toMatchObject({ kind: 'incremental', status: 'success' });
    const repo = await openRepository(new LocalBackend(baseFolder(backups)));
    let before = await repo.listPoints();
    pg.psql('CREATE TABLE churn (v text)', 'shop');
    // The walsender ends (as on a network cut or a server restart) once pg_receivewal has completed a segment of
    // this run, i.e. while the point is being written from it. A receipt may outrun the check: then once more.
    let failed: Run | null = null;
    const completedThisRun: string[] = [];
    for (let attempt = 0; attempt < 4 && !failed; attempt++) {
      pg.psql('INSERT INTO churn SELECT repeat(md5(g::text), 30) FROM generate_series(1, 40000) g', 'shop'); // ~40 MB of WAL
      const complete = new Set(readdirSync(spool).filter((f) => !f.endsWith('.partial')));
      // An attempt whose receipt outran the check succeeded and committed its point: the
      // failed run is compared with the points that were there when it started.
      before = await repo.listPoints();
      const running = runTask(engine, taskId, 'incremental');
      let finished = false;
      void running.finally(() => (finished = true));
      completedThisRun.length = 0;
      while (!finished) {
        const pid = (await admin.query(`SELECT active_pid FROM pg_replication_slots WHERE slot_name = '${slot}' AND active`))[0]?.[0];
        completedThisRun.splice(0, completedThisRun.length, ...readdirSync(spool).filter((f) => !f.endsWith('.partial') && !complete.has(f)));
        if (pid && completedThisRun.length > 0) {
          await admin.query(`SELECT pg_terminate_backend(${pid})`);
          break;
        }
      }
      const run = await running;
      if (run.status !== 'success') failed = run;
    }
    expect(failed, 'a run whose pg_receivewal was cut off').not.toBeNull();
    expect(failed!.databases[0]).toMatchObject({ kind: 'incremental', status: 'failed', errorCode: 'DUMP_FAILED' });
    expect(failed!.databases[0]!.errorMessage).toMatch(/pg_receivewal/);
    // No point from the partial receipt; the segments it completed stay in the spool for the next run.
    expect((await repo.listPoints()).map((p) => p.id)).toEqual(before.map((p) => p.id));
    expect(completedThisRun.length).toBeGreaterThan(0);
    for (const f of completedThisRun) expect(existsSync(join(spool, f)), f).toBe(true);

    pg.psql("UPDATE big SET payload = 'after the cut' WHERE id % 1000 = 2", 'shop');
    const next = await runTask(engine, taskId, 'incremental');
    expect(next.databases[0]).toMatchObject({ kind: 'incremental', status: 'success' });
    const points = await repo.listPoints();
    expect(points).toHaveLength(before.length + 1);
    const prev = before[before.length - 1]!.meta.wal as { endLsn: string };
    const added = points[points.length - 1]!.meta.wal as { startLsn: string; endLsn: string };
    // The chain goes on with no gap: the new point starts at or before where the last committed one ended.
    expect(parseLsn(added.startLsn)).toBeLessThanOrEqual(parseLsn(prev.endLsn));
    expect(parseLsn(added.endLsn)).toBeGreaterThan(parseLsn(prev.endLsn));
    expect(next.databases[0]!.bytesRead).toBeGreaterThan(40_000_000);
    await engine.close();
  });

  it('a slot dropped between the chain check and the receipt: the WAL stream fails with "WAL chain broken" (no point can commit from it), the next run is a full', async () => {
    const { engine, backups, taskId } = await walTask(pg);
    const slot = slotNameFor(taskId);
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    const repo = await openRepository(new LocalBackend(baseFolder(backups)));
    const conn = new PgConnection({ kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, tls: 'disable' }, pg.password, { binDir: PG_BIN });
    // The engine's own pieces, so the slot can go between the plan (the chain judged) and the receipt.
    const wal = new WalBackup(conn, { slot, spoolDir: join(engine.dataDir, 'wal-spool', slot) }, 'incremental', () => Promise.reject(new Error('this test takes no base backup')));
    pg.psql("UPDATE big SET payload = 'raced' WHERE id % 1000 = 3", 'shop');
    const plan = await wal.beforeDump([{ repo, kind: 'incremental', kindReason: null }], new AbortController().signal);
    expect(plan.kind).toBe('incremental');
    pg.psql(`SELECT pg_drop_replication_slot('${slot}')`);
    const dump = await wal.openDump(new AbortController().signal, 'incremental');
    let read = 0;
    const err = await (async () => {
      for await (const b of dump.stream) read += (b as Buffer).length;
    })().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'DUMP_FAILED', message: expect.stringMatching(/^WAL chain broken: the server no longer has the WAL this task's chain needs \(.*replication slot .* does not exist.*\); nothing was stored for this run\. Run the task again: it takes a full backup\.$/s) });
    await expect(dump.done).rejects.toMatchObject({ code: 'DUMP_FAILED' });
    expect(read).toBe(0); // nothing of the empty spool was streamed before the failure
    expect(await repo.listPoints()).toHaveLength(1);
    const next = await runTask(engine, taskId, 'incremental');
    expect(next.databases[0]).toMatchObject({ kind: 'full', status: 'success', kindReason: `WAL chain broken: replication slot "${slot}" no longer exists on the server (it was dropped outside Backstop)` });
    await engine.close();
  });

  it('restores one database and the whole cluster to a moment before and after a DROP TABLE', async () => {
    const { engine, backups, taskId } = await walTask(pg);
    pg.psql('CREATE DATABASE pitr');
    pg.psql('CREATE TABLE ledger (id int PRIMARY KEY, note text)', 'pitr');
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    // The first WAL backup opens the reachable range.
    expect((await runTask(engine, taskId, 'incremental')).databases[0]).toMatchObject({ kind: 'incremental' });
    const now = () => pg.psql(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`).trim();
    const pause = () => new Promise((r) => setTimeout(r, 300));
    pg.psql("INSERT INTO ledger VALUES (1, 'one'), (2, 'two')", 'pitr');
    await pause();
    const afterTwo = now();
    await pause();
    pg.psql("INSERT INTO ledger VALUES (3, 'three')", 'pitr');
    await pause();
    const beforeDrop = now();
    await pause();
    pg.psql('DROP TABLE ledger', 'pitr');
    await pause();
    const afterDrop = now();
    expect((await runTask(engine, taskId, 'incremental')).databases[0]).toMatchObject({ kind: 'incremental' });

    const serverFile = pgServerFile(pg);
    const serverRoot = join(backups, SERVER_FOLDER);
    const one = (asOf: string, database: string) => restoreCommand(engine, serverRoot, { asOf: new Date(asOf), serverFile, database, sourceDatabase: 'pitr' });
    // The temporary clusters go to a private TMPDIR (other test files restore to moments at the same time).
    const privateTmp = privateTmpDir();
    const leftovers = () => readdirSync(privateTmp).filter((f) => f.startsWith('backstop-pitr-'));

    const two = await one(afterTwo, 'pitr_two');
    expect(two).toMatchObject({ database: 'pitr_two', cluster: false });
    expect(pg.psql('SELECT string_agg(id || note, \',\' ORDER BY id) FROM ledger', 'pitr_two').trim()).toBe('1one,2two');
    await one(beforeDrop, 'pitr_three');
    expect(pg.psql('SELECT count(*) FROM ledger', 'pitr_three').trim()).toBe('3');
    await one(afterDrop, 'pitr_dropped');
    expect(pg.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'ledger'", 'pitr_dropped').trim()).toBe('0');
    // No temporary cluster is left behind.
    expect(leftovers()).toEqual([]);

    // The whole cluster into a new data directory (the server folder's base.tar as location), started and queried.
    const parent = tempDir();
    if (pg.osUser) chownTree(parent, pg.osUser);
    const folder = join(parent, 'cluster');
    const whole = await restoreCommand(engine, baseFolder(backups), { asOf: new Date(beforeDrop), folder });
    expect(whole).toMatchObject({ cluster: true, path: folder });
    expect(whole.notes.join('\n')).toContain('recovery_target_time');
    const running = await startDataDirectory(folder, { user: 'postgres', toolPaths: { postgres: PG_BIN }, socketOnly: true });
    try {
      expect(running.databases).toContain('pitr');
      const conn = new PgConnection({ kind: 'postgres', host: running.host, port: running.port, user: 'postgres', tls: 'disable' }, null, { binDir: PG_BIN });
      await untilPromoted(conn);
      expect((await conn.query('SELECT count(*) FROM ledger', { database: 'pitr' }))[0]?.[0]).toBe('3');
      expect((await conn.query('SELECT pg_is_in_recovery()'))[0]?.[0]).toBe('f');
    } finally {
      await running.stop();
    }

    // A moment outside the reachable range: OUT_OF_RANGE naming the range, nothing created.
    const early = restoreCommand(engine, serverRoot, { asOf: new Date(Date.parse(afterTwo) - 3600_000), serverFile, database: 'pitr_early', sourceDatabase: 'pitr' });
    await expect(early).rejects.toMatchObject({ code: 'OUT_OF_RANGE', message: expect.stringMatching(/is outside what the backups of this server reach\. The backups reach \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC to \d{4}-.* UTC\. Nothing was created\./) });
    expect(pg.psql("SELECT count(*) FROM pg_database WHERE datname = 'pitr_early'").trim()).toBe('0');
    const lateFolder = join(parent, 'late');
    await expect(restoreCommand(engine, serverRoot, { asOf: new Date(Date.now() + 3600_000), folder: lateFolder })).rejects.toMatchObject({ code: 'OUT_OF_RANGE' });
    expect(existsSync(lateFolder)).toBe(false);
    // A name that is taken: refused before any temporary cluster is made.
    await expect(one(beforeDrop, 'pitr')).rejects.toMatchObject({ code: 'DATABASE_EXISTS', message: expect.stringContaining('"pitr" already exists') });

    // Server binaries of another major version only: TOOL_MISSING naming the fix, nothing left behind.
    const tools = tempDir();
    for (const t of readdirSync(PG_BIN)) if (t !== 'postgres') symlinkSync(join(PG_BIN, t), join(tools, t));
    writeFileSync(join(tools, 'postgres'), '#!/bin/sh\necho "postgres (PostgreSQL) 14.11"\n', { mode: 0o755 });
    data(await engine.call('settings.set', { toolPaths: { postgres: tools, mysql: null } }));
    await expect(one(beforeDrop, 'pitr_old_binaries')).rejects.toMatchObject({
      code: 'TOOL_MISSING',
      message: expect.stringContaining('needs PostgreSQL 15 server binaries'),
    });
    expect(pg.psql("SELECT count(*) FROM pg_database WHERE datname = 'pitr_old_binaries'").trim()).toBe('0');
    expect(leftovers()).toEqual([]);

    // Not enough disk for the temporary cluster (a 1 MB file system as TMPDIR; mounting needs root, as CI runs).
    if (process.getuid?.() === 0) {
      const small = tempDir();
      const tmpfs = new TmpfsMounts();
      expect(tmpfs.tryMount(small, '1m')).toBe(true);
      process.env.TMPDIR = small;
      try {
        await expect(one(beforeDrop, 'pitr_small')).rejects.toMatchObject({
          code: 'DISK_FULL',
          message: expect.stringMatching(new RegExp(`recovers the cluster in a temporary folder first, writing only "pitr", the system databases, the cluster-wide files and the WAL \\(the other databases' files are left sparse\\): that needs about [\\d.]+ GB free in ${small}, but only 0\\.00 GB is free\\. .*Nothing was created\\.$`)),
        });
        expect(readdirSync(small)).toEqual([]);
      } finally {
        process.env.TMPDIR = privateTmp;
        tmpfs.unmountAll();
      }
      expect(pg.psql("SELECT count(*) FROM pg_database WHERE datname = 'pitr_small'").trim()).toBe('0');
    }
    await engine.close();
  }, 300_000);

  it('reaches from the base backup: a moment between the full and the first incremental restores one database and the whole cluster; one before it is OUT_OF_RANGE', async () => {
    const { engine, backups, taskId } = await walTask(pg);
    const now = () => pg.psql(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`).trim();
    const pause = (ms = 300) => new Promise((r) => setTimeout(r, ms));
    pg.psql('CREATE DATABASE pitr_base');
    pg.psql('CREATE TABLE ledger (id int PRIMARY KEY, note text)', 'pitr_base');
    pg.psql("INSERT INTO ledger VALUES (0, 'zero')", 'pitr_base');
    await pause();
    const beforeFull = now();
    await pause();
    expect((await runTask(engine, taskId, 'full')).databases[0]).toMatchObject({ kind: 'full' });
    const afterFull = now();
    // The base backup records the server's clock once pg_basebackup has finished.
    const repo = await openRepository(new LocalBackend(baseFolder(backups)));
    const consistent = (await repo.listPoints())[0]!.meta.wal as Record<string, unknown>;
    expect(consistent.consistentTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(Date.parse(consistent.consistentTime as string)).toBeGreaterThan(Date.parse(beforeFull));
    expect(Date.parse(consistent.consistentTime as string)).toBeLessThanOrEqual(Date.parse(afterFull));
    // Rows committed after the full (past the second the range starts in), then more, then the first incremental.
    await pause(1100);
    pg.psql("INSERT INTO ledger VALUES (1, 'one'), (2, 'two')", 'pitr_base');
    await pause();
    const between = now();
    await pause();
    pg.psql("INSERT INTO ledger VALUES (3, 'three')", 'pitr_base');
    expect((await runTask(engine, taskId, 'incremental')).databases[0]).toMatchObject({ kind: 'incremental' });
    const range = data(await engine.call('restore.inspect', { location: { kind: 'local', path: baseFolder(backups) } })).momentRanges!;
    expect(range).toHaveLength(1);
    expect(Date.parse(range[0]!.from)).toBeGreaterThanOrEqual(Date.parse(consistent.consistentTime as string));
    expect(Date.parse(range[0]!.from)).toBeLessThan(Date.parse(between));

    const serverFile = pgServerFile(pg);
    const serverRoot = join(backups, SERVER_FOLDER);
    const privateTmp = privateTmpDir();
    const one = (asOf: string, database: string) => restoreCommand(engine, serverRoot, { asOf: new Date(asOf), serverFile, database, sourceDatabase: 'pitr_base' });
    const rows = (database: string) => pg.psql("SELECT string_agg(id || note, ',' ORDER BY id) FROM ledger", database).trim();

    // One database, between the base backup and its first incremental: exactly the rows committed by then.
    expect(await one(between, 'pitr_base_between')).toMatchObject({ database: 'pitr_base_between', cluster: false });
    expect(rows('pitr_base_between')).toBe('0zero,1one,2two');
    // The very start of the range restores: PostgreSQL reaches it (the base backup is consistent by then).
    await one(range[0]!.from, 'pitr_base_start');
    expect(rows('pitr_base_start')).toBe('0zero');

    // The whole cluster into a new data directory, started and queried.
    const parent = tempDir();
    if (pg.osUser) chownTree(parent, pg.osUser);
    const folder = join(parent, 'cluster');
    expect(await restoreCommand(engine, serverRoot, { asOf: new Date(between), folder })).toMatchObject({ cluster: true, path: folder });
    const running = await startDataDirectory(folder, { user: 'postgres', toolPaths: { postgres: PG_BIN }, socketOnly: true });
    try {
      const conn = new PgConnection({ kind: 'postgres', host: running.host, port: running.port, user: 'postgres', tls: 'disable' }, null, { binDir: PG_BIN });
      await untilPromoted(conn);
      expect((await conn.query('SELECT pg_is_in_recovery()'))[0]?.[0]).toBe('f');
      expect((await conn.query("SELECT string_agg(id || note, ',' ORDER BY id) FROM ledger", { database: 'pitr_base' }))[0]?.[0]).toBe('0zero,1one,2two');
    } finally {
      await running.stop();
    }

    // Before the base backup was consistent: OUT_OF_RANGE naming the range, nothing created (no database, no folder).
    const named = `The backups reach ${range[0]!.from.slice(0, 19).replace('T', ' ')} UTC to ${range[0]!.to.slice(0, 19).replace('T', ' ')} UTC. Nothing was created.`;
    await expect(one(beforeFull, 'pitr_base_early')).rejects.toMatchObject({ code: 'OUT_OF_RANGE', message: expect.stringContaining(named) });
    expect(pg.psql("SELECT count(*) FROM pg_database WHERE datname = 'pitr_base_early'").trim()).toBe('0');
    const earlyFolder = join(parent, 'early');
    const justBefore = new Date(Date.parse(range[0]!.from) - 1);
    await expect(restoreCommand(engine, serverRoot, { asOf: justBefore, folder: earlyFolder })).rejects.toMatchObject({ code: 'OUT_OF_RANGE', message: expect.stringContaining(named) });
    expect(existsSync(earlyFolder)).toBe(false);
    expect(readdirSync(privateTmp).filter((f) => f.startsWith('backstop-pitr-'))).toEqual([]);
    await engine.close();
  }, 300_000);

  it('ends a pg_receivewal left holding the slot (a killed Backstop) and runs the incremental; names the fix when it may not', async () => {
    const { engine, taskId } = await walTask(pg);
    const slot = slotNameFor(taskId);
    const active = () => pg.psql(`SELECT coalesce(active_pid::text, '') FROM pg_replication_slots WHERE slot_name = '${slot}' AND active`).trim();
    // What a killed Backstop leaves behind: its pg_receivewal, still streaming into the spool, with no end position.
    const orphan = async (user: string, password: string): Promise<ChildProcess> => {
      const child = spawn(join(PG_BIN, 'pg_receivewal'), ['-D', join(engine.dataDir, 'wal-spool', slot), '-S', slot, '--no-loop', '--synchronous', '-h', pg.host, '-p', String(pg.port), '-U', user, '-w'], {
        stdio: 'ignore',
        env: { ...process.env, PGPASSWORD: password },
      });
      for (let i = 0; i < 100 && active() === ''; i++) await new Promise((r) => setTimeout(r, 100));
      expect(active()).not.toBe('');
      return child;
    };
    const exited = (child: ChildProcess) => (child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', r)));

    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    pg.psql("INSERT INTO big VALUES (-10, 'before the orphan')", 'shop');
    const first = await orphan(pg.user, pg.password);
    const pid = active();
    pg.psql("INSERT INTO big VALUES (-11, 'while the orphan runs')", 'shop');
    const inc = await runTask(engine, taskId, 'incremental');
    expect(inc.status).toBe('success');
    expect(inc.databases[0]).toMatchObject({ kind: 'incremental', kindReason: null });
    await exited(first);
    expect(first.exitCode).not.toBe(0);
    expect(pg.psql(`SELECT count(*) FROM pg_stat_activity WHERE pid = ${pid}`).trim()).toBe('0');
    // The chain goes on: the next incremental continues where this one ended.
    pg.psql("INSERT INTO big VALUES (-12, 'after')", 'shop');
    expect((await runTask(engine, taskId, 'incremental')).databases[0]).toMatchObject({ kind: 'incremental' });

    // A task whose role may not end the holder (a superuser's pg_receivewal): CONFLICT naming the process and the fix; the chain is kept.
    pg.psql("CREATE ROLE replonly LOGIN REPLICATION PASSWORD 'replonly-pw' IN ROLE pg_read_all_data, pg_monitor");
    const task = data(await engine.call('tasks.list', undefined)).find((t) => t.id === taskId)!;
    const weak = data(await engine.call('servers.create', { kind: 'postgres', name: 'replonly', host: pg.host, port: pg.port, user: 'replonly', password: 'replonly-pw', tls: 'disable' }));
    const { id: _id, createdAt: _c, updatedAt: _u, ...input } = task;
    // Its own folder: two tasks never share a destination (check-task-input.ts checkSharedDestinations).
    const weakTask = data(await engine.call('tasks.create', { ...input, name: 'replonly', serverId: weak.id, destinations: subfolders(input.destinations, 'replonly') }));
    const weakSlot = slotNameFor(weakTask.id);
    expect((await runTask(engine, weakTask.id, 'full')).status).toBe('success');
    const held = spawn(join(PG_BIN, 'pg_receivewal'), ['-D', join(engine.dataDir, 'wal-spool', weakSlot), '-S', weakSlot, '--no-loop', '-h', pg.host, '-p', String(pg.port), '-U', pg.user, '-w'], { stdio: 'ignore', env: { ...process.env, PGPASSWORD: pg.password } });
    const heldPid = async () => {
      for (let i = 0; i < 100; i++) {
        const p = pg.psql(`SELECT coalesce(active_pid::text, '') FROM pg_replication_slots WHERE slot_name = '${weakSlot}' AND active`).trim();
        if (p) return p;
        await new Promise((r) => setTimeout(r, 100));
      }
      return '';
    };
    const holder = await heldPid();
    expect(holder).not.toBe('');
    try {
      const blocked = await runTask(engine, weakTask.id, 'incremental');
      expect(blocked.status).toBe('failed');
      expect(blocked.databases[0]).toMatchObject({ status: 'failed', errorCode: 'CONFLICT' });
      expect(blocked.databases[0]!.errorMessage).toMatch(
        new RegExp(`^Replication slot "${weakSlot}" of this task is in use by server process ${holder} \\(most likely a pg_receivewal left running by a Backstop that was stopped abruptly\\) and Backstop may not end it \\(.*\\)\\. Fix: stop that process, or run on the server as a superuser: SELECT pg_terminate_backend\\(${holder}\\); then run the task again\\.$`),
      );
      expect(blocked.databases[0]!.errorMessage).not.toContain('replonly-pw');
      // Nothing was ended or dropped: the slot is still there, held by the same process.
      expect(pg.psql(`SELECT active_pid FROM pg_replication_slots WHERE slot_name = '${weakSlot}'`).trim()).toBe(holder);
    } finally {
      held.kill('SIGKILL');
      await exited(held);
    }
    // Once the holder is gone, the chain continues with an incremental.
    for (let i = 0; i < 100 && pg.psql(`SELECT active FROM pg_replication_slots WHERE slot_name = '${weakSlot}'`).trim() === 't'; i++) await new Promise((r) => setTimeout(r, 100));
    const resumed = await runTask(engine, weakTask.id, 'incremental');
    expect(resumed.databases[0], resumed.databases[0]!.errorMessage ?? '').toMatchObject({ status: 'success', kind: 'incremental' });
    data(await engine.call('tasks.delete', { id: weakTask.id }));
    pg.psql('DROP ROLE replonly');
    await engine.close();
  }, 120_000);

  it('slot care: tasks.status warns (and tasks.changed fires) when the slot holds back more WAL than slotWarnGiB, and clears after a run', async () => {
    const { engine, taskId } = await walTask(pg);
    const slot = slotNameFor(taskId);
    const slotOf = async () => data(await engine.call('tasks.status', undefined)).find((s) => s.taskId === taskId)!.slot;
    const changed: string[][] = [];
    engine.events.on('tasks.changed', ({ ids }) => changed.push(ids));
    const alerts: Alert[] = [];
    engine.events.on('alert', (a) => alerts.push(a));
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    data(await engine.call('settings.set', { slotWarnGiB: 0.05 }));
    await engine.slots.check();
    expect(await slotOf()).toMatchObject({ name: slot, warning: null });
    // ~90 MB of WAL the task has not received yet (the workstation was off, say).
    pg.psql("CREATE TABLE slot_fill AS SELECT g, repeat(md5(g::text), 8) AS t FROM generate_series(1, 300000) g", 'shop');
    // Vacuum it now: an autovacuum of the new table after the run below would write fresh WAL
    // (visibility map, frozen pages) that the slot rightly holds until the next run.
    pg.psql('VACUUM (FREEZE, ANALYZE) slot_fill', 'shop');
    changed.length = 0;
    await engine.slots.check();
    const held = await slotOf();
    expect(held!.heldBytes).toBeGreaterThan(0.05 * 1024 ** 3);
    expect(held!.warning).toMatch(new RegExp(`^Replication slot "${slot}" of task "cluster" holds back \\d+ MiB of WAL on pg \\(warning above 0\\.05 GiB\\): the server keeps it until the task's next backup receives it, and its disk fills otherwise\\. Run the task now, or find out why its runs fail\\. If the task is no longer needed, delete it \\(that drops the slot\\) or drop the slot on the server: SELECT pg_drop_replication_slot\\('${slot}'\\);$`));
    expect(changed).toEqual([[taskId]]);
    // The warning that appeared is one alert (desktop, the task's channels); a check that finds it still there raises none.
    expect(alerts.filter((a) => a.kind === 'slot-warning')).toEqual([{ kind: 'slot-warning', taskId, message: held!.warning, databases: [] }]);
    await engine.slots.check();
    expect(alerts.filter((a) => a.kind === 'slot-warning')).toHaveLength(1);
    // A run receives the WAL: the slot moves on and the warning clears (checked after every run).
    // ~90 MB of WAL takes long on a loaded machine: a longer wait than runTask's.
    const { runId } = data(await engine.call('tasks.runNow', { id: taskId, kind: 'incremental' }));
    expect((await waitForRun(engine, runId, 280_000)).databases[0]).toMatchObject({ kind: 'incremental' });
    await engine.slots.check();
    expect((await slotOf())!.warning).toBeNull();
    // What stays held is the receiver's last unconfirmed segment or so, not the WAL it received.
    expect((await slotOf())!.heldBytes).toBeLessThan(held!.heldBytes / 2);
    pg.psql('DROP TABLE slot_fill', 'shop');
    data(await engine.call('tasks.delete', { id: taskId }));
    await engine.close();
  }, 500_000);

  it('drops the slot when the task stops being a snapshot task or is deleted; the server check and a run name a missing REPLICATION privilege', async () => {
    const { engine, taskId, serverId } = await walTask(pg);
    const slotExists = (slot: string) => pg.psql(`SELECT count(*) FROM pg_replication_slots WHERE slot_name = '${slot}'`).trim() === '1';
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    const slot = slotNameFor(taskId);
    expect(slotExists(slot)).toBe(true);
    const task = data(await engine.call('tasks.list', undefined)).find((t) => t.id === taskId)!;
    const { id: _id, createdAt: _c, updatedAt: _u, ...input } = task;
    data(await engine.call('tasks.update', { id: taskId, task: { ...input, type: 'logical' } }));
    expect(slotExists(slot)).toBe(false);
    expect(existsSync(join(engine.dataDir, 'wal-spool', slot))).toBe(false);

    const second = data(await engine.call('tasks.create', { ...input, name: 'second', destinations: subfolders(input.destinations, 'second') }));
    expect((await runTask(engine, second.id, 'full')).status).toBe('success');
    expect(slotExists(slotNameFor(second.id))).toBe(true);
    data(await engine.call('tasks.delete', { id: second.id }));
    expect(slotExists(slotNameFor(second.id))).toBe(false);
    // A server with everything in place: no replication warnings.
    expect(data(await engine.call('servers.test', { id: serverId })).warnings).toEqual([]);

    pg.psql("CREATE ROLE norepl LOGIN PASSWORD 'norepl-pw' IN ROLE pg_read_all_data");
    const weak = data(await engine.call('servers.create', { kind: 'postgres', name: 'weak', host: pg.host, port: pg.port, user: 'norepl', password: 'norepl-pw', tls: 'disable' }));
    const check = data(await engine.call('servers.test', { id: weak.id }));
    expect(check.warnings).toContain('User "norepl" has no REPLICATION privilege: snapshot backups (base backup + WAL) will fail. Fix: ALTER ROLE "norepl" REPLICATION;');
    const weakTask = data(await engine.call('tasks.create', { ...input, name: 'weak', serverId: weak.id, type: 'snapshot', destinations: subfolders(input.destinations, 'weak') }));
    const run = await runTask(engine, weakTask.id, 'full');
    expect(run.status).toBe('failed');
    expect(run.databases[0]).toMatchObject({ status: 'failed', errorCode: 'PERMISSION_DENIED' });
    expect(run.databases[0]!.errorMessage).toContain('needs the REPLICATION privilege. Fix: ALTER ROLE "norepl" REPLICATION;');
    expect(run.databases[0]!.errorMessage).not.toContain('norepl-pw');
    expect(slotExists(slotNameFor(weakTask.id))).toBe(false);
    pg.psql('DROP ROLE norepl');
    await engine.close();
  });
});
