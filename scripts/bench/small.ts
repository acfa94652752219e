/**
 * `npm run bench -- --only small`: the small-database and delta rows of issue #21, side by
 * side with restic and borg where they store the same bytes:
 *
 * - the demo's shop.db (`backstop demo`'s sample, a SQLite snapshot): one new customer,
 *   incremental stored / its full (target ≤ 5%);
 * - Chinook on PostgreSQL (its `pg_dump -Fc -Z0` is smaller than one chunk and its header
 *   carries a timestamp): an incremental of the unchanged database / its full (≤ 1%);
 * - restore time of a point made of deltas (an incremental after a 1% scattered update of a
 *   dump-like stream) / the same bytes stored as a full (≤ 1.2×): `readPoint` to nowhere,
 *   wall best of N interleaved and CPU seconds of this process;
 * - an S3-only incremental (the S3 protocol server of tests/fixtures/s3rver.ts): bytes
 *   downloaded (counted at the backend: every GET, manifests included) / bytes saved (what a
 *   format-1 repository uploads for the same incremental minus what format 2 uploads),
 *   with the local chunk cache, with the cache cleared after the full, and without one
 *   (target < 1).
 * Sizes are repository growth on disk (Backstop, restic, borg). Nothing here is asserted.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from '../../electron/shared/domain.ts';
import { createSampleDatabases } from '../../electron/engine/demo/sample-databases.ts';
import { initRepository, LocalChunkCache, type Repository } from '../../electron/engine/repository/index.ts';
import { LocalBackend } from '../../electron/engine/storage/index.ts';
import { createS3Backend } from '../../electron/engine/storage/s3-backend.ts';
import { PG_BIN, startPostgres } from '../../tests/fixtures/servers/postgres.ts';
import { s3rverBackendOptions, startS3rver } from '../../tests/fixtures/s3rver.ts';
import { CountingBackend } from '../../tests/fixtures/storage/counting-backend.ts';
import { dumpLike, pieces, pointOpts } from '../../tests/unit/repository/helpers.ts';
import type { ChildJob, ChildResult } from './backstop-child.ts';

export interface SmallBenchContext {
  quick: boolean;
  repeat: number;
  key: string;
  workers: number;
  level: number;
  chinookSql: string;
  runChild: (job: ChildJob) => Promise<ChildResult>;
  sh: (cmd: string, env?: Record<string, string>) => Promise<{ seconds: number; stdout: string }>;
  duBytes: (dir: string) => number;
  peers: {
    init: (dir: string) => Promise<{ restic: string; borg: string }>;
    restic: (dump: string, repo: string) => string;
    borg: (dump: string, repo: string) => string;
    env: Record<string, string>;
  };
  addRow: (section: string, metric: string, ours: string, peer: string, ratio: number | null, target: string, met: boolean | null) => void;
  notes: string[];
  mb: (b: number) => string;
}

const SECTION = 'Small databases, delta chunks (#21)';
const kb = (b: number): string => `${(b / 1000).toFixed(1)} kB`;
const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;

/**
 * Full, change, incremental of one small database through Backstop (a child process, as the
 * other workloads) and through restic and borg fed `dumpCmd`; returns the growth of each.
 */
async function fullThenIncremental(
  c: SmallBenchContext,
  work: string,
  job: (repoDir: string, kind: 'full' | 'incremental') => ChildJob,
  dumpCmd: string,
  env: Record<string, string>,
  change: () => Promise<void>,
): Promise<{ ours: [number, number]; restic: [number, number]; borg: [number, number] }> {
  const repoDir = join(work, 'backstop');
  const peers = await c.peers.init(join(work, 'peers'));
  const penv = { ...env, ...c.peers.env };
  const growth = async (dir: string, run: () => Promise<unknown>): Promise<number> => {
    const before = c.duBytes(dir);
    await run();
    return c.duBytes(dir) - before;
  };
  const oursFull = await growth(repoDir, () => c.runChild(job(repoDir, 'full')));
  const resticFull = await growth(peers.restic, () => c.sh(c.peers.restic(dumpCmd, peers.restic), penv));
  const borgFull = await growth(peers.borg, () => c.sh(c.peers.borg(dumpCmd, peers.borg), penv));
  await change();
  let incKind = '';
  const oursInc = await growth(repoDir, async () => (incKind = (await c.runChild(job(repoDir, 'incremental'))).status));
  if (incKind !== 'success') throw new Error(`the incremental was not one: ${incKind}`);
  const resticInc = await growth(peers.restic, () => c.sh(c.peers.restic(dumpCmd, peers.restic), penv));
  const borgInc = await growth(peers.borg, () => c.sh(c.peers.borg(dumpCmd, peers.borg), penv));
  return { ours: [oursFull, oursInc], restic: [resticFull, resticInc], borg: [borgFull, borgInc] };
}

function smallRow(c: SmallBenchContext, metric: string, r: Awaited<ReturnType<typeof fullThenIncremental>>, max: number): void {
  const ratio = (x: [number, number]) => x[1] / x[0];
  c.addRow(
    SECTION,
    metric,
    `${kb(r.ours[1])} / ${kb(r.ours[0])} = ${pct(ratio(r.ours))}`,
    `restic ${pct(ratio(r.restic))} / borg ${pct(ratio(r.borg))}`,
    ratio(r.ours),
    `≤ ${pct(max).replace('.00', '')}`,
    ratio(r.ours) <= max,
  );
}

async function shopDb(c: SmallBenchContext, work: string): Promise<void> {
  console.log(`\n[${SECTION}] the demo's shop.db: one new customer`);
  const folder = join(work, 'demo');
  mkdirSync(folder, { recursive: true });
  createSampleDatabases(folder);
  const file = join(folder, 'shop.db');
  const now = new Date().toISOString();
  const server: Server = { id: 'bench-demo', name: 'demo', kind: 'sqlite', folder, createdAt: now, updatedAt: now };
  const r = await fullThenIncremental(
    c,
    join(work, 'shop'),
    (repoDir, kind) => ({ mode: 'backup', server, password: null, database: 'shop.db', backupType: 'snapshot', repoDir, keyBase64: c.key, kind, workers: c.workers, level: c.level }),
    `cat '${file}'`, // the peers store the file itself (nothing writes to it meanwhile)
    {},
    async () => void execFileSync('sqlite3', [file, "INSERT INTO customer (name, email, created_at) VALUES ('Ada Hopper', 'new.customer@example.com', '2026-12-05T00:00:00Z')"]),
  );
  smallRow(c, "one-row change in the demo's shop.db: incremental / its full", r, 0.05);
}

async function chinookPg(c: SmallBenchContext, work: string): Promise<void> {
  console.log(`\n[${SECTION}] Chinook on PostgreSQL: incremental of the unchanged database`);
  const pg = await startPostgres();
  try {
    pg.loadFile(c.chinookSql, 'postgres'); // creates "chinook" itself
    const now = new Date().toISOString();
    const server: Server = { id: 'bench-pg', name: 'bench', kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, tls: 'disable', passwordRef: null, createdAt: now, updatedAt: now };
    const r = await fullThenIncremental(
      c,
      join(work, 'chinook'),
      (repoDir, kind) => ({ mode: 'backup', server, password: pg.password, database: 'chinook', backupType: 'logical', repoDir, keyBase64: c.key, kind, workers: c.workers, level: c.level }),
      `${PG_BIN}/pg_dump -Fc -Z0 -h 127.0.0.1 -p ${pg.port} -U postgres -d chinook`,
      { PGPASSWORD: pg.password },
      () => new Promise((resolve) => setTimeout(resolve, 1100)), // nothing changes but the dump's timestamp (1 s resolution)
    );
    smallRow(c, 'unchanged Chinook (PostgreSQL): incremental / its full', r, 0.01);
  } finally {
    await pg.stop();
  }
}

/** A stream like `data` with one byte changed every `every` bytes (a scattered update). */
function scattered(data: Buffer, every: number): Buffer {
  const out = Buffer.from(data);
  for (let at = every >> 1; at < out.length; at += every) out[at] = out[at] === 0x37 ? 0x38 : 0x37;
  return out;
}

async function drain(repo: Repository, pointId: string): Promise<{ wall: number; cpu: number }> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for await (const _ of await repo.readPoint(pointId));
  const c1 = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / 1000, cpu: (c1.user + c1.system) / 1e6 };
}

async function deltaRestore(c: SmallBenchContext, work: string): Promise<void> {
  const size = (c.quick ? 16 : 64) * 1e6;
  console.log(`\n[${SECTION}] restore time of a point made of deltas (${c.mb(size)} dump-like stream, 1% scattered update)`);
  const key = Buffer.from(c.key, 'base64');
  const data = dumpLike(size, 21);
  const changed = scattered(data, 9973); // about one row in a hundred
  const opts = { key, workers: c.workers, compressionLevel: c.level };
  const deltas = await initRepository(new LocalBackend(join(work, 'restore-deltas')), opts);
  await deltas.writePoint(pieces(data, 1 << 20), pointOpts({ kind: 'full', expectedSize: size }));
  const inc = await deltas.writePoint(pieces(changed, 1 << 20), pointOpts({ kind: 'incremental', expectedSize: size }));
  const whole = await initRepository(new LocalBackend(join(work, 'restore-whole')), opts);
  const full = await whole.writePoint(pieces(changed, 1 << 20), pointOpts({ kind: 'full', expectedSize: size }));
  const runs = Math.max(5, c.repeat * 3);
  const best = { deltas: { wall: Infinity, cpu: Infinity }, whole: { wall: Infinity, cpu: Infinity } };
  for (let i = 0; i < runs; i++) {
    for (const [name, repo, id] of [['deltas', deltas, inc.id], ['whole', whole, full.id]] as const) {
      const t = await drain(repo, id);
      best[name] = { wall: Math.min(best[name].wall, t.wall), cpu: Math.min(best[name].cpu, t.cpu) };
    }
  }
  console.log(`  incremental: ${inc.stats.chunksDelta} of ${inc.chunkCount} chunks are deltas, ${c.mb(inc.stats.bytesStored)} stored`);
  const s = (x: number) => `${x.toFixed(3)} s`;
  c.addRow(SECTION, `restore (read) of a point of deltas / the same point without (wall, best of ${runs})`, s(best.deltas.wall), `without ${s(best.whole.wall)}`, best.deltas.wall / best.whole.wall, '≤ 1.2×', best.deltas.wall / best.whole.wall <= 1.2);
  c.addRow(SECTION, '  … CPU seconds of the read (best), information', s(best.deltas.cpu), `without ${s(best.whole.cpu)}`, best.deltas.cpu / best.whole.cpu, '', null);
}

async function s3Only(c: SmallBenchContext, work: string): Promise<void> {
  const size = (c.quick ? 8 : 32) * 1e6;
  console.log(`\n[${SECTION}] S3-only incremental (${c.mb(size)} dump-like stream, 1% scattered update), bytes downloaded / saved`);
  const key = Buffer.from(c.key, 'base64');
  const data = dumpLike(size, 23);
  const changed = scattered(data, 9973);
  const s3 = await startS3rver(['bench']);
  let seq = 0;
  try {
    type Case = 'format 1' | 'cache' | 'cache cleared' | 'no cache';
    const run = async (which: Case) => {
      const counting = new CountingBackend(createS3Backend(s3rverBackendOptions(s3, { bucket: 'bench', prefix: `r${seq++}` })));
      const cacheDir = join(work, `chunk-cache-${seq}`);
      const cache = which === 'cache' || which === 'cache cleared' ? new LocalChunkCache(cacheDir) : null;
      const repo = await initRepository(counting, { key, workers: c.workers, compressionLevel: c.level, formatVersion: which === 'format 1' ? 1 : 2, upgradeFormat: which !== 'format 1', chunkCache: cache });
      await repo.writePoint(pieces(data, 1 << 20), pointOpts({ kind: 'full', expectedSize: size }));
      if (which === 'cache cleared') rmSync(cacheDir, { recursive: true, force: true });
      counting.reset();
      const inc = await repo.writePoint(pieces(changed, 1 << 20), pointOpts({ kind: 'incremental', expectedSize: size }));
      rmSync(cacheDir, { recursive: true, force: true });
      return { downloaded: counting.downloaded, uploaded: counting.uploaded, bases: inc.stats.bytesBaseRead ?? 0, deltas: inc.stats.chunksDelta ?? 0 };
    };
    const v1 = await run('format 1');
    for (const which of ['cache', 'cache cleared', 'no cache'] as const) {
      const r = await run(which);
      const saved = v1.uploaded - r.uploaded;
      console.log(`  ${which}: ${r.deltas} deltas, uploaded ${c.mb(r.uploaded)} (format 1 ${c.mb(v1.uploaded)}), downloaded ${c.mb(r.downloaded)} (bases ${c.mb(r.bases)})`);
      c.addRow(
        SECTION,
        `S3-only incremental, ${which === 'cache' ? 'with the local chunk cache' : which === 'no cache' ? 'without a chunk cache' : 'chunk cache cleared after the full'}: downloaded / saved`,
        c.mb(r.downloaded),
        `saved ${c.mb(saved)} (format 1 uploads ${c.mb(v1.uploaded)})`,
        r.downloaded / saved,
        '< 1',
        r.downloaded < saved,
      );
    }
  } finally {
    await s3.stop();
  }
}

export async function benchSmall(c: SmallBenchContext, work: string): Promise<void> {
  const dir = join(work, 'small');
  mkdirSync(dir, { recursive: true });
  try {
    await shopDb(c, dir);
    await chinookPg(c, dir);
    await deltaRestore(c, dir);
    await s3Only(c, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
