/**
 * Worker entry "chunk-encoder": ids, compresses and seals chunks for the repository write
 * pipeline (engine/repository/encoder-pool.ts). Started only through
 * workerEntry('chunk-encoder'). Messages are processed in order: a session's `config`
 * arrives before its `encode`s; `drop` forgets the session (and its keys). Each `encode`
 * and `against` is answered with exactly one response carrying its seq; stored bytes (and
 * a raw chunk kept for delta coding) are transferred.
 */
import { parentPort } from 'node:worker_threads';
import { lowerThisThreadPriority } from '../engine/runtime/background-priority.ts';
import { ChunkIntake } from '../engine/repository/chunk-codec.ts';
import type { EncodeResponse, EncoderRequest } from '../engine/repository/encoder-pool.ts';
import { coversWholeBuffer } from '../engine/repository/hand-over.ts';

lowerThisThreadPriority();
const port = parentPort;
if (!port) throw new Error('chunk-encoder must run as a worker thread');
const sessions = new Map<number, ChunkIntake>();

// A request that cannot be read has no seq to answer: fail the whole worker (the pool
// then rejects every pending chunk with WORKER_CRASHED) rather than leave one unanswered.
port.on('messageerror', (e) => {
  throw e;
});
port.on('message', (req: EncoderRequest) => {
  if (req.type === 'config') {
    // A bad config makes this worker fail loudly (the pool reports WORKER_CRASHED).
    sessions.set(req.session, new ChunkIntake(req.config, req.known));
    return;
  }
  if (req.type === 'drop') {
    sessions.delete(req.session);
    return;
  }
  let res: EncodeResponse;
  try {
    const intake = sessions.get(req.session);
    if (!intake) throw new Error(`no encoder for session ${req.session}`);
    const { id, stored, raw, delta, sketch } = req.type === 'encode' ? intake.encodePieces(req.pieces, req.keepRaw, req.level) : intake.encodeAgainst(req.id, req.raw, req.base);
    // The id is copied so the message never clones a larger (pooled) buffer behind it.
    res = { seq: req.seq, id: new Uint8Array(id), stored, raw: raw ?? null, delta: delta === true, ...(sketch !== undefined ? { sketch } : {}) };
    const transfer: ArrayBuffer[] = [];
    for (const b of [stored, raw]) if (b && coversWholeBuffer(b)) transfer.push(b.buffer);
    port.postMessage(res, transfer);
  } catch (e) {
    res = { seq: req.seq, error: e instanceof Error ? e.message : String(e) };
    port.postMessage(res);
  }
});
