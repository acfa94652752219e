/**
 * Restoring a point made of delta chunks (reader.ts + chunk-resolver.ts), on real
 * repositories in temp folders:
 * - the bases of one pack read are fetched in coalesced ranged reads, so a point of deltas
 *   costs about as many reads of the destination as the same point stored whole;
 * - a base is hashed only through the chunks decoded against it, yet a base whose stored
 *   bytes were altered so that they still decode (an unencrypted repository, a chunk stored
 *   uncompressed) is named by pack, like a damaged pack, and nothing wrong is emitted.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { initRepository, openRepository, type Repository } from '../../../electron/engine/repository/index.ts';
import { manifestLocations, type Manifest } from '../../../electron/engine/repository/manifest.ts';
import { createSealer } from '../../../electron/engine/crypto/seal.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { CountingBackend } from '../../fixtures/storage/counting-backend.ts';
import { FAST, SMALL_CDC, collect, dumpLike, pieces, pointOpts, pseudoRandom, rejection, sha256, tempDir } from './helpers.ts';

let dir: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(() => dir.cleanup());

async function manifestOf(repo: Repository, id: string): Promise<Manifest> {
  return (repo as unknown as { ctx: { manifests: { load(id: string): Promise<Manifest> } } }).ctx.manifests.load(id);
}

describe('restoring a point of deltas', () => {
  it('reads its bases in coalesced ranged reads: about as many reads as the same point stored whole', async () => {
    const opts = { chunker: SMALL_CDC, packSize: 1024 * 1024, ...FAST };
    const data = dumpLike(300_000, 41);
    const changed = Buffer.from(data);
    for (let at = 500; at < changed.length; at += 997) changed[at] = 0x37; // every chunk changes
    const repo = await initRepository(new LocalBackend(join(dir.path, 'deltas')), opts);
    await repo.writePoint(pieces(data), pointOpts({ kind: 'full' }));
    const inc = await repo.writePoint(pieces(changed), pointOpts({ kind: 'incremental' }));
    expect(inc.stats.chunksDelta).toBe(inc.chunkCount);
    expect(inc.chunkCount).toBeGreaterThan(30);

    const whole = await initRepository(new LocalBackend(join(dir.path, 'whole')), opts);
    const full = await whole.writePoint(pieces(changed), pointOpts({ kind: 'full' }));

    const countDeltas = new CountingBackend(new LocalBackend(join(dir.path, 'deltas')));
    const countWhole = new CountingBackend(new LocalBackend(join(dir.path, 'whole')));
    const a = await openRepository(countDeltas, FAST);
    const b = await openRepository(countWhole, FAST);
    expect(sha256(await collect(await a.readPoint(inc.id)))).toBe(sha256(changed));
    expect(sha256(await collect(await b.readPoint(full.id)))).toBe(sha256(changed));
    // One read of the deltas' pack and one coalesced read of the bases (one pack of the full),
    // against one read of the whole point's pack: not one read per base.
    expect(countWhole.packReads).toBe(1);
    expect(countDeltas.packReads).toBeLessThanOrEqual(2);
    // Bytes: the bases (≈ the point stored whole) plus the small deltas.
    expect(countDeltas.packBytes).toBeLessThan(countWhole.packBytes * 1.2);
  });

  it('a base whose content does not match its id under a valid seal is named by its pack; nothing wrong is emitted', async () => {
    // Unencrypted, incompressible data: chunks are stored uncompressed (frame byte 0 = none),
    // so a flipped payload byte, sealed again under the chunk's id, decodes to other bytes.
    const repo = await initRepository(new LocalBackend(dir.path), { chunker: SMALL_CDC, packSize: 16 * 1024, ...FAST });
    const data = pseudoRandom(60_000, 9);
    await repo.writePoint(pieces(data), pointOpts({ kind: 'full' }));
    const changed = Buffer.from(data);
    changed[30_000]! ^= 0xff;
    const inc = await repo.writePoint(pieces(changed), pointOpts({ kind: 'incremental' }));
    expect(inc.stats.chunksDelta).toBe(1);
    const delta = manifestLocations(await manifestOf(repo, inc.id)).find((r) => r.base)!;
    const basePack = delta.base!.packId;
    expect(basePack).not.toBe(delta.packId);

    const path = join(dir.path, 'packs', basePack.slice(0, 2), `${basePack}.pack`);
    const bytes = await readFile(path);
    const sealer = createSealer(0, null);
    const { offset, storedLength } = delta.base!;
    const frame = Buffer.from(sealer.open(bytes.subarray(offset, offset + storedLength), delta.base!.id));
    expect(frame[0]).toBe(0); // stored uncompressed
    frame[40]! ^= 1;
    const forged = sealer.seal(frame, delta.base!.id);
    expect(forged.length).toBe(storedLength);
    forged.copy(bytes, offset);
    await writeFile(path, bytes);

    const fresh = await openRepository(new LocalBackend(dir.path), FAST);
    const emitted: Buffer[] = [];
    const err = await rejection(
      (async () => {
        for await (const b of await fresh.readPoint(inc.id)) emitted.push(b as Buffer);
      })(),
    );
    expect(err).toMatchObject({ code: 'INTEGRITY', message: expect.stringMatching(new RegExp(`^Restore point ${inc.id} is damaged: pack ${basePack} holds a bad chunk at offset ${delta.base!.offset}: chunk content does not match its id`)) });
    // Everything emitted before the error is the stream as written.
    const out = Buffer.concat(emitted);
    expect(out.equals(changed.subarray(0, out.length))).toBe(true);
    expect(out.length).toBeLessThan(changed.length);
    // verify names the same pack.
    expect((await fresh.verify(inc.id)).problems).toContainEqual(expect.objectContaining({ pointId: inc.id, packId: basePack, code: 'INTEGRITY' }));
  });
  it('in a chain of deltas, the deepest base at fault is named, not the delta built on it', async () => {
    const repo = await initRepository(new LocalBackend(dir.path), { chunker: SMALL_CDC, packSize: 16 * 1024, ...FAST });
    const data = pseudoRandom(60_000, 10);
    await repo.writePoint(pieces(data), pointOpts({ kind: 'full' }));
    const once = Buffer.from(data);
    once[30_000]! ^= 0xff;
    await repo.writePoint(pieces(once), pointOpts({ kind: 'incremental' }));
    const twice = Buffer.from(once);
    twice[30_010]! ^= 0xff;
    const inc = await repo.writePoint(pieces(twice), pointOpts({ kind: 'incremental' }));
    const top = manifestLocations(await manifestOf(repo, inc.id)).find((r) => r.base?.base)!;
    const whole = top.base!.base!; // the full's chunk: two bases below the emitted delta
    expect(whole.base ?? null).toBeNull();

    const path = join(dir.path, 'packs', whole.packId.slice(0, 2), `${whole.packId}.pack`);
    const bytes = await readFile(path);
    const sealer = createSealer(0, null);
    const frame = Buffer.from(sealer.open(bytes.subarray(whole.offset, whole.offset + whole.storedLength), whole.id));
    expect(frame[0]).toBe(0);
    frame[40]! ^= 1;
    sealer.seal(frame, whole.id).copy(bytes, whole.offset);
    await writeFile(path, bytes);

    const err = await rejection(collect(await (await openRepository(new LocalBackend(dir.path), FAST)).readPoint(inc.id)));
    expect(err).toMatchObject({ code: 'INTEGRITY', message: expect.stringContaining(`pack ${whole.packId} holds a bad chunk at offset ${whole.offset}: chunk content does not match its id`) });
  });
});
