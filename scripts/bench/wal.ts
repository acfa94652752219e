/**
 * `npm run bench -- --only wal`: a PostgreSQL snapshot task (base backup + WAL, issue #19)
 * against today's logical task and `pg_basebackup` alone, on the mixed workload, through a
 * real engine in this process (the task runner, the slot, the spool — what the app runs):
 *
 * - full: the snapshot task's base backup against `pg_basebackup -Ft -X fetch` alone, and the
 *   logical task's full;
 * - after a 1% scattered UPDATE (one incremental first opens the WAL chain, as an hourly
 *   schedule has): the WAL incremental's time against the snapshot full's (target ≤ 10%) and
 *   the logical incremental's, and what it stores against the WAL the change produced on the
 *   server (pg_current_wal_lsn before/after; target ≤ 3×) and against the logical
 *   incremental's stored bytes;
 * - restore of the mixed database to a moment after the UPDATE (temporary cluster, dump,
 *   load) against a logical restore of its latest point.
 *
 * - the incremental's ratio also through the `backstop` CLI as it ships (a task file, a process
 *   per run, its own slot and destination; same change), next to the engine in this process
 *   (job worker threads, as the app's scheduler runs it);
 * - the same after a second 1% scattered UPDATE (other rows, right after a CHECKPOINT) with the
 *   server's `wal_compression = zstd`: how much of the WAL (and of the incremental's time) is
 *   full-page images that the server could compress.
 *
 * - pgBackRest (pgbackrest-peer.ts, when installed) as the peer: its full, its archive-push of
 *   the same change's WAL segments (what its archive_command does) and its file-level `incr`.
 *
 * Both tasks store unencrypted (zstd as always). Nothing here is asserted.
 * `BENCH_WAL_RESTORE=0` leaves out the restore rows (for a large `--wal-mb` within the time);
 * `BENCH_WAL_PHASES=1` adds the phase-by-phase probe of wal-phases.ts (printed, not tabled).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEngine, type Engine } from '../../electron/engine/index.ts';
import type { RestoreResult, Run } from '../../electron/shared/domain.ts';
import { encodeDatabaseFolder, SERVER_FOLDER } from '../../electron/engine/servers/index.ts';
import { MemorySecretStore } from '../../tests/fixtures/memory-secret-store.ts';
import { data, runTask } from '../../tests/fixtures/runs.ts';
import { chownTree } from '../../tests/fixtures/servers/common.ts';
import { PG_BIN, startPostgres } from '../../tests/fixtures/servers/postgres.ts';
import { pgbackrestPeer, type PeerTiming } from './pgbackrest-peer.ts';
import { walPhases } from './wal-phases.ts';

export interface WalBenchContext {
  mixedMb: number;
  mixedSql: (mb: number) => { sql: string; rows: number };
  sh: (cmd: string, env?: Record<string, string>) => Promise<{ seconds: number; stdout: string }>;
  duBytes: (dir: string) => number;
  addRow: (section: string, metric: string, ours: string, peer: string, ratio: number | null, target: string, met: boolean | null) => void;
  notes: string[];
  mb: (b: number) => string;
  secs: (s: number) => string;
}

const SECTION = 'PostgreSQL WAL (snapshot task)';
const ROOT = join(import.meta.dirname, '..', '..');
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The same snapshot task through the `backstop` CLI as it ships (a process start per run, its own slot and destination). */
function cliTask(work: string, pg: { host: string; port: number; user: string; password: string }, sh: WalBenchContext['sh']) {
  const dir = join(work, 'wal-cli');
  mkdirSync(dir, { recursive: true });
  const taskFile = join(dir, 'task.json');
  const server = { kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, passwordEnv: 'BENCH_WAL_PG_PASSWORD', tls: 'disable' };
  const schedule = { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' };
  writeFileSync(taskFile, JSON.stringify({ name: 'walcli', server, type: 'snapshot', schedule, destinations: [{ kind: 'local', path: join(dir, 'backups') }], tools: { binDir: PG_BIN } }));
  return async (kind: 'full' | 'incremental') => {
    const r = await sh(`${q(process.execPath)} ${q(join(ROOT, 'bin', 'backstop.mjs'))} backup --config ${q(taskFile)} --data-dir ${q(join(dir, 'data'))} --kind ${kind} --json`, { BENCH_WAL_PG_PASSWORD: pg.password });
    const doc = JSON.parse(r.stdout) as { status: string; databases: { database: string; kind: string; bytesRead: number }[] };
    const row = doc.databases.find((d) => d.database === 'base.tar');
    if (!row || doc.status !== 'success') throw new Error(`CLI ${kind}: ${r.stdout.slice(0, 1000)}`);
    return { seconds: r.seconds, kind: row.kind, bytesRead: row.bytesRead };
  };
}

async function timedRun(engine: Engine, taskId: string, kind: 'full' | 'incremental'): Promise<{ seconds: number; run: Run }> {
  const t0 = performance.now();
  const run = await runTask(engine, taskId, kind);
  const seconds = (performance.now() - t0) / 1000;
  if (run.status !== 'success') throw new Error(`${kind} run ${run.status}: ${run.databases.map((d) => d.errorMessage).join('; ')}`);
  const at = (iso: string | null) => (iso ? Date.parse(iso) : NaN);
  console.log(
    `    ${kind}: run ${((at(run.endedAt) - at(run.startedAt)) / 1000).toFixed(1)} s; ` +
      run.databases.map((d) => `${d.database} starts +${((at(d.startedAt) - at(run.startedAt)) / 1000).toFixed(1)} s, takes ${((at(d.endedAt) - at(d.startedAt)) / 1000).toFixed(1)} s`).join('; '),
  );
  return { seconds, run };
}

async function timedRestore(engine: Engine, input: Parameters<Engine['call']>[1]): Promise<number> {
  const finished = new Map<string, RestoreResult>();
  const off = engine.events.on('restore.finished', (r) => finished.set(r.restoreId, r));
  const t0 = performance.now();
  try {
    const { restoreId } = data(await engine.call('restore.start', input));
    while (!finished.has(restoreId)) await new Promise((r) => setTimeout(r, 20));
    const r = finished.get(restoreId)!;
    if (r.status !== 'success') throw new Error(`restore ${r.status}: ${r.error?.code} ${r.error?.message}`);
    return (performance.now() - t0) / 1000;
  } finally {
    off();
  }
}

const rowOf = (run: Run, database: string) => {
  const rows = run.databases.filter((d) => d.database === database);
  if (rows.length === 0) throw new Error(`run has no row for ${database}`);
  return { bytesRead: rows.reduce((n, d) => n + d.bytesRead, 0), bytesStored: rows.reduce((n, d) => n + d.bytesStored, 0), kind: rows[0]!.kind };
};

export async function benchWal(work: string, c: WalBenchContext): Promise<void> {
  const { addRow, mb, secs } = c;
  const pg = await startPostgres();
  const dataDir = join(work, 'wal-engine');
  mkdirSync(dataDir, { recursive: true });
  const engine = await createEngine({ dataDir, secrets: new MemorySecretStore(), logLevel: 'warn' });
  try {
    console.log(`\n[${SECTION}] building the mixed database (~${c.mixedMb} MB)…`);
    pg.psql('CREATE DATABASE mixed');
    const { sql, rows: n } = c.mixedSql(c.mixedMb);
    pg.psql(sql, 'mixed');
    pg.psql('VACUUM (FREEZE, ANALYZE)', 'mixed');
    pg.psql('CHECKPOINT');
    const dbBytes = Number(pg.psql("SELECT pg_database_size('mixed')").trim());
    console.log(`  ${n} orders, ${mb(dbBytes)} on disk`);

    data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
    const server = data(await engine.call('servers.create', { kind: 'postgres', name: 'bench', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' }));
    const task = (name: string, type: 'logical' | 'snapshot', path: string) =>
      engine.call('tasks.create', {
        name,
        serverId: server.id,
        type,
        schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' },
        destinations: [{ kind: 'local', path }],
        excludeDatabases: type === 'logical' ? ['postgres'] : [],
      });
    const snapDir = join(work, 'wal-snapshot');
    const logicalDir = join(work, 'wal-logical');
    const snap = data(await task('snapshot', 'snapshot', snapDir));
    const logical = data(await task('logical', 'logical', logicalDir));

    // Fulls: the snapshot task's base backup, pg_basebackup alone, the logical task.
    const snapFull = await timedRun(engine, snap.id, 'full');
    const bbDir = join(work, 'wal-pg_basebackup');
    const bb = await c.sh(`${PG_BIN}/pg_basebackup -Ft -X fetch -D '${bbDir}' -h 127.0.0.1 -p ${pg.port} -U postgres`, { PGPASSWORD: pg.password });
    const bbBytes = c.duBytes(bbDir);
    rmSync(bbDir, { recursive: true, force: true });
    const logicalFull = await timedRun(engine, logical.id, 'full');
    const snapFullRow = rowOf(snapFull.run, 'base.tar');
    const logicalFullRow = rowOf(logicalFull.run, 'mixed');
    console.log(`  fulls: snapshot ${secs(snapFull.seconds)} (${mb(snapFullRow.bytesRead)} read, ${mb(snapFullRow.bytesStored)} stored), pg_basebackup ${secs(bb.seconds)} (${mb(bbBytes)}), logical ${secs(logicalFull.seconds)} (${mb(logicalFullRow.bytesStored)} stored)`);
    const peer = pgbackrestPeer(work, pg, c.sh);
    const peerFull: PeerTiming | null = peer ? await peer.full() : null;
    if (peer && peerFull) console.log(`  ${peer.version}: full ${secs(peerFull.seconds)} (${mb(peerFull.stored)} stored)`);

    // The same task through the CLI: its full, then (below) its incremental after the same change.
    const cli = cliTask(work, pg, c.sh);
    const cliFull = await cli('full');
    // The first WAL backup after a full opens the chain (what an hourly schedule has done by the next hour).
    const warm = await timedRun(engine, snap.id, 'incremental');
    console.log(`  first WAL incremental (opens the chain): ${secs(warm.seconds)}, ${mb(rowOf(warm.run, 'base.tar').bytesRead)} of WAL`);
    await cli('incremental');

    const lsn = () => pg.psql('SELECT pg_current_wal_lsn()').trim();
    const lsn0 = lsn();
    pg.psql(`UPDATE orders SET amount = amount + 1, status = 'audited' WHERE id % 100 = 37`, 'mixed');
    const lsnAfter = lsn();
    const walBytes = Number(pg.psql(`SELECT pg_wal_lsn_diff('${lsnAfter}', '${lsn0}')`).trim());
    // The peer archives the same segments first (they are surely still in pg_wal then).
    const peerWal = peer ? await peer.walPush(lsn0, lsnAfter) : null;
    await new Promise((r) => setTimeout(r, 300));
    const moment = pg.psql(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`).trim();
    await new Promise((r) => setTimeout(r, 300));

    const snapInc = await timedRun(engine, snap.id, 'incremental');
    const cliInc = await cli('incremental');
    if (cliInc.kind !== 'incremental') throw new Error(`the CLI's incremental ran as a ${cliInc.kind}`);
    console.log(`  through the CLI: full ${secs(cliFull.seconds)} (${mb(cliFull.bytesRead)} read), incremental ${secs(cliInc.seconds)} (${mb(cliInc.bytesRead)} read)`);
    const logicalInc = await timedRun(engine, logical.id, 'incremental');
    const snapIncRow = rowOf(snapInc.run, 'base.tar');
    const logicalIncRow = rowOf(logicalInc.run, 'mixed');
    if (snapIncRow.kind !== 'incremental') throw new Error(`the snapshot incremental ran as a ${snapIncRow.kind}`);
    console.log(
      `  after the 1% scattered UPDATE (${mb(walBytes)} of WAL): WAL incremental ${secs(snapInc.seconds)} (${mb(snapIncRow.bytesRead)} read, ${mb(snapIncRow.bytesStored)} stored), logical incremental ${secs(logicalInc.seconds)} (${mb(logicalIncRow.bytesStored)} stored)`,
    );

    addRow(SECTION, `full (base backup) time vs pg_basebackup -Ft alone (${mb(dbBytes)} db)`, secs(snapFull.seconds), `pg_basebackup ${secs(bb.seconds)}`, snapFull.seconds / bb.seconds, '≤ 1.2×', snapFull.seconds / bb.seconds <= 1.2);
    addRow(SECTION, '  … stored size of the full vs pg_basebackup -Ft (uncompressed)', mb(snapFullRow.bytesStored), `pg_basebackup ${mb(bbBytes)}`, snapFullRow.bytesStored / bbBytes, '', null);
    addRow(SECTION, '  … full time vs the logical task’s full', secs(snapFull.seconds), `logical ${secs(logicalFull.seconds)}`, snapFull.seconds / logicalFull.seconds, '', null);
    addRow(SECTION, 'incremental time after a 1% scattered UPDATE vs the full (engine in this process, as the app runs it)', secs(snapInc.seconds), `full ${secs(snapFull.seconds)}`, snapInc.seconds / snapFull.seconds, '≤ 0.10×', snapInc.seconds / snapFull.seconds <= 0.1);
    addRow(SECTION, '  … the same through the `backstop` CLI (a process per run) vs its full', secs(cliInc.seconds), `CLI full ${secs(cliFull.seconds)}`, cliInc.seconds / cliFull.seconds, '≤ 0.10×', cliInc.seconds / cliFull.seconds <= 0.1);
    addRow(SECTION, '  … vs the logical task’s incremental (a dump again)', secs(snapInc.seconds), `logical ${secs(logicalInc.seconds)}`, snapInc.seconds / logicalInc.seconds, '', null);
    addRow(SECTION, 'incremental stored vs the WAL the change produced', mb(snapIncRow.bytesStored), `WAL ${mb(walBytes)}`, snapIncRow.bytesStored / walBytes, '≤ 3×', snapIncRow.bytesStored <= 3 * walBytes);
    addRow(SECTION, '  … vs the logical task’s incremental stored', mb(snapIncRow.bytesStored), `logical ${mb(logicalIncRow.bytesStored)}`, snapIncRow.bytesStored / Math.max(1, logicalIncRow.bytesStored), '', null);
    addRow(SECTION, '  … bytes read (the WAL) vs the full’s', mb(snapIncRow.bytesRead), `full ${mb(snapFullRow.bytesRead)}`, snapIncRow.bytesRead / snapFullRow.bytesRead, '', null);

    if (peer && peerFull && peerWal) {
      const peerIncr = await peer.incr();
      console.log(`  ${peer.version}: archive-push of the change's ${peerWal.segments} WAL segments ${secs(peerWal.seconds)} (${mb(peerWal.stored)} stored), incr ${secs(peerIncr.seconds)} (${mb(peerIncr.stored)} stored)`);
      const who = `pgBackRest ${peer.version.replace(/^pgBackRest /, '')}`;
      addRow(SECTION, `${who} (zst 3, local repository): full time vs Backstop’s snapshot full`, secs(peerFull.seconds), `Backstop ${secs(snapFull.seconds)}`, peerFull.seconds / snapFull.seconds, '', null);
      addRow(SECTION, `${who}: the change’s WAL archive-pushed (${peerWal.segments} segments, one archive_command each) vs its own full`, secs(peerWal.seconds), `its full ${secs(peerFull.seconds)}`, peerWal.seconds / peerFull.seconds, '(peer)', null);
      addRow(SECTION, `  … Backstop’s WAL incremental vs ${who}’s archive-push of the same change`, secs(snapInc.seconds), `pgBackRest ${secs(peerWal.seconds)}`, snapInc.seconds / peerWal.seconds, '', null);
      addRow(SECTION, `  … stored: Backstop’s WAL incremental vs ${who}’s archived WAL`, mb(snapIncRow.bytesStored), `pgBackRest ${mb(peerWal.stored)}`, snapIncRow.bytesStored / Math.max(1, peerWal.stored), '', null);
      addRow(SECTION, `${who} incr (each changed data file copied whole) vs its own full`, secs(peerIncr.seconds), `its full ${secs(peerFull.seconds)}`, peerIncr.seconds / peerFull.seconds, '(peer)', null);
    } else {
      c.notes.push(`${SECTION}: pgBackRest rows left out: pgbackrest is not installed (Debian: apt-get install pgbackrest).`);
    }

    // The same change with the server compressing full-page images (ALTER SYSTEM + reload; no restart).
    pg.psql(`ALTER SYSTEM SET wal_compression = 'zstd'`);
    pg.psql('SELECT pg_reload_conf()');
    pg.psql('CHECKPOINT');
    const lsn1 = lsn();
    pg.psql(`UPDATE orders SET amount = amount + 1, status = 'checked' WHERE id % 100 = 53`, 'mixed');
    const walBytesZ = Number(pg.psql(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '${lsn1}')`).trim());
    const snapIncZ = await timedRun(engine, snap.id, 'incremental');
    const snapIncZRow = rowOf(snapIncZ.run, 'base.tar');
    pg.psql('ALTER SYSTEM RESET wal_compression');
    pg.psql('SELECT pg_reload_conf()');
    console.log(`  the same UPDATE with wal_compression = zstd (${mb(walBytesZ)} of WAL): WAL incremental ${secs(snapIncZ.seconds)} (${mb(snapIncZRow.bytesRead)} read, ${mb(snapIncZRow.bytesStored)} stored)`);
    addRow(SECTION, 'incremental time, same UPDATE with the server’s wal_compression = zstd, vs the full', secs(snapIncZ.seconds), `full ${secs(snapFull.seconds)}`, snapIncZ.seconds / snapFull.seconds, '≤ 0.10×', snapIncZ.seconds / snapFull.seconds <= 0.1);
    addRow(SECTION, '  … WAL the change produced, wal_compression zstd vs off', mb(walBytesZ), `off ${mb(walBytes)}`, walBytesZ / walBytes, '', null);
    addRow(SECTION, '  … incremental stored, wal_compression zstd vs off', mb(snapIncZRow.bytesStored), `off ${mb(snapIncRow.bytesStored)}`, snapIncZRow.bytesStored / Math.max(1, snapIncRow.bytesStored), '', null);
    if (process.env.BENCH_WAL_PHASES === '1') await walPhases(work, pg);
    if (process.env.BENCH_WAL_RESTORE === '0') return;

    // Restore of one database: to the moment after the UPDATE vs the logical task's latest point.
    const tmp = join(work, 'wal-tmp');
    mkdirSync(tmp, { recursive: true, mode: 0o755 });
    if (pg.osUser) chownTree(tmp, pg.osUser);
    const oldTmp = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    let atMoment: number;
    try {
      atMoment = await timedRestore(engine, {
        location: { kind: 'local', path: join(snapDir, SERVER_FOLDER, encodeDatabaseFolder('base.tar')) },
        asOf: moment,
        sourceDatabase: 'mixed',
        serverId: server.id,
        database: 'r_moment',
      });
    } finally {
      if (oldTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = oldTmp;
    }
    const logicalRestore = await timedRestore(engine, { location: { kind: 'local', path: join(logicalDir, encodeDatabaseFolder('mixed')) }, pointId: 'latest', serverId: server.id, database: 'r_logical' });
    const check = (db: string) => pg.psql(`SELECT count(*) FROM orders WHERE status = 'audited'`, db).trim();
    if (check('r_moment') !== check('mixed') || check('r_logical') !== check('mixed')) throw new Error('a restored database differs from the source');
    console.log(`  restore of one database: to a moment ${secs(atMoment)}, logical ${secs(logicalRestore)}`);
    addRow(SECTION, 'restore one database to a moment vs a logical restore of it', secs(atMoment), `logical ${secs(logicalRestore)}`, atMoment / logicalRestore, '', null);
    c.notes.push(
      `${SECTION}: one run each (no repeat), through a real engine in the bench process; the incremental follows one WAL incremental after the full (the chain's start), so it holds the change's WAL (plus a heartbeat and the segment switch), which is the hourly steady state. A restore to a moment recovers the whole cluster (${mb(snapFullRow.bytesRead)}) in a temporary cluster, then dumps and loads the one database. pgBackRest (when installed) runs on the same cluster without archive_mode (no restart): the bench archive-pushes the change's segments itself, as its archive_command would, one call per segment, so its WAL row has no fixed cost of a run (its archiver works continuously); Barman is not run (its streaming mode needs a Barman server configuration and its cron/receive-wal processes).`,
    );
  } finally {
    await engine.close();
    await pg.stop();
  }
}
