/**
 * verify: proves restore points are restorable without restoring them.
 *
 * For each point checked: the manifest must decode; every pack it references is read
 * whole (one at a time, ≤ packSize + one chunk in memory) and must hash to its name,
 * carry a valid index, and every chunk in it must authenticate, decompress and match its
 * id — a delta chunk is decoded against its base (resolved through the manifests' base
 * links, chunk-resolver.ts) and must then hash to its id; each of the point's refs, and
 * each base they need, must match an index entry exactly; the refs' lengths must
 * add up to the stream length. Each pack is checked once per call even when many points
 * share it. Problems are collected, never thrown: each names the point and the pack; a
 * missing or damaged base is named like a damaged pack (the base's pack), for every
 * point whose chunks need it.
 * A point deleted while it was checked (a prune running meanwhile) is not reported: it is not
 * damaged, it is gone (asked for by id: NOT_FOUND).
 * Throws only for an unknown point id (NOT_FOUND), a cancel (CANCELED), or a storage
 * failure that is not about a specific object.
 */
import { BackstopError, hasCode, isBackstopError } from '../../shared/result.ts';
import { ChunkDecoder, ChunkDamagedError } from './chunk-codec.ts';
import type { RepoContext } from './context.ts';
import { missingPoints } from './inflight-marker.ts';
import { packKey } from './layout.ts';
import { manifestLocations, type ChunkRef, type Manifest } from './manifest.ts';
import { ChunkResolver, ChunkUnreadableError } from './chunk-resolver.ts';
import { PackDamagedError, parsePack, type PackEntry } from './pack.ts';
import { ProgressThrottle, type ProgressSink } from './progress.ts';
import type { VerifyProblem, VerifyProgress, VerifyReport } from './types.ts';

type PackStatus = { ok: true; entries: Map<number, PackEntry> } | { ok: false; reason: string };

export interface VerifyOptions {
  signal?: AbortSignal;
  onProgress?: ProgressSink<VerifyProgress>;
}

export async function verify(ctx: RepoContext, pointId: string | undefined, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const problems: VerifyProblem[] = [];
  const manifests: Manifest[] = [];
  const ids = pointId === undefined ? await ctx.manifests.listIds() : [pointId];
  for (const id of ids) {
    try {
      manifests.push(await ctx.manifests.load(id, { fresh: true })); // what the destination holds, never a local copy
    } catch (e) {
      if (!isBackstopError(e)) throw e;
      if (e.code === 'NOT_FOUND' && pointId !== undefined) throw e;
      if (e.code === 'NOT_FOUND') continue;
      if (e.code !== 'INTEGRITY' && e.code !== 'FORMAT_TOO_NEW') throw e;
      problems.push({ pointId: id, packId: null, code: e.code, message: e.message });
    }
  }

  const packSet = new Set<string>();
  const byId = new Map<string, ChunkRef>();
  const baseIds = new Set<string>();
  for (const m of manifests) {
    for (const r of manifestLocations(m)) {
      packSet.add(r.packId);
      byId.set(r.id.toString('hex'), r);
      if (r.base) baseIds.add(r.base.id.toString('hex'));
    }
  }
  const packOrder = [...packSet];
  const decoder = new ChunkDecoder(ctx.codec);
  const resolver = new ChunkResolver(ctx, decoder);
  /** Delta chunks whose base could not be read: chunk id → the pack at fault and why. */
  const unresolved = new Map<string, { packId: string; reason: string }>();
  const status = new Map<string, PackStatus>();
  const progress = new ProgressThrottle<VerifyProgress>(opts.onProgress, ctx.options.now, ctx.options.progressIntervalMs);
  let bytesChecked = 0;
  let chunksChecked = 0;

  for (const packId of packOrder) {
    if (opts.signal?.aborted) throw new BackstopError('CANCELED', 'Verification was canceled; nothing was changed.');
    let st: PackStatus;
    try {
      const bytes = await ctx.backend.get(packKey(packId));
      bytesChecked += bytes.length;
      const entries = parsePack(bytes, packId, ctx.sealer);
      const byOffset = new Map<number, PackEntry>();
      for (const e of entries) {
        const frame = decoder.open(e.id, bytes.subarray(e.offset, e.offset + e.storedLength));
        const baseId = decoder.baseIdOf(e.id, frame);
        const key = e.id.toString('hex');
        let raw: Buffer | null = null;
        if (!baseId) raw = decoder.decodeFrame(e.id, frame, e.rawLength);
        else {
          const baseRef = byId.get(baseId.toString('hex'));
          let base: Buffer | null = null;
          if (!baseRef) unresolved.set(key, { packId, reason: `holds chunk ${key.slice(0, 16)}…, a delta against chunk ${baseId.toString('hex').slice(0, 16)}…, which no restore point names` });
          else {
            try {
              base = await resolver.raw(baseRef);
            } catch (err) {
              if (!(err instanceof ChunkUnreadableError)) throw err;
              unresolved.set(key, { packId: err.packId, reason: `${err.detail} (the base of chunk ${key.slice(0, 16)}…)` });
            }
          }
          if (base) raw = decoder.decodeFrame(e.id, frame, e.rawLength, { id: baseId, raw: base });
        }
        if (raw && baseIds.has(key)) resolver.remember(e.id, raw);
        chunksChecked++;
        byOffset.set(e.offset, e);
      }
      st = { ok: true, entries: byOffset };
    } catch (e) {
      if (hasCode(e, 'NOT_FOUND')) st = { ok: false, reason: `is missing (${packKey(packId)})` };
      else if (e instanceof PackDamagedError) st = { ok: false, reason: `is damaged: ${e.message}` };
      else if (e instanceof ChunkDamagedError) st = { ok: false, reason: `is damaged: ${e.message}` };
      else throw e;
    }
    status.set(packId, st);
    progress.tick(() => ({ packsChecked: status.size, packsTotal: packOrder.length, bytesChecked, done: false }));
  }

  for (const m of manifests) {
    const reported = new Set<string>();
    let sum = 0;
    for (const r of m.refs) sum += r.rawLength;
    for (const r of manifestLocations(m)) {
      const st = status.get(r.packId)!;
      let packId = r.packId;
      let why: string | null = null;
      if (!st.ok) why = st.reason;
      else {
        const e = st.entries.get(r.offset);
        if (!e || !e.id.equals(r.id) || e.storedLength !== r.storedLength || e.rawLength !== r.rawLength) {
          why = `does not hold the chunk the manifest expects at offset ${r.offset}`;
        } else {
          const u = unresolved.get(r.id.toString('hex'));
          if (u) ({ packId, reason: why } = u);
        }
      }
      if (why && !reported.has(packId)) {
        reported.add(packId);
        problems.push({ pointId: m.info.id, packId, code: 'INTEGRITY', message: `Restore point ${m.info.id} is damaged: pack ${packId} ${why}.` });
      }
    }
    if (sum !== m.info.length) {
      problems.push({ pointId: m.info.id, packId: null, code: 'INTEGRITY', message: `Restore point ${m.info.id} is damaged: its chunks add up to ${sum} bytes, the manifest says ${m.info.length}.` });
    }
  }

  // A prune running meanwhile deletes points and then their packs: a point gone now was not damaged.
  let checked = ids.length;
  if (problems.length > 0) {
    const gone = new Set(await missingPoints(ctx.backend, [...new Set(problems.flatMap((p) => (p.pointId === null ? [] : [p.pointId])))]));
    if (pointId !== undefined && gone.has(pointId)) {
      throw new BackstopError('NOT_FOUND', `Restore point ${pointId} was deleted from ${ctx.backend.location} (by a prune or another Backstop) while it was being verified; nothing is wrong with the points that remain.`);
    }
    for (let i = problems.length - 1; i >= 0; i--) if (gone.has(problems[i]!.pointId ?? '')) problems.splice(i, 1);
    checked -= gone.size;
  }
  progress.final({ packsChecked: status.size, packsTotal: packOrder.length, bytesChecked, done: true });
  return { ok: problems.length === 0, pointsChecked: checked, packsChecked: status.size, chunksChecked, bytesChecked, problems };
}
