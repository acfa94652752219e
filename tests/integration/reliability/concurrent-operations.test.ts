/**
 * Several operations on the same backups at once, on real destinations (a local folder and
 * the real S3 protocol server): a restore (or extract) reading a point while a prune deletes
 * it, a point deleted just as a read starts, verify while a prune runs, an incremental
 * starting while a prune deletes a point of its chain, two writers in one database folder.
 * The interleavings are deterministic: a pass-through backend runs the other operation at a
 * named step of the first one (after a given get/list/put), never a sleep.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initRepository, openRepository, type Repository } from '../../../electron/engine/repository/index.ts';
import { applyRetention } from '../../../electron/engine/retention/index.ts';
import { createS3Backend, LocalBackend, type Backend } from '../../../electron/engine/storage/index.ts';
import type { ByteRange, ObjectInfo, PutBody, PutOptions } from '../../../electron/engine/storage/backend.ts';
import { backdateRepository, cli, filesUnder, Scratch, spawnCli } from '../../fixtures/reliability/common.ts';
import { s3rverBackendOptions, startS3rver, type S3rverHandle } from '../../fixtures/s3rver.ts';
import { planRecovery, restoreClusterAt } from '../../../electron/engine/restore/pitr.ts';
import { encodeDatabaseFolder, SERVER_FOLDER } from '../../../electron/engine/servers/index.ts';
import { restoreCommand } from '../../../electron/cli/commands/location.ts';
import { runTask } from '../../fixtures/runs.ts';
import { chownTree } from '../../fixtures/servers/common.ts';
import { PG_BIN, startPostgres } from '../../fixtures/servers/postgres.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { walTask } from '../../fixtures/wal-task.ts';
import { FaultyBackend } from '../../fixtures/storage/faulty-backend.ts';
import { PassThroughBackend } from '../../fixtures/storage/pass-through-backend.ts';
import { FAST, SMALL_CDC, collect, dumpLike, pieces, pointOpts, sha256 } from '../../unit/repository/helpers.ts';

const scratch = new Scratch();
let s3: S3rverHandle;
beforeAll(async () => {
  s3 = await startS3rver(['work']);
});
afterAll(async () => {
  await s3?.stop();
  scratch.cleanup();
});

type Op = 'get' | 'list' | 'put' | 'beforePut';
/**
 * Runs `fn` once, right after the first call of `op` on a key (list: a prefix) starting with
 * `prefix` (while `when()`) returned — or, for 'beforePut', just before that put starts.
 */
class Hooked extends PassThroughBackend {
  private hooks: { op: Op; prefix: string; when: () => boolean; fn: () => Promise<void> }[] = [];
  after(op: Op, prefix: string, fn: () => Promise<void>, when: () => boolean = () => true): this {
    this.hooks.push({ op, prefix, when, fn });
    return this;
  }
  private async fire(op: Op, key: string): Promise<void> {
    const i = this.hooks.findIndex((h) => h.op === op && key.startsWith(h.prefix) && h.when());
    if (i < 0) return;
    const [h] = this.hooks.splice(i, 1);
    await h!.fn();
  }
  override async get(key: string, range?: ByteRange): Promise<Buffer> {
    const b = await super.get(key, range);
    await this.fire('get', key);
    return b;
  }
  override async list(prefix: string): Promise<ObjectInfo[]> {
    const l = await super.list(prefix);
    await this.fire('list', prefix);
    return l;
  }
  override async put(key: string, body: PutBody, options?: PutOptions): Promise<void> {
    await this.fire('beforePut', key);
    await super.put(key, body, options);
    await this.fire('put', key);
  }
}

let seq = 0;
interface Dest {
  name: string;
  /** A fresh, empty place; `open()` gives one more independent client of it (another process's view). */
  fresh(): { open: () => Backend; dir: string | null };
}
const DESTS: Dest[] = [
  {
    name: 'local folder',
    fresh() {
      const dir = join(scratch.dir(), 'sales');
      return { open: () => new LocalBackend(dir), dir };
    },
  },
  {
    name: 'S3 protocol server',
    fresh() {
      const prefix = `concurrent-${Date.now()}-${seq++}`;
      return { open: () => createS3Backend(s3rverBackendOptions(s3, { prefix })), dir: null };
    },
  },
];

// Several packs per point (16 KiB packs), so a read is many ranged reads and a prune frees packs.
const OPTS = { chunker: SMALL_CDC, packSize: 16 * 1024, ...FAST };
const A = dumpLike(160_000, 7);
const B = dumpLike(160_000, 8);
/** Larger than the restore stream's 1 MiB buffer, so its reads are still under way after the first bytes. */
const LONG = dumpLike(3_000_000, 9);
const KEEP_NEWEST = { minAgeDays: 0, keepLast: 1, minAgeHours: 0 };

async function keys(b: Backend, prefix: string): Promise<string[]> {
  return (await b.list(prefix)).map((o) => o.key).sort();
}

/** Two fulls (LONG, then B) in a new repository; returns their ids. */
async function twoFulls(b: Backend): Promise<{ older: string; newer: string; repo: Repository }> {
  const repo = await initRepository(b, OPTS);
  const older = (await repo.writePoint(pieces(LONG, 65_536), pointOpts())).id;
  const newer = (await repo.writePoint(pieces(B), pointOpts())).id;
  return { older, newer, repo };
}

describe.each(DESTS)('several operations at once on a $name', (dest) => {
  it('a prune while a restore reads the point it would delete keeps that point; the restore is whole; the next prune deletes it', async () => {
    const place = dest.fresh();
    const { older, newer } = await twoFulls(place.open());
    const reader = await openRepository(place.open(), OPTS);
    const stream = await reader.readPoint(older);
    const it = stream[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.done).toBe(false);
    const markers = await keys(place.open(), 'inflight/');

    // Retention of the same task, by another Backstop (its own client of the destination).
    const pruner = await openRepository(place.open(), OPTS);
    const packsBefore = (await keys(place.open(), 'packs/')).length;
    const pruned = await applyRetention(pruner, KEEP_NEWEST, new Date());
    const packsAfter = (await keys(place.open(), 'packs/')).length;
    // Deleting exactly that point (not retention) is refused, naming why.
    const refused = await pruner.deletePoints([older]).then(
      () => null,
      (e: unknown) => e,
    );

    const rest: Buffer[] = [Buffer.from(first.value as Buffer)];
    const failure = await (async () => {
      for (let r = await it.next(); !r.done; r = await it.next()) rest.push(Buffer.from(r.value as Buffer));
    })().then(
      () => null,
      (e: unknown) => e,
    );
    expect(failure).toBeNull();
    expect(sha256(Buffer.concat(rest))).toBe(sha256(LONG));
    expect(markers).toHaveLength(1); // the read was under way: its marker named the point
    expect(pruned.plan.find((d) => d.id === older)?.action).toBe('delete');
    expect(pruned.deleted).toEqual([]);
    expect(pruned.inUse).toEqual([older]);
    expect(packsAfter).toBe(packsBefore);
    expect(refused).toMatchObject({ code: 'CONFLICT', message: `Restore point ${older} is in use: a restore is reading it; nothing was deleted. Try again when it has finished.` });
    // The stream ended: its marker is gone, and the next prune deletes the point and its packs.
    await new Promise<void>((r) => (stream.closed ? r() : stream.once('close', () => r())));
    await expect.poll(() => keys(place.open(), 'inflight/')).toEqual([]);
    const again = await applyRetention(pruner, KEEP_NEWEST, new Date());
    expect(again.deleted).toEqual([older]);
    expect(again.inUse).toEqual([]);
    expect((await pruner.listPoints()).map((p) => p.id)).toEqual([newer]);
    const report = await pruner.verify();
    expect(report.problems).toEqual([]);
    expect(report.packsChecked).toBe((await keys(place.open(), 'packs/')).length);
  });

  it('a restore reading several points one after another (base + WAL, dump + log) holds them all: a prune between two reads deletes none', async () => {
    const place = dest.fresh();
    const repo = await initRepository(place.open(), OPTS);
    const base = (await repo.writePoint(pieces(A), pointOpts())).id;
    const wal = (await repo.writePoint(pieces(B), pointOpts({ kind: 'incremental' }))).id;
    const newest = (await repo.writePoint(pieces(LONG, 65_536), pointOpts())).id;
    const hold = await (await openRepository(place.open(), OPTS)).holdPoints([base, wal]);
    expect(sha256(await collect(await repo.readPoint(base)))).toBe(sha256(A)); // the first read, done
    const pruner = await openRepository(place.open(), OPTS);
    const pruned = await applyRetention(pruner, KEEP_NEWEST, new Date());
    expect({ deleted: pruned.deleted, inUse: [...(pruned.inUse ?? [])].sort() }).toEqual({ deleted: [], inUse: [base, wal] });
    expect(sha256(await collect(await repo.readPoint(wal)))).toBe(sha256(B)); // the second read
    await hold.release();
    expect(await keys(place.open(), 'inflight/')).toEqual([]);
    expect([...(await applyRetention(pruner, KEEP_NEWEST, new Date())).deleted].sort()).toEqual([base, wal]);
    const gone = await pruner.holdPoints([base, newest]).then(
      () => null,
      (e: unknown) => e,
    );
    expect(gone).toMatchObject({ code: 'NOT_FOUND' });
    expect((await pruner.verify()).problems).toEqual([]);
  });

  it('a point deleted just as a restore starts reading it: NOT_FOUND saying so, nothing emitted, no marker left', async () => {
    const place = dest.fresh();
    const { older, newer } = await twoFulls(place.open());
    const pruner = await openRepository(place.open(), OPTS);
    // The restore has read the manifest; the prune deletes the point and its packs right then.
    const hooked = new Hooked(place.open()).after('get', 'points/', async () => {
      expect((await pruner.deletePoints([older])).deleted).toEqual([older]);
    });
    const reader = await openRepository(hooked, OPTS);
    const err = await reader.readPoint(older).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'NOT_FOUND' });
    expect((err as Error).message).toContain(`Restore point ${older} was deleted from`);
    expect((err as Error).message).toContain('nothing was read or restored. Choose another point.');
    expect(await keys(place.open(), 'inflight/')).toEqual([]);
    expect(sha256(await collect(await reader.readPoint(newer)))).toBe(sha256(B));
    expect(await keys(place.open(), 'inflight/')).toEqual([]); // gone before the stream ended
  });

  it('verify of every point while a prune deletes one reports no damage; verify of that point says it was deleted', async () => {
    const place = dest.fresh();
    const { older, newer } = await twoFulls(place.open());
    const pruner = await openRepository(place.open(), OPTS);
    // Verify has read the manifests and its first pack; the prune runs to its end right then.
    const hooked = new Hooked(place.open()).after('get', 'packs/', async () => {
      expect((await pruner.deletePoints([older])).deleted).toEqual([older]);
    });
    const report = await (await openRepository(hooked, OPTS)).verify();
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.pointsChecked).toBe(1);

    // One point by id: the prune deletes it while its packs are read.
    const w = await openRepository(place.open(), OPTS);
    const third = (await w.writePoint(pieces(A), pointOpts())).id;
    const hooked2 = new Hooked(place.open()).after('get', 'packs/', async () => {
      await pruner.deletePoints([newer]);
    });
    const one = await (await openRepository(hooked2, OPTS)).verify(newer).then(
      () => null,
      (e: unknown) => e,
    );
    expect(one).toMatchObject({ code: 'NOT_FOUND' });
    expect((one as Error).message).toContain(`Restore point ${newer} was deleted from`);
    expect((await pruner.verify(third)).problems).toEqual([]);
  });

  it('an incremental whose chain loses a point to a prune before its marker lands writes a whole point on the chain as it is now', async () => {
    const place = dest.fresh();
    const repo = await initRepository(place.open(), OPTS);
    const full = (await repo.writePoint(pieces(A), pointOpts())).id;
    const inc1 = (await repo.writePoint(pieces(Buffer.concat([B, A.subarray(0, 20_000)])), pointOpts({ kind: 'incremental' }))).id;
    const pruner = await openRepository(place.open(), OPTS);
    // The backup has read its chain (full + inc1); before its marker is stored the prune deletes the full.
    const hooked = new Hooked(place.open());
    hooked.after('beforePut', 'inflight/', async () => {
      expect((await pruner.deletePoints([full])).deleted).toEqual([full]);
    });
    const writer = await openRepository(hooked, OPTS);
    // The new point repeats most of the full's chunks (which lived only in the full's packs).
    const data = Buffer.concat([A, B.subarray(0, 30_000)]);
    const inc2 = await writer.writePoint(pieces(data), pointOpts({ kind: 'incremental' }));
    expect(inc2.kind).toBe('incremental');
    expect(sha256(await collect(await pruner.readPoint(inc2.id)))).toBe(sha256(data));
    expect((await pruner.listPoints()).map((p) => p.id)).toEqual([inc1, inc2.id]);
    expect((await pruner.verify()).problems).toEqual([]);
    expect(await keys(place.open(), 'inflight/')).toEqual([]);
  });

  it("a prune between a run's look at the folder and its write's marker: the write builds on the chain as it is then, not as the run saw it", async () => {
    const place = dest.fresh();
    const repo = await initRepository(place.open(), OPTS);
    const full = (await repo.writePoint(pieces(A), pointOpts())).id;
    const inc1 = (await repo.writePoint(pieces(Buffer.concat([B, A.subarray(0, 20_000)])), pointOpts({ kind: 'incremental' }))).id;
    const writer = await openRepository(place.open(), OPTS);
    // The run's look (prepare-destination): the chain is full + inc1, and the write reuses that listing.
    expect((await writer.newestChain('logical'))?.pointIds).toEqual([full, inc1]);
    const pruner = await openRepository(place.open(), OPTS);
    expect((await pruner.deletePoints([full])).deleted).toEqual([full]);
    const data = Buffer.concat([A, B.subarray(0, 30_000)]);
    const inc2 = await writer.writePoint(pieces(data), pointOpts({ kind: 'incremental' }));
    expect(inc2.parentId).toBe(inc1);
    // Retention on the run's view sees the point it committed and not the one pruned.
    expect((await writer.listPoints({ reuse: true })).map((p) => p.id)).toEqual([inc1, inc2.id]);
    expect(sha256(await collect(await pruner.readPoint(inc2.id)))).toBe(sha256(data));
    expect((await pruner.verify()).problems).toEqual([]);
    expect(await keys(place.open(), 'inflight/')).toEqual([]);
  });

  it('a prune that looked at the markers before a backup registered puts the point back when the backup already relies on it', async () => {
    const place = dest.fresh();
    const repo = await initRepository(place.open(), OPTS);
    const full = (await repo.writePoint(pieces(A), pointOpts())).id;
    const inc1 = (await repo.writePoint(pieces(B), pointOpts({ kind: 'incremental' }))).id;
    // The prune has found no marker (its first look) and waits; the backup registers, checks its
    // chain is there, and only then does the prune delete the full and collect.
    let resume!: () => void;
    const gate = new Promise<void>((r) => (resume = r));
    let firstLook!: () => void;
    const looked = new Promise<void>((r) => (firstLook = r));
    const prunerBackend = new Hooked(place.open()).after('list', 'inflight/', () => {
      firstLook();
      return gate;
    });
    const pruner = await openRepository(prunerBackend, OPTS);
    const pruneDone = pruner.deletePoints([full]);
    await looked;
    let markerStored = false;
    const writerBackend = new Hooked(place.open());
    writerBackend.after('put', 'inflight/', async () => {
      markerStored = true;
    });
    writerBackend.after(
      'list',
      'points/',
      async () => {
        resume();
        await pruneDone;
      },
      () => markerStored,
    );
    const writer = await openRepository(writerBackend, OPTS);
    const data = Buffer.concat([A, B.subarray(0, 30_000)]);
    const inc2 = await writer.writePoint(pieces(data), pointOpts({ kind: 'incremental' }));
    resume(); // (a writer that never checked its chain: the prune runs now)
    expect(await pruneDone).toMatchObject({ deleted: [], inUse: [full] });
    const check = await openRepository(place.open(), OPTS);
    expect((await check.listPoints()).map((p) => p.id)).toEqual([full, inc1, inc2.id]);
    expect(sha256(await collect(await check.readPoint(inc2.id)))).toBe(sha256(data));
    expect((await check.verify()).problems).toEqual([]);
  });

  it("a run's retention planned on its view of the folder plans again before deleting: an incremental another machine added to the chain it deletes goes with its full, never left without it", async () => {
    const place = dest.fresh();
    const run = await initRepository(place.open(), OPTS);
    const older = (await run.writePoint(pieces(A), pointOpts())).id;
    // The run's look at the folder (prepare-destination does it); another machine then adds an
    // incremental to that chain, and the run writes a new full.
    await run.scanPoints();
    const other = await openRepository(place.open(), OPTS);
    const added = await other.writePoint(pieces(Buffer.concat([A, B.subarray(0, 20_000)])), pointOpts({ kind: 'incremental' }));
    expect(added.chainId).toBe(older);
    const newer = (await run.writePoint(pieces(B), pointOpts())).id;
    // The run's view holds the older full and its new one: that plan would delete the full alone.
    const r = await applyRetention(run, KEEP_NEWEST, new Date(), { fromView: true });
    expect(r.deleted.sort()).toEqual([older, added.id].sort());
    const check = await openRepository(place.open(), OPTS);
    expect((await check.listPoints()).map((p) => p.id)).toEqual([newer]);
    expect(sha256(await collect(await check.readPoint(newer)))).toBe(sha256(B));
    expect((await check.verify()).problems).toEqual([]);
  });

  it('two writers in one database folder at once: both points commit and restore, the chain verifies', async () => {
    const place = dest.fresh();
    const repo = await initRepository(place.open(), OPTS);
    const full = (await repo.writePoint(pieces(A), pointOpts())).id;
    const one = await openRepository(place.open(), OPTS);
    const two = await openRepository(place.open(), OPTS);
    const d1 = Buffer.concat([A, B.subarray(0, 40_000)]);
    const d2 = Buffer.concat([B.subarray(40_000), A]);
    // The second writer starts while the first has stored its marker and nothing else yet.
    let second!: Promise<Awaited<ReturnType<Repository['writePoint']>>>;
    const b1 = new Hooked(place.open()).after('put', 'inflight/', async () => {
      second = two.writePoint(pieces(d2), pointOpts({ kind: 'incremental' }));
    });
    const first = await (await openRepository(b1, OPTS)).writePoint(pieces(d1), pointOpts({ kind: 'incremental' }));
    const p2 = await second;
    expect(first.parentId).toBe(full);
    expect([full, first.id, p2.id].every((id, i, a) => a.indexOf(id) === i)).toBe(true);
    expect(sha256(await collect(await one.readPoint(first.id)))).toBe(sha256(d1));
    expect(sha256(await collect(await one.readPoint(p2.id)))).toBe(sha256(d2));
    expect((await one.listPoints()).length).toBe(3);
    expect((await one.verify()).problems).toEqual([]);
    expect(await keys(place.open(), 'inflight/')).toEqual([]);
  });
});

describe('a destination that refuses the reading marker (full, quota, read-only)', () => {
  it('is still read whole; no marker or temp file is left', async () => {
    const place = DESTS[0]!.fresh();
    const { older } = await twoFulls(place.open());
    const full = new FaultyBackend(place.open()).inject({ op: 'put', keyPrefix: 'inflight/', error: 'ENOSPC' });
    const reader = await openRepository(full, OPTS);
    expect(sha256(await collect(await reader.readPoint(older)))).toBe(sha256(LONG));
    expect(full.log.filter((l) => l.op === 'put')).toEqual([]); // refused: none reached the folder
    expect(filesUnder(place.dir!).filter((f) => !/^(packs|points)\//.test(f) && f !== 'backstop.repo')).toEqual([]);
  });
});

describe('`backstop extract` (local folder)', () => {
  it('refused (the file exists): CONFLICT, and no reading marker is left to hold the point; a whole extract leaves none either', async () => {
    const place = DESTS[0]!.fresh();
    const { older } = await twoFulls(place.open());
    const dataDir = scratch.dir();
    const out = join(scratch.dir(), 'older.bin');
    writeFileSync(out, 'mine');
    const refused = await cli('extract', place.dir!, '--point', older, '--out', out, '--data-dir', dataDir, '--json');
    expect(refused.code).not.toBe(0);
    expect(refused.out).toContain(`${out} already exists; choose another file (backstop never overwrites).`);
    expect(readFileSync(out, 'utf8')).toBe('mine');
    expect(filesUnder(place.dir!).filter((f) => f.startsWith('inflight/'))).toEqual([]);
    const whole = join(scratch.dir(), 'whole.bin');
    const r = await cli('extract', place.dir!, '--point', older, '--out', whole, '--data-dir', dataDir, '--json');
    expect(r.code, r.out).toBe(0);
    expect(sha256(readFileSync(whole))).toBe(sha256(LONG));
    expect(filesUnder(place.dir!).filter((f) => f.startsWith('inflight/'))).toEqual([]);
  });
});

describe('`backstop prune` in another process while a restore reads (local folder, packs days old)', () => {
  it('keeps the point being read and says so; the restore is whole', async () => {
    const place = DESTS[0]!.fresh();
    const { older, newer } = await twoFulls(place.open());
    backdateRepository(place.dir!, 3 * 86_400_000); // past the GC grace: a real prune collects them
    const reader = await openRepository(place.open(), OPTS);
    const stream = await reader.readPoint(older);
    const it = stream[Symbol.asyncIterator]();
    const parts: Buffer[] = [];
    const first = await it.next();
    parts.push(Buffer.from(first.value as Buffer));
    const markers = filesUnder(place.dir!).filter((f) => f.startsWith('inflight/'));

    const dataDir = scratch.dir();
    const r = await spawnCli(['prune', place.dir!, '--min-age', '0d', '--keep-last', '1', '--data-dir', dataDir]).done;

    const failure = await (async () => {
      for (let n = await it.next(); !n.done; n = await it.next()) parts.push(Buffer.from(n.value as Buffer));
    })().then(
      () => null,
      (e: unknown) => e,
    );
    expect(failure).toBeNull();
    expect(sha256(Buffer.concat(parts))).toBe(sha256(LONG));
    expect(markers).toHaveLength(1); // the read was under way
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(`in use, kept\t${older}\ta restore or backup is using it; the next prune deletes it`);
    expect(r.out).toContain('0 deleted');
    await new Promise<void>((res) => (stream.closed ? res() : stream.once('close', () => res())));
    const json = await spawnCli(['prune', place.dir!, '--min-age', '0d', '--keep-last', '1', '--data-dir', dataDir, '--json']).done;
    expect(json.code, json.out).toBe(0);
    expect(JSON.parse(json.out)).toMatchObject({ deleted: [older], inUse: [] });
    expect(filesUnder(place.dir!).filter((f) => f.startsWith('inflight/'))).toEqual([]);
    expect(existsSync(join(place.dir!, 'points', `${newer}.point`))).toBe(true);
  });
});

describe('a PostgreSQL cluster restored to a WAL point while the task retention deletes that chain', () => {
  it('keeps the base backup and every WAL point of the plan until the restore is done; the data directory is whole', { timeout: 120_000 }, async () => {
    const pg = await startPostgres();
    try {
      const { engine, backups, taskId } = await walTask(pg);
      try {
        pg.psql('CREATE TABLE t (id int)');
        expect((await runTask(engine, taskId, 'full')).status).toBe('success');
        pg.psql('INSERT INTO t SELECT generate_series(1, 1000)');
        expect((await runTask(engine, taskId, 'incremental')).status).toBe('success');
        expect((await runTask(engine, taskId, 'full')).status).toBe('success'); // a newer chain: retention drops the first whole
        const folder = join(backups, SERVER_FOLDER, encodeDatabaseFolder('base.tar'));
        const [base, wal] = (await (await openRepository(new LocalBackend(folder))).listPoints()).map((p) => p.id);
        // The restore fetches the WAL point first; right after its first pack read the retention runs.
        let pruned: Awaited<ReturnType<typeof applyRetention>> | null = null;
        const hooked = new Hooked(new LocalBackend(folder)).after('get', 'packs/', async () => {
          pruned = await applyRetention(await openRepository(new LocalBackend(folder)), KEEP_NEWEST, new Date());
        });
        const repo = await openRepository(hooked);
        const parent = tempDir();
        if (pg.osUser) chownTree(parent, pg.osUser);
        const target = join(parent, 'restored');
        const restored = await restoreClusterAt({ repo, plan: await planRecovery(repo, { pointId: wal! }), folder: target, toolPaths: { postgres: PG_BIN } });
        expect(restored.path).toBe(target);
        expect(existsSync(join(target, 'PG_VERSION'))).toBe(true);
        expect(pruned).toMatchObject({ deleted: [] });
        expect([...(pruned!.inUse ?? [])].sort()).toEqual([base, wal]);
        expect(filesUnder(folder).filter((f) => f.startsWith('inflight/'))).toEqual([]);
        // A restore that stops before reading its stream (the folder is taken) leaves no marker that would hold the point.
        const refused = await restoreCommand(engine, join(backups, SERVER_FOLDER), { point: 'latest', folder: target }).then(
          () => null,
          (e: unknown) => e,
        );
        expect(refused).toMatchObject({ code: 'DATABASE_EXISTS' });
        expect(filesUnder(folder).filter((f) => f.startsWith('inflight/'))).toEqual([]);
      } finally {
        await engine.close();
      }
    } finally {
      await pg.stop();
    }
  });
});
