/**
 * PostgreSQL snapshot tasks (base backup + WAL) on a cluster with user tablespaces, against a
 * real PostgreSQL 15 whose tablespace folders are on this machine (as a DBA restoring on the
 * server itself has them).
 *
 * - A cluster with a tablespace: the snapshot full is refused with UNSUPPORTED naming the
 *   tablespace and the fix (a logical task), before anything — no slot, no point — and the
 *   server check says snapshots are not available, and why (pg_basebackup alone would stop
 *   with "can only write single tablespace to stdout").
 * - A tablespace created after the full: the next incremental is refused ("WAL chain broken:
 *   tablespace …"), nothing stored; WAL that creates a tablespace (created and dropped between
 *   two runs) is refused at restore — whole cluster or one database — naming the folder and
 *   the moments that still restore, and the source's live tablespace folder at that path is
 *   left exactly as it was (replaying it would chmod it, create files and directories in it).
 * Logical tasks with tablespaces: servers/postgres-content.test.ts ("tablespaces").
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restoreCommand } from '../../../electron/cli/commands/location.ts';
import { openRepository } from '../../../electron/engine/repository/index.ts';
import { encodeDatabaseFolder, SERVER_FOLDER, slotNameFor } from '../../../electron/engine/servers/index.ts';
import { PostgresConnector } from '../../../electron/engine/servers/postgres/connector.ts';
import { walMetaOf, WalBackup } from '../../../electron/engine/backup/wal-backup.ts';
import type { PreparedDestination } from '../../../electron/engine/backup/prepare-destination.ts';
import { tablespaceCreations } from '../../../electron/engine/servers/postgres/tablespaces.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { chownTree } from '../../fixtures/servers/common.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { PG_BIN, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { pgServerFile, privateTmpDir, walTask } from '../../fixtures/wal-task.ts';

let pg: PgServer;

beforeAll(async () => {
  pg = await startPostgres();
  pg.psql('CREATE DATABASE shop');
  pg.psql('CREATE TABLE items (id int PRIMARY KEY, note text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 1000) g', 'shop');
});

afterAll(async () => {
  await pg?.stop();
});

/** A folder the server's OS user owns, for a tablespace. */
function tablespaceDir(): string {
  const parent = tempDir('backstop-ts-');
  if (pg.osUser) chownTree(parent, pg.osUser);
  const dir = join(parent, 'ts');
  mkdirSync(dir);
  if (pg.osUser) chownTree(dir, pg.osUser);
  return dir;
}

/** Every entry under `dir`: its mode, a folder's mtime (entries added or removed), a file's content hash. */
function folderState(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    const st = statSync(d);
    out.push(`${rel || '.'} ${st.mode.toString(8)} ${st.mtimeMs}`);
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const s = statSync(p);
      if (s.isDirectory()) walk(p, join(rel, name));
      else out.push(`${join(rel, name)} ${s.mode.toString(8)} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
    }
  };
  walk(dir, '');
  return out;
}

const baseFolder = (backups: string) => join(backups, SERVER_FOLDER, encodeDatabaseFolder('base.tar'));
const points = async (backups: string) => (existsSync(baseFolder(backups)) ? (await openRepository(new LocalBackend(baseFolder(backups)))).listPoints() : []);
const slotExists = (slot: string) => pg.psql(`SELECT count(*) FROM pg_replication_slots WHERE slot_name = '${slot}'`).trim() === '1';

describe('PostgreSQL snapshot tasks and tablespaces', () => {
  it('a cluster with a tablespace: the full is refused naming it and the fix, before a slot or a point exists; the server check says why', async () => {
    const dir = tablespaceDir();
    pg.psql(`CREATE TABLESPACE fast LOCATION '${dir}'`);
    try {
      pg.psql('CREATE TABLE hot (id int) TABLESPACE fast; INSERT INTO hot VALUES (1)', 'shop');
      const { engine, backups, taskId, serverId } = await walTask(pg);
      const reason = `the cluster has tablespace "fast" (LOCATION '${dir}'): a snapshot (base backup + WAL) covers only the main data directory, and replaying its WAL would write into the tablespace folder on the restoring machine. Back this server up with a logical task (it restores tables into their tablespaces), or move everything to pg_default (ALTER TABLE … SET TABLESPACE pg_default; ALTER DATABASE … SET TABLESPACE pg_default) and DROP TABLESPACE "fast".`;
      // The server check (the task editor asks it): snapshots not available, and why; logical is.
      const check = data(await engine.call('servers.test', { id: serverId }));
      expect(check.support).toEqual({ logical: { available: true, scope: 'database' }, snapshot: { available: false, reason } });

      const run = await runTask(engine, taskId, 'full');
      expect(run.status).toBe('failed');
      const message = `A snapshot task cannot back up this cluster: ${reason} Nothing was stored and no replication slot was created.`;
      expect(run.databases[0]).toMatchObject({ database: 'base.tar', status: 'failed', errorCode: 'UNSUPPORTED', errorMessage: message });
      expect(slotExists(slotNameFor(taskId))).toBe(false);
      expect(await points(backups)).toEqual([]);

      // The stream itself (a snapshot without WAL) says the same before pg_basebackup starts.
      const connector = new PostgresConnector({ kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, tls: 'disable' }, pg.password, { binDir: PG_BIN });
      await expect(connector.openServerDump('base.tar')).rejects.toMatchObject({ code: 'UNSUPPORTED', message: `A snapshot task cannot back up this cluster: ${reason} Nothing was stored and no replication slot was created.` });
      await engine.close();
    } finally {
      pg.psql('DROP TABLE IF EXISTS hot', 'shop');
      pg.psql('DROP TABLESPACE fast');
    }
  });

  it('a tablespace created after the full: the incremental is refused ("WAL chain broken"), and WAL that creates one never replays into its folder', async () => {
    const { engine, backups, taskId } = await walTask(pg);
    const slot = slotNameFor(taskId);
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    pg.psql("UPDATE items SET note = 'first' WHERE id <= 10", 'shop');
    expect((await runTask(engine, taskId, 'incremental')).databases[0]).toMatchObject({ kind: 'incremental', status: 'success' });
    const [full, first] = await points(backups);

    // A tablespace created mid chain: the next run stores nothing and says why.
    const dir = tablespaceDir();
    pg.psql(`CREATE TABLESPACE mid LOCATION '${dir}'`);
    pg.psql("CREATE TABLE moved (id int) TABLESPACE mid; INSERT INTO moved VALUES (1); UPDATE items SET note = 'second' WHERE id <= 10", 'shop');
    const refused = await runTask(engine, taskId, 'incremental');
    expect(refused.status).toBe('failed');
    expect(refused.databases[0]).toMatchObject({
      status: 'failed',
      errorCode: 'UNSUPPORTED',
      errorMessage: expect.stringMatching(/^WAL chain broken: tablespace "mid" \(LOCATION '.*'\) was created after this chain's base backup, and a snapshot task cannot back up a cluster with tablespaces: /),
    });
    const said = refused.databases[0]!.errorMessage!;
    expect(said).toContain('Back this server up with a logical task');
    expect(said).toContain(`Nothing was stored for this run; the earlier points stay restorable. Until the task can run again its replication slot "${slot}" keeps the server's WAL: if it stays a cluster with tablespaces, delete this task (that drops the slot) or SELECT pg_drop_replication_slot('${slot}');`);
    expect((await points(backups)).map((p) => p.id)).toEqual([full!.id, first!.id]);
    expect(slotExists(slot)).toBe(true);

    // Dropped again before the next run: that run's WAL holds the CREATE TABLESPACE (and the DROP).
    pg.psql('DROP TABLE moved', 'shop');
    pg.psql('DROP TABLESPACE mid');
    expect((await runTask(engine, taskId, 'incremental')).databases[0]).toMatchObject({ kind: 'incremental', status: 'success' });
    const last = (await points(backups)).at(-1)!;

    // Now the same folder is the source's live tablespace (a DBA restoring on the server itself).
    pg.psql(`CREATE TABLESPACE live LOCATION '${dir}'`);
    pg.psql("CREATE TABLE hot (id int, note text) TABLESPACE live; INSERT INTO hot SELECT g, 'live' FROM generate_series(1, 100) g; VACUUM (FREEZE) hot", 'shop');
    pg.psql('CHECKPOINT');
    chmodSync(dir, 0o750); // a recovery creating the tablespace would chmod it back to 0700
    const before = folderState(dir);
    try {
      const serverRoot = join(backups, SERVER_FOLDER);
      const expected = (extra: string) =>
        new RegExp(
          `^The WAL to replay creates tablespace \\d+ at '${dir}' \\(CREATE TABLESPACE at WAL position [0-9A-F]+/[0-9A-F]+, in restore point ${last.id}\\): recovering it would write into that folder on this machine — the source server's own tablespace when it runs here — so Backstop does not replay it\\. Nothing was created\\. ${extra} A cluster with tablespaces is backed up by a logical task\\.$`,
        );
      const upTo = walMetaOf(first!)!.endTime!.replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC');
      const advice = `Restore a moment up to ${upTo} \\(the end of the point before it\\), or the base backup alone \\(--point ${full!.id}\\)\\.`;

      // The whole cluster into a new folder: refused, the folder never made.
      const parent = tempDir();
      if (pg.osUser) chownTree(parent, pg.osUser);
      const folder = join(parent, 'cluster');
      await expect(restoreCommand(engine, serverRoot, { point: 'latest', folder })).rejects.toMatchObject({ code: 'UNSUPPORTED', message: expect.stringMatching(expected(advice)) });
      expect(existsSync(folder)).toBe(false);
      expect(readdirSync(parent)).toEqual([]);

      // One database to the latest moment: refused before a temporary cluster starts; nothing created on the server.
      const serverFile = pgServerFile(pg);
      const privateTmp = privateTmpDir();
      const latest = walMetaOf(last)!.endTime!;
      await expect(restoreCommand(engine, serverRoot, { asOf: new Date(latest), serverFile, database: 'shop_late', sourceDatabase: 'shop' })).rejects.toMatchObject({
        code: 'UNSUPPORTED',
        message: expect.stringMatching(expected(advice)),
      });
      expect(pg.psql("SELECT count(*) FROM pg_database WHERE datname = 'shop_late'").trim()).toBe('0');
      expect(readdirSync(privateTmp)).toEqual([]);

      // What the message offers restores: the moment at the end of the point before (its WAL's earlier records,
      // the first test's tablespace among them, lie before this chain's base backup and are never replayed).
      const early = join(parent, 'early');
      expect(await restoreCommand(engine, serverRoot, { asOf: new Date(walMetaOf(first!)!.endTime!), folder: early })).toMatchObject({ cluster: true, path: early });

      // The live tablespace folder: not one entry, mode or byte changed.
      expect(folderState(dir)).toEqual(before);
      expect(pg.psql('SELECT count(*) FROM hot', 'shop').trim()).toBe('100');
    } finally {
      pg.psql('DROP TABLE IF EXISTS hot', 'shop');
      pg.psql('DROP TABLESPACE live');
      await engine.close();
    }
  });

  it('a tablespace created between the check and the base backup: refused there too, and the slot the full just made is dropped again', async () => {
    const connector = new PostgresConnector({ kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, tls: 'disable' }, pg.password, { binDir: PG_BIN });
    const slot = 'backstop_tsrace_00000001';
    const wal = new WalBackup(connector.connection, { slot, spoolDir: join(tempDir(), 'spool') }, 'full', (signal) => connector.openServerDump('base.tar', { signal }));
    const signal = new AbortController().signal;
    const first: PreparedDestination = { repo: null as never, kind: 'full', kindReason: null };
    expect((await wal.beforeDump([first], signal)).kind).toBe('full');
    expect(slotExists(slot)).toBe(true);
    const dir = tablespaceDir();
    pg.psql(`CREATE TABLESPACE late LOCATION '${dir}'`);
    try {
      await expect(wal.openDump(signal, 'full')).rejects.toMatchObject({ code: 'UNSUPPORTED', message: expect.stringContaining(`the cluster has tablespace "late" (LOCATION '${dir}')`) });
      expect(slotExists(slot)).toBe(false);
    } finally {
      pg.psql('DROP TABLESPACE late');
      pg.psql(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '${slot}'`);
    }
  });

  it('WAL pg_waldump cannot read is not taken as WAL without tablespaces: RESTORE_FAILED naming what it said; no pg_waldump: TOOL_MISSING', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '000000010000000000000001'), Buffer.alloc(1024 * 1024));
    await expect(tablespaceCreations(dir, join(PG_BIN, 'pg_waldump'))).rejects.toMatchObject({
      code: 'RESTORE_FAILED',
      message: expect.stringMatching(/^pg_waldump could not read the WAL to replay, so Backstop could not check that it creates no tablespace \(a recovery would write into a tablespace's folder on this machine\): pg_waldump: error: .+\. Nothing was created\. Set the folder of the PostgreSQL tools of the backup's version in Settings\.$/),
    });
    await expect(tablespaceCreations(dir, join(dir, 'no-pg_waldump'))).rejects.toMatchObject({ code: 'TOOL_MISSING', message: expect.stringContaining('Could not start') });
    // No segments: nothing to read, nothing created.
    expect(await tablespaceCreations(tempDir(), join(PG_BIN, 'pg_waldump'))).toEqual([]);
  });
});
