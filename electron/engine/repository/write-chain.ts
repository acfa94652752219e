/**
 * The chain a write builds on, and the base a new chunk may be stored against (FORMAT.md §9):
 * - `loadChain`: a full starts a new chain; an incremental continues the latest point of its
 *   backup type (shared/latest-point.ts: by the chain links first, so a clock set back between
 *   two runs does not make it continue the point dated ahead) — every chunk the chain's points store, by id (reused, never stored again),
 *   the parent's refs with their stream offsets, and (format 2) the chain's resemblance
 *   sketches. No point of that type: NoChainError.
 * - `candidateAt` / `chooseBase`: a new chunk's positional candidate in the parent, overruled
 *   by a chunk of the chain whose sketch is more alike; `shallowEnough` keeps every chunk at
 *   most MAX_DELTA_DEPTH bases away from a whole one.
 */
import type { BackupType } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';
import { latestPoint, newestFirst } from '../../shared/latest-point.ts';
import type { RepoContext } from './context.ts';
import { deltaDepth, manifestLocations, type ChunkRef, type Manifest } from './manifest.ts';
import type { ChunkLocation, PackSlot } from './pack-writer.ts';
import { SketchIndex } from './sketch.ts';
import type { WritePointOptions } from './types.ts';

/** At most this many bases are resolved to read any chunk (a delta of a delta of a delta). */
export const MAX_DELTA_DEPTH = 3;

/** Thrown by an incremental write when there is no chain of that backup type yet. */
export class NoChainError extends BackstopError {
  readonly reason = 'NO_CHAIN' as const;
  constructor(
    readonly backupType: BackupType,
    location: string,
  ) {
    super(
      'NOT_FOUND',
      `No full ${backupType} backup exists in ${location}, so an incremental backup has nothing to build on. Run a full backup first.`,
    );
  }
}

export function isNoChainError(e: unknown): e is NoChainError {
  return e instanceof NoChainError;
}

/** The chain an incremental builds on: every chunk its points store, by id. A full starts a new chain. */
export interface Chain {
  chainId: string;
  parentId: string | null;
  basePoints: string[];
  known: Map<string, ChunkLocation>;
  /** The parent point's refs with their stream offsets (`starts`), for base candidates. */
  parent: { refs: ChunkRef[]; starts: number[] } | null;
  /** Format 2: the resemblance sketches the chain's manifests record (null: not used). */
  sketches: SketchIndex<ChunkRef> | null;
  /** Incremental: the repository's newest point when it is the parent and no manifest is damaged (else null: never "unchanged"). */
  comparable: Manifest | null;
}

/**
 * The base for a new chunk: its positional candidate, unless the chunk's sketch finds a chunk
 * of the chain sharing more super-features (when the positional candidate's own sketch is
 * unknown — written before sketches — only two or more shared super-features overrule it).
 */
export function chooseBase(positional: ChunkRef | null, sketch: Uint32Array | null | undefined, index: SketchIndex<ChunkRef> | null): ChunkRef | null {
  const similar = sketch && index ? index.best(sketch) : null;
  if (!similar || (positional && similar.chunk.id.equals(positional.id))) return positional;
  if (!positional) return similar.chunk;
  const own = index!.matches(positional.id, sketch!);
  return (own === null ? similar.matches >= 2 : similar.matches > own) ? similar.chunk : positional;
}

/**
 * The base candidate of a new chunk at stream offset `at`, `length` bytes: the parent's chunk
 * that overlaps [at, at + length) most (content shifted by earlier edits mostly still lines
 * up with the chunk it came from, and a shift of a few bytes must not pick the neighbour).
 */
export function candidateAt(parent: Chain['parent'], at: number, length: number): ChunkRef | null {
  if (!parent || parent.refs.length === 0) return null;
  let lo = 0;
  let hi = parent.starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (parent.starts[mid]! <= at) lo = mid;
    else hi = mid - 1;
  }
  let best: ChunkRef | null = null;
  let bestOverlap = 0;
  for (let i = lo; i < parent.refs.length && parent.starts[i]! < at + length; i++) {
    const r = parent.refs[i]!;
    const overlap = Math.min(at + length, parent.starts[i]! + r.rawLength) - Math.max(at, parent.starts[i]!);
    if (overlap > bestOverlap) {
      best = r;
      bestOverlap = overlap;
    }
  }
  return best;
}

/** `r`, or the nearest base of it shallow enough that a delta against it stays within MAX_DELTA_DEPTH. */
export function shallowEnough(r: ChunkRef): ChunkRef {
  let b = r;
  while (b.base && deltaDepth(b) >= MAX_DELTA_DEPTH) b = b.base;
  return b;
}

export async function loadChain(ctx: RepoContext, opts: WritePointOptions, pointId: string): Promise<Chain> {
  const chain: Chain = { chainId: pointId, parentId: null, basePoints: [], known: new Map(), parent: null, sketches: null, comparable: null };
  if (opts.kind !== 'incremental') return chain;
  // The run's view (prepare-destination.ts chose this chain from it): no second LIST. A point another
  // writer commits meanwhile makes this one a sibling of it, as between any look and the commit; one a
  // prune deletes meanwhile is caught by the fresh listing once the in-flight marker landed (writer.ts).
  const { good, damaged } = await ctx.manifests.scan({ reuse: true });
  // The latest point of the type (shared/latest-point.ts): after a clock jump the newest by date is not the last one written.
  const now = new Date(ctx.options.now());
  const infos = good.map((m) => m.info);
  const ofType = infos.filter((i) => i.backupType === opts.backupType);
  const latest = latestPoint(ofType, now);
  if (!latest) throw new NoChainError(opts.backupType, ctx.backend.location);
  chain.chainId = latest.chainId;
  chain.parentId = latest.id;
  // The chain's manifests whole, one at a time (the scan keeps no chunk lists; the store keeps a bounded number).
  const newest = await ctx.manifests.load(latest.id);
  // An unreadable manifest may be a newer point, and a point of another backup type may be newer: no comparison then.
  if (damaged.length === 0 && latestPoint(infos, now) === latest) chain.comparable = newest;
  const slots = new Map<string, PackSlot>();
  const locate = (r: ChunkRef): ChunkLocation => {
    const key = r.id.toString('hex');
    const known = chain.known.get(key);
    if (known) return known;
    let slot = slots.get(r.packId);
    if (!slot) slots.set(r.packId, (slot = { id: r.packId }));
    const loc: ChunkLocation = { id: r.id, pack: slot, offset: r.offset, storedLength: r.storedLength, rawLength: r.rawLength, base: r.base ? locate(r.base) : null };
    chain.known.set(key, loc);
    return loc;
  };
  // In the order they were written.
  const members = newestFirst(
    ofType.filter((i) => i.chainId === chain.chainId),
    now,
  ).reverse();
  const sketching = ctx.formatVersion >= 2 && ctx.codec.level > 0 && ctx.options.sketchBases && opts.deltaBases !== false;
  // Oldest first: a newer chunk replaces an older one under a shared super-feature.
  const index = sketching ? new SketchIndex<ChunkRef>() : null;
  for (const member of members) {
    const m = await ctx.manifests.load(member.id);
    chain.basePoints.push(m.info.id);
    for (const r of manifestLocations(m)) locate(r);
    if (!index || !m.sketches || m.sketches.size === 0) continue;
    const byId = new Map(manifestLocations(m).map((r) => [r.id.toString('hex'), r]));
    for (const [id, sketch] of m.sketches) {
      const r = byId.get(id);
      if (r) index.add(r, sketch);
    }
  }
  if (index) chain.sketches = index;
  if (ctx.formatVersion >= 2 && ctx.codec.level > 0 && opts.deltaBases !== false) {
    const starts: number[] = [];
    let at = 0;
    for (const r of newest.refs) {
      starts.push(at);
      at += r.rawLength;
    }
    chain.parent = { refs: newest.refs, starts };
  }
  return chain;
}
