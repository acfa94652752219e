/**
 * `npm run bench -- --only reorder`: delta bases found by resemblance sketch against
 * positional bases only (issue #21 item 1), on a reorder workload, side by side in one run.
 *
 * Workload (in process, no server): a SQL-text dump of TABLES tables (COPY blocks of
 * INSERT-like rows, default 1 MiB chunks); the incremental's dump has the tables in another
 * order — what renaming tables does to a `pg_dump` (it orders them by name) — and 1% of the
 * rows changed in place. Both repositories (local folder, unencrypted, zstd 3, 2 encoder
 * workers) get the same full and the same incremental; one with `sketchBases: false` (no
 * sketches computed, positional bases only).
 * Reported: each incremental's stored bytes against the full's and against each other,
 * the number of delta chunks, the incremental's time, and the full's time (what computing
 * the sketches costs). Nothing here is asserted.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { initRepository } from '../../electron/engine/repository/index.ts';
import { LocalBackend } from '../../electron/engine/storage/index.ts';

export interface ReorderBenchContext {
  mb: number;
  addRow: (section: string, metric: string, ours: string, peer: string, ratio: number | null, target: string, met: boolean | null) => void;
  notes: string[];
  mbText: (b: number) => string;
  secs: (s: number) => string;
}

const SECTION = 'Delta bases: reordered tables (resemblance sketch)';
const TABLES = 12;

function table(t: number, bytes: number): string[] {
  let x = 0x2545f491 ^ (t * 7919);
  const r = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
  const rows: string[] = [];
  for (let n = 0, i = 0; n < bytes; i++) {
    const row = `${i}\tcustomer_${Math.floor(r() * 1e6)}\t${(r() * 1000).toFixed(2)}\t2024-0${1 + Math.floor(r() * 9)}-1${Math.floor(r() * 9)}\t${r() < 0.5 ? 't' : 'f'}\n`;
    rows.push(row);
    n += row.length;
  }
  return rows;
}

function dump(tables: string[][], order: number[]): Buffer {
  return Buffer.from(order.map((t) => `COPY public.table_${t} (id, name, amount, day, flag) FROM stdin;\n${tables[t]!.join('')}\\.\n\n`).join(''));
}

async function* pieces(data: Buffer): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += 1 << 20) yield data.subarray(i, i + (1 << 20));
}

export async function benchReorder(work: string, ctx: ReorderBenchContext): Promise<void> {
  console.log(`\n${SECTION}`);
  const tables = Array.from({ length: TABLES }, (_, t) => table(t, (ctx.mb * 1024 * 1024) / TABLES));
  const before = dump(tables, tables.map((_, t) => t));
  // 1% of the rows changed in place (the amount column), then the tables in another order.
  for (const rows of tables) for (let i = 37; i < rows.length; i += 100) rows[i] = rows[i]!.replace(/\t(\d+)\.(\d\d)\t/, (_, a: string, b: string) => `\t${Number(a) + 1}.${b}\t`);
  const order = tables.map((_, t) => t).sort((a, b) => ((a * 5) % TABLES) - ((b * 5) % TABLES));
  const after = dump(tables, order);
  const opts = { database: 'shop', serverIdentity: 'bench', engineVersion: '15', dumpToolVersion: 'synthetic', backupType: 'logical' as const };
  const result: Record<string, { full: number; inc: number; deltas: number; chunks: number; seconds: number; fullSeconds: number; fullCpu: number; incCpu: number }> = {};
  // Twice each, interleaved, keeping each measure's best: the first write of the process also
  // pays one-time costs (module loading, JIT) that must not be charged to either side.
  for (const sketchBases of [true, false, true, false]) {
    const dir = join(work, `reorder-${sketchBases}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const repo = await initRepository(new LocalBackend(dir), { workers: 2, sketchBases });
    // CPU seconds of the whole process (this thread and the encoder workers): robust on a loaded machine.
    const cpu = (from: NodeJS.CpuUsage) => {
      const u = process.cpuUsage(from);
      return (u.user + u.system) / 1e6;
    };
    const f0 = performance.now();
    const c0 = process.cpuUsage();
    const full = await repo.writePoint(pieces(before), { ...opts, kind: 'full', expectedSize: before.length });
    const fullCpu = cpu(c0);
    const fullSeconds = (performance.now() - f0) / 1000;
    const t0 = performance.now();
    const c1 = process.cpuUsage();
    const inc = await repo.writePoint(pieces(after), { ...opts, kind: 'incremental', expectedSize: after.length });
    const incCpu = cpu(c1);
    const seconds = (performance.now() - t0) / 1000;
    const prev = result[String(sketchBases)];
    result[String(sketchBases)] = {
      full: full.stats.bytesStored,
      inc: inc.stats.bytesStored,
      deltas: inc.stats.chunksDelta ?? 0,
      chunks: inc.stats.chunksNew,
      seconds: Math.min(seconds, prev?.seconds ?? Infinity),
      fullSeconds: Math.min(fullSeconds, prev?.fullSeconds ?? Infinity),
      fullCpu: Math.min(fullCpu, prev?.fullCpu ?? Infinity),
      incCpu: Math.min(incCpu, prev?.incCpu ?? Infinity),
    };
    rmSync(dir, { recursive: true, force: true });
  }
  const s = result['true']!;
  const p = result['false']!;
  ctx.addRow(SECTION, `incremental stored / full, sketch (${ctx.mbText(before.length)} dump, ${TABLES} tables reordered, 1% rows)`, ctx.mbText(s.inc), `full ${ctx.mbText(s.full)}`, s.inc / s.full, '', null);
  ctx.addRow(SECTION, '  … positional bases only', ctx.mbText(p.inc), `full ${ctx.mbText(p.full)}`, p.inc / p.full, '', null);
  ctx.addRow(SECTION, '  … sketch vs positional only (stored)', ctx.mbText(s.inc), `positional ${ctx.mbText(p.inc)}`, s.inc / p.inc, '', null);
  ctx.addRow(SECTION, '  … delta chunks: sketch vs positional', `${s.deltas}/${s.chunks}`, `positional ${p.deltas}/${p.chunks}`, null, '', null);
  ctx.addRow(SECTION, '  … incremental time: sketch vs positional', ctx.secs(s.seconds), `positional ${ctx.secs(p.seconds)}`, s.seconds / p.seconds, '', null);
  ctx.addRow(SECTION, '  … full time: computing sketches vs not', ctx.secs(s.fullSeconds), `no sketches ${ctx.secs(p.fullSeconds)}`, s.fullSeconds / p.fullSeconds, '', null);
  ctx.addRow(SECTION, '  … full CPU seconds (all threads): sketches vs not', ctx.secs(s.fullCpu), `no sketches ${ctx.secs(p.fullCpu)}`, s.fullCpu / p.fullCpu, '', null);
  ctx.addRow(SECTION, '  … incremental CPU seconds: sketch vs positional', ctx.secs(s.incCpu), `positional ${ctx.secs(p.incCpu)}`, s.incCpu / p.incCpu, '', null);
  ctx.notes.push(`reorder: synthetic SQL-text dump (${TABLES} COPY blocks), tables reordered as renaming them reorders a pg_dump, 1% of rows changed in place; local folder, unencrypted, zstd 3, 2 encoder workers; times and CPU seconds best of two interleaved runs each.`);
}
