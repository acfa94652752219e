import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { initRepository } from '../../../electron/engine/repository/index.ts';
import { type Backend, type PutBody } from '../../../electron/engine/storage/index.ts';
import { PassThroughBackend } from '../../fixtures/storage/pass-through-backend.ts';
import { MemoryBackend } from '../../fixtures/storage/memory-backend.ts';
import { generateKey } from '../../../electron/engine/crypto/index.ts';
import { createEncoderPool, EncoderWorkers } from '../../../electron/engine/repository/encoder-pool.ts';
import { ChunkDecoder } from '../../../electron/engine/repository/chunk-codec.ts';
import { FastCdcChunker } from '../../../electron/engine/repository/chunker.ts';
import { handOver, parcelOf, HandedOver } from '../../../electron/engine/repository/hand-over.ts';
import { FAST, SMALL_CDC, SMALL_PACK, collect, dumpLike, pieces, pointOpts, rejection, sha256 } from './helpers.ts';

/** Counts raw bytes that reached packs, optionally slowing puts down. */
class SlowBackend extends PassThroughBackend {
  override readonly location = 'slow memory';
  packBytes = 0;
  constructor(
    inner: Backend,
    private readonly delayMs: number,
  ) {
    super(inner);
  }
  override async put(key: string, body: PutBody): Promise<void> {
    await new Promise((r) => setTimeout(r, this.delayMs));
    await this.inner.put(key, body);
    if (key.startsWith('packs/')) this.packBytes += (await this.inner.stat(key))!.size;
  }
}

describe('write pipeline', () => {
  it('applies backpressure: the source is never read far ahead of storage', async () => {
    const slow = new SlowBackend(new MemoryBackend(), 5);
    const repo = await initRepository(slow, { chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST, compressionLevel: 0 });
    let yielded = 0;
    let maxAhead = 0;
    async function* source() {
      for (let i = 0; i < 512; i++) {
        maxAhead = Math.max(maxAhead, yielded - slow.packBytes);
        const b = randomBytes(8192);
        yielded += b.length;
        yield b;
      }
    }
    const p = await repo.writePoint(source(), pointOpts());
    expect(p.length).toBe(4 * 1024 * 1024);
    // Bound: two packs (filling + uploading) + in-flight chunks + chunker buffer + one input piece.
    const bound = 2 * SMALL_PACK + FAST.workers * 0 + 4 * SMALL_CDC.max + SMALL_CDC.max + 8192 + 32 * 1024;
    expect(maxAhead).toBeLessThan(bound);
    expect(maxAhead).toBeGreaterThan(SMALL_PACK / 2); // it does overlap reading with uploading
  });

  it('a worker pool produces the same layout as inline encoding, in order', async () => {
    const data = dumpLike(2_000_000, 51);
    const packsOf = async (workers: number) => {
      const backend = new MemoryBackend();
      // One fixed level: the pool would otherwise lower it while it lags (adaptive-level.test.ts).
      const repo = await initRepository(backend, { chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST, workers, minCompressionLevel: 3 });
      const p = await repo.writePoint(pieces(data, 10_000), pointOpts());
      expect(sha256(await collect(await repo.readPoint(p.id)))).toBe(sha256(data));
      // Unencrypted: packs differ only in their random salt (header bytes 16..31) and the
      // index's integrity tag, which covers the header (last 16 + 12 trailer bytes).
      const bodies = await Promise.all(
        (await backend.list('packs/')).map(async (o) => {
          const b = await backend.get(o.key);
          return b.subarray(32, b.length - 28).toString('base64');
        }),
      );
      return { p, bodies: bodies.sort() };
    };
    const inline = await packsOf(0);
    const pooled = await packsOf(2);
    expect(pooled.p.stats).toEqual(inline.p.stats);
    expect(pooled.bodies).toEqual(inline.bodies);
    expect(inline.bodies.length).toBeGreaterThan(3);
  });

  it('encrypted writes through the pool restore exactly', async () => {
    const key = generateKey();
    const backend = new MemoryBackend();
    const repo = await initRepository(backend, { key, chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST, workers: 2 });
    const data = dumpLike(1_000_000, 52);
    const full = await repo.writePoint(pieces(data), pointOpts());
    const inc = await repo.writePoint(pieces(Buffer.concat([data, dumpLike(100_000, 53)])), pointOpts({ kind: 'incremental' }));
    expect(sha256(await collect(await repo.readPoint(full.id)))).toBe(sha256(data));
    expect(inc.stats.chunksReused).toBeGreaterThan(0);
    expect((await repo.verify()).ok).toBe(true);
  });

  it('pool results carry the keyed chunk id and decode, and the raw buffer is transferred to the worker', async () => {
    const cfg = { encryption: 1, dataKey: generateKey(), chunkIdKey: generateKey(), level: 3 };
    const pool = createEncoderPool(1, cfg);
    const dec = new ChunkDecoder(cfg);
    try {
      const raw = Buffer.from(new Uint8Array(Buffer.from('pooled chunk '.repeat(1000))));
      const copy = Buffer.from(raw);
      const { id, stored } = await pool.encode(parcelOf(raw));
      expect(raw.length).toBe(0); // detached: the worker owns it now
      expect(id.equals(dec.chunkId(copy))).toBe(true);
      expect(stored).not.toBeNull();
      expect(dec.decode(id, stored!, copy.length).equals(copy)).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it('chunks whose ids the chain already has are identified but not encoded again (inline and in workers)', async () => {
    const cfg = { encryption: 1, dataKey: generateKey(), chunkIdKey: generateKey(), level: 3 };
    const dec = new ChunkDecoder(cfg);
    const a = Buffer.from('chunk a '.repeat(500));
    const b = Buffer.from('chunk b '.repeat(500));
    const known = [dec.chunkId(a), randomBytes(32), randomBytes(32)];
    for (const size of [0, 2]) {
      const pool = createEncoderPool(size, cfg, known);
      try {
        const [ta, tb] = await Promise.all([pool.encode(parcelOf(Buffer.from(new Uint8Array(a)))), pool.encode(parcelOf(Buffer.from(new Uint8Array(b))))]);
        expect(ta!.id.equals(known[0]!)).toBe(true);
        expect(ta!.stored).toBeNull();
        expect(tb!.id.equals(dec.chunkId(b))).toBe(true);
        expect(dec.decode(tb!.id, tb!.stored!, b.length).equals(b)).toBe(true);
      } finally {
        await pool.close();
      }
    }
  });
});

describe('handed-over input buffers', () => {
  /** `data` as fresh buffers that each own their ArrayBuffer, like pipe reads. */
  const owned = (data: Buffer, size: number): Buffer[] => {
    const out: Buffer[] = [];
    for (let i = 0; i < data.length; i += size) {
      const own = new Uint8Array(Math.min(size, data.length - i)); // not Buffer.from: small Buffers share a pool
      own.set(data.subarray(i, i + own.length));
      out.push(Buffer.from(own.buffer));
    }
    return out;
  };
  async function* yieldAll(bufs: Buffer[]) {
    for (const b of bufs) yield b;
  }

  it('a chunk taken in pieces gets the same id and stored bytes as the joined chunk (inline and in a worker)', async () => {
    const cfg = { encryption: 0, dataKey: null, chunkIdKey: null, level: 3 };
    const dec = new ChunkDecoder(cfg);
    const data = dumpLike(50_000, 71);
    for (const size of [0, 1]) {
      const pool = createEncoderPool(size, cfg);
      try {
        const bufs = owned(data, 7000);
        const handed = new HandedOver();
        for (const b of bufs) handed.add(b);
        const parcel = handOver({ pieces: bufs, length: data.length }, handed);
        expect(parcel.pieces.length).toBe(8);
        const { id, stored } = await pool.encode(size === 0 ? { pieces: bufs, transfer: [] } : parcel);
        expect(id.equals(dec.chunkId(data))).toBe(true);
        expect(dec.decode(id, stored!, data.length).equals(data)).toBe(true);
      } finally {
        await pool.close();
      }
    }
  });

  it('with handsOverBuffers the writer moves the input buffers to its workers instead of copying, and the point reads back intact', async () => {
    const data = dumpLike(1_500_000, 72);
    const repo = await initRepository(new MemoryBackend(), { key: generateKey(), chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST, workers: 2 });
    // 6151-byte buffers: most chunk boundaries fall inside one, so both halves of a split buffer are exercised.
    const bufs = owned(data, 6151);
    const p = await repo.writePoint(yieldAll(bufs), pointOpts({ handsOverBuffers: true }));
    expect(p.length).toBe(data.length);
    expect(bufs.every((b) => b.length === 0)).toBe(true); // every buffer went to a worker with the chunk that ends it
    expect(sha256(await collect(await repo.readPoint(p.id)))).toBe(sha256(data));
    expect((await repo.verify()).ok).toBe(true);
  });

  it('without handsOverBuffers, or for views of shared memory, no input buffer is detached', async () => {
    const data = dumpLike(400_000, 73);
    const repo = await initRepository(new MemoryBackend(), { chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST, workers: 1 });
    const bufs = owned(data, 5000);
    const a = await repo.writePoint(yieldAll(bufs), pointOpts());
    expect(bufs.every((b) => b.length === 5000)).toBe(true);
    // Views of one large buffer: handing them over must not move the memory behind the others.
    const whole = Buffer.from(new Uint8Array(data));
    const views = [...Array(80).keys()].map((i) => whole.subarray(i * 5000, (i + 1) * 5000));
    const b = await repo.writePoint(yieldAll(views), pointOpts({ handsOverBuffers: true }));
    expect(whole.length).toBe(data.length);
    expect(whole.equals(data)).toBe(true);
    for (const p of [a, b]) expect(sha256(await collect(await repo.readPoint(p.id)))).toBe(sha256(data));
  });

  it('an input that takes back a buffer it handed over fails the write with INTERNAL and commits nothing', async () => {
    const data = dumpLike(200_000, 75);
    const repo = await initRepository(new MemoryBackend(), { chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST, workers: 1 });
    async function* misbehaving() {
      let previous: Buffer | null = null;
      for (const b of owned(data, 1000)) {
        if (previous) structuredClone(previous.buffer, { transfer: [previous.buffer as ArrayBuffer] }); // moved elsewhere
        previous = b;
        yield b;
      }
    }
    const e = await rejection(repo.writePoint(misbehaving(), pointOpts({ handsOverBuffers: true })));
    expect(e.code).toBe('INTERNAL');
    expect(e.message).toMatch(/taken over elsewhere.*Nothing was committed/);
    expect(await repo.listPoints()).toEqual([]);
  });

  it('a split buffer is copied for the earlier chunk and moved with the chunk that reaches its end', () => {
    const data = dumpLike(40_000, 74);
    const bufs = owned(data, 10_000);
    const handed = new HandedOver();
    for (const b of bufs) handed.add(b);
    const chunker = new FastCdcChunker(SMALL_CDC);
    const chunks = [...bufs.flatMap((b) => chunker.cut(b)), chunker.end()!];
    const parcels = chunks.map((c) => handOver(c, handed));
    for (const [i, parcel] of parcels.entries()) {
      // Every piece lies in a buffer that moves with this parcel, and none moves twice.
      for (const piece of parcel.pieces) expect(parcel.transfer).toContain(piece.buffer);
      for (const other of parcels.slice(i + 1)) for (const t of parcel.transfer) expect(other.transfer).not.toContain(t);
    }
    const moved = new Set(parcels.flatMap((p) => p.transfer));
    for (const b of bufs) expect(moved.has(b.buffer as ArrayBuffer)).toBe(true);
    expect(Buffer.concat(parcels.flatMap((p) => p.pieces)).equals(data)).toBe(true);
    // Without handed-over buffers each chunk is one new buffer of its own.
    const plain = handOver(chunks[0]!, null);
    expect(plain.pieces.length).toBe(1);
    expect(plain.pieces[0]!.buffer).not.toBe(bufs[0]!.buffer);
  });
});

describe('shared workers', () => {
  it('one worker set serves concurrent writes of repositories with different keys', async () => {
    const workers = new EncoderWorkers(2);
    try {
      const repos = await Promise.all(
        [generateKey(), generateKey(), null].map((key) => initRepository(new MemoryBackend(), { key, chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST, encoderWorkers: workers })),
      );
      const data = repos.map((_, i) => dumpLike(600_000, 60 + i));
      const points = await Promise.all(repos.map((r, i) => r.writePoint(pieces(data[i]!), pointOpts())));
      for (let i = 0; i < repos.length; i++) {
        expect(sha256(await collect(await repos[i]!.readPoint(points[i]!.id)))).toBe(sha256(data[i]!));
        expect((await repos[i]!.verify()).ok).toBe(true);
      }
      // A later write reuses the same (still running) workers.
      const again = await repos[0]!.writePoint(pieces(data[1]!), pointOpts());
      expect(sha256(await collect(await repos[0]!.readPoint(again.id)))).toBe(sha256(data[1]!));
    } finally {
      await workers.close();
    }
    expect(() => workers.session({ encryption: 0, dataKey: null, chunkIdKey: null, level: 3 })).toThrow(/shut down/);
  });
});

describe('worker failure', () => {
  it('a worker that dies rejects pending and later calls with WORKER_CRASHED', async () => {
    // Encryption id 9 does not exist: the worker throws while starting.
    const pool = createEncoderPool(1, { encryption: 9, dataKey: null, chunkIdKey: null, level: 3 });
    try {
      await expect(pool.encode(parcelOf(Buffer.from(new Uint8Array(100))))).rejects.toMatchObject({ code: 'WORKER_CRASHED', message: expect.stringMatching(/worker stopped unexpectedly/) });
      await expect(pool.encode(parcelOf(Buffer.from(new Uint8Array(100))))).rejects.toMatchObject({ code: 'WORKER_CRASHED' });
    } finally {
      await pool.close();
    }
    await expect(pool.encode(parcelOf(Buffer.alloc(1)))).rejects.toMatchObject({ code: 'WORKER_CRASHED' });
  });
});

describe('unreadable requests', () => {
  // Node 20 posts a detached buffer and the worker cannot deserialize it (WORKER_CRASHED);
  // Node 22 refuses it in postMessage itself (INTERNAL). Either way it is answered, never left pending.
  it('a chunk whose buffer was moved away is answered with an error instead of never being answered', async () => {
    const pool = createEncoderPool(1, { encryption: 0, dataKey: null, chunkIdKey: null, level: 3 });
    try {
      const memory = new ArrayBuffer(10);
      const view = new Uint8Array(memory);
      structuredClone(memory, { transfer: [memory] }); // moved away before the chunk is sent
      const e = (await pool.encode({ pieces: [view], transfer: [memory] }).catch((err: unknown) => err)) as { code: string; message: string };
      expect([e.code, e.message]).toEqual(
        e.code === 'WORKER_CRASHED' ? ['WORKER_CRASHED', expect.stringMatching(/deserialize/)] : ['INTERNAL', expect.stringMatching(/could not be handed to a compression worker/)],
      );
    } finally {
      await pool.close();
    }
  });
});

describe('unsendable requests', () => {
  it('a chunk that cannot be posted rejects with INTERNAL, leaves nothing pending, and the pool goes on', async () => {
    const cfg = { encryption: 0, dataKey: null, chunkIdKey: null, level: 3 };
    const pool = createEncoderPool(1, cfg);
    try {
      const memory = new ArrayBuffer(64);
      // The same buffer listed twice is a DataCloneError from postMessage itself.
      await expect(pool.encode({ pieces: [new Uint8Array(memory)], transfer: [memory, memory] })).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringMatching(/could not be handed to a compression worker/) });
      const raw = Buffer.from('still working '.repeat(100));
      const { id } = await pool.encode(parcelOf(Buffer.from(raw)));
      expect(id.equals(new ChunkDecoder(cfg).chunkId(raw))).toBe(true);
    } finally {
      await pool.close();
    }
  });
});

describe('memory', () => {
  it('does not keep input buffers alive after a write (with a signal)', async () => {
    const { setFlagsFromString } = await import('node:v8');
    const { runInNewContext } = await import('node:vm');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // V8 frees array buffers' memory on a background sweeper that a collection only starts;
    // the next collection finishes it. Read the figure once that is done, not while a
    // loaded machine has not yet run the sweeper (what the bound measures is what is still
    // referenced, not how fast the sweeper thread got a core).
    const settledArrayBuffers = async () => {
      for (let i = 0; i < 3; i++) {
        gc();
        await new Promise((r) => setImmediate(r));
      }
      return process.memoryUsage().arrayBuffers;
    };
    const repo = await initRepository(new MemoryBackend(), { chunker: SMALL_CDC, packSize: SMALL_PACK, ...FAST });
    const before = await settledArrayBuffers();
    async function* blocks() {
      for (let i = 0; i < 64; i++) yield Buffer.alloc(1024 * 1024, i % 2);
    }
    const ac = new AbortController();
    const p = await repo.writePoint(blocks(), pointOpts({ signal: ac.signal }));
    expect(p.length).toBe(64 * 1024 * 1024);
    const grown = (await settledArrayBuffers()) - before;
    expect(grown).toBeLessThan(16 * 1024 * 1024); // 64 MiB went through
  });
});
