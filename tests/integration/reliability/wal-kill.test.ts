/**
 * kill -9 of a PostgreSQL snapshot task's incremental (base backup + WAL through the task's
 * replication slot), with the real `backstop` CLI as a child process and a real PostgreSQL:
 * rows with known ids are written between runs, each incremental is killed at a random
 * moment aimed at the WAL receipt (the slot is active) or at the commit (an in-flight marker
 * exists), and the next run must complete. Its pg_receivewal survives the kill, as in life,
 * and keeps the slot active: the next run has to end it by itself. At the end the whole
 * cluster is restored to the latest point and must hold every committed row id exactly once,
 * and the chain's points must be one full then incrementals whose WAL ranges (meta `wal`
 * startLsn/endLsn) leave no gap. Assertions never depend on where a kill landed.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRepository } from '../../../electron/engine/repository/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { encodeDatabaseFolder, SERVER_FOLDER, slotNameFor, startDataDirectory } from '../../../electron/engine/servers/index.ts';
import { PgConnection } from '../../../electron/engine/servers/postgres/connection.ts';
import { parseLsn } from '../../../electron/engine/servers/postgres/wal-stream.ts';
import { walMetaOf } from '../../../electron/engine/backup/wal-backup.ts';
import { cli, rng, Scratch, sleep, spawnCli } from '../../fixtures/reliability/common.ts';
import { PG_PASSWORD_ENV, repositoriesUnder, writeTask } from '../../fixtures/reliability/kill-harness.ts';
import { chownTree } from '../../fixtures/servers/common.ts';
import { PG_BIN, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extractTar } from '../../../electron/engine/servers/tar-extract.ts';

const SEED = Number(process.env.BACKSTOP_SOAK_SEED ?? Date.now() % 100_000);
const KILLS = 5;
const scratch = new Scratch();
let pg: PgServer;

beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  await pg?.stop();
  scratch.cleanup();
});

describe('kill -9 during a PostgreSQL WAL incremental', () => {
  it(`${KILLS} incrementals killed during WAL receipt or the commit: every next run completes, the chain has no gap, the restore has every committed row once`, async () => {
    const rand = rng(SEED);
    const backups = scratch.dir('backstop-walkill-backups-');
    const dataDir = scratch.dir('backstop-walkill-data-');
    const taskFile = join(scratch.dir(), 'task.json');
    const server = { kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, passwordEnv: PG_PASSWORD_ENV, tls: 'disable' };
    writeTask(taskFile, server, backups, pg.binDir, { name: 'walkill', type: 'snapshot' });
    process.env[PG_PASSWORD_ENV] = pg.password;
    const env = { [PG_PASSWORD_ENV]: pg.password };
    const slot = slotNameFor('file-walkill');
    const base = join(backups, SERVER_FOLDER, encodeDatabaseFolder('base.tar'));

    pg.psql('CREATE DATABASE ledger');
    // No primary key: a row replayed twice would show up as a duplicate id.
    pg.psql('CREATE TABLE ledger (id int NOT NULL, batch int NOT NULL); CREATE TABLE filler (n int, v text)', 'ledger');
    const committed: number[] = [];
    let batch = 0;
    // One committed transaction of 25 known ids, plus ~2 MB of other WAL so a receipt lasts long enough to be hit.
    const write = () => {
      batch++;
      const from = committed.length + 1;
      pg.psql(`INSERT INTO ledger SELECT g, ${batch} FROM generate_series(${from}, ${from + 24}) g; INSERT INTO filler SELECT g, repeat(md5(g::text), 30) FROM generate_series(1, 2000) g`, 'ledger');
      for (let id = from; id < from + 25; id++) committed.push(id);
    };
    const backup = async (kind: 'full' | 'incremental') => {
      const r = await cli('backup', '--config', taskFile, '--data-dir', dataDir, '--kind', kind, '--json');
      return { ok: r.code === 0, out: r.out, db: (r.json as { databases?: { database: string; kind: string; status: string }[] } | null)?.databases?.find((d) => d.database === 'base.tar') };
    };
    const slotActive = () => pg.psql(`SELECT count(*) FROM pg_replication_slots WHERE slot_name = '${slot}' AND active`).trim() === '1';
    // In-flight markers of the repository writes (a killed commit leaves one behind: only new ones count).
    const markers = () => repositoriesUnder(backups).flatMap((r) => (existsSync(join(r, 'inflight')) ? readdirSync(join(r, 'inflight')).filter((f) => !f.startsWith('.')).map((f) => join(r, f)) : []));

    write();
    const first = await backup('full');
    expect(first.ok, first.out).toBe(true);
    expect(first.db).toMatchObject({ kind: 'full', status: 'ok' });

    const log: { case: number; aim: string; delayMs: number; killed: boolean; orphanHeldSlot: boolean; next: string }[] = [];
    for (let i = 1; i <= KILLS; i++) {
      write();
      const aim = i % 2 === 1 ? 'receipt' : 'commit';
      const delayMs = Math.round(rand() * (aim === 'receipt' ? 150 : 300));
      const oldMarkers = new Set(markers());
      const inFlight = () => markers().some((m) => !oldMarkers.has(m));
      const { child, done } = spawnCli(['backup', '--config', taskFile, '--data-dir', dataDir, '--kind', 'incremental', '--json'], env);
      let exited = false;
      void done.then(() => (exited = true));
      while (!exited && !(aim === 'receipt' ? slotActive() : inFlight())) await sleep(aim === 'receipt' ? 5 : 3);
      await Promise.race([sleep(delayMs), done]);
      const killed = child.exitCode === null && child.signalCode === null;
      if (killed) child.kill('SIGKILL');
      const exit = await done;
      if (!killed) expect(exit.code, exit.out).toBe(0);
      // The dead run's pg_receivewal may still hold the slot; rows written now must reach the chain too.
      const orphanHeldSlot = slotActive();
      write();
      const next = await backup('incremental');
      log.push({ case: i, aim, delayMs, killed, orphanHeldSlot, next: `${next.db?.kind}/${next.db?.status}` });
      expect(next.ok, `case ${i} (${aim}, ${delayMs} ms): ${next.out}`).toBe(true);
      // The chain goes on: the kill never forces a full.
      expect(next.db).toMatchObject({ kind: 'incremental', status: 'ok' });
    }
    console.log(`WAL kill -9 (seed ${SEED}):`);
    console.table(log);

    // The chain: one full, then incrementals whose WAL ranges leave no gap.
    const points = await (await openRepository(new LocalBackend(base))).listPoints();
    expect(points[0]!.kind).toBe('full');
    expect(points.slice(1).every((p) => p.kind === 'incremental')).toBe(true);
    expect(points.length).toBeGreaterThanOrEqual(KILLS + 1);
    const metas = points.map((p) => walMetaOf(p)!);
    const repo = await openRepository(new LocalBackend(base));
    const files: string[] = [];
    for (const p of points.slice(1)) {
      const dir = scratch.dir('backstop-walkill-point-');
      await extractTar(await repo.readPoint(p.id), dir);
      files.push(readdirSync(dir).map((f) => `${f.slice(16)}:${statSync(join(dir, f)).size}`).join(' '));
    }
    console.table(metas.map((m, k) => ({ kind: points[k]!.kind, startLsn: m.startLsn, endLsn: m.endLsn ?? '', segments: k ? files[k - 1] : '' })));
    expect(metas.every((m) => m && m.slot === slot && m.timeline === metas[0]!.timeline && m.systemId === metas[0]!.systemId)).toBe(true);
    for (let k = 1; k < metas.length; k++) {
      const covered = parseLsn(metas[k - 1]!.endLsn ?? metas[k - 1]!.startLsn);
      expect(parseLsn(metas[k]!.startLsn), `point ${k} starts after what point ${k - 1} covers`).toBeLessThanOrEqual(covered);
      expect(parseLsn(metas[k]!.endLsn!), `point ${k} ends after point ${k - 1}`).toBeGreaterThan(covered);
    }

    // The whole cluster, restored to the latest point and started: every committed id, exactly once.
    const parent = scratch.dir('backstop-walkill-restore-');
    if (pg.osUser) chownTree(parent, pg.osUser);
    const folder = join(parent, 'cluster');
    const restored = await cli('restore', join(backups, SERVER_FOLDER), '--point', 'latest', '--folder', folder, '--data-dir', dataDir, '--json');
    expect(restored.code, restored.out).toBe(0);
    const running = await startDataDirectory(folder, { user: 'postgres', toolPaths: { postgres: PG_BIN }, socketOnly: true });
    try {
      const conn = new PgConnection({ kind: 'postgres', host: running.host, port: running.port, user: 'postgres', tls: 'disable' }, null, { binDir: PG_BIN });
      // The restored cluster accepts connections while it still replays (hot standby): count once it has promoted.
      for (let i = 0; i < 600 && (await conn.query('SELECT pg_is_in_recovery()'))[0]?.[0] !== 'f'; i++) await sleep(100);
      expect((await conn.query('SELECT pg_is_in_recovery()'))[0]?.[0]).toBe('f');
      // The committed ids are exactly 1..N: count, distinct count and bounds prove each is there exactly once.
      const [got] = await conn.query('SELECT count(*), count(DISTINCT id), min(id), max(id), count(DISTINCT batch) FROM ledger', { database: 'ledger' });
      expect(got, `committed ids 1..${committed.length} in ${batch} batches`).toEqual([String(committed.length), String(committed.length), '1', String(committed.length), String(batch)]);
    } finally {
      await running.stop();
    }
  }, 180_000);
});
