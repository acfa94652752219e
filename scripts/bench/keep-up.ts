/**
 * Does a full backup keep up with the dump? (issue #21 item 5) Side by side on the same
 * bytes, interleaved run by run, three writers of one encrypted full into a local folder:
 *
 *   before    format 1: SHA-256 of the whole stream + keyed chunk ids, one fixed zstd level
 *   hash once format 2: keyed chunk ids only, the same fixed level
 *   now       format 2 with the adaptive level (down to 1 while the encoders lag)
 *
 * each fed by a source paced like a dump tool (`--rate` MB/s, default the pace of
 * `pg_dump -Fc -Z0` of the mixed database here; a source that is behind yields at once,
 * as a dump blocked on a full pipe would) and by an unpaced one (from memory). Reports,
 * per writer, the median wall time against the source's own time (size / rate: the "full
 * backup / dump tool alone" ratio without the dump tool's CPU), the median CPU seconds of
 * the process (all threads: less sensitive to a loaded machine than wall time), the
 * stored size and the raw bytes per zstd level.
 *
 *   node --import tsx scripts/bench/keep-up.ts [--size-mb 256] [--rate 85] [--workers 2] [--level 3] [--repeat 3]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildBundles } from './build.ts';
import { BENCH_POINT } from './point-options.ts';
import { dumpStream } from './dump-like.ts';
import { initRepository, type PointSummary } from '../../electron/engine/repository/index.ts';
import { LocalBackend } from '../../electron/engine/storage/index.ts';
import { generateKey } from '../../electron/engine/crypto/index.ts';

const { values } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '256' },
    rate: { type: 'string', default: '85' },
    workers: { type: 'string', default: '2' },
    level: { type: 'string', default: '3' },
    repeat: { type: 'string', default: '3' },
  },
});
const SIZE = Number(values['size-mb']) * 1024 * 1024;
const RATE = Number(values.rate) * 1e6;
const WORKERS = Number(values.workers);
const LEVEL = Number(values.level);
const REPEAT = Math.max(1, Number(values.repeat));

interface Writer {
  name: string;
  formatVersion: number;
  minLevel: number;
}
const WRITERS: Writer[] = [
  { name: 'before (format 1, fixed level)', formatVersion: 1, minLevel: LEVEL },
  { name: 'hash once (format 2, fixed level)', formatVersion: 2, minLevel: LEVEL },
  { name: 'now (format 2, adaptive level)', formatVersion: 2, minLevel: Math.min(1, LEVEL) },
];

/** The input once, in 64 KiB pieces (a pipe's reads), copied fresh per run (handsOverBuffers moves them). */
async function input(): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of dumpStream(SIZE)) parts.push(b);
  return Buffer.concat(parts);
}

async function* source(data: Buffer, rate: number | null): AsyncGenerator<Buffer> {
  const t0 = performance.now();
  for (let at = 0; at < data.length; at += 64 * 1024) {
    const piece = Buffer.from(data.subarray(at, Math.min(data.length, at + 64 * 1024)));
    if (rate !== null) {
      const due = (at / rate) * 1000 - (performance.now() - t0);
      if (due > 1) await sleep(due);
    }
    yield piece;
  }
}

interface Run {
  seconds: number;
  cpuSeconds: number;
  stored: number;
  point: PointSummary;
}

async function once(w: Writer, data: Buffer, rate: number | null): Promise<Run> {
  const dir = await mkdtemp(join(tmpdir(), 'backstop-keepup-'));
  try {
    const repo = await initRepository(new LocalBackend(dir), { key: generateKey(), formatVersion: w.formatVersion, upgradeFormat: w.formatVersion >= 2, workers: WORKERS, compressionLevel: LEVEL, minCompressionLevel: w.minLevel, gcGraceMs: 0 });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const point = await repo.writePoint(source(data, rate), { ...BENCH_POINT, expectedSize: data.length, handsOverBuffers: true });
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, stored: point.stats.bytesStored, point };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const built = await buildBundles(fileURLToPath(new URL('../..', import.meta.url)), 'keep-up-build');
  process.env.BACKSTOP_WORKER_DIR ??= built.workerDir;
  try {
    const data = await input();
    const sourceSeconds = data.length / RATE;
    console.log(`keep-up: ${(data.length / 1e6).toFixed(0)} MB dump-like input, zstd ${LEVEL} + AES, ${WORKERS} workers, ${availableParallelism()} CPUs, Node ${process.versions.node}, ${REPEAT} interleaved runs, load ${loadavg().map((x) => x.toFixed(2)).join(' / ')}`);
    for (const rate of [RATE, null]) {
      const runs = new Map<string, Run[]>(WRITERS.map((w) => [w.name, []]));
      for (let i = 0; i < REPEAT; i++) for (const w of WRITERS) runs.get(w.name)!.push(await once(w, data, rate));
      const label = rate === null ? 'unpaced (from memory)' : `paced at ${(rate / 1e6).toFixed(0)} MB/s (source alone ${sourceSeconds.toFixed(2)} s)`;
      console.log(`\n${label}`);
      for (const w of WRITERS) {
        const r = runs.get(w.name)!;
        const seconds = median(r.map((x) => x.seconds));
        const cpu = median(r.map((x) => x.cpuSeconds));
        const levels = r.at(-1)!.point.stats.bytesNewByLevel ?? {};
        const all = Object.values(levels).reduce((a, b) => a + b, 0);
        const mix = Object.entries(levels).map(([l, n]) => `L${l} ${((n / all) * 100).toFixed(0)}%`).join(' ');
        const vsSource = rate === null ? `${(data.length / 1e6 / seconds).toFixed(0)} MB/s` : `${(seconds / sourceSeconds).toFixed(2)}× the source`;
        console.log(
          `  ${w.name.padEnd(36)} ${seconds.toFixed(2).padStart(6)} s  ${vsSource.padEnd(18)} cpu ${cpu.toFixed(2).padStart(6)} s  stored ${(median(r.map((x) => x.stored)) / 1e6).toFixed(1)} MB  ${mix}  [runs: ${r.map((x) => x.seconds.toFixed(2)).join(', ')} s]`,
        );
      }
    }
    console.log(`\nload at end ${loadavg().map((x) => x.toFixed(2)).join(' / ')}`);
  } finally {
    await rm(built.dir, { recursive: true, force: true });
  }
}

await main();
