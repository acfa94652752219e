/**
 * zstd-napi at worker and process shutdown (issue #18 item 9). Its contexts are
 * node-addon-api ObjectWraps whose finalizers run when a worker is terminated or the
 * process exits; with node-addon-api 7 a failing N-API call in that finalizer path throws
 * a C++ exception out of it and aborts the whole process ("terminate called after throwing
 * an instance of 'Napi::Error'"). package.json overrides zstd-napi's node-addon-api to 8
 * (whose ObjectWrap no longer touches the JS object while it is finalized): the first check
 * fails if that override is lost. The others drive the shutdown paths the encoder pool and
 * the CLI go through (worker.terminate mid-stream, process.exit and a natural exit with live
 * workers and contexts) and require a clean exit; the abort was seen once in CI and not
 * reproduced by them with node-addon-api 7 either, so they guard the path, not the cause.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const zstdDir = dirname(require.resolve('zstd-napi/package.json'));

/** A child process: `workers` threads compress with fresh and kept contexts, then end as `how` says. */
const CHILD = String.raw`
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const zstd = require(process.env.ZSTD_DIR);
const { CCtx, DCtx, compressBound } = require(process.env.ZSTD_DIR + '/binding.js');
const src = Buffer.alloc(1 << 17);
for (let i = 0; i < src.length; i++) src[i] = (i * 7 + (i >> 9)) & 0xff;
const dst = Buffer.allocUnsafe(compressBound(src.length));
const keep = [];
function step(n) {
  const c = new CCtx();
  c.compress(dst, src.subarray(0, 8192 + (n % 7) * 4096), 3);
  const s = new zstd.Compressor();
  s.setParameters({ compressionLevel: 3 });
  zstd.decompress(s.compress(src.subarray(0, 4096)));
  if (n % 4 === 0) keep.push(c, s, new zstd.Decompressor(), new DCtx());
}
if (!isMainThread) {
  for (let n = 0; n < 40; n++) step(n);
  parentPort.postMessage('ready');
  // Busy until terminated or the process exits: contexts are created mid-stream.
  if (workerData.busy) for (let n = 0; ; n++) step(n);
  parentPort.on('message', () => { for (let n = 0; n < 10; n++) step(n); });
} else {
  const how = process.argv[1];
  for (let n = 0; n < 40; n++) step(n);
  const workers = [0, 1, 2].map((i) => new Worker(process.env.CHILD_CODE, { eval: true, workerData: { busy: i !== 0 } }));
  let ready = 0;
  for (const w of workers) w.on('message', () => {
    if (++ready < workers.length) return;
    workers[0].postMessage('go');
    if (how === 'terminate') Promise.all(workers.map((x) => x.terminate())).then(() => { for (let n = 0; n < 40; n++) step(n); });
    else if (how === 'exit') setTimeout(() => process.exit(0), 5);
    else if (how === 'exitCode') { process.exitCode = 0; workers[1].terminate(); workers[2].terminate(); workers[0].unref(); }
  });
}
`;

function runChild(how: string): { status: number | null; signal: string | null; stderr: string } {
  const r = spawnSync(process.execPath, ['-e', CHILD, how], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ZSTD_DIR: zstdDir, CHILD_CODE: CHILD } });
  return { status: r.status, signal: r.signal, stderr: r.stderr };
}

describe('zstd-napi at shutdown', () => {
  it('is built against node-addon-api 8 or later (whose ObjectWrap finalizer cannot throw out of the finalizer)', () => {
    const api = JSON.parse(readFileSync(require.resolve('node-addon-api/package.json', { paths: [zstdDir] }), 'utf8')) as { version: string };
    expect(Number(api.version.split('.')[0])).toBeGreaterThanOrEqual(8);
  });

  it.each(['terminate', 'exit', 'exitCode'])('workers with live compressors, ended by %s, never abort the process', (how) => {
    for (let round = 0; round < 3; round++) {
      const r = runChild(how);
      expect({ round, ...r }).toEqual({ round, status: 0, signal: null, stderr: '' });
    }
  }, 90_000);
});
