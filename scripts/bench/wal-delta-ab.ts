/**
 * `node --import tsx scripts/bench/wal-delta-ab.ts <repository> [point index]`: the write of one
 * WAL point (read back from a snapshot task's `~server/base.tar` repository, e.g. one kept by
 * `npm run bench -- --only wal --keep-temp`) as a new incremental on top of the points before
 * it, with delta tries (the writer's default) and with `deltaBases: false` (what WAL points
 * use), interleaved three times each; prints time, stored bytes, delta chunks and base bytes
 * read. An A/B of one option on a loaded machine: compare the ratio, not the seconds.
 * `FIXED=1`: the B side also cuts fixed 1 MiB blocks instead of content-defined chunks.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir, loadavg } from 'node:os';
import { openRepository } from '../../electron/engine/repository/index.ts';
import { LocalBackend } from '../../electron/engine/storage/index.ts';
const src = process.argv[2]!;
const which = Number(process.argv[3] ?? 2);
const repo0 = await openRepository(new LocalBackend(src));
const pts = await repo0.listPoints();
const chunks: Buffer[] = [];
for await (const c of await repo0.readPoint(pts[which]!.id)) chunks.push(Buffer.from(c));
const data = Buffer.concat(chunks);
console.log(`WAL point ${which}: ${(data.length / 1e6).toFixed(1)} MB; load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
// A base repository with the points up to (not with) this one: the WAL is new to it.
const baseDir = mkdtempSync(join(tmpdir(), 'wal19-base-'));
cpSync(src, baseDir, { recursive: true });
{
  const r = await openRepository(new LocalBackend(baseDir));
  await r.deletePoints(pts.slice(which).map((p) => p.id));
  await r.collectGarbage();
}
const res: Record<string, number[]> = { on: [], off: [] };
for (let r = 0; r < 3; r++) {
  for (const mode of ['on', 'off'] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'wal19-ab-'));
    cpSync(baseDir, dir, { recursive: true });
    const repo = await openRepository(new LocalBackend(dir), { workers: 2 });
    const t0 = performance.now();
    const p = await repo.writePoint((async function* () { for (let i = 0; i < data.length; i += 1 << 20) yield data.subarray(i, i + (1 << 20)); })(), {
      database: 'base.tar', serverIdentity: 'x', engineVersion: 'x', dumpToolVersion: 'x', kind: 'incremental', backupType: 'snapshot', meta: { format: 'pg-wal-tar' },
      ...(mode === 'off' ? { deltaBases: false, ...(process.env.FIXED ? { chunking: { kind: 'fixed' as const, size: 1 << 20 } } : {}) } : {}),
    });
    const s = (performance.now() - t0) / 1000;
    res[mode]!.push(s);
    console.log(`  deltas ${mode}: ${s.toFixed(2)} s, stored ${(p.stats.bytesStored / 1e6).toFixed(2)} MB, chunksDelta ${p.stats.chunksDelta}, baseRead ${((p.stats.bytesBaseRead ?? 0) / 1e6).toFixed(1)} MB`);
    rmSync(dir, { recursive: true, force: true });
  }
}
const best = (a: number[]) => Math.min(...a);
console.log(`best: on ${best(res.on!).toFixed(2)} s, off ${best(res.off!).toFixed(2)} s, ratio off/on ${(best(res.off!) / best(res.on!)).toFixed(2)}; load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
