/**
 * A database folder after two years of backups (thousands of points), through the
 * real `backstop` command: what a DBA runs on it, counted in manifest reads (the local
 * backend's gets of `points/…`) and, for the listing, the command's own peak memory.
 * The folder is one real SQLite snapshot point written by `backstop backup`, plus older
 * points whose manifests are that point's re-encoded under older ids (the real manifest
 * encoder; they share its pack), so every one of them restores.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'libsql';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { createSealer } from '../../../electron/engine/crypto/seal.ts';
import { ENCRYPTION } from '../../../electron/engine/repository/algorithms.ts';
import { decodeManifest, encodeManifest } from '../../../electron/engine/repository/manifest.ts';
import { newPointId, pointKey } from '../../../electron/engine/repository/layout.ts';
import { inspectBackupFolder } from '../../../electron/engine/restore/backup-folder.ts';
import { cliInProcess, oneJsonDocument, runBackstop, runBackstopPeakRss } from '../../fixtures/cli.ts';
import { Scratch } from '../../fixtures/reliability/common.ts';

const OLDER = 3000;
/** Two years of points, one every 6 hours (the listing's cost is per point, not per hour). */
const STEP = 6 * 3_600_000;

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

let folder: string;
let dataDir: string;
let serverFile: string;
let repo: string;
let newest = '';
let ids: string[];

/** Writes `count` points older than `real`, one every STEP, a full every 4 (the real manifest encoder, the real point's refs). */
function addOlderPoints(repoDir: string, real: string, count: number): string[] {
  const sealer = createSealer(ENCRYPTION.NONE_SHA256_TAG, null);
  const m = decodeManifest(readFileSync(join(repoDir, pointKey(real))), real, sealer);
  const start = Date.parse(m.info.createdAt) - (count + 1) * STEP;
  const out: string[] = [];
  let chainId = '';
  for (let i = 0; i < count; i++) {
    const at = new Date(start + i * STEP);
    const id = newPointId(at, randomBytes(4).toString('hex'));
    const full = i % 4 === 0;
    if (full) chainId = id;
    const info = { ...m.info, id, createdAt: at.toISOString(), kind: full ? ('full' as const) : ('incremental' as const), chainId, parentId: full ? null : out.at(-1)! };
    writeFileSync(join(repoDir, pointKey(id)), encodeManifest({ ...m, info }, sealer, 3));
    out.push(id);
  }
  return out;
}

/** Manifest reads (gets of points/…) of the local backend while `fn` runs in this process. */
async function manifestReads<T>(fn: () => Promise<T>): Promise<{ result: T; reads: string[] }> {
  const reads: string[] = [];
  const real = LocalBackend.prototype.get;
  const spy = vi.spyOn(LocalBackend.prototype, 'get').mockImplementation(function (this: LocalBackend, key: string, ...rest: unknown[]) {
    if (key.startsWith('points/')) reads.push(key);
    return (real as (...a: unknown[]) => Promise<Buffer>).call(this, key, ...rest);
  });
  try {
    return { result: await fn(), reads };
  } finally {
    spy.mockRestore();
  }
}

async function json(...argv: string[]): Promise<{ code: number; doc: unknown }> {
  const r = await cliInProcess(...argv, '--data-dir', dataDir, '--json');
  return { code: r.code, doc: oneJsonDocument(r.out) };
}

const rows = (file: string) => {
  const db = new Database(file, { readonly: true });
  const n = (db.prepare('SELECT count(*) AS n FROM ledger').get() as { n: number }).n;
  db.close();
  return n;
};

beforeAll(async () => {
  folder = scratch.dir();
  const db = new Database(join(folder, 'ledger.db'));
  db.exec('CREATE TABLE ledger (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO ledger (v) VALUES (1), (2), (3);');
  db.close();
  const backups = scratch.dir();
  dataDir = scratch.dir();
  const task = join(scratch.dir(), 'task.json');
  writeFileSync(task, JSON.stringify({ name: 't', server: { kind: 'sqlite', folder }, type: 'snapshot', schedule: { full: '0 2 * * *', incremental: '0 * * * *' }, destinations: [{ kind: 'local', path: backups }] }));
  serverFile = join(scratch.dir(), 'server.json');
  writeFileSync(serverFile, JSON.stringify({ kind: 'sqlite', folder }));
  const r = await runBackstop(['backup', '--config', task, '--data-dir', dataDir, '--kind', 'full', '--json']);
  expect(r.code, r.stderr).toBe(0);
  repo = join(backups, encodeDatabaseFolder('ledger.db'));
  newest = readdirSync(join(repo, 'points'))[0]!.replace(/\.point$/, '');
  ids = [...addOlderPoints(repo, newest, OLDER), newest];
}, 120_000);

describe(`a database folder with ${OLDER + 1} points`, () => {
  // "latest" reads each manifest once: which point continues which is in them, not in the ids, whose
  // dates a clock set back makes lie (shared/latest-point.ts); the restore job reads the chosen one again.
  it('restore --point latest reads each manifest once and restores the newest', async () => {
    const { result, reads } = await manifestReads(() => json('restore', repo, '--point', 'latest', '--server', serverFile, '--database', 'latest.db'));
    expect(result).toMatchObject({ code: 0, doc: { database: 'latest.db' } });
    expect(rows(join(folder, 'latest.db'))).toBe(3);
    expect(new Set(reads)).toEqual(new Set(ids.map(pointKey)));
    expect(reads.length).toBeLessThanOrEqual(ids.length + 1);
  });

  it('extract --point latest and verify --point latest read each manifest once and take the newest', async () => {
    const out = join(scratch.dir(), 'latest.sqlite');
    const extract = await manifestReads(() => json('extract', repo, '--point', 'latest', '--out', out));
    expect(extract.result).toMatchObject({ code: 0, doc: { point: newest } });
    expect(readFileSync(out).subarray(0, 15).toString()).toBe('SQLite format 3');
    expect(extract.reads.length).toBeLessThanOrEqual(ids.length + 1);
    const verify = await manifestReads(() => json('verify', repo, '--point', 'latest'));
    expect(verify.result).toMatchObject({ code: 0, doc: { ok: true, pointsChecked: 1 } });
    expect(verify.reads.length).toBeLessThanOrEqual(ids.length + 1);
  });

  it('restore --point <id> of a point a year old reads that manifest only', async () => {
    const id = ids[OLDER / 2]!;
    const { result, reads } = await manifestReads(() => json('restore', repo, '--point', id, '--server', serverFile, '--database', 'old.db'));
    expect(result).toMatchObject({ code: 0, doc: { database: 'old.db' } });
    expect(rows(join(folder, 'old.db'))).toBe(3);
    expect(new Set(reads)).toEqual(new Set([pointKey(id)]));
  });

  it('points lists every point, reading each manifest once, in bounded memory', async () => {
    const { result, reads } = await manifestReads(() => json('points', repo));
    expect((result.doc as { id: string }[]).map((p) => p.id)).toEqual(ids);
    expect(reads.length).toBe(ids.length);
    expect(new Set(reads).size).toBe(ids.length);
    // The window's restore dialog reads the folder the same way.
    const inspect = await manifestReads(() => inspectBackupFolder({ kind: 'local', path: repo }, null, () => Promise.resolve(null)));
    expect(inspect.result.points.map((p) => p.id)).toEqual(ids);
    expect(inspect.result.unreadable).toBeUndefined();
    expect(inspect.reads.length).toBe(ids.length);
    const child = await runBackstopPeakRss(['points', repo, '--data-dir', dataDir, '--json']);
    expect(child.code).toBe(0);
    expect((oneJsonDocument(child.stdout) as unknown[]).length).toBe(ids.length);
    expect(child.peakRssMb).toBeGreaterThan(0);
    expect(child.peakRssMb).toBeLessThan(250);
    console.log(`points --json of ${ids.length} points: peak RSS ${child.peakRssMb.toFixed(0)} MB`);
  });

  it('prune plans from one read of each manifest and deletes the year-old points, keeping the rest restorable', async () => {
    const dry = await manifestReads(() => json('prune', repo, '--min-age', '365d', '--keep-last', '24', '--dry-run'));
    expect(dry.result.code).toBe(0);
    expect(dry.reads.length).toBe(ids.length);
    const plan = dry.result.doc as { plan: { id: string; action: string }[] };
    const doomed = plan.plan.filter((d) => d.action === 'delete').map((d) => d.id);
    expect(doomed.length).toBeGreaterThan(OLDER / 3);
    const real = await manifestReads(() => json('prune', repo, '--min-age', '365d', '--keep-last', '24'));
    expect(real.result).toMatchObject({ code: 0, doc: { deleted: doomed } });
    // the plan's listing, plus each deleted manifest's bytes (kept to put a point back that a restore started on meanwhile)
    expect(real.reads.length).toBe(ids.length + doomed.length);
    ids = ids.filter((id) => !doomed.includes(id));
    expect(readdirSync(join(repo, 'points')).length).toBe(ids.length);
  });

  it('one damaged manifest among thousands: restore --point latest still restores the newest, the window lists the others and names it, points names it', async () => {
    const bad = ids[10]!;
    const file = join(repo, pointKey(bad));
    const bytes = readFileSync(file);
    bytes[bytes.length - 5]! ^= 0xff;
    writeFileSync(file, bytes);
    const { result, reads } = await manifestReads(() => json('restore', repo, '--point', 'latest', '--server', serverFile, '--database', 'despite.db'));
    expect(result).toMatchObject({ code: 0, doc: { database: 'despite.db' } });
    expect(rows(join(folder, 'despite.db'))).toBe(3);
    expect(reads).toContain(pointKey(newest));
    // The window's restore dialog lists every other point and names the damaged one.
    const inspect = await inspectBackupFolder({ kind: 'local', path: repo }, null, () => Promise.resolve(null));
    expect(inspect.points.map((p) => p.id)).toEqual(ids.filter((id) => id !== bad));
    expect(inspect.unreadable).toEqual([{ id: bad, code: 'INTEGRITY', message: expect.stringContaining(`Restore point ${bad} is damaged`) }]);
    const list = await json('points', repo);
    expect(list).toMatchObject({ code: 1, doc: { error: { code: 'INTEGRITY', message: expect.stringContaining(`cannot be read: ${bad}.`) } } });
    expect((list.doc as { error: { message: string } }).error.message).toContain(`${ids.length - 1 - 5} older not shown): ${ids.slice(-5).join(', ')}; restore one of them by its id.`);
  });
});


