/**
 * A backup over a slow uplink keeps reporting progress while its packs upload: the run's
 * progress (DatabaseProgress, what the window and the run's events show) carries the pack bytes
 * the destination acknowledged, and once the dump was read whole its phase says "uploading".
 * Before, progress moved only with bytes read from the dump, so a pack uploading for minutes
 * left the bar still and the end showed "everything read" while the last packs still uploaded.
 * Real Azurite behind the HTTP fault proxy limiting request bodies to 512 KiB/s (scaled down:
 * packs of 512 KiB, blocks of 64 KiB, a 1.5 MiB incompressible dump); a local folder for the
 * unaffected case. The clock is a counter so every report passes the throttle: counts and
 * order are checked, never timings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { backupDatabase } from '../../../electron/engine/backup/backup-database.ts';
import { initRepository } from '../../../electron/engine/repository/index.ts';
import type { DumpStream } from '../../../electron/engine/servers/connector.ts';
import { AzureBackend } from '../../../electron/engine/storage/azure-backend.ts';
import { LocalBackend, type Backend } from '../../../electron/engine/storage/index.ts';
import type { DatabaseProgress } from '../../../electron/shared/domain.ts';
import { AZURITE_ACCOUNT, azuriteBackendOptions, startAzurite, type AzuriteHandle } from '../../fixtures/azurite.ts';
import { startFaultProxy, type FaultProxy } from '../../fixtures/reliability/http-fault-proxy.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { backupInput } from '../../fixtures/backup-input.ts';

const KIB = 1024;
const LINK = 512 * KIB; // bytes per second on the throttled uplink
const PACK = 512 * KIB;
const DUMP = randomBytes(1536 * KIB); // incompressible: three packs' worth
let az: AzuriteHandle;
let slow: FaultProxy;

beforeAll(async () => {
  az = await startAzurite(['work']);
  slow = await startFaultProxy({ host: '127.0.0.1', port: az.port }, { rate: 0, seed: 1, dialect: 'azure', bytesPerSecond: LINK });
}, 60_000);
afterAll(async () => {
  await slow?.close();
  await az?.stop();
});

/** The dump as a stream of 64 KiB pieces that yields to the event loop between them. */
function dump(): DumpStream {
  let at = 0;
  const stream = new Readable({
    read() {
      const piece = at < DUMP.length ? DUMP.subarray(at, (at += 64 * KIB)) : null;
      setImmediate(() => this.push(piece));
    },
  });
  return { stream, done: new Promise<void>((resolve) => stream.once('end', resolve)), meta: { format: 'pg-custom' } };
}

/** Backs the dump up to `backend` (a repository with small packs made first) and returns every progress report. */
async function backUp(backend: Backend): Promise<{ reports: DatabaseProgress[]; status: string }> {
  await initRepository(backend, { packSize: PACK, chunker: { min: 16 * KIB, avg: 32 * KIB, max: 64 * KIB }, workers: 0 });
  const reports: DatabaseProgress[] = [];
  let t = 0;
  const input = backupInput([{ id: 'd', backend }], {
    openDump: async () => dump(),
    repoOptions: { workers: 0, progressIntervalMs: 0 },
    onProgress: (p) => reports.push(p),
    now: () => (t += 1_000),
  });
  const [outcome] = await backupDatabase(input);
  return { reports, status: outcome!.status };
}

async function packBytes(backend: Backend): Promise<{ count: number; bytes: number }> {
  const packs = (await backend.list('')).filter((o) => o.key.endsWith('.pack'));
  return { count: packs.length, bytes: packs.reduce((n, o) => n + o.size, 0) };
}

const dest = (p: DatabaseProgress) => p.destinations[0]!;

describe('progress of a backup over a slow uplink', () => {
  it('Azure at 512 KiB/s: uploaded bytes move within each pack, the end says uploading, totals match the packs stored', async () => {
    const slowBackend = new AzureBackend(azuriteBackendOptions({ endpoint: `${slow.endpoint}/${AZURITE_ACCOUNT}` }, { prefix: 'slow', blockSize: 64 * KIB, blockConcurrency: 2 }));
    const { reports, status } = await backUp(slowBackend);
    expect(status).toBe('success');

    const stored = await packBytes(new AzureBackend(azuriteBackendOptions(az, { prefix: 'slow' })));
    expect(stored.count).toBeGreaterThanOrEqual(3);
    const last = reports[reports.length - 1]!;
    expect(last.phase).toBe('done');
    expect(dest(last).bytesUploaded).toBe(stored.bytes);
    expect(dest(last).bytesToUpload).toBe(stored.bytes);

    // Acknowledged bytes never go back, and move many times per pack (blocks, not whole packs).
    const uploaded = reports.map((r) => dest(r)?.bytesUploaded ?? 0);
    for (let i = 1; i < uploaded.length; i++) expect(uploaded[i]).toBeGreaterThanOrEqual(uploaded[i - 1]!);
    expect(new Set(uploaded).size).toBeGreaterThan(stored.count * 4);

    // Phases in order: dumping → uploading → done; the report before done says uploading.
    const phases = reports.map((r) => r.phase).filter((p, i, a) => i === 0 || a[i - 1] !== p);
    expect(phases).toEqual(['dumping', 'uploading', 'done']);
    expect(reports[reports.length - 2]!.phase).toBe('uploading');

    // After the dump was read whole, the bar keeps moving: several reports with more bytes uploaded, still short of all.
    const readWhole = reports.findIndex((r) => r.bytesRead === DUMP.length);
    expect(readWhole).toBeGreaterThan(0);
    const tail = reports.slice(readWhole).filter((r) => dest(r).bytesUploaded! < dest(r).bytesToUpload!);
    expect(new Set(tail.map((r) => dest(r).bytesUploaded)).size).toBeGreaterThanOrEqual(4);
    expect(tail.every((r) => r.phase !== 'done')).toBe(true);
    expect(tail.filter((r) => r.phase === 'uploading').length).toBeGreaterThanOrEqual(3);
  }, 60_000);

  it('a local folder: uploads counted per pack, the same totals and phases', async () => {
    const backend = new LocalBackend(tempDir('backstop-slow-link-local-'));
    const { reports, status } = await backUp(backend);
    expect(status).toBe('success');
    const stored = await packBytes(backend);
    const last = reports[reports.length - 1]!;
    expect(last.phase).toBe('done');
    expect(dest(last).bytesUploaded).toBe(stored.bytes);
    expect(dest(last).bytesToUpload).toBe(stored.bytes);
    // A local put reports only when it is done: uploaded bytes take at most one value per pack, plus 0.
    expect(new Set(reports.map((r) => dest(r)?.bytesUploaded ?? 0)).size).toBeLessThanOrEqual(stored.count + 1);
    expect(reports.map((r) => r.phase).filter((p, i, a) => i === 0 || a[i - 1] !== p)).toEqual(['dumping', 'uploading', 'done']);
  }, 60_000);
});
