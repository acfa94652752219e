/**
 * `BENCH_WAL_PHASES=1 npm run bench -- --only wal`: where a WAL incremental's time goes,
 * phase by phase, next to the base backup path on the same server in the same run (issue #19).
 * Bench-only probe: it drives the engine's own pieces in this process (WalSource, spoolTar,
 * Repository.writePoint), not the task runner, and prints what each phase took:
 *
 * - receipt: the psql round trips of an incremental and pg_receivewal into a spool, against
 *   `pg_basebackup -Ft -D -` read into memory (the full's source);
 * - the spool read back (spoolTar), and the write straight from it as the incremental does
 *   (fixed blocks, the spool reader's buffers handed over);
 * - single-thread costs per MB of each stream: the content-defined chunk scan, fixed blocks,
 *   the chunk id, zstd at levels 3 and 1;
 * - the write of each stream from memory into a fresh repository (2 encoder workers, zstd 3,
 *   no delta tries): as the WAL point is written, and with fixed 1 MiB blocks and buffers
 *   handed over (as the base backup's pipe buffers are).
 * - the WAL write at a point level (`compressionLevel`: 1 and zstd's fast levels) against
 *   the repository's adaptive 3;
 * - an incremental's receipt and write (markEnd, pg_receivewal, the write) in sequence, as
 *   before, against the write overlapping the receipt, as now, each after its own change.
 * Nothing here is asserted; ratios within the run are what mean something.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { Readable } from 'node:stream';
import zstdBinding from 'zstd-napi/binding.js';
import { initRepository } from '../../electron/engine/repository/index.ts';
import { createChunker, DEFAULT_CDC } from '../../electron/engine/repository/chunker.ts';
import { chunkIdFunction } from '../../electron/engine/crypto/chunk-id.ts';
import { LocalBackend } from '../../electron/engine/storage/index.ts';
import { PgConnection } from '../../electron/engine/servers/postgres/connection.ts';
import { segmentsIn, spoolTar, WAL_BLOCK_BYTES, WalSource } from '../../electron/engine/servers/postgres/wal-stream.ts';
import { PG_BIN, type PgServer } from '../../tests/fixtures/servers/postgres.ts';
import { chownTree } from '../../tests/fixtures/servers/common.ts';

const { CCtx } = zstdBinding;
const now = () => performance.now();
const s = (ms: number) => `${(ms / 1000).toFixed(3)} s`;
const perMb = (ms: number, bytes: number) => `${((ms / 1000) / (bytes / 1e6) * 1000).toFixed(1)} ms/MB`;

async function timed<T>(label: string, bytes: number | null, f: () => Promise<T> | T): Promise<T> {
  const t0 = now();
  const r = await f();
  const ms = now() - t0;
  console.log(`    ${label.padEnd(58)} ${s(ms).padStart(9)}${bytes ? `  ${perMb(ms, bytes)}` : ''}`);
  return r;
}

function slices(data: Buffer, own: boolean): AsyncIterable<Uint8Array> {
  // `own`: every piece a whole ArrayBuffer of its own (a pipe read), copied before the clock starts.
  const parts: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += 1 << 16) {
    const v = data.subarray(i, Math.min(data.length, i + (1 << 16)));
    parts.push(own ? new Uint8Array(v) : v);
  }
  return (async function* () {
    yield* parts;
  })();
}

async function readAll(src: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const out: Uint8Array[] = [];
  for await (const c of src) out.push(c);
  return Buffer.concat(out);
}

type Mode = { label: string; fixed: boolean; own: boolean; level?: number; pointLevel?: number; source?: () => AsyncIterable<Uint8Array> };

/** Wall time and CPU time (this process, every thread) of one write into a fresh repository. */
async function writeOnce(work: string, data: Buffer, mode: Mode): Promise<{ ms: number; cpuMs: number; stored: number }> {
  const dir = mkdtempSync(join(work, 'phase-repo-'));
  const repo = await initRepository(new LocalBackend(dir), { workers: 2, ...(mode.level ? { compressionLevel: mode.level } : {}) });
  const input = mode.source ? mode.source() : slices(data, mode.own);
  const cpu0 = process.cpuUsage();
  const t0 = now();
  const p = await repo.writePoint(input, {
    database: 'base.tar',
    serverIdentity: 'x',
    engineVersion: 'x',
    dumpToolVersion: 'x',
    kind: 'full',
    backupType: 'snapshot',
    meta: { format: 'probe' },
    deltaBases: false,
    handsOverBuffers: mode.own,
    ...(mode.pointLevel !== undefined ? { compressionLevel: mode.pointLevel } : {}),
    ...(mode.fixed ? { chunking: { kind: 'fixed' as const, size: 1 << 20 } } : {}),
  });
  const ms = now() - t0;
  const cpu = process.cpuUsage(cpu0);
  rmSync(dir, { recursive: true, force: true });
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, stored: p.stats.bytesStored };
}

async function streamCosts(work: string, name: string, data: Buffer, extra: Mode[] = [], zstdLevels = [3, 1]): Promise<void> {
  console.log(`  ${name}: ${(data.length / 1e6).toFixed(1)} MB`);
  await timed(`${name}: content-defined chunk scan`, data.length, () => {
    const c = createChunker({ kind: 'cdc' }, DEFAULT_CDC);
    for (let i = 0; i < data.length; i += 1 << 16) c.cut(data.subarray(i, i + (1 << 16)));
    c.end();
  });
  await timed(`${name}: fixed 1 MiB blocks`, data.length, () => {
    const c = createChunker({ kind: 'fixed', size: 1 << 20 }, DEFAULT_CDC);
    for (let i = 0; i < data.length; i += 1 << 16) c.cut(data.subarray(i, i + (1 << 16)));
    c.end();
  });
  const id = chunkIdFunction(Buffer.alloc(32, 7));
  await timed(`${name}: chunk id (keyed SHA-256), 1 MiB blocks`, data.length, () => {
    for (let i = 0; i < data.length; i += 1 << 20) id(data.subarray(i, i + (1 << 20)));
  });
  await timed(`${name}: copy into 1 MiB buffers (what the hand-over avoids)`, data.length, () => {
    for (let i = 0; i < data.length; i += 1 << 20) Buffer.from(data.subarray(i, i + (1 << 20)));
  });
  for (const level of zstdLevels) {
    const cctx = new CCtx();
    const out = Buffer.allocUnsafe(2 << 20);
    let z = 0;
    await timed(`${name}: zstd ${level}, 1 MiB blocks, one thread`, data.length, () => {
      for (let i = 0; i < data.length; i += 1 << 20) z += cctx.compress(out, data.subarray(i, i + (1 << 20)), level);
    });
    console.log(`      → ${(z / 1e6).toFixed(2)} MB (${(data.length / z).toFixed(2)}×)`);
  }
  // Interleaved, best of 3 each: the machine is shared, so one slow round must not decide.
  const modes: Mode[] = [
    { label: 'content-defined, copied (WAL before)', fixed: false, own: false },
    { label: 'fixed 1 MiB, handed over', fixed: true, own: true },
    { label: 'fixed 1 MiB, handed over, zstd 1', fixed: true, own: true, level: 1 },
    ...extra,
  ];
  const runs = modes.map(() => [] as { ms: number; cpuMs: number; stored: number }[]);
  for (let r = 0; r < 3; r++) for (const [i, mode] of modes.entries()) runs[i]!.push(await writeOnce(work, data, mode));
  for (const [i, mode] of modes.entries()) {
    const ms = Math.min(...runs[i]!.map((x) => x.ms));
    const cpuMs = Math.min(...runs[i]!.map((x) => x.cpuMs));
    console.log(`    ${`${name}: write, ${mode.label}`.padEnd(58)} ${s(ms).padStart(9)}  ${perMb(ms, data.length)}, CPU ${perMb(cpuMs, data.length)}, stored ${(runs[i]![0]!.stored / 1e6).toFixed(2)} MB`);
  }
}

/**
 * One incremental's receipt and write as the engine does them (after `positionAndSlot`):
 * `markEnd`, pg_receivewal, the write into a fresh repository (2 workers, fixed 1 MiB blocks
 * handed over, no delta tries); `overlapped` writes each segment as pg_receivewal completes
 * it (the incremental now), else receives everything first (the incremental before). Then
 * prunes the spool and advances the slot, as a committed incremental does.
 */
async function receiptAndWrite(work: string, src: WalSource, spoolDir: string, overlapped: boolean): Promise<{ ms: number; cpuMs: number; bytes: number }> {
  const SEG = 16 * 1024 * 1024;
  const { receipt } = await src.positionAndSlot();
  const dir = mkdtempSync(join(work, 'phase-repo-'));
  const repo = await initRepository(new LocalBackend(dir), { workers: 2 });
  const cpu0 = process.cpuUsage();
  const t0 = now();
  const end = await src.markEnd(undefined, receipt);
  let input: AsyncIterable<Uint8Array>;
  if (overlapped) {
    input = spoolTar(spoolDir, src.receiveSegments(SEG, end), WAL_BLOCK_BYTES, (seg) => seg.partial);
  } else {
    for await (const seg of src.receiveSegments(SEG, end)) void seg;
    input = spoolTar(spoolDir, segmentsIn(spoolDir, SEG), WAL_BLOCK_BYTES);
  }
  const p = await repo.writePoint(Readable.from(input, { objectMode: false }), {
    database: 'base.tar', serverIdentity: 'x', engineVersion: 'x', dumpToolVersion: 'x', kind: 'full', backupType: 'snapshot',
    meta: { format: 'probe' }, deltaBases: false, handsOverBuffers: true, chunking: { kind: 'fixed' as const, size: WAL_BLOCK_BYTES },
  });
  const ms = now() - t0;
  const cpu = process.cpuUsage(cpu0);
  rmSync(dir, { recursive: true, force: true });
  src.pruneSpool(end.endLsn, SEG);
  await src.advanceSlot(end.endLsn);
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, bytes: p.length };
}

export async function walPhases(work: string, pg: PgServer): Promise<void> {
  console.log(`\n  [WAL phases probe] load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const conn = new PgConnection({ kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, tls: 'disable' }, pg.password, { binDir: PG_BIN });
  const spool = mkdtempSync(join(work, 'phase-spool-'));
  if (pg.osUser) chownTree(spool, pg.osUser);
  const src = new WalSource(conn, 'bench_phase_probe', join(spool, 'wal'));
  try {
    await src.resetSlot();
    pg.psql('CHECKPOINT');
    pg.psql(`UPDATE orders SET amount = amount + 1, status = 'probed' WHERE id % 100 = 71`, 'mixed');
    await timed('one psql round trip (position and slot)', null, () => src.positionAndSlot());
    const received = await timed('receive: 2 psql + pg_receivewal into the spool', null, () => src.receive(16 * 1024 * 1024));
    const wal = await timed('spool read back (spoolTar)', null, () => readAll(spoolTar(join(spool, 'wal'), received.segments)));
    console.log(`    (${received.segments.length} segments, ${(wal.length / 1e6).toFixed(1)} MB)`);
    const fromSpool = () => Readable.from(spoolTar(join(spool, 'wal'), received.segments, WAL_BLOCK_BYTES), { objectMode: false });
    const base = await timed('pg_basebackup -Ft -D - -X fetch into memory', null, () => basebackup(pg));
    // The WAL point's level: the repository's adaptive 3 against a point level (zstd's fast levels below 1).
    const pointLevels: Mode[] = [1, -1, -3, -5].map((l) => ({ label: `fixed 1 MiB, handed over, point level ${l}`, fixed: true, own: true, pointLevel: l }));
    await streamCosts(work, 'WAL', wal, [{ label: 'from the spool, as the incremental does', fixed: true, own: true, source: fromSpool }, ...pointLevels], [3, 1, -1, -3, -5]);
    await streamCosts(work, 'base backup', base);

    // Receipt then write (before) against the write overlapping the receipt (now), each after its own
    // 1% scattered UPDATE right after a CHECKPOINT (other rows each time), interleaved, best of 3.
    const ab = { before: [] as { ms: number; cpuMs: number; bytes: number }[], now: [] as { ms: number; cpuMs: number; bytes: number }[] };
    let k = 11;
    src.pruneSpool(received.endLsn, 16 * 1024 * 1024); // as if that first receipt was committed
    await src.advanceSlot(received.endLsn);
    for (let r = 0; r < 3; r++) {
      for (const overlapped of [false, true]) {
        pg.psql('CHECKPOINT');
        pg.psql(`UPDATE orders SET amount = amount + 1, status = 'probed' WHERE id % 100 = ${k++}`, 'mixed');
        (overlapped ? ab.now : ab.before).push(await receiptAndWrite(work, src, join(spool, 'wal'), overlapped));
      }
    }
    for (const [label, runs] of [['receipt, then the write (before)', ab.before], ['write overlapping the receipt (now)', ab.now]] as const) {
      const best = runs.reduce((a, b) => (b.ms < a.ms ? b : a));
      console.log(`    ${`markEnd + pg_receivewal + write: ${label}`.padEnd(58)} ${s(best.ms).padStart(9)}  ${perMb(best.ms, best.bytes)}, CPU ${perMb(best.cpuMs, best.bytes)}, ${(best.bytes / 1e6).toFixed(1)} MB read (runs: ${runs.map((x) => s(x.ms)).join(', ')})`);
    }
  } finally {
    await src.dropSlot().catch(() => undefined);
    rmSync(spool, { recursive: true, force: true });
  }
  console.log(`  [WAL phases probe] load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

function basebackup(pg: PgServer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const p = spawn(join(PG_BIN, 'pg_basebackup'), ['-D', '-', '-Ft', '-X', 'fetch', '--checkpoint=fast', '-h', pg.host, '-p', String(pg.port), '-U', pg.user], { env: { ...process.env, PGPASSWORD: pg.password } });
    const out: Buffer[] = [];
    p.stdout.on('data', (b: Buffer) => out.push(b));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`pg_basebackup exited ${code}`))));
  });
}
