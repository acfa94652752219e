/**
 * PostgreSQL snapshot tasks as base backup + WAL through a replication slot the task owns,
 * against a real PostgreSQL 15 (wal_level=replica, max_wal_senders, replication in
 * pg_hba): the full creates the slot, an incremental stores only the WAL written since
 * (bytes, never time), a slot dropped or a spool lost behind Backstop's back makes the
 * next run a full with "WAL chain broken: …".
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../../electron/engine/index.ts';
import { openRepository } from '../../../electron/engine/repository/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { encodeDatabaseFolder, SERVER_FOLDER, slotNameFor } from '../../../electron/engine/servers/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { PG_BIN, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

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

export async function walTask(server: PgServer, backups = tempDir()): Promise<{ engine: Engine; backups: string; taskId: string; serverId: string }> {
  const engine = await testEngine({ encoderWorkers: 0 });
  data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
  const s = data(await engine.call('servers.create', { kind: 'postgres', name: 'pg', host: server.host, port: server.port, user: server.user, password: server.password, tls: 'disable' }));
  const task = data(
    await engine.call('tasks.create', {
      name: 'cluster',
      serverId: s.id,
      type: 'snapshot',
      schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' },
      destinations: [{ kind: 'local', path: backups }],
    }),
  );
  return { engine, backups, taskId: task.id, serverId: s.id };
}

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
    const wal = points[1]!.meta.wal as Record<string, unknown>;
    expect(wal).toMatchObject({ slot, timeline: 1, systemId: expect.stringMatching(/^\d+$/), startLsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/), endLsn: expect.any(String), endTime: expect.any(String) });
    expect((points[0]!.meta.wal as Record<string, unknown>).slot).toBe(slot);

    // The spool keeps nothing that every destination has committed.
    const spool = join(engine.dataDir, 'wal-spool', slot);
    expect(readdirSync(spool).filter((f) => !f.endsWith('.partial'))).toEqual([]);
    await engine.close();
  });

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
});
