/**
 * Where the CPU of one backup write goes, thread by thread (Linux: /proc/self/task).
 *
 *   node --import tsx scripts/bench/thread-cpu.ts <dump file> [--runs 6]
 *
 * Streams the file through `cat` and `streamTool` (as the app reads pg_dump) into
 * `writePoint` of an encrypted repository on a discarding memory backend, with two warm
 * bundled encoder workers, and prints for each run the MB/s and the CPU milliseconds per MB
 * of the job thread (this one), the encoder workers, and every other thread of the process
 * (V8's GC helpers, libuv's pool). Each run writes twice, alternately: with the writer
 * copying every chunk, and taking the pipe's buffers over (`handsOverBuffers`), because
 * this machine's speed drifts between runs; the medians close the output. Numbers only;
 * nothing here is asserted.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateKey } from '../../electron/engine/crypto/index.ts';
import { EncoderWorkers } from '../../electron/engine/repository/encoder-pool.ts';
import { initRepository } from '../../electron/engine/repository/index.ts';
import { streamTool } from '../../electron/engine/servers/child-process.ts';
import { MemoryBackend } from '../../tests/fixtures/storage/memory-backend.ts';
import { BackstopError } from '../../electron/shared/result.ts';
import { buildBundles } from './build.ts';
import { BENCH_POINT } from './point-options.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { runs: { type: 'string', default: '6' } },
});
const file = positionals[0];
if (!file) {
  console.error('usage: thread-cpu.ts <dump file> [--runs N]');
  process.exit(2);
}
const bytes = statSync(file).size;
const TICK_MS = 1000 / 100; // /proc reports clock ticks (USER_HZ = 100 on Linux)

/** CPU milliseconds (user + system) of every thread of this process, by thread id. */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, (Number(fields[11]) + Number(fields[12])) * TICK_MS);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

const built = await buildBundles(fileURLToPath(new URL('../..', import.meta.url)));
process.env.BACKSTOP_WORKER_DIR = built.workerDir;
await stat(file); // starts libuv's thread pool, so the threads that appear next are the workers'
const before = new Set(threadCpu().keys());
const workers = new EncoderWorkers(2);
await workers.session({ encryption: 0, dataKey: null, chunkIdKey: null, level: 3 }).encode({ pieces: [new Uint8Array(64)], transfer: [] });
const encoderTids = [...threadCpu().keys()].filter((t) => !before.has(t));
const mainTid = String(process.pid);

interface Sample {
  mbps: number;
  job: number;
  encoders: number;
  others: number;
}

async function once(handOver: boolean): Promise<Sample> {
  const repo = await initRepository(new MemoryBackend('null', { discard: (k) => k.startsWith('packs/') }), { key: generateKey(), workers: 2, gcGraceMs: 0, encoderWorkers: workers });
  const { stream } = streamTool({ path: '/bin/cat', args: [file!] }, { classify: (f) => new BackstopError('DUMP_FAILED', `cat failed: ${f.stderr}`) });
  const a = threadCpu();
  const t0 = performance.now();
  const point = await repo.writePoint(stream, { ...BENCH_POINT, handsOverBuffers: handOver });
  const seconds = (performance.now() - t0) / 1000;
  const b = threadCpu();
  const mb = point.length / 1e6;
  const used = (tid: string) => (b.get(tid) ?? 0) - (a.get(tid) ?? 0);
  const sum = (tids: string[]) => tids.reduce((s, t) => s + used(t), 0) / mb;
  const others = [...b.keys()].filter((t) => t !== mainTid && !encoderTids.includes(t));
  return { mbps: mb / seconds, job: sum([mainTid]), encoders: sum(encoderTids), others: sum(others) };
}

const line = (label: string, x: Sample) =>
  `  ${label.padEnd(26)} ${x.mbps.toFixed(0).padStart(4)} MB/s   job thread ${x.job.toFixed(2)}   encoder workers ${x.encoders.toFixed(2)}   other threads ${x.others.toFixed(2)}`;
const median = (xs: number[]) => {
  const s = [...xs].sort((p, q) => p - q);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const runs = { copied: [] as Sample[], handed: [] as Sample[] };
console.log(`${file}: ${(bytes / 1e6).toFixed(0)} MB through a pipe; CPU ms per MB`);
for (let run = 0; run < Number(values.runs); run++) {
  const copied = await once(false);
  const handed = await once(true);
  runs.copied.push(copied);
  runs.handed.push(handed);
  console.log(line('chunks copied', copied));
  console.log(line('pipe buffers handed over', handed));
}
for (const [label, xs] of [['median, chunks copied', runs.copied], ['median, handed over', runs.handed]] as const) {
  console.log(line(label, { mbps: median(xs.map((x) => x.mbps)), job: median(xs.map((x) => x.job)), encoders: median(xs.map((x) => x.encoders)), others: median(xs.map((x) => x.others)) }));
}
await workers.close();
