/**
 * `npm run bench -- --only many`: a PostgreSQL server with many small databases (issue #21:
 * one database per customer; default 200 databases of 200 rows, `--many-dbs N`), where the
 * per-database overhead, not throughput, decides the time:
 *
 * - a plain `pg_dump -Fc` loop over the databases (files in a folder), the baseline;
 * - a whole-server logical task's full through the `backstop` CLI as it ships
 *   (bin/backstop.mjs, its built workers), and the same task's full through an engine in
 *   this process (built workers, BACKSTOP_WORKER_DIR), all encrypted: with the job workers
 *   reused (what ships) and with one worker thread per job (as before issue #21);
 * - an incremental with nothing changed: bytes stored (the destination's growth on disk) /
 *   the full's, through the CLI;
 * - restic and borg: the same dumps piped one by one into one repository each (`--stdin`),
 *   the loop an administrator would script.
 *
 * Nothing here is asserted; the machine is shared, so the load average goes next to the rows.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { writeBenchTaskFile } from './task-file.ts';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createEngine } from '../../electron/engine/index.ts';
import { outcomesFor, type JobExecutor } from '../../electron/engine/backup/worker-executor.ts';
import type { JobOutcome } from '../../electron/engine/backup/run-job.ts';
import type { DatabaseProgress } from '../../electron/engine/backup/backup-database.ts';
import { runWorkerJob } from '../../electron/engine/runtime/worker-job.ts';
import { toFailure } from '../../electron/shared/result.ts';
import { MemorySecretStore } from '../../tests/fixtures/memory-secret-store.ts';
import { data, waitForRun } from '../../tests/fixtures/runs.ts';
import { PG_BIN, startPostgres } from '../../tests/fixtures/servers/postgres.ts';
import { buildCli } from '../build-cli.mjs';

export interface ManyBenchContext {
  databases: number;
  rowsPerDatabase: number;
  root: string;
  sh: (cmd: string, env?: Record<string, string>) => Promise<{ seconds: number; stdout: string }>;
  duBytes: (dir: string) => number;
  addRow: (section: string, metric: string, ours: string, peer: string, ratio: number | null, target: string, met: boolean | null) => void;
  notes: string[];
  mb: (b: number) => string;
  secs: (s: number) => string;
  q: (s: string) => string;
  peerEnv: Record<string, string>;
}

const SECTION = 'PostgreSQL, many small databases';

interface CliRun {
  seconds: number;
  stored: number;
  databases: { database: string; status: string; kind: string; bytesStored: number }[];
}

export async function benchMany(work: string, c: ManyBenchContext): Promise<void> {
  const { addRow, mb, secs, q } = c;
  const n = c.databases;
  const names = Array.from({ length: n }, (_, i) => `cust${String(i + 1).padStart(4, '0')}`);
  const pg = await startPostgres();
  try {
    console.log(`\n[${SECTION}] creating ${n} databases of ${c.rowsPerDatabase} rows…`);
    const script = join(work, 'many.sql');
    const rows = c.rowsPerDatabase;
    writeFileSync(
      script,
      names
        .map(
          (db) =>
            `CREATE DATABASE ${db};\n\\c ${db}\nCREATE TABLE customer_orders (id int PRIMARY KEY, placed_at timestamptz NOT NULL, item text NOT NULL, amount numeric(10,2) NOT NULL);\n` +
            `INSERT INTO customer_orders SELECT i, timestamptz '2026-01-01' + i * interval '1 hour', md5('${db}' || i), (i * 7 % 1000) / 10.0 FROM generate_series(1, ${rows}) i;\n`,
        )
        .join(''),
    );
    pg.loadFile(script, 'postgres');
    const env = { PGPASSWORD: pg.password };
    const conn = `-h ${pg.host} -p ${pg.port} -U ${pg.user}`;

    // The baseline: a plain loop, one pg_dump -Fc per database into a folder.
    const dumpDir = join(work, 'many-dumps');
    mkdirSync(dumpDir, { recursive: true });
    const loopCmd = (dump: (db: string) => string) => `for db in ${names.join(' ')}; do ${dump('$db')} || exit 1; done`;
    const dumpLoop = await c.sh(loopCmd((db) => `${PG_BIN}/pg_dump -Fc ${conn} -d ${db} > ${q(dumpDir)}/${db}.dump`), env);
    const dumpBytes = c.duBytes(dumpDir);
    console.log(`  pg_dump -Fc loop: ${secs(dumpLoop.seconds)}, ${mb(dumpBytes)}`);

    // The CLI as it ships: a task file, an encryption key file, one `backstop backup` per run.
    await buildCli();
    const bin = join(c.root, 'bin', 'backstop.mjs');
    const cliDest = join(work, 'many-cli');
    const keyFile = join(work, 'many.key');
    writeFileSync(keyFile, randomBytes(32).toString('base64'), { mode: 0o600 });
    const taskFile = writeBenchTaskFile(join(work, 'many-task.json'), 'many', { kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, passwordEnv: 'PGPASSWORD' }, cliDest, {
      encryption: { mode: 'key', keyFile },
      excludeDatabases: ['postgres'],
      tools: { binDir: PG_BIN },
    });
    const cliData = join(work, 'many-cli-data');
    const cliRun = async (kind: 'full' | 'incremental'): Promise<CliRun> => {
      const before = c.duBytes(cliDest);
      const r = await c.sh(`${q(process.execPath)} ${q(bin)} backup --config ${q(taskFile)} --kind ${kind} --data-dir ${q(cliData)} --json`, env);
      const out = JSON.parse(r.stdout) as { status: string; databases: CliRun['databases'] };
      const bad = out.databases.filter((d) => d.status !== 'ok' || d.kind !== kind);
      if (out.status !== 'success' || bad.length) throw new Error(`CLI ${kind}: ${out.status}; ${JSON.stringify(bad.slice(0, 3))}`);
      return { seconds: r.seconds, stored: c.duBytes(cliDest) - before, databases: out.databases };
    };
    const cliFull = await cliRun('full');
    console.log(`  backstop CLI full: ${secs(cliFull.seconds)}, ${mb(cliFull.stored)} on disk`);
    const cliInc = await cliRun('incremental');
    const incStoredReported = cliInc.databases.reduce((s, d) => s + d.bytesStored, 0);
    const fullStoredReported = cliFull.databases.reduce((s, d) => s + d.bytesStored, 0);
    console.log(`  backstop CLI incremental (nothing changed): ${secs(cliInc.seconds)}, ${mb(cliInc.stored)} on disk (${mb(incStoredReported)} reported)`);

    // The same task through an engine in this process (built workers): job workers reused (what
    // ships), and for comparison one worker thread per job (what ran before issue #21).
    const engineFull = async (name: string, executor?: JobExecutor): Promise<number> => {
      const engineDir = join(work, `many-engine-${name}`);
      mkdirSync(engineDir, { recursive: true });
      const engine = await createEngine({ dataDir: engineDir, secrets: new MemorySecretStore(), logLevel: 'warn', ...(executor ? { executor } : {}) });
      try {
        data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
        const key = data(await engine.call('keys.generate', undefined));
        data(await engine.call('keys.markExported', { keyRef: key.keyRef, method: 'clipboard' }));
        const server = data(await engine.call('servers.create', { kind: 'postgres', name: 'many', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' }));
        const task = data(
          await engine.call('tasks.create', {
            name: 'many',
            serverId: server.id,
            type: 'logical',
            schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' },
            encryption: { mode: 'key', keyRef: key.keyRef, fingerprint: key.fingerprint },
            destinations: [{ kind: 'local', path: join(work, `many-engine-${name}-dest`) }],
            excludeDatabases: ['postgres'],
          }),
        );
        const t0 = performance.now();
        const { runId } = data(await engine.call('tasks.runNow', { id: task.id, kind: 'full' }));
        const run = await waitForRun(engine, runId, 3_600_000);
        const seconds = (performance.now() - t0) / 1000;
        if (run.status !== 'success') throw new Error(`engine full (${name}): ${run.status}`);
        return seconds;
      } finally {
        await engine.close();
      }
    };
    const engineSeconds = await engineFull('pooled');
    const oneShot: JobExecutor = (spec, signal, onProgress) =>
      runWorkerJob<JobOutcome[], DatabaseProgress>('backup-job', spec, { label: `the backup of ${spec.database}`, signal, onProgress }).catch((e: unknown) => {
        const f = toFailure(e);
        return outcomesFor(spec, f.code, f.message);
      });
    // Five times slower or so: only on a smaller server, to keep the bench within minutes.
    const oneShotSeconds = n <= 60 ? await engineFull('one-shot', oneShot) : null;
    console.log(`  backstop engine in-process full: ${secs(engineSeconds)} (one worker per job: ${oneShotSeconds === null ? 'not run' : secs(oneShotSeconds)})`);

    // Peers: the same loop piping each dump into one repository.
    const peerDir = join(work, 'many-peers');
    rmSync(peerDir, { recursive: true, force: true });
    mkdirSync(peerDir, { recursive: true });
    const restic = join(peerDir, 'restic');
    const borg = join(peerDir, 'borg');
    await c.sh(`restic init -q -r ${q(restic)}`, c.peerEnv);
    await c.sh(`borg init --encryption repokey ${q(borg)}`, c.peerEnv);
    const peerEnv = { ...env, ...c.peerEnv };
    const resticLoop = await c.sh(loopCmd((db) => `${PG_BIN}/pg_dump -Fc -Z0 ${conn} -d ${db} | restic backup -q -r ${q(restic)} --stdin --stdin-filename ${db}.dump`), peerEnv);
    // borg takes seconds per archive here (its start-up and repository lock): only on a smaller server.
    const borgLoop = n <= 60 ? await c.sh(loopCmd((db) => `${PG_BIN}/pg_dump -Fc -Z0 ${conn} -d ${db} | borg create --compression zstd,3 --stdin-name ${db}.dump ${q(borg)}::${db} -`), peerEnv) : null;
    const resticBytes = c.duBytes(restic);
    const borgBytes = c.duBytes(borg);
    const resticInc = await c.sh(loopCmd((db) => `${PG_BIN}/pg_dump -Fc -Z0 ${conn} -d ${db} | restic backup -q -r ${q(restic)} --stdin --stdin-filename ${db}.dump`), peerEnv);
    const resticIncBytes = c.duBytes(restic) - resticBytes;
    const borgText = borgLoop ? `${secs(borgLoop.seconds)} (${mb(borgBytes)})` : 'not run';
    console.log(`  restic loop ${secs(resticLoop.seconds)} (${mb(resticBytes)}), again unchanged ${secs(resticInc.seconds)} (+${mb(resticIncBytes)}); borg loop ${borgText}`);

    const load = loadavg()[0]!.toFixed(2);
    const label = `${n} databases × ${c.rowsPerDatabase} rows`;
    addRow(SECTION, `full run through the CLI vs a pg_dump -Fc loop (${label})`, secs(cliFull.seconds), `loop ${secs(dumpLoop.seconds)}`, cliFull.seconds / dumpLoop.seconds, '≤ 2×', cliFull.seconds / dumpLoop.seconds <= 2);
    addRow(SECTION, '  … engine in-process (built workers) vs the loop', secs(engineSeconds), `loop ${secs(dumpLoop.seconds)}`, engineSeconds / dumpLoop.seconds, '≤ 2×', engineSeconds / dumpLoop.seconds <= 2);
    if (oneShotSeconds !== null) addRow(SECTION, '  … in-process, one worker thread per job (before #21) vs the loop', secs(oneShotSeconds), `loop ${secs(dumpLoop.seconds)}`, oneShotSeconds / dumpLoop.seconds, '', null);
    addRow(SECTION, '  … per database beyond its pg_dump: CLI / in-process', `${((cliFull.seconds - dumpLoop.seconds) / n).toFixed(3)} s`, `in-process ${((engineSeconds - dumpLoop.seconds) / n).toFixed(3)} s`, null, '', null);
    addRow(SECTION, '  … vs the loop piped into restic / borg', secs(cliFull.seconds), `restic ${secs(resticLoop.seconds)} / borg ${borgLoop ? secs(borgLoop.seconds) : 'not run'}`, cliFull.seconds / Math.min(resticLoop.seconds, borgLoop?.seconds ?? Infinity), '', null);
    addRow(SECTION, 'incremental, nothing changed: stored / the full’s (on disk)', `${cliInc.stored} B`, `full ${cliFull.stored} B`, cliInc.stored / cliFull.stored, '≤ 1%', cliInc.stored <= 0.01 * cliFull.stored);
    const bytes = (b: number) => (b < 1e6 ? `${b} B` : mb(b));
    addRow(SECTION, '  … as the run reports it (bytesStored)', bytes(incStoredReported), `full ${bytes(fullStoredReported)}`, incStoredReported / Math.max(1, fullStoredReported), '', null);
    addRow(SECTION, '  … restic, the same loop again', mb(resticIncBytes), `its full ${mb(resticBytes)}`, resticIncBytes / resticBytes, '', null);
    addRow(SECTION, '  … incremental time vs the full (CLI)', secs(cliInc.seconds), `full ${secs(cliFull.seconds)}`, cliInc.seconds / cliFull.seconds, '', null);
    addRow(SECTION, '  … stored size of the full vs the pg_dump -Fc files / restic / borg', mb(cliFull.stored), `pg_dump ${mb(dumpBytes)} / ${mb(resticBytes)} / ${borgLoop ? mb(borgBytes) : '–'}`, cliFull.stored / dumpBytes, '', null);
    c.notes.push(
      `${SECTION}: one run each, load average ${load} at the end; ${label}, each database a separate repository folder at the destination (plus ~server/globals.sql). ` +
        `"On disk" is the destination folder's growth, manifests, packs and markers included. The CLI runs \`bin/backstop.mjs backup --config … --json\` (its data dir created by the full), encrypted with a key file; ` +
        `the in-process engine uses the same built workers. Restic and borg store every dump in one repository (\`pg_dump -Fc -Z0 | … --stdin\`), so they deduplicate across databases, which Backstop's per-database folders do not.`,
    );
  } finally {
    await pg.stop();
  }
}
