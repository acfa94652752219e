/**
 * A DBA's maintenance during a running server-wide PostgreSQL backup (real server, real
 * pg_dump), synchronised on the run's own steps — the job of a database starting, pg_dump
 * waiting on a lock the DBA holds — never on sleeps:
 *
 * - a database dropped after the run listed the server, before its turn: the run carries on,
 *   that database's row says DATABASE_NOT_FOUND naming it as dropped after the listing, every
 *   other database gets its point, its earlier point stays whole;
 * - a database created during the run is not in it, and the next run takes it; one renamed
 *   during the run fails under its old name (DATABASE_NOT_FOUND), and the next run backs it
 *   up under its new name in a new folder (the old folder keeps its points);
 * - pg_dump holds ACCESS SHARE on every table of the database for the whole dump: a DBA's
 *   ALTER TABLE with a lock_timeout fails on the DBA's side, one without it waits until the
 *   dump ends and then commits; the backup succeeds either way and restores the snapshot's
 *   content;
 * - VACUUM FULL / CLUSTER / REINDEX on a table being dumped: the point restores to the
 *   source's content.
 */
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../../electron/engine/index.ts';
import type { JobExecutor } from '../../../electron/engine/backup/worker-executor.ts';
import { hookedExecutor as hooked } from '../../fixtures/hooked-executor.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { PG_BIN, pgContentFingerprint, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { pointIds } from '../../fixtures/points.ts';
import { serverWithTask } from '../../fixtures/server-task.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

let pg: PgServer;
beforeAll(async () => {
  pg = await startPostgres();
}, 120_000);
afterAll(async () => {
  await pg?.stop();
});

async function setUp(executor: JobExecutor, only: (db: string) => boolean): Promise<{ engine: Engine; taskId: string; backups: string; serverId: string }> {
  const engine = await testEngine({ executor });
  data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
  const backups = tempDir();
  const others = pg.psql('SELECT datname FROM pg_database WHERE NOT datistemplate').split('\n').filter((d) => d && !only(d));
  const ids = await serverWithTask(engine, { kind: 'postgres', name: 'pg', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' }, 'logical', backups, { schedule: { full: '0 2 * * *', timezone: 'UTC' }, excludeDatabases: others });
  return { engine, backups, ...ids };
}

function makeDb(name: string): void {
  pg.psql(`CREATE DATABASE ${name}`);
  pg.psql('CREATE TABLE a_items (id int PRIMARY KEY, v text); INSERT INTO a_items SELECT i, md5(i::text) FROM generate_series(1, 300) i; CREATE INDEX ON a_items (v);' +
    'CREATE TABLE z_orders (id int PRIMARY KEY, item text); INSERT INTO z_orders SELECT i, md5(i::text) FROM generate_series(1, 50) i;', name);
}

/** A DBA's own psql session, kept open between statements; `run` resolves when the statement ended (its error, if any). */
function session(database: string) {
  const child = spawn(join(PG_BIN, 'psql'), ['-X', '-A', '-t', '-q', '-h', pg.socketDir, '-p', String(pg.port), '-U', 'postgres', '-d', database], {
    cwd: tmpdir(),
    env: { ...process.env, LC_ALL: 'C.UTF-8', PGPASSWORD: '' },
    ...(pg.osUser ? { uid: pg.osUser.uid, gid: pg.osUser.gid } : {}),
  });
  let out = '';
  let err = '';
  const waiters = new Map<string, () => void>();
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
    for (const [m, w] of waiters) {
      if (!out.includes(m)) continue;
      waiters.delete(m);
      w();
    }
  });
  let n = 0;
  return {
    run: (sql: string): Promise<string> =>
      new Promise((resolve) => {
        const marker = `done-${++n}`;
        const errBefore = err.length;
        waiters.set(marker, () => resolve(err.slice(errBefore)));
        child.stdin.write(`${sql};\nSELECT '${marker}';\n`);
      }),
    pid: async (): Promise<string> => {
      const before = out.length;
      await new Promise<void>((r) => {
        waiters.set('pid-done', r);
        child.stdin.write("SELECT 'pid:' || pg_backend_pid(); SELECT 'pid-done';\n");
      });
      return /pid:(\d+)/.exec(out.slice(before))![1]!;
    },
    close: () => child.stdin.end(),
  };
}

/** Resolves once a backend matching `where` (pg_stat_activity) waits on a lock. */
async function waitsOnLock(where: string): Promise<void> {
  for (let i = 0; i < 5000; i++) {
    if (pg.psql(`SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND ${where}`).trim() !== '0') return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`nothing waited on a lock (${where})`);
}

describe('maintenance during a running PostgreSQL server-wide backup', () => {
  it('a database dropped after the listing, before its turn: DATABASE_NOT_FOUND naming it, the others get their points, its earlier point stays', { timeout: 120_000 }, async () => {
    for (const d of ['d_keep_a', 'd_gone_b', 'd_keep_c']) makeDb(d);
    let drop = false;
    const { engine, taskId, backups } = await setUp(
      hooked((spec) => {
        if (drop && spec.database === 'd_gone_b') pg.psql('DROP DATABASE d_gone_b');
      }),
      (d) => d.startsWith('d_'),
    );
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    const before = await pointIds(backups, 'd_gone_b');
    expect(before).toHaveLength(1);
    drop = true;
    const run = await runTask(engine, taskId, 'full');
    const gone = run.databases.filter((d) => d.database === 'd_gone_b');
    expect(gone.map((d) => [d.status, d.errorCode])).toEqual([['failed', 'DATABASE_NOT_FOUND']]);
    expect(gone[0]!.errorMessage).toBe(
      'Database "d_gone_b" does not exist any more: it was dropped or renamed after the backup run listed the server\'s databases, before its turn; nothing was stored for it and its earlier points are kept. The next run backs up the databases the server has then (a renamed one under its new name).',
    );
    expect(run.databases.filter((d) => d.database !== 'd_gone_b').every((d) => d.status === 'success')).toBe(true);
    expect(await pointIds(backups, 'd_keep_a')).toHaveLength(2);
    expect(await pointIds(backups, 'd_gone_b')).toEqual(before);
    pg.psql('DROP DATABASE d_keep_a');
    pg.psql('DROP DATABASE d_keep_c');
  });

  it('a database created during the run is taken by the next run; one renamed during the run fails under its old name and the next run backs it up under the new one', { timeout: 120_000 }, async () => {
    for (const d of ['r_one', 'r_two']) makeDb(d);
    let act = false;
    const { engine, taskId, backups } = await setUp(
      hooked((spec) => {
        if (!act || spec.database !== 'r_one') return;
        act = false;
        makeDb('r_new');
        pg.psql('ALTER DATABASE r_two RENAME TO r_two_renamed');
      }),
      (d) => d.startsWith('r_'),
    );
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    act = true;
    const run = await runTask(engine, taskId, 'full');
    expect(run.databases.filter((d) => !d.serverStream).map((d) => [d.database, d.status, d.errorCode]).sort()).toEqual([
      ['r_one', 'success', null],
      ['r_two', 'failed', 'DATABASE_NOT_FOUND'],
    ]);
    expect(run.databases.find((d) => d.database === 'r_two')!.errorMessage).toMatch(/^Database "r_two" does not exist any more: it was dropped or renamed after the backup run listed/);
    const next = await runTask(engine, taskId, 'full');
    expect(next.status).toBe('success');
    expect(next.databases.filter((d) => !d.serverStream && d.status === 'success').map((d) => d.database).sort()).toEqual(['r_new', 'r_one', 'r_two_renamed']);
    // The old name, seen before, is said once to be no longer on the server.
    expect(next.databases.filter((d) => d.status === 'skipped').map((d) => [d.database, d.errorMessage])).toEqual([['r_two', expect.stringContaining('the database "r_two" is no longer on the server (dropped or renamed)')]]);
    expect(await pointIds(backups, 'r_two')).toHaveLength(1);
    expect(await pointIds(backups, 'r_two_renamed')).toHaveLength(1);
    expect(await pointIds(backups, 'r_new')).toHaveLength(1);
    for (const d of ['r_one', 'r_new', 'r_two_renamed']) pg.psql(`DROP DATABASE ${d}`);
  });

  it('pg_dump holds ACCESS SHARE on every table for the whole dump: ALTER TABLE with a lock_timeout fails on the DBA\'s side, without one it waits; VACUUM FULL, CLUSTER and REINDEX wait or run beside it; the point restores the source', { timeout: 60_000 }, async () => {
    makeDb('m_shop');
    let hold: ReturnType<typeof session> | null = null;
    let dba: Promise<{ timedOut: string; waited: string; maintenance: string[] }> | null = null;
    const { engine, taskId, backups, serverId } = await setUp(
      hooked(async (spec) => {
        if (spec.database !== 'm_shop' || hold) return;
        // The DBA holds z_orders: pg_dump locks a_items, then waits on z_orders, still holding a_items.
        hold = session('m_shop');
        await hold.run('BEGIN; LOCK TABLE z_orders IN ACCESS EXCLUSIVE MODE');
        const locker = hold;
        dba = waitsOnLock("datname = 'm_shop' AND query ILIKE 'LOCK TABLE %'").then(async () => {
          const quick = session('m_shop');
          const timedOut = await quick.run("SET lock_timeout = '100ms'; ALTER TABLE a_items ADD COLUMN note text");
          quick.close();
          // REINDEX's SHARE lock goes beside pg_dump's ACCESS SHARE (before anything queues ahead of it).
          const maint = session('m_shop');
          const reindex = await maint.run('REINDEX TABLE a_items');
          // Without a lock_timeout the DBA's statements queue behind the dump; released once the dump ends.
          const waiting = session('m_shop');
          const waitingPid = await waiting.pid();
          const waited = waiting.run('ALTER TABLE a_items ADD COLUMN later text');
          await waitsOnLock(`pid = ${waitingPid}`);
          const vacuumFull = maint.run('VACUUM FULL a_items');
          const cluster = maint.run('CLUSTER a_items USING a_items_pkey');
          await locker.run('COMMIT');
          const result = { timedOut, waited: await waited, maintenance: [reindex, await vacuumFull, await cluster] };
          waiting.close();
          maint.close();
          return result;
        });
        // Whatever went wrong above, the dump is let go (the test then fails on what it saw).
        dba.catch(() => locker.run('COMMIT'));
      }),
      (d) => d === 'm_shop',
    );
    const source = pgContentFingerprint(pg, 'm_shop');
    const run = await runTask(engine, taskId, 'full');
    const seen = await dba!;
    (hold as ReturnType<typeof session> | null)?.close();
    expect(seen.timedOut).toMatch(/canceling statement due to lock timeout/);
    expect(seen.waited).toBe('');
    expect(seen.maintenance).toEqual(['', '', '']);
    expect(run.status).toBe('success');
    expect(await pointIds(backups, 'm_shop')).toHaveLength(1);
    // The DBA's ALTER committed after the dump: not in the point, which restores the snapshot's content.
    expect(pg.psql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'a_items' AND column_name = 'later'", 'm_shop').trim()).toBe('1');
    const restored = await restoreAndWait(engine, { location: { kind: 'local', path: join(backups, encodeDatabaseFolder('m_shop')) }, pointId: 'latest', serverId, database: 'm_copy' });
    expect(restored.status).toBe('success');
    expect(pgContentFingerprint(pg, 'm_copy')).toEqual(source);
    pg.psql('DROP DATABASE m_copy');
    pg.psql('DROP DATABASE m_shop');
  });
});
