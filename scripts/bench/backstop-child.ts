/**
 * One Backstop operation in its own process, for scripts/bench/index.ts: a backup
 * (backupDatabase + connectorFor + LocalBackend, encrypted, zstd, encoder workers) or a
 * restore (Repository.readPoint piped into connector.restore into a new database).
 *
 *   node --import tsx scripts/bench/backstop-child.ts '<json ChildJob>'
 *
 * Prints one line `RESULT <json ChildResult>` on stdout. Times only the operation itself
 * (not the tsx start-up). Memory: VmHWM (peak RSS of this process, all threads) read
 * from /proc/self/status at the end, plus RSS sampled every 100 ms so flatness is visible.
 * The operation runs at the priority the app gives it: in the app a backup runs in a job
 * worker that lowers its own thread's priority, as the dump tool's, so this process does
 * the same (otherwise the niced dump tool would wait for the un-niced writer).
 */
import { readFileSync } from 'node:fs';
import type { Server } from '../../electron/shared/domain.ts';
import { backupDatabase } from '../../electron/engine/backup/backup-database.ts';
import { connectorFor } from '../../electron/engine/servers/index.ts';
import { LocalBackend } from '../../electron/engine/storage/index.ts';
import { initRepository, openRepository } from '../../electron/engine/repository/index.ts';
import { lowerThisThreadPriority } from '../../electron/engine/runtime/background-priority.ts';

export interface ChildJob {
  mode: 'backup' | 'restore';
  server: Server;
  password: string | null;
  /** backup: the database dumped; restore: the new database restored into. */
  database: string;
  backupType: 'logical' | 'snapshot';
  repoDir: string;
  keyBase64: string;
  kind: 'full' | 'incremental';
  workers: number;
  level: number;
  /** restore: the point (default: newest). */
  pointId?: string;
  /**
   * backup: the lowest zstd level the adaptive level may drop to (default 1); `level` = no adaptation.
   * formatVersion 1: the repository is created as format 1 first (untimed): the writer then
   * also hashes the whole stream (SHA-256) as format 1 needs — the "before" of issue #21 item 5.
   */
  minLevel?: number;
  formatVersion?: number;
}

export interface ChildResult {
  seconds: number;
  /** CPU seconds of this process (all threads) plus its reaped children (the dump tool), over the whole process life. */
  cpuSeconds: number;
  vmHwmMb: number;
  rssSamplesMb: number[];
  status: string;
  error: string | null;
  pointId: string | null;
  bytesRead: number;
  bytesNew: number;
  bytesStored: number;
  /** backup: the point's raw bytes by zstd level (adaptive level), when recorded. */
  bytesNewByLevel?: Record<string, number>;
}

/** utime + stime + cutime + cstime from /proc/self/stat, in seconds. */
function cpuSecondsWithChildren(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command name: field 3 is state (index 0), so utime (14) is index 11 … cstime (17) index 14.
  const ticks = [11, 12, 13, 14].reduce((a, i) => a + Number(f[i]), 0);
  return ticks / 100; // USER_HZ is 100 on Linux
}

function procStatusMb(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as ChildJob;
  lowerThisThreadPriority();
  const connector = connectorFor(job.server, { password: job.password });
  const key = Buffer.from(job.keyBase64, 'base64');
  const samples: number[] = [];
  const timer = setInterval(() => samples.push(procStatusMb('VmRSS')), 100);
  // A format-1 repository stays format 1 for the "before" measurement (a full would upgrade it).
  const repoOptions = { workers: job.workers, compressionLevel: job.level, ...(job.minLevel !== undefined ? { minCompressionLevel: job.minLevel } : {}), ...(job.formatVersion === 1 ? { upgradeFormat: false } : {}) };
  if (job.mode === 'backup' && job.formatVersion !== undefined) await initRepository(new LocalBackend(job.repoDir), { key, formatVersion: job.formatVersion });
  const t0 = performance.now();
  let result: Omit<ChildResult, 'seconds' | 'cpuSeconds' | 'vmHwmMb' | 'rssSamplesMb'>;
  if (job.mode === 'backup') {
    const [o] = await backupDatabase({
      database: job.database,
      backupType: job.backupType,
      requestedKind: job.kind,
      key,
      serverIdentity: 'bench',
      engineVersion: 'bench',
      dumpToolVersion: 'bench',
      openDump: (signal) => connector.openDump(job.database, job.backupType, { signal }),
      destinations: [{ id: 'local:bench', backend: new LocalBackend(job.repoDir) }],
      repoOptions,
    });
    result = {
      status: o!.status + (o!.kind !== job.kind ? ` (${o!.kind}: ${o!.kindReason})` : ''),
      error: o!.error ? `${o!.error.code}: ${o!.error.message}` : null,
      pointId: o!.pointId,
      bytesRead: o!.bytesRead,
      bytesNew: o!.bytesNew,
      bytesStored: o!.bytesStored,
    };
  } else {
    const repo = await openRepository(new LocalBackend(job.repoDir), { key, workers: job.workers });
    const pointId = job.pointId ?? (await repo.newestPoint(job.backupType))?.id;
    if (!pointId) throw new Error('no point to restore');
    const stream = await repo.readPoint(pointId);
    await connector.restore(job.database, stream, job.backupType, {});
    result = { status: 'success', error: null, pointId, bytesRead: 0, bytesNew: 0, bytesStored: 0 };
  }
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(timer);
  if (job.mode === 'backup' && result.pointId) {
    const p = await (await openRepository(new LocalBackend(job.repoDir), { key, workers: 0 })).getPoint(result.pointId);
    if (p.stats.bytesNewByLevel) result = { ...result, bytesNewByLevel: p.stats.bytesNewByLevel };
  }
  const out: ChildResult = { seconds, cpuSeconds: cpuSecondsWithChildren(), vmHwmMb: procStatusMb('VmHWM'), rssSamplesMb: samples, ...result };
  process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stdout.write(`RESULT ${JSON.stringify({ seconds: 0, cpuSeconds: 0, vmHwmMb: 0, rssSamplesMb: [], status: 'failed', error: String(e instanceof Error ? e.stack : e), pointId: null, bytesRead: 0, bytesNew: 0, bytesStored: 0 })}\n`);
    process.exit(1);
  },
);
