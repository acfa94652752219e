/**
 * Selective restore of one database out of a PostgreSQL cluster backup (base backup + WAL),
 * against a real PostgreSQL 15: the temporary cluster writes only the chosen database, the
 * system databases and the cluster-wide files; the other databases' files are sparse (the
 * blocks allocated on disk, st_blocks, measured once the temporary cluster has recovered, are a
 * small fraction of their size). The restored database is exact at the moment; a database
 * created after the base backup (only in WAL) restores; a database renamed since the base
 * backup (its files were left sparse) is recovered again with everything extracted; a backup
 * without the record of its databases extracts everything and says so; the disk check counts
 * only what is written.
 */
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RestoreOptions, type Server } from '../../../electron/shared/domain.ts';
import type { Engine } from '../../../electron/engine/index.ts';
import { openRepository, type Repository } from '../../../electron/engine/repository/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { encodeDatabaseFolder, SERVER_FOLDER } from '../../../electron/engine/servers/index.ts';
import { diskNeeded, planRecovery, restoreDatabaseAt, selectiveLayout, type RecoveryPlan } from '../../../electron/engine/restore/pitr.ts';
import { walMetaOf } from '../../../electron/engine/backup/wal-backup.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { PG_BIN, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { serverWithTask } from '../../fixtures/server-task.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { TmpfsMounts } from '../../fixtures/tmpfs.ts';

let pg: PgServer;
let engine: Engine;
let repo: Repository;
let tmp: string;
const moments: Record<string, string> = {};
const oids: Record<string, number> = {};

/** Bytes allocated on disk (st_blocks) and apparent size of every file under `dir`. */
function usage(dir: string): { allocated: number; size: number } {
  let allocated = 0;
  let size = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const u = usage(p);
      allocated += u.allocated;
      size += u.size;
    } else {
      const st = lstatSync(p);
      allocated += st.blocks * 512;
      size += st.size;
    }
  }
  return { allocated, size };
}

const serverNow = () => pg.psql(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`).trim();
const pause = () => new Promise((r) => setTimeout(r, 300));

beforeAll(async () => {
  pg = await startPostgres();
}, 120_000);

/** Two big databases and a small one; a full, WAL points around known moments (tempDir needs a running test). */
async function setup(): Promise<void> {
  // Two big databases (~45 MB of table data each, incompressible) and a small one.
  for (const db of ['big_a', 'big_b']) {
    pg.psql(`CREATE DATABASE ${db}`);
    pg.psql("CREATE TABLE filler (id int, payload text) WITH (autovacuum_enabled = off); INSERT INTO filler SELECT g, repeat(md5(g::text || random()::text), 6) FROM generate_series(1, 200000) g", db);
  }
  pg.psql('CREATE DATABASE small');
  pg.psql('CREATE TABLE ledger (id int PRIMARY KEY, note text)', 'small');
  pg.psql('CHECKPOINT');
  for (const db of ['big_a', 'big_b', 'small']) oids[db] = Number(pg.psql(`SELECT oid FROM pg_database WHERE datname = '${db}'`).trim());

  engine = await testEngine({ encoderWorkers: 0 });
  data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
  const backups = tempDir();
  const { taskId } = await serverWithTask(engine, { kind: 'postgres', name: 'pg', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' }, 'snapshot', backups);
  expect((await runTask(engine, taskId, 'full')).status).toBe('success');
  expect((await runTask(engine, taskId, 'incremental')).databases[0]).toMatchObject({ kind: 'incremental' });

  // WAL without full-page images on pages of a database that will be left sparse (Heap2/VISIBLE
  // from the first VACUUM of the table, no data checksums): replay must pass their zeroed pages
  // (ignore_invalid_pages), as it did when autovacuum did this behind the test's back.
  pg.psql('VACUUM filler', 'big_a');
  pg.psql("INSERT INTO ledger VALUES (1, 'one'), (2, 'two')", 'small');
  // A database that only the WAL knows (created after the base backup).
  pg.psql('CREATE DATABASE later');
  pg.psql("CREATE TABLE notes (id int, note text); INSERT INTO notes VALUES (1, 'only in WAL')", 'later');
  await pause();
  moments.afterTwo = serverNow();
  await pause();
  pg.psql("INSERT INTO ledger VALUES (3, 'three')", 'small');
  pg.psql('DROP TABLE ledger', 'small');
  await pause();
  moments.afterDrop = serverNow();
  // Renamed after the base backup: the record knows its files as "big_b" (left sparse for a restore of "renamed").
  pg.psql('ALTER DATABASE big_b RENAME TO renamed');
  await pause();
  moments.afterRename = serverNow();
  expect((await runTask(engine, taskId, 'incremental')).databases[0]).toMatchObject({ kind: 'incremental' });

  repo = await openRepository(new LocalBackend(join(backups, SERVER_FOLDER, encodeDatabaseFolder('base.tar'))));
  tmp = tempDir();
  chmodSync(tmp, 0o755);
}

afterAll(async () => {
  await engine?.close();
  await pg?.stop();
});

const target = (): Server => ({ kind: 'postgres', id: 'target', name: 'pg', host: pg.host, port: pg.port, user: pg.user, tls: 'disable' }) as Server;

async function restore(plan: RecoveryPlan, sourceDatabase: string, database: string, onRecovered?: (dir: string) => void) {
  return restoreDatabaseAt({ repo, plan, sourceDatabase, server: target(), password: pg.password, database, toolPaths: { postgres: PG_BIN }, options: RestoreOptions.parse({}), tempDir: tmp, ...(onRecovered ? { onRecovered } : {}) });
}

describe('selective restore of one database out of a cluster backup', () => {
  // One test: the setup (two big databases, a chain of backups) is what costs; the parts run on it in order.
  it('writes only the chosen database, restores newer and renamed databases, falls back for an old backup, checks the disk for what is written', async () => {
    await setup();
    // records the databases with the base backup and writes only the chosen one: the others stay sparse, the database is exact at the moment
    {
      const plan = await planRecovery(repo, { asOf: new Date(moments.afterTwo!) });
      const recorded = walMetaOf(plan.full)!.databases!;
      expect(recorded.map((d) => d.name).sort()).toEqual(['big_a', 'big_b', 'postgres', 'small', 'template0', 'template1']);
      expect(recorded.find((d) => d.name === 'big_a')).toMatchObject({ oid: oids.big_a, template: false, bytes: expect.any(Number) });
      const layout = selectiveLayout(plan.meta, 'small');
      expect(layout.sparse?.map((d) => d.name).sort()).toEqual(['big_a', 'big_b']);
      // The disk check asks only for what is written: the base backup less the two big databases.
      const bigBytes = recorded.filter((d) => d.name.startsWith('big_')).reduce((n, d) => n + d.bytes!, 0);
      expect(bigBytes).toBeGreaterThan(60 * 1024 ** 2);
      expect(diskNeeded(plan, layout.sparse ? layout.skippedBytes : 0)).toBe(diskNeeded(plan) - bigBytes);

      // A temporary cluster a killed Backstop left (its pid no longer runs): removed by this restore.
      const leftover = join(tmp, 'backstop-pitr-2147483646-AbCdEf');
      mkdirSync(join(leftover, 'base'), { recursive: true });
      writeFileSync(join(leftover, 'PG_VERSION'), '15\n');
      let measured: { big: { allocated: number; size: number }; all: { allocated: number; size: number } } | null = null;
      let config = '';
      const r = await restore(plan, 'small', 'small_two', (dir) => {
        config = readFileSync(join(dir, 'postgresql.conf'), 'utf8');
        const big = ['big_a', 'big_b'].map((db) => usage(join(dir, 'base', String(oids[db])))).reduce((a, b) => ({ allocated: a.allocated + b.allocated, size: a.size + b.size }));
        measured = { big, all: usage(dir) };
      });
      expect(measured).not.toBeNull();
      // Replay passed the VACUUM's records on big_a's zeroed pages only because the temporary cluster ignores invalid pages.
      expect(config).toContain('ignore_invalid_pages = on');
      const m = measured!;
      // Their size is kept (WAL replay may write into them), their blocks are not allocated.
      expect(m.big.size).toBeGreaterThan(60 * 1024 ** 2);
      expect(m.big.allocated).toBeLessThan(m.big.size / 20);
      // The whole temporary cluster allocates less than the two big databases alone would.
      expect(m.all.allocated).toBeLessThan(m.big.size);
      expect(r.notes.join('\n')).toContain('Selective restore: only "small", the system databases and the cluster-wide files were written to the temporary cluster; the files of "big_a", "big_b"');
      expect(pg.psql("SELECT string_agg(id || note, ',' ORDER BY id) FROM ledger", 'small_two').trim()).toBe('1one,2two');
      // No temporary cluster is left behind, neither this one nor the killed one's.
      expect(readdirSync(tmp).filter((f) => f.startsWith('backstop-pitr-'))).toEqual([]);
    }

    // restores a database created after the base backup from WAL replay alone
    {
      const plan = await planRecovery(repo, { asOf: new Date(moments.afterDrop!) });
      expect(selectiveLayout(plan.meta, 'later')).toMatchObject({ newer: true });
      const r = await restore(plan, 'later', 'later_copy');
      expect(r.notes.join('\n')).toContain('"later" was created after the base backup: it came from WAL replay alone');
      expect(pg.psql('SELECT note FROM notes', 'later_copy').trim()).toBe('only in WAL');
      // After the drop: the small database's table is gone at that moment.
      await restore(plan, 'small', 'small_dropped');
      expect(pg.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'ledger'", 'small_dropped').trim()).toBe('0');
    }

    // a database renamed since the base backup (its files were left sparse) is recovered again with everything extracted
    {
      const plan = await planRecovery(repo, { asOf: new Date(moments.afterRename!) });
      const r = await restore(plan, 'renamed', 'renamed_copy');
      expect(r.notes.join('\n')).toContain('The whole cluster was written to the temporary cluster: database "renamed" had another name when the base backup was taken.');
      expect(pg.psql('SELECT count(*) FROM filler', 'renamed_copy').trim()).toBe('200000');
      expect(readdirSync(tmp).filter((f) => f.startsWith('backstop-pitr-'))).toEqual([]);
    }

    // a backup without the record of its databases extracts everything and says so
    {
      const recorded = await planRecovery(repo, { asOf: new Date(moments.afterTwo!) });
      // What a base backup taken before this release holds: no `databases` in its WAL meta (a copy: the repository's own stays).
      const { databases: _databases, ...older } = recorded.meta;
      const plan = { ...recorded, meta: older };
      let allocated = 0;
      let config = '';
      const r = await restore(plan, 'small', 'small_full', (dir) => {
        config = readFileSync(join(dir, 'postgresql.conf'), 'utf8');
        allocated = ['big_a', 'big_b'].reduce((n, db) => n + usage(join(dir, 'base', String(oids[db]))).allocated, 0);
      });
      expect(allocated).toBeGreaterThan(60 * 1024 ** 2);
      expect(config).not.toContain('ignore_invalid_pages');
      expect(r.notes.join('\n')).toContain('The whole cluster was written to the temporary cluster: this base backup was taken before Backstop recorded the databases of the cluster with each base backup.');
      expect(pg.psql("SELECT string_agg(id || note, ',' ORDER BY id) FROM ledger", 'small_full').trim()).toBe('1one,2two');
    }

    // not enough disk for what is written: DISK_FULL naming the size and what is left sparse, nothing created
    {
      // Mounting a small file system needs root, as CI runs.
      if (process.getuid?.() === 0) {
        const plan = await planRecovery(repo, { asOf: new Date(moments.afterTwo!) });
        const small = tempDir();
        const tmpfs = new TmpfsMounts();
        expect(tmpfs.tryMount(small, '1m')).toBe(true);
        try {
          expect(statfsSync(small).blocks).toBeGreaterThan(0);
          await expect(restoreDatabaseAt({ repo, plan, sourceDatabase: 'small', server: target(), password: pg.password, database: 'small_nodisk', toolPaths: { postgres: PG_BIN }, options: RestoreOptions.parse({}), tempDir: small })).rejects.toMatchObject({
            code: 'DISK_FULL',
            message: expect.stringMatching(
              new RegExp(`^Restoring database "small" to a moment recovers the cluster in a temporary folder first, writing only "small", the system databases, the cluster-wide files and the WAL \\(the other databases' files are left sparse\\): that needs about [\\d.]+ GB free in ${small}, but only 0\\.00 GB is free\\. .*Nothing was created\\.$`),
            ),
          });
          expect(readdirSync(small)).toEqual([]);
        } finally {
          tmpfs.unmountAll();
        }
        expect(pg.psql("SELECT count(*) FROM pg_database WHERE datname = 'small_nodisk'").trim()).toBe('0');
      }
    }
  }, 900_000);
});
