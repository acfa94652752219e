/**
 * Throughput benchmark of the repository write pipeline.
 *
 *   node --import tsx scripts/bench/pipeline.ts [--size-mb 500] [--workers 2] [--level 3]
 *                                                [--input name=/path/to/dump,…]
 *
 * --input adds, for each named file (a real dump: `npm run bench` passes the pg_dump -Fc -Z0
 * files of its PostgreSQL workloads), the single-thread zstd reference and the full
 * pipeline with the worker pool, reading the file in 64 KiB pieces as from a pipe (the
 * first pass also brings the file into the page cache). With BACKSTOP_WORKER_DIR set to
 * bundled worker entries (scripts/bench/build.ts) the workers start as in the shipped app.
 *
 * Generates SQL-dump-like, compressible data on the fly (never held in memory: 1 MiB
 * blocks assembled from a fixed table of pseudo-random rows) and prints MB/s (input bytes
 * per second) for: raw read of the generator, chunking only, chunk + hash, chunk + zstd
 * on one thread (the compression ceiling for this data), the full
 * pipeline inline and with the worker pool, into a discarding memory backend ("/dev/null")
 * and onto local disk, plus the peak RSS and peak ArrayBuffer memory (main thread) seen
 * during each case (RSS also counts garbage not yet collected and memory the allocator
 * keeps; run with `node --expose-gc` to start each case from a collected heap). Encrypted repository,
 * zstd at --level, default chunker (512 KiB/1 MiB/8 MiB) and 32 MiB packs.
 * "cpu N cores" = process CPU time (all threads) / wall time: on a 2-core machine a value
 * well below 2 for the pool cases means other processes took the CPU.
 * Each case runs --repeat times (default 3) and the fastest run is printed with the others
 * listed: on a shared machine the CPU's speed varies by tens of percent between runs.
 * Numbers only; nothing here is asserted.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBundles } from './build.ts';
import { BENCH_POINT } from './point-options.ts';
import { dumpStream } from './dump-like.ts';
import { createReadStream, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createHash, createHmac } from 'node:crypto';
import { DEFAULT_CDC, FastCdcChunker, chunkStream, initRepository } from '../../electron/engine/repository/index.ts';
import { LocalBackend, type Backend } from '../../electron/engine/storage/index.ts';
import { MemoryBackend } from '../../tests/fixtures/storage/memory-backend.ts';
import { generateKey } from '../../electron/engine/crypto/index.ts';
import { Compressor } from 'zstd-napi';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { createEncoderPool, EncoderWorkers } from '../../electron/engine/repository/encoder-pool.ts';
import { ENCRYPTION } from '../../electron/engine/repository/algorithms.ts';
import { parcelOf } from '../../electron/engine/repository/hand-over.ts';

const { values } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '500' },
    workers: { type: 'string', default: String(Math.min(4, availableParallelism())) },
    level: { type: 'string', default: '3' },
    /** Diagnostic (needs --expose-gc): force a GC this often, to tell live memory from garbage. */
    'gc-every-ms': { type: 'string', default: '0' },
    only: { type: 'string', default: '' },
    input: { type: 'string', default: '' },
    /** Runs per case; the best is reported (the machine's speed varies from run to run). */
    repeat: { type: 'string', default: '3' },
    /** Start the workers from the TypeScript sources (through tsx) instead of bundles. */
    'from-source': { type: 'boolean', default: false },
  },
});
const INPUTS = values.input
  .split(',')
  .filter(Boolean)
  .map((spec) => {
    const at = spec.indexOf('=');
    return at > 0 ? { name: spec.slice(0, at), path: spec.slice(at + 1) } : { name: basename(spec), path: spec };
  });
const SIZE = Number(values['size-mb']) * 1024 * 1024;
const WORKERS = Number(values.workers);
const LEVEL = Number(values.level);
const GC_EVERY = Number(values['gc-every-ms']);
const REPEAT = Math.max(1, Number(values.repeat) || 1);
if (GC_EVERY > 0 && global.gc) setInterval(() => global.gc?.(), GC_EVERY).unref();

interface Result {
  name: string;
  mbps: number;
  seconds: number;
  peakRssMb: number;
  peakBuffersMb: number;
  note: string;
}

async function measureOnce(fn: () => Promise<string | void>, bytes: number): Promise<Omit<Result, 'name'> & { cores: number }> {
  global.gc?.();
  let peak = process.memoryUsage.rss();
  let peakBuffers = process.memoryUsage().arrayBuffers;
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    peak = Math.max(peak, m.rss);
    peakBuffers = Math.max(peakBuffers, m.arrayBuffers);
  }, 20);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const note = (await fn()) ?? '';
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage.rss());
  return { mbps: bytes / 1e6 / seconds, seconds, cores: (cpu.user + cpu.system) / 1e6 / seconds, peakRssMb: peak / 1024 / 1024, peakBuffersMb: peakBuffers / 1024 / 1024, note };
}

/** Runs a case --repeat times and prints the fastest run (peak memory: the highest of all runs). */
async function measure(name: string, fn: () => Promise<string | void>, bytes = SIZE): Promise<Result | null> {
  if (values.only && !name.includes(values.only)) return null;
  const runs = [];
  for (let i = 0; i < REPEAT; i++) runs.push(await measureOnce(fn, bytes));
  return report(name, runs);
}

/**
 * Runs two cases alternately (a, b, a, b, …) --repeat times, prints each like `measure`
 * and then b's speed as a share of a's in each pair: the machine's speed drifts between
 * runs, so only runs taken side by side compare.
 */
async function measurePair(a: { name: string; fn: () => Promise<string | void> }, b: { name: string; fn: () => Promise<string | void> }, bytes: number, shareLabel: string): Promise<void> {
  if (values.only && !a.name.includes(values.only) && !b.name.includes(values.only)) return;
  type Run = Awaited<ReturnType<typeof measureOnce>>;
  const runsA: Run[] = [];
  const runsB: Run[] = [];
  for (let i = 0; i < REPEAT; i++) {
    runsA.push(await measureOnce(a.fn, bytes));
    runsB.push(await measureOnce(b.fn, bytes));
  }
  report(a.name, runsA);
  report(b.name, runsB);
  const shares = runsA.map((x, i) => (100 * runsB[i]!.mbps) / x.mbps);
  const sorted = [...shares].sort((x, y) => x - y);
  const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  console.log(`${shareLabel.padEnd(44)} median ${median.toFixed(0)}% [pairs: ${shares.map((x) => `${x.toFixed(0)}%`).join(', ')}]`);
}

function report(name: string, runs: Awaited<ReturnType<typeof measureOnce>>[]): Result {
  const best = runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const r = { name, ...best, peakRssMb: Math.max(...runs.map((x) => x.peakRssMb)), peakBuffersMb: Math.max(...runs.map((x) => x.peakBuffersMb)) };
  const all = runs.length > 1 ? ` [runs: ${runs.map((x) => x.mbps.toFixed(0)).join(', ')} MB/s]` : '';
  console.log(
    `${name.padEnd(44)} ${r.mbps.toFixed(0).padStart(6)} MB/s  ${r.seconds.toFixed(2).padStart(6)} s  cpu ${best.cores.toFixed(2)} cores  peak RSS ${r.peakRssMb.toFixed(0).padStart(5)} MB  peak buffers ${r.peakBuffersMb.toFixed(0).padStart(4)} MB  ${r.note}${all}`,
  );
  return r;
}

/** One full write of `source` (default: the generated dump) into a new encrypted repository. */
async function pipeline(backend: Backend, workers: number, encoderWorkers?: EncoderWorkers, source: () => AsyncIterable<Uint8Array> = () => dumpStream(SIZE), bytes = SIZE): Promise<string> {
  // One fixed level, as the ceiling uses: this measures the pipeline's own cost, not the adaptive level (index.ts does).
  const repo = await initRepository(backend, { key: generateKey(), workers, compressionLevel: LEVEL, minCompressionLevel: LEVEL, gcGraceMs: 0, encoderWorkers });
  const p = await repo.writePoint(source(), {
    ...BENCH_POINT,
    expectedSize: bytes,
    // File reads and generated blocks are fresh buffers, like the app's pipe reads.
    handsOverBuffers: true,
  });
  return `ratio ${(p.length / p.stats.bytesStored).toFixed(2)}×, ${p.chunkCount} chunks, ${p.stats.packsWritten} packs`;
}

/** Runs `fn` on a new repository folder on local disk, removed afterwards. */
async function onDisk<T>(fn: (backend: Backend) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'backstop-bench-'));
  try {
    return await fn(new LocalBackend(join(dir, 'repo')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** 64 KiB views of `bytes`, as a pipe would deliver them. */
async function* pieces(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += 64 * 1024) yield bytes.subarray(at, Math.min(bytes.length, at + 64 * 1024));
}

/**
 * The work every encrypted full backup has to do and nothing else, spread over this
 * thread and WORKERS threads as evenly as it can be: this thread chunks the stream (format
 * 2 hashes no whole stream: the sealed chunk ids pin it) while the workers id (HMAC-SHA-256), compress
 * (zstd) and seal (AES-256-GCM) the chunks, taking the next one as they finish one, all
 * read from one shared buffer cut beforehand (ceiling-worker.ts) — no per-chunk
 * messages, copies or stream plumbing.
 * Its speed is what the pipeline could reach on this machine if its own overhead were
 * zero. Runs alternately with the warm shared pool on the same bytes (measurePair).
 */
async function ceilingVersusPipeline(label: string, source: () => AsyncIterable<Uint8Array>, bytes: number, note: string): Promise<void> {
  const data = new SharedArrayBuffer(bytes);
  const view = new Uint8Array(data);
  let filled = 0;
  for await (const b of source()) {
    view.set(b, filled);
    filled += b.length;
  }
  const spans: number[] = [];
  let offset = 0;
  for await (const c of chunkStream(pieces(view), new FastCdcChunker(DEFAULT_CDC))) {
    spans.push(offset, c.length);
    offset += c.length;
  }
  const next = new Int32Array(new SharedArrayBuffer(4));
  const config = { encryption: ENCRYPTION.AES_256_GCM, dataKey: generateKey(), chunkIdKey: generateKey(), level: LEVEL };
  const workers = Array.from({ length: WORKERS }, () => new Worker(CEILING_WORKER, { workerData: { data, spans, next, config } }));
  const shared = new EncoderWorkers(WORKERS);
  try {
    await Promise.all(workers.map((w) => once(w, 'message')));
    await shared.session({ encryption: 0, dataKey: null, chunkIdKey: null, level: LEVEL }).encode(parcelOf(Buffer.from(new Uint8Array(64))));
    await measurePair(
      {
        name: `${label}ceiling: required work only, ${WORKERS}+1 threads`,
        fn: async () => {
          Atomics.store(next, 0, 0);
          const done = Promise.all(workers.map((w) => once(w, 'message') as Promise<[{ stored: number }]>));
          for (const w of workers) w.postMessage('go');
          for await (const _ of chunkStream(pieces(view), new FastCdcChunker(DEFAULT_CDC)));
          const stored = (await done).reduce((sum, [r]) => sum + r.stored, 0);
          return `${note}ratio ${(bytes / stored).toFixed(2)}×`;
        },
      },
      {
        name: `${label}full pipeline shared pool(${WORKERS}), warm → memory`,
        fn: async () => `${note}${await pipeline(new MemoryBackend('null', { discard: (k) => k.startsWith('packs/') }), WORKERS, shared, () => pieces(view), bytes)}`,
      },
      bytes,
      `${label}pipeline as a share of the ceiling`,
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
    await shared.close();
  }
}

let CEILING_WORKER = '';

async function main(): Promise<void> {
  // Its own folder: run from index.ts, removing the default one would take the bench's bundle with it.
  const built = await buildBundles(fileURLToPath(new URL('../..', import.meta.url)), 'pipeline-build');
  CEILING_WORKER = built.ceilingWorker;
  if (!process.env.BACKSTOP_WORKER_DIR && !values['from-source']) process.env.BACKSTOP_WORKER_DIR = built.workerDir;
  try {
    await cases();
  } finally {
    await rm(built.dir, { recursive: true, force: true });
  }
}

async function cases(): Promise<void> {
  console.log(`Backstop pipeline benchmark: ${(SIZE / 1024 / 1024).toFixed(0)} MiB dump-like input, zstd level ${LEVEL}, AES-256-GCM, pool ${WORKERS} worker(s), ${availableParallelism()} CPUs, Node ${process.versions.node}, best of ${REPEAT} runs per case`);
  await measure('raw read (generator only)', async () => {
    let n = 0;
    for await (const b of dumpStream(SIZE)) n += b.length;
    return `${n} bytes`;
  });
  await measure('chunk only (FastCDC)', async () => {
    let n = 0;
    for await (const _ of chunkStream(dumpStream(SIZE), new FastCdcChunker(DEFAULT_CDC))) n++;
    return `${n} chunks`;
  });
  await measure('chunk + SHA-256 stream + HMAC ids', async () => {
    const h = createHash('sha256');
    const key = generateKey();
    for await (const c of chunkStream(dumpStream(SIZE), new FastCdcChunker(DEFAULT_CDC))) {
      h.update(c);
      createHmac('sha256', key).update(c).digest();
    }
  });
  await measure(`reference: chunk + zstd L${LEVEL} only, 1 thread`, async () => {
    const c = new Compressor();
    c.setParameters({ compressionLevel: LEVEL });
    let out = 0;
    for await (const ch of chunkStream(dumpStream(SIZE), new FastCdcChunker(DEFAULT_CDC))) out += c.compress(ch).length;
    return `ratio ${(SIZE / out).toFixed(2)}× (the single-core ceiling of compression on this data)`;
  });
  {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const pool = createEncoderPool(WORKERS, { encryption: 1, dataKey: generateKey(), chunkIdKey: null, level: LEVEL });
    await Promise.all(Array.from({ length: WORKERS }, () => pool.encode(parcelOf(Buffer.from(new Uint8Array(64))))));
    await pool.close();
    const cpu = process.cpuUsage(cpu0);
    const how = process.env.BACKSTOP_WORKER_DIR ? 'bundled workers, as in the app' : 'from source via tsx, less in the built app';
    console.log(`pool(${WORKERS}) start + stop: ${(performance.now() - t0).toFixed(0)} ms wall, ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms CPU (included in each pool case below; ${how})`);
  }
  await measure('full pipeline inline → memory (discard)', () => pipeline(new MemoryBackend('null', { discard: (k) => k.startsWith('packs/') }), 0));
  await measure(`full pipeline pool(${WORKERS}) → memory (discard)`, () => pipeline(new MemoryBackend('null', { discard: (k) => k.startsWith('packs/') }), WORKERS));
  await ceilingVersusPipeline('', () => dumpStream(SIZE), SIZE, '');
  await measure('full pipeline inline → local disk', () => onDisk((backend) => pipeline(backend, 0)));
  await measure(`full pipeline pool(${WORKERS}) → local disk`, () => onDisk((backend) => pipeline(backend, WORKERS)));
  for (const input of INPUTS) {
    const bytes = statSync(input.path).size;
    const label = `${input.name} (${(bytes / 1e6).toFixed(0)} MB)`;
    const fromFile = () => createReadStream(input.path, { highWaterMark: 64 * 1024 });
    await measure(`${input.name}: reference: chunk + zstd L${LEVEL} only, 1 thread`, async () => {
      const c = new Compressor();
      c.setParameters({ compressionLevel: LEVEL });
      let out = 0;
      for await (const ch of chunkStream(createReadStream(input.path, { highWaterMark: 64 * 1024 }), new FastCdcChunker(DEFAULT_CDC))) out += c.compress(ch).length;
      return `${label}, ratio ${(bytes / out).toFixed(2)}×`;
    }, bytes);
    await measure(`${input.name}: full pipeline pool(${WORKERS}) → memory (discard)`, async () => `${label}, ${await pipeline(new MemoryBackend('null', { discard: (k) => k.startsWith('packs/') }), WORKERS, undefined, fromFile, bytes)}`, bytes);
    await ceilingVersusPipeline(`${input.name}: `, fromFile, bytes, `${label}, `);
    await measure(`${input.name}: full pipeline pool(${WORKERS}) → local disk`, async () => `${label}, ${await onDisk((backend) => pipeline(backend, WORKERS, undefined, fromFile, bytes))}`, bytes);
  }
  console.log(`process peak RSS (maxRSS): ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
}

await main();
