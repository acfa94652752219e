/**
 * backupDatabase against real repositories on in-memory and local backends, with a
 * synthetic dump stream (the connectors are tested against real servers elsewhere).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { backupDatabase, type BackupDatabaseInput } from '../../../electron/engine/backup/backup-database.ts';
import { keyFolderSuffix } from '../../../electron/engine/destinations/location.ts';
import { openRepository } from '../../../electron/engine/repository/index.ts';
import type { DumpStream } from '../../../electron/engine/servers/connector.ts';
import { LocalBackend, type Backend } from '../../../electron/engine/storage/index.ts';
import { MemoryBackend } from '../../fixtures/storage/memory-backend.ts';
import { FaultyBackend } from '../../fixtures/storage/faulty-backend.ts';
import { BackstopError } from '../../../electron/shared/result.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { backupInput } from '../../fixtures/backup-input.ts';

const SMALL = { workers: 0 }; // inline encoding keeps unit tests light

/**
 * A dump-like stream of `size` bytes (deterministic text), optionally failing part-way.
 * Like a real connector, `done` rejects when the tool fails or the stream is destroyed
 * before its end, and the stream yields to the event loop between chunks.
 */
function dumpOf(size: number, opts: { failAt?: number; seed?: number; onSent?: (bytes: number) => void } = {}): DumpStream {
  let sent = 0;
  const line = Buffer.from(`INSERT INTO t VALUES (${opts.seed ?? 1}, 'some text that compresses well');\n`);
  let rejectDone: (e: unknown) => void = () => {};
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  const stream = new Readable({
    read() {
      if (opts.failAt !== undefined && sent >= opts.failAt) {
        const err = new BackstopError('DUMP_FAILED', 'pg_dump failed: connection lost');
        rejectDone(err);
        this.destroy(err);
        return;
      }
      if (sent >= size) {
        resolveDone();
        this.push(null);
        return;
      }
      const n = Math.min(64 * 1024, size - sent);
      const buf = Buffer.alloc(n);
      for (let o = 0; o < n; o += line.length) line.copy(buf, o, 0, Math.min(line.length, n - o));
      sent += n;
      opts.onSent?.(sent);
      setImmediate(() => this.push(buf));
    },
  });
  stream.on('close', () => {
    if (!stream.readableEnded) rejectDone(new BackstopError('CANCELED', 'dump stopped'));
  });
  done.catch(() => undefined);
  return { stream, done, meta: { format: 'pg-custom' } };
}

function input(destinations: { id: string; backend: Backend }[], over: Partial<BackupDatabaseInput> = {}): BackupDatabaseInput {
  return backupInput(destinations, { openDump: async () => dumpOf(600_000), repoOptions: SMALL, ...over });
}

describe('backupDatabase', () => {
  it('writes one dump to two destinations; an incremental joins each chain and stores little', async () => {
    const a = new MemoryBackend('a');
    const b = new LocalBackend(join(tempDir(), 'sales'));
    const dests = [
      { id: 'memory:a', backend: a },
      { id: 'local:b', backend: b },
    ];
    const full = await backupDatabase(input(dests));
    expect(full.map((o) => [o.destination, o.status, o.kind, o.kindReason])).toEqual([
      ['memory:a', 'success', 'full', null],
      ['local:b', 'success', 'full', null],
    ]);
    expect(full[0]!.bytesRead).toBe(600_000);
    const inc = await backupDatabase(input(dests, { requestedKind: 'incremental' }));
    expect(inc.every((o) => o.status === 'success' && o.kind === 'incremental')).toBe(true);
    expect(inc[0]!.bytesNew).toBeLessThan(full[0]!.bytesNew);
    for (const backend of [a, b]) {
      const repo = await openRepository(backend, SMALL);
      const points = await repo.listPoints();
      expect(points.map((p) => p.kind)).toEqual(['full', 'incremental']);
      expect(points[1]!.chainId).toBe(points[0]!.chainId);
    }
  });

  it('a dump that hands its buffers over gives them to a sole writer, but copies them for two', async () => {
    const data = randomBytes(3_000_000);
    const sent: Buffer[] = [];
    const handingDump = async (): Promise<DumpStream> => {
      async function* reads() {
        for (let at = 0; at < data.length; at += 65536) {
          const b = Buffer.from(new Uint8Array(data.subarray(at, at + 65536))); // a fresh buffer, like a pipe read
          sent.push(b);
          yield b;
        }
      }
      return { stream: Readable.from(reads()), done: Promise.resolve(), handsOverBuffers: true, meta: { format: 'pg-custom' } };
    };
    const withWorkers = { workers: 1 };
    const restored = async (backend: Backend): Promise<Buffer> => {
      const repo = await openRepository(backend, withWorkers);
      const [point] = await repo.listPoints();
      const parts: Buffer[] = [];
      for await (const c of await repo.readPoint(point!.id)) parts.push(c as Buffer);
      return Buffer.concat(parts);
    };

    const two = [new MemoryBackend('a'), new MemoryBackend('b')];
    const both = await backupDatabase(input(two.map((backend, i) => ({ id: `memory:${i}`, backend })), { openDump: handingDump, repoOptions: withWorkers }));
    expect(both.map((o) => o.status)).toEqual(['success', 'success']);
    expect(sent.every((b) => b.length > 0)).toBe(true); // shared by two writers: never moved
    for (const backend of two) expect((await restored(backend)).equals(data)).toBe(true);

    sent.length = 0;
    const one = new MemoryBackend('c');
    const [alone] = await backupDatabase(input([{ id: 'memory:c', backend: one }], { openDump: handingDump, repoOptions: withWorkers }));
    expect(alone!.status).toBe('success');
    expect(sent.every((b) => b.length === 0)).toBe(true); // moved to the encoder worker, not copied
    expect((await restored(one)).equals(data)).toBe(true);
  });

  it('cuts a stream that names a block size into those fixed blocks, each of its own buffers moved whole to a sole writer', async () => {
    const data = randomBytes(5 * 65536 + 1000);
    const sent: Buffer[] = [];
    const blockDump = async (): Promise<DumpStream> => {
      async function* blocks() {
        for (let at = 0; at < data.length; at += 65536) {
          const part = data.subarray(at, at + 65536);
          const b = Buffer.allocUnsafeSlow(part.length); // one fresh buffer per block, the short last one too, as spoolTar yields them
          part.copy(b);
          sent.push(b);
          yield b;
        }
      }
      return { stream: Readable.from(blocks()), done: Promise.resolve(), handsOverBuffers: true, meta: { format: 'pg-wal-tar', blockBytes: 65536, deltaBases: false } };
    };
    const backend = new MemoryBackend('w');
    const [outcome] = await backupDatabase(input([{ id: 'memory:w', backend }], { backupType: 'snapshot', openDump: blockDump, repoOptions: { workers: 1 } }));
    expect(outcome!.status).toBe('success');
    expect(sent.every((b) => b.length === 0)).toBe(true); // every block moved, none copied
    const repo = await openRepository(backend, { workers: 1 });
    const [point] = await repo.listPoints();
    expect(point!.chunking).toEqual({ kind: 'fixed', size: 65536 });
    expect(point!.chunkCount).toBe(6);
    const parts: Buffer[] = [];
    for await (const c of await repo.readPoint(point!.id)) parts.push(c as Buffer);
    expect(Buffer.concat(parts).equals(data)).toBe(true);
  });

  it('turns a requested incremental into a full, with the reason, where there is no chain', async () => {
    const out = await backupDatabase(input([{ id: 'm', backend: new MemoryBackend() }], { requestedKind: 'incremental' }));
    expect(out[0]).toMatchObject({ status: 'success', kind: 'full', kindReason: 'first backup at this destination' });
  });

  it('says the backup type changed when only a chain of the other type exists', async () => {
    const backend = new MemoryBackend();
    await backupDatabase(input([{ id: 'm', backend }], { backupType: 'snapshot' }));
    const out = await backupDatabase(input([{ id: 'm', backend }], { requestedKind: 'incremental' }));
    expect(out[0]).toMatchObject({ status: 'success', kind: 'full', kindReason: 'the backup type changed to logical' });
  });

  it('never writes into a folder with foreign files, and the other destination still gets its point', async () => {
    const foreign = join(tempDir(), 'sales');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'notes.txt'), 'my own file');
    const good = new MemoryBackend();
    const out = await backupDatabase(input([
      { id: 'local:foreign', backend: new LocalBackend(foreign) },
      { id: 'memory', backend: good },
    ]));
    expect(out[0]).toMatchObject({ status: 'failed', error: { code: 'NOT_A_BACKUP', message: expect.stringContaining('did not write') } });
    expect(out[1]).toMatchObject({ status: 'success' });
    expect((await new LocalBackend(foreign).list('')).map((o) => o.key)).toEqual(['notes.txt']);
  });

  it('commits nothing anywhere when the dump fails part-way', async () => {
    const a = new MemoryBackend();
    const b = new MemoryBackend();
    await backupDatabase(input([{ id: 'a', backend: a }])); // an earlier point at a
    const out = await backupDatabase(
      input(
        [
          { id: 'a', backend: a },
          { id: 'b', backend: b },
        ],
        { openDump: async () => dumpOf(600_000, { failAt: 200_000 }) },
      ),
    );
    for (const o of out) expect(o).toMatchObject({ status: 'failed', pointId: null, error: { code: 'DUMP_FAILED', message: 'pg_dump failed: connection lost' } });
    expect((await (await openRepository(a, SMALL)).listPoints()).length).toBe(1);
    expect((await (await openRepository(b, SMALL)).listPoints()).length).toBe(0);
  });

  it('reports a full disk at one destination without costing the other, and keeps earlier points', async () => {
    const inner = new MemoryBackend('full-disk');
    const full = new FaultyBackend(inner);
    const ok = new MemoryBackend('ok');
    await backupDatabase(input([{ id: 'disk', backend: full }]));
    full.inject({ op: 'put', keyPrefix: 'packs/', error: 'ENOSPC' });
    const out = await backupDatabase(
      input(
        [
          { id: 'disk', backend: full },
          { id: 'ok', backend: ok },
        ],
        { openDump: async () => dumpOf(600_000, { seed: 2 }) },
      ),
    );
    expect(out[0]).toMatchObject({ status: 'failed', error: { code: 'DISK_FULL' } });
    expect(out[1]).toMatchObject({ status: 'success' });
    const repo = await openRepository(inner, SMALL);
    const points = await repo.listPoints();
    expect(points).toHaveLength(1);
    expect((await repo.verify()).ok).toBe(true);
  });

  it('starts a new chain beside the old one when the key changes, keeping the old backups and their key', async () => {
    const root = tempDir();
    const target = (folder: string, key: Buffer | null) => ({ id: 'local', backend: new LocalBackend(join(root, folder)), sibling: () => new LocalBackend(join(root, folder + keyFolderSuffix(key))) });
    const keyA = randomBytes(32);
    const keyB = randomBytes(32);
    expect((await backupDatabase(input([target('sales', keyA)], { key: keyA })))[0]).toMatchObject({ status: 'success', kind: 'full' });
    const changed = await backupDatabase(input([target('sales', keyB)], { key: keyB, requestedKind: 'incremental' }));
    const suffix = keyFolderSuffix(keyB);
    expect(changed[0]).toMatchObject({ status: 'success', kind: 'full', kindReason: expect.stringContaining('the encryption key changed') });
    expect(changed[0]!.kindReason).toContain(suffix);
    // The next incremental with the new key continues the new chain; the old folder still opens with the old key.
    expect((await backupDatabase(input([target('sales', keyB)], { key: keyB, requestedKind: 'incremental' })))[0]).toMatchObject({ status: 'success', kind: 'incremental' });
    expect((await (await openRepository(new LocalBackend(join(root, 'sales')), { ...SMALL, key: keyA })).listPoints()).length).toBe(1);
    expect((await (await openRepository(new LocalBackend(join(root, `sales${suffix}`)), { ...SMALL, key: keyB })).listPoints()).map((p) => p.kind)).toEqual(['full', 'incremental']);
    // Switching encryption off goes to the "~plain" sibling; going back to key A continues its chain.
    expect((await backupDatabase(input([target('sales', null)], { key: null, requestedKind: 'incremental' })))[0]).toMatchObject({ status: 'success', kind: 'full' });
    expect(keyFolderSuffix(null)).toBe('~plain');
    expect((await backupDatabase(input([target('sales', keyA)], { key: keyA, requestedKind: 'incremental' })))[0]).toMatchObject({ status: 'success', kind: 'incremental' });
  });

  it('refuses a destination encrypted with another key, naming both fingerprints', async () => {
    const backend = new MemoryBackend();
    const keyA = randomBytes(32);
    const keyB = randomBytes(32);
    expect((await backupDatabase(input([{ id: 'm', backend }], { key: keyA })))[0]!.status).toBe('success');
    const out = await backupDatabase(input([{ id: 'm', backend }], { key: keyB }));
    expect(out[0]).toMatchObject({ status: 'failed', error: { code: 'KEY_MISMATCH', message: expect.stringContaining('never mixes keys') } });
    const plain = await backupDatabase(input([{ id: 'm', backend }], { key: null }));
    expect(plain[0]).toMatchObject({ status: 'failed', error: { code: 'KEY_REQUIRED' } });
  });

  it('cancels cleanly: status canceled, nothing committed', async () => {
    const backend = new MemoryBackend();
    const ac = new AbortController();
    // Cancel once the dump is under way (by bytes produced, not by progress timing: a fast
    // pipeline may finish 50 MB before its first throttled progress report).
    const out = await backupDatabase(
      input([{ id: 'm', backend }], {
        signal: ac.signal,
        openDump: async () => dumpOf(50_000_000, { onSent: (bytes) => bytes > 2_000_000 && ac.abort() }),
      }),
    );
    expect(out[0]).toMatchObject({ status: 'canceled', pointId: null, error: { code: 'CANCELED' } });
    expect(await (await openRepository(backend, SMALL)).listPoints()).toEqual([]);
  });

  it('reports progress with bytes read and stored per destination, ending with phase done', async () => {
    const reports: { phase: string; bytesRead: number }[] = [];
    await backupDatabase(input([{ id: 'm', backend: new MemoryBackend() }], { onProgress: (p) => reports.push({ phase: p.phase, bytesRead: p.bytesRead }) }));
    expect(reports[0]!.phase).toBe('dumping');
    expect(reports.at(-1)).toEqual({ phase: 'done', bytesRead: 600_000 });
  });
});
