/**
 * A backup over a slow uplink keeps reporting progress while its packs upload: the run's
 * progress (DatabaseProgress, what the window and the run's events show) carries the pack bytes
 * the destination acknowledged, and once the dump was read whole its phase says "uploading".
 * Before, progress moved only with bytes read from the dump, so a pack uploading for minutes
 * left the bar still and the end showed "everything read" while the last packs still uploaded.
 * Real Azurite behind the HTTP fault proxy limiting request bodies to 512 KiB/s (scaled down:
 * packs of 512 KiB, a 1.5 MiB incompressible dump), with blocks of 64 KiB and with the default
 * 8 MiB blocks (a pack then is one Put Blob); real S3 (s3rver) behind the same throttle, where a
 * pack is one PutObject (as a default 8 MiB part is one request): their bytes count as they are
 * sent, 64 KiB at a time, not once when the server answers. A local folder for the unaffected case. The clock is a counter so every report passes the throttle: counts and
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
import { S3Backend } from '../../../electron/engine/storage/s3-backend.ts';
import type { DatabaseProgress } from '../../../electron/shared/domain.ts';
import { AZURITE_ACCOUNT, azuriteBackendOptions, startAzurite, type AzuriteHandle } from '../../fixtures/azurite.ts';
import { startFaultProxy, type FaultProxy } from '../../fixtures/reliability/http-fault-proxy.ts';
import { s3rverBackendOptions, startS3rver, type S3rverHandle } from '../../fixtures/s3rver.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { backupInput } from '../../fixtures/backup-input.ts';

const KIB = 1024;
const LINK = 512 * KIB; // bytes per second on the throttled uplink
const PACK = 512 * KIB;
const DUMP = randomBytes(1536 * KIB); // incompressible: three packs' worth
let az: AzuriteHandle;
let slow: FaultProxy;
let s3: S3rverHandle;
let slowS3: FaultProxy;

beforeAll(async () => {
  [az, s3] = await Promise.all([startAzurite(['work']), startS3rver(['work'])]);
  slow = await startFaultProxy({ host: '127.0.0.1', port: az.port }, { rate: 0, seed: 1, dialect: 'azure', bytesPerSecond: LINK });
  slowS3 = await startFaultProxy({ host: '127.0.0.1', port: s3.port }, { rate: 0, seed: 1, bytesPerSecond: LINK });
}, 60_000);
afterAll(async () => {
  await slow?.close();
  await slowS3?.close();
  await az?.stop();
  await s3?.stop();
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

/** What a run over a slow link must show: bytes uploaded moving many times per pack, also after the dump was read whole, and totals matching `stored`. */
function expectMovingWithinPacks(reports: DatabaseProgress[], stored: { count: number; bytes: number }): void {
  expect(stored.count).toBeGreaterThanOrEqual(3);
  const last = reports[reports.length - 1]!;
  expect(last.phase).toBe('done');
  expect(dest(last).bytesUploaded).toBe(stored.bytes);
  expect(dest(last).bytesToUpload).toBe(stored.bytes);

  // Uploaded bytes never go back, and move many times per pack (Azure blocks, S3 64 KiB slices; not whole packs).
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
}

describe('progress of a backup over a slow uplink', () => {
  it('Azure at 512 KiB/s: uploaded bytes move within each pack, the end says uploading, totals match the packs stored', async () => {
    const slowBackend = new AzureBackend(azuriteBackendOptions({ endpoint: `${slow.endpoint}/${AZURITE_ACCOUNT}` }, { prefix: 'slow', blockSize: 64 * KIB, blockConcurrency: 2 }));
    const { reports, status } = await backUp(slowBackend);
    expect(status).toBe('success');
    expectMovingWithinPacks(reports, await packBytes(new AzureBackend(azuriteBackendOptions(az, { prefix: 'slow' }))));
  }, 60_000);

  it('Azure with its default 8 MiB blocks (a pack is one Put Blob): uploaded bytes move within each pack as they are sent', async () => {
    const slowBackend = new AzureBackend(azuriteBackendOptions({ endpoint: `${slow.endpoint}/${AZURITE_ACCOUNT}` }, { prefix: 'slow-one' }));
    const { reports, status } = await backUp(slowBackend);
    expect(status).toBe('success');
    expectMovingWithinPacks(reports, await packBytes(new AzureBackend(azuriteBackendOptions(az, { prefix: 'slow-one' }))));
  }, 60_000);

  it('S3 at 512 KiB/s, a pack one PutObject: uploaded bytes move within each pack as they are sent, same totals and phases', async () => {
    const slowBackend = new S3Backend(s3rverBackendOptions({ endpoint: slowS3.endpoint }, { prefix: 'slow' }));
    const { reports, status } = await backUp(slowBackend);
    await slowBackend.close();
    expect(status).toBe('success');
    const direct = new S3Backend(s3rverBackendOptions(s3, { prefix: 'slow' }));
    expectMovingWithinPacks(reports, await packBytes(direct));
    await direct.close();
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
