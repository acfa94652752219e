/**
 * Worker entry "chunk-encoder": compresses and seals chunks for the repository write
 * pipeline (engine/repository/encoder-pool.ts). Started only through
 * workerEntry('chunk-encoder'). Messages are processed in order: a session's `config`
 * arrives before its `encode`s; `drop` forgets the session (and its key). Each `encode`
 * is answered with exactly one response carrying its seq; stored bytes are transferred.
 */
import { parentPort } from 'node:worker_threads';
import { lowerThisThreadPriority } from '../engine/runtime/background-priority.ts';
import { ChunkEncoder } from '../engine/repository/chunk-codec.ts';
import type { EncodeResponse, EncoderRequest } from '../engine/repository/encoder-pool.ts';

lowerThisThreadPriority();
const port = parentPort;
if (!port) throw new Error('chunk-encoder must run as a worker thread');
const encoders = new Map<number, ChunkEncoder>();

port.on('message', (req: EncoderRequest) => {
  if (req.type === 'config') {
    // A bad config makes this worker fail loudly (the pool reports WORKER_CRASHED).
    encoders.set(req.session, new ChunkEncoder(req.config));
    return;
  }
  if (req.type === 'drop') {
    encoders.delete(req.session);
    return;
  }
  let res: EncodeResponse;
  try {
    const encoder = encoders.get(req.session);
    if (!encoder) throw new Error(`no encoder for session ${req.session}`);
    const stored = encoder.encode(req.id, req.raw);
    res = { seq: req.seq, stored };
    port.postMessage(res, stored.byteOffset === 0 && stored.buffer.byteLength === stored.length ? [stored.buffer as ArrayBuffer] : []);
  } catch (e) {
    res = { seq: req.seq, error: e instanceof Error ? e.message : String(e) };
    port.postMessage(res);
  }
});
