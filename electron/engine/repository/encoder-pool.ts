/**
 * Parallel chunk intake (chunk id + compress + seal) for the write pipeline.
 *
 * `EncoderWorkers(size)` is a set of worker_threads running electron/worker/chunk-encoder.ts
 * (started only through startWorker), started on first use. It can be shared by many
 * writes and repositories at once (a server-wide backup): each write opens a *session*
 * with its own codec config and the ids its chain already stores (keys travel to the
 * workers in the session's first message and are dropped when the session closes).
 * `close()` on the set terminates the workers. `createEncoderPool(size, config, known)` is
 * the one-write form: size 0 works inline on the calling thread (small writes, tests);
 * size ≥ 1 starts private workers that the session's close terminates.
 *
 * Contract: `encode(parcel)` resolves with exactly what ChunkIntake.encode returns for the
 * parcel's bytes (the id, and the stored bytes unless the id is known; compressed at `level`
 * when given, else at the session config's level); the caller keeps
 * stream order by awaiting in submission order. With workers, the parcel's `transfer`
 * buffers are moved (detached for the caller; hand-over.ts builds parcels); inline, the
 * pieces are read before `encode` returns. `encode(parcel, true)` returns a new chunk raw
 * instead of encoding it; `encodeAgainst(id, raw, base)` then stores it, as a delta against
 * `base` when that pays (ChunkIntake.encodeAgainst; `raw` is moved to the worker, the
 * base copied). If a worker dies, every pending call rejects with
 * WORKER_CRASHED, the open sessions stay failed, and the set restarts its workers for
 * sessions opened later.
 */
import type { Worker } from 'node:worker_threads';
import { BackstopError } from '../../shared/result.ts';
import { startWorker } from '../runtime/worker-entry.ts';
import { ChunkIntake, sortedIds, type ChunkCodecConfig, type DeltaBase, type EncodedChunk } from './chunk-codec.ts';
import { coversWholeBuffer, type ChunkParcel } from './hand-over.ts';

function view(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.length);
}

export interface EncoderPool {
  readonly size: number;
  encode(parcel: ChunkParcel, keepRaw?: boolean, level?: number): Promise<EncodedChunk>;
  encodeAgainst(id: Buffer, raw: Buffer, base: DeltaBase | null): Promise<EncodedChunk>;
  close(): Promise<void>;
}

/** Messages to the chunk-encoder worker. `known` is a sortedIds list. */
export type EncoderRequest =
  | { type: 'config'; session: number; config: ChunkCodecConfig; known: Uint8Array }
  | { type: 'drop'; session: number }
  | { type: 'encode'; session: number; seq: number; pieces: Uint8Array[]; keepRaw: boolean; level?: number }
  | { type: 'against'; session: number; seq: number; id: Uint8Array; raw: Uint8Array; base: DeltaBase | null };
export type EncodeResponse = { seq: number; id: Uint8Array; stored: Uint8Array | null; raw: Uint8Array | null; delta: boolean; sketch?: Uint32Array | null } | { seq: number; error: string };

export const CHUNK_ENCODER_WORKER = 'chunk-encoder';

class InlinePool implements EncoderPool {
  readonly size = 0;
  private readonly intake: ChunkIntake;
  constructor(config: ChunkCodecConfig, known: Iterable<Uint8Array>) {
    this.intake = new ChunkIntake(config, sortedIds(known));
  }
  encode(parcel: ChunkParcel, keepRaw = false, level?: number): Promise<EncodedChunk> {
    try {
      return Promise.resolve(this.intake.encodePieces(parcel.pieces, keepRaw, level));
    } catch (e) {
      return Promise.reject(e);
    }
  }
  encodeAgainst(id: Buffer, raw: Buffer, base: DeltaBase | null): Promise<EncodedChunk> {
    try {
      return Promise.resolve(this.intake.encodeAgainst(id, raw, base));
    } catch (e) {
      return Promise.reject(e);
    }
  }
  async close(): Promise<void> {}
}

interface Pending {
  resolve: (c: EncodedChunk) => void;
  reject: (e: unknown) => void;
  worker: number;
}

interface Generation {
  workers: Worker[];
  load: number[];
  failure: BackstopError | null;
}

export class EncoderWorkers {
  private gen: Generation | null = null;
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  private sessions = 0;
  private closed = false;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError('EncoderWorkers needs at least one worker');
  }

  private start(): Generation {
    if (this.gen && !this.gen.failure) return this.gen;
    const gen: Generation = { workers: [], load: [], failure: null };
    for (let i = 0; i < this.size; i++) {
      const w = startWorker(CHUNK_ENCODER_WORKER, {});
      w.on('message', (m: EncodeResponse) => this.onMessage(gen, i, m));
      w.on('error', (e) => this.crash(gen, e));
      w.on('exit', (code) => this.crash(gen, new Error(`exited with code ${code}`)));
      w.unref(); // idle workers never keep the process alive; `track` refs them while busy
      gen.workers.push(w);
      gen.load.push(0);
    }
    this.gen = gen;
    return gen;
  }

  /** Keeps the event loop alive exactly while requests are pending. */
  private track(gen: Generation, added: boolean): void {
    if (added && this.pending.size === 1) for (const w of gen.workers) w.ref();
    if (!added && this.pending.size === 0) for (const w of gen.workers) w.unref();
  }

  private onMessage(gen: Generation, worker: number, m: EncodeResponse): void {
    const p = this.pending.get(m.seq);
    if (!p) return;
    this.pending.delete(m.seq);
    this.track(gen, false);
    gen.load[worker]!--;
    if ('error' in m) p.reject(new BackstopError('INTERNAL', `chunk encoding failed in a worker: ${m.error}`));
    else {
      const chunk: EncodedChunk = { id: view(m.id), stored: m.stored && view(m.stored), delta: m.delta };
      if (m.raw) chunk.raw = view(m.raw);
      if (m.sketch !== undefined) chunk.sketch = m.sketch;
      p.resolve(chunk);
    }
  }

  private crash(gen: Generation, e: unknown): void {
    if (this.closed || gen.failure) return;
    gen.failure = new BackstopError('WORKER_CRASHED', `A compression worker stopped unexpectedly (${e instanceof Error ? e.message : String(e)}). The backup was not completed.`, { cause: e });
    for (const p of this.pending.values()) p.reject(gen.failure);
    this.pending.clear();
    for (const w of gen.workers) void w.terminate();
  }

  /**
   * Opens a session with its own codec config and known chunk ids (those are not encoded
   * again). Its `close` releases the config, not the workers.
   */
  session(config: ChunkCodecConfig, known: Iterable<Uint8Array> = []): EncoderPool {
    if (this.closed) throw new BackstopError('CANCELED', 'The compression workers were shut down.');
    const gen = this.start();
    const id = ++this.sessions;
    const knownList = sortedIds(known);
    for (const w of gen.workers) w.postMessage({ type: 'config', session: id, config, known: knownList } satisfies EncoderRequest);
    let open = true;
    const send = (make: (seq: number) => EncoderRequest, transfer: ArrayBuffer[]): Promise<EncodedChunk> => {
      if (gen.failure) return Promise.reject(gen.failure);
      if (!open || this.closed) return Promise.reject(new BackstopError('CANCELED', 'The chunk encoder session was closed.'));
      let best = 0;
      for (let i = 1; i < gen.load.length; i++) if (gen.load[i]! < gen.load[best]!) best = i;
      const seq = this.seq++;
      return new Promise<EncodedChunk>((resolve, reject) => {
        this.pending.set(seq, { resolve, reject, worker: best });
        this.track(gen, true);
        gen.load[best]!++;
        try {
          gen.workers[best]!.postMessage(make(seq), transfer);
        } catch (e) {
          // Not sent (e.g. a buffer to move was already detached): nothing is pending.
          this.pending.delete(seq);
          this.track(gen, false);
          gen.load[best]!--;
          reject(new BackstopError('INTERNAL', `A chunk could not be handed to a compression worker: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
        }
      });
    };
    const encode = (parcel: ChunkParcel, keepRaw = false, level?: number): Promise<EncodedChunk> =>
      send((seq) => ({ type: 'encode', session: id, seq, pieces: parcel.pieces, keepRaw, ...(level === undefined ? {} : { level }) }), parcel.transfer);
    const encodeAgainst = (chunkId: Buffer, raw: Buffer, base: DeltaBase | null): Promise<EncodedChunk> => {
      // The raw chunk is moved; the base is copied (the caller may keep it cached).
      return send((seq) => ({ type: 'against', session: id, seq, id: chunkId, raw, base }), coversWholeBuffer(raw) ? [raw.buffer] : []);
    };
    const close = async (): Promise<void> => {
      if (!open) return;
      open = false;
      if (!gen.failure && !this.closed) for (const w of gen.workers) w.postMessage({ type: 'drop', session: id } satisfies EncoderRequest);
    };
    return { size: this.size, encode, encodeAgainst, close };
  }

  /** Terminates the workers; pending calls reject with CANCELED. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(new BackstopError('CANCELED', 'The compression workers were shut down.'));
    this.pending.clear();
    if (this.gen) await Promise.all(this.gen.workers.map((w) => w.terminate()));
  }
}

/** One write's encoder: inline (size 0) or private workers ended by the session's close. */
export function createEncoderPool(size: number, config: ChunkCodecConfig, known: Iterable<Uint8Array> = []): EncoderPool {
  if (size <= 0) return new InlinePool(config, known);
  const workers = new EncoderWorkers(size);
  const session = workers.session(config, known);
  return {
    size,
    encode: (parcel, keepRaw, level) => session.encode(parcel, keepRaw, level),
    encodeAgainst: (id, raw, base) => session.encodeAgainst(id, raw, base),
    close: async () => {
      await session.close();
      await workers.close();
    },
  };
}
