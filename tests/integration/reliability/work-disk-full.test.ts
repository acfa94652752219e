/**
 * The workstation's own disk fills during a log incremental: the folder Backstop receives the
 * log into before it stores it is a small tmpfs (mounted by the test; we run as root) that
 * fills mid-run, with the real `backstop` CLI as a child process and real servers.
 * - PostgreSQL: the task's WAL spool (`<data dir>/wal-spool`, where pg_receivewal writes) on a
 *   2 MiB tmpfs, a cluster with 1 MB WAL segments, ~5 MB of WAL between runs.
 * - MariaDB: the log read's temporary folder (TMPDIR, where mariadb-binlog copies the closed
 *   binary-log files) on a 1 MiB tmpfs, ~3 MB of binary log between runs.
 * Each: the run fails with DISK_FULL naming the folder and the fix, nothing is committed at
 * the destination, the log the run could not store is still held (slot / server), and after
 * `remount,size=64m` the next run succeeds and a restore to a moment after the change holds
 * every committed row exactly once.
 * (A restore to a moment whose temporary cluster does not fit in TMPDIR is covered by
 * postgres-wal.test.ts.)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDatabaseFolder, SERVER_FOLDER, slotNameFor } from '../../../electron/engine/servers/index.ts';
import { parseLsn, segmentsIn } from '../../../electron/engine/servers/postgres/wal-stream.ts';
import { walMetaOf } from '../../../electron/engine/backup/wal-backup.ts';
import { openRepository } from '../../../electron/engine/repository/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { cli, rowsOf, Scratch, sleep, spawnCli } from '../../fixtures/reliability/common.ts';
import { PG_PASSWORD_ENV, repositoriesUnder, writeTask } from '../../fixtures/reliability/kill-harness.ts';
import { startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { storedPoints } from '../../fixtures/points.ts';
import { TmpfsMounts } from '../../fixtures/tmpfs.ts';

const scratch = new Scratch();
const tmpfs = new TmpfsMounts();
const tryMount = (dir: string, size: string) => tmpfs.tryMount(dir, size);
afterAll(() => {
  tmpfs.unmountAll();
  scratch.cleanup();
});

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
/** Waits until the next whole second has begun, twice around taking the moment (moments are compared by the second). */
async function momentNow(): Promise<string> {
  await sleep(1100 - (Date.now() % 1000));
  const moment = new Date().toISOString();
  await sleep(1100 - (Date.now() % 1000));
  return moment;
}
/** Files in every repository's in-flight folder and packs not named by a point: what a half-committed run leaves. */
const inflightUnder = (backups: string) => repositoriesUnder(backups).flatMap((r) => { try { return readdirSync(join(r, 'inflight')).map((f) => join(r, f)); } catch { return []; } });

describe('the WAL spool disk fills during a PostgreSQL incremental', () => {
  let pg: PgServer;
  beforeAll(async () => {
    pg = await startPostgres({ initdbArgs: ['--wal-segsize=1'] });
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
  });

  it('DISK_FULL naming the spool and the fix, nothing committed, the slot kept; after more space the next run succeeds and a moment after the change restores exactly', async (ctx) => {
    const backups = scratch.dir('backstop-spoolfull-backups-');
    const dataDir = scratch.dir('backstop-spoolfull-data-');
    const spool = join(dataDir, 'wal-spool');
    mkdirSync(spool);
    if (!tryMount(spool, '2m')) ctx.skip('mount -t tmpfs is not permitted here');
    const taskFile = join(scratch.dir(), 'task.json');
    const server = { kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, passwordEnv: PG_PASSWORD_ENV, tls: 'disable' };
    writeTask(taskFile, server, backups, pg.binDir, { name: 'spoolfull', type: 'snapshot' });
    const serverFile = join(scratch.dir(), 'server.json');
    writeFileSync(serverFile, JSON.stringify(server));
    process.env[PG_PASSWORD_ENV] = pg.password;
    const slot = slotNameFor('file-spoolfull');
    const base = join(backups, SERVER_FOLDER, encodeDatabaseFolder('base.tar'));
    const backup = async (kind: 'full' | 'incremental') => {
      const r = await cli('backup', '--config', taskFile, '--data-dir', dataDir, '--kind', kind, '--json');
      return { code: r.code, out: r.out, db: rowsOf(r.json).find((d) => d.database === 'base.tar') };
    };
    pg.psql('CREATE DATABASE ledger');
    pg.psql('CREATE TABLE ledger (id int NOT NULL, batch int NOT NULL); CREATE TABLE filler (v text)', 'ledger');
    let ids = 0;
    let batch = 0;
    // 20 known ids, plus ~5 MB of incompressible WAL: more than the 2 MiB spool holds.
    const write = () => {
      batch++;
      pg.psql(
        `INSERT INTO ledger SELECT g, ${batch} FROM generate_series(${ids + 1}, ${ids + 20}) g; ALTER TABLE filler ALTER v SET STORAGE EXTERNAL; INSERT INTO filler SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 100) x, generate_series(1, 1500) y GROUP BY y`,
        'ledger',
      );
      ids += 20;
    };

    write();
    const first = await backup('full');
    expect(first.code, first.out).toBe(0);
    const points = async () => (await openRepository(new LocalBackend(base))).listPoints();
    const committed = walMetaOf((await points())[0]!)!;

    write();
    const full = await backup('incremental');
    expect(full.code, full.out).toBe(1);
    expect(full.db, full.out).toMatchObject({ status: 'failed', error: { code: 'DISK_FULL' } });
    expect(full.db!.error!.message).toMatch(
      new RegExp(
        `^The disk holding Backstop's WAL spool ${esc(join(spool, slot))} is full \\(pg_receivewal: error: could not [^()]*No space left on device; \\d+(\\.\\d)? (B|KB|MB) is free there\\)\\. Free space on that disk \\(it holds Backstop's data folder\\) and run the backup again; nothing was stored, and replication slot "${slot}" keeps the WAL on the server until then\\.$`,
      ),
    );
    // Nothing committed: the one point, no in-flight marker, and no gap: the WAL after the
    // committed point is held by the slot or fsynced in the spool.
    expect((await points()).length).toBe(1);
    expect(inflightUnder(backups)).toEqual([]);
    const restart = parseLsn(pg.psql(`SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = '${slot}'`).trim());
    const spooled = segmentsIn(join(spool, slot), 1 << 20);
    const held = spooled[0] && spooled[0].start < restart ? spooled[0].start : restart;
    expect(held).toBeLessThanOrEqual(parseLsn(committed.endLsn ?? committed.startLsn));

    // Still full: the same answer, the leftover partial segments change nothing.
    const again = await backup('incremental');
    expect(again.db, again.out).toMatchObject({ status: 'failed', error: { code: 'DISK_FULL' } });
    // What the failed receipts left in the spool (partial segments) stays there for the next run.
    expect(readdirSync(join(spool, slot)).length).toBeGreaterThan(0);

    execFileSync('mount', ['-o', 'remount,size=64m', spool]);
    write();
    const next = await backup('incremental');
    expect(next.code, next.out).toBe(0);
    expect(next.db).toMatchObject({ kind: 'incremental', status: 'ok' });
    const moment = await momentNow();
    write(); // after the moment: must not be in the restore
    const last = await backup('incremental');
    expect(last.code, last.out).toBe(0);

    const restored = await cli('restore', join(backups, SERVER_FOLDER), '--as-of', moment, '--source-database', 'ledger', '--server', serverFile, '--database', 'ledger_back', '--data-dir', dataDir, '--json');
    expect(restored.code, restored.out).toBe(0);
    const n = ids - 20;
    expect(pg.psql('SELECT count(*), count(DISTINCT id), min(id), max(id), count(DISTINCT batch) FROM ledger', 'ledger_back').trim().split('|')).toEqual([String(n), String(n), '1', String(n), String(batch - 1)]);

    // The whole cluster to that moment into a folder on a disk smaller than the cluster (its own disk, not /'s).
    const small = scratch.dir('backstop-spoolfull-small-');
    if (!tryMount(small, '4m')) return;
    const folder = join(small, 'cluster');
    const tooBig = await cli('restore', join(backups, SERVER_FOLDER), '--as-of', moment, '--folder', folder, '--data-dir', dataDir, '--json');
    expect(tooBig.code, tooBig.out).toBe(1);
    expect(tooBig.json).toMatchObject({
      error: {
        code: 'DISK_FULL',
        message: expect.stringMatching(
          new RegExp(`^Restoring the cluster to a moment into "${esc(folder)}" needs about \\d+(\\.\\d)? MB free on its disk \\(the base backup, the WAL to replay and room for the recovery to write\\), but only \\d+(\\.\\d)? (KB|MB) is free\\. Free space there, or restore into a folder on a disk with room\\. Nothing was left in the folder\\.$`),
        ),
      },
    });
    expect(readdirSync(small)).toEqual([]);
  }, 240_000);
});

describe('the binary-log temp folder fills during a MariaDB incremental', () => {
  let db: MariadbServer;
  beforeAll(async () => {
    db = await startMariadb({ binlog: true });
  }, 60_000);
  afterAll(async () => {
    await db?.stop();
  });

  it('DISK_FULL naming the folder and the fix, nothing committed; after more space the next run covers the gap and a moment after it restores every row once', async (ctx) => {
    const PASSWORD_ENV = 'BACKSTOP_WDF_MARIA_PASSWORD';
    const backups = scratch.dir('backstop-binlogfull-backups-');
    const dataDir = scratch.dir('backstop-binlogfull-data-');
    const tmp = scratch.dir('backstop-binlogfull-tmp-');
    if (!tryMount(tmp, '64m')) ctx.skip('mount -t tmpfs is not permitted here');
    const taskFile = join(scratch.dir(), 'task.json');
    const server = { kind: 'mysql', host: db.host, port: db.port, user: db.user, passwordEnv: PASSWORD_ENV, tls: 'disable' };
    writeTask(taskFile, server, backups, undefined, { name: 'binlogfull' });
    const serverFile = join(scratch.dir(), 'server.json');
    writeFileSync(serverFile, JSON.stringify(server));
    process.env[PASSWORD_ENV] = db.password;
    const env = { [PASSWORD_ENV]: db.password, TMPDIR: tmp };
    const backup = async (kind: 'full' | 'incremental') => {
      const r = await spawnCli(['backup', '--config', taskFile, '--data-dir', dataDir, '--kind', kind, '--json'], env).done;
      let json: unknown = null;
      try {
        json = JSON.parse(r.out);
      } catch {
        // not JSON: the assertions below show the output
      }
      const rows = rowsOf(json);
      return { code: r.code, out: r.out, binlog: rows.find((d) => d.database === 'binlog'), ledger: rows.find((d) => d.database === 'ledger') };
    };
    db.sql('CREATE DATABASE ledger; CREATE DATABASE noise');
    db.sql('CREATE TABLE ledger (id INT NOT NULL, batch INT NOT NULL) ENGINE=InnoDB', 'ledger');
    db.sql('CREATE TABLE filler (v TEXT) ENGINE=InnoDB', 'noise');
    let ids = 0;
    let batch = 0;
    // 20 known ids, plus ~3 MB of incompressible log: more than the 1 MiB temp folder holds.
    const write = () => {
      batch++;
      const values = Array.from({ length: 20 }, (_, k) => `(${ids + 1 + k}, ${batch})`).join(', ');
      db.sql(`INSERT INTO ledger.ledger VALUES ${values}; INSERT INTO noise.filler SELECT HEX(RANDOM_BYTES(1000)) FROM seq_1_to_1500;`, 'noise');
      ids += 20;
    };

    write();
    const first = await backup('full');
    expect(first.code, first.out).toBe(0);
    const reads = async () => (await storedPoints(join(backups, SERVER_FOLDER), 'binlog')).length;
    const readsBefore = await reads();
    // Now the folder holds less than the log written since.
    execFileSync('mount', ['-o', 'remount,size=1m', tmp]);

    write();
    const full = await backup('incremental');
    expect(full.code, full.out).toBe(1);
    expect(full.binlog, full.out).toMatchObject({ status: 'failed', error: { code: 'DISK_FULL' } });
    expect(full.binlog!.error!.message).toMatch(
      new RegExp(
        `^Reading the binary log \\(\\d+ closed files?, kept on the server for the next run\\) needs room for a copy of about \\d+(\\.\\d)? MB in a temporary folder in ${esc(tmp)}, but only \\d+(\\.\\d)? (B|KB|MB) is free there\\. Point TMPDIR at a folder the OS user Backstop runs as may write, with room for the copy\\.$`,
      ),
    );
    expect(await reads()).toBe(readsBefore);
    expect(inflightUnder(backups)).toEqual([]);
    expect(readdirSync(tmp)).toEqual([]);

    execFileSync('mount', ['-o', 'remount,size=64m', tmp]);
    write();
    const next = await backup('incremental');
    expect(next.code, next.out).toBe(0);
    expect(next.binlog).toMatchObject({ kind: 'incremental', status: 'ok' });
    const moment = await momentNow();
    write(); // after the moment
    const last = await backup('incremental');
    expect(last.code, last.out).toBe(0);

    const restored = await cli('restore', join(backups, encodeDatabaseFolder('ledger')), '--as-of', moment, '--server', serverFile, '--database', 'ledger_back', '--data-dir', dataDir, '--json');
    expect(restored.code, restored.out).toBe(0);
    const n = ids - 20;
    expect(db.sql('SELECT COUNT(*), COUNT(DISTINCT id), MIN(id), MAX(id), COUNT(DISTINCT batch) FROM ledger', 'ledger_back').trim().split('\t')).toEqual([String(n), String(n), '1', String(n), String(batch - 1)]);

    // A restore to a moment copies the stored log files it replays into TMPDIR first: one without room for them.
    execFileSync('mount', ['-o', 'remount,size=1m', tmp]);
    const small = await spawnCli(['restore', join(backups, encodeDatabaseFolder('ledger')), '--as-of', moment, '--server', serverFile, '--database', 'ledger_small', '--data-dir', dataDir, '--json'], env).done;
    expect(small.code, small.out).toBe(1);
    expect(JSON.parse(small.out)).toMatchObject({
      error: {
        code: 'DISK_FULL',
        message: expect.stringMatching(
          new RegExp(`^Restoring "ledger" as of \\S+ \\(the stored binary log it replays\\) needs room for a copy of about \\d+(\\.\\d)? MB in a temporary folder in ${esc(tmp)}, but that disk is full \\(.*ENOSPC.*\\)\\. Point TMPDIR at a folder the OS user Backstop runs as may write, with room for the copy\\.$`),
        ),
      },
    });
    expect(readdirSync(tmp)).toEqual([]);
    expect(db.sql("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'ledger_small'").trim()).toBe('0');
  }, 180_000);
});
