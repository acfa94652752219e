/**
 * Bench worker for pipeline.ts's "ceiling" case: runs ChunkIntake (chunk id + zstd +
 * seal, exactly the pipeline workers' per-chunk step) over pre-cut chunks that are views
 * into one SharedArrayBuffer, so the measured work has no per-chunk messages, copies or
 * allocations but the sealed output. The workers share the chunks dynamically: each takes
 * the next chunk number from an atomic counter, so none idles while another has a backlog.
 * Protocol: workerData carries the buffer, the chunk spans ([offset, length] pairs), the
 * counter (Int32Array over shared memory; the main thread resets it before each round)
 * and the codec config; the worker answers 'ready', then for every message it receives
 * takes chunks until none are left and answers { stored } (its sealed bytes).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ChunkIntake, sortedIds, type ChunkCodecConfig } from '../../electron/engine/repository/chunk-codec.ts';
import { lowerThisThreadPriority } from '../../electron/engine/runtime/background-priority.ts';

interface CeilingJob {
  data: SharedArrayBuffer;
  spans: number[];
  next: Int32Array;
  config: ChunkCodecConfig;
}

const port = parentPort;
if (!port) throw new Error('ceiling-worker must run as a worker thread');
const job = workerData as CeilingJob;
lowerThisThreadPriority(); // as the app's encoder workers do
const intake = new ChunkIntake(job.config, sortedIds([]));
const bytes = new Uint8Array(job.data);
port.on('message', () => {
  let stored = 0;
  for (;;) {
    const i = 2 * Atomics.add(job.next, 0, 1);
    if (i + 1 >= job.spans.length) break;
    const at = job.spans[i]!;
    stored += intake.encode(bytes.subarray(at, at + job.spans[i + 1]!)).stored?.length ?? 0;
  }
  port.postMessage({ stored });
});
port.postMessage('ready');
