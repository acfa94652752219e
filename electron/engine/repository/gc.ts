/**
 * The garbage-collection rule for packs (docs/FORMAT.md §10), as a pure decision.
 *
 * A pack may be deleted iff ALL of:
 *  1. no committed manifest references it;
 *  2. no *live* in-flight marker names it (a marker is live while it was written or
 *     refreshed less than `markerStaleMs` ago; writers refresh theirs after each pack
 *     and on a heartbeat);
 *  3. it is older than `graceMs` (covers the moment between a pack landing and the
 *     writer's marker naming it, and clock skew between machines).
 * A live marker that cannot be read protects every pack (nothing is deleted that round).
 * Stale markers are deleted too. The caller must gather its inputs in this order: list
 * packs, then read markers, then read manifests — so a write that commits (manifest
 * written, then marker removed) while GC runs is always seen as either live or committed.
 */
import type { ObjectInfo } from '../storage/backend.ts';

export interface InflightMarker {
  writeId: string;
  startedAt: string;
  /** Points whose chunks this write may reference; they must not be deleted meanwhile. */
  basePoints: string[];
  /** Packs written so far by this write; a read: every pack it needs. */
  packs: string[];
  /** A restore, extract or test restore reading `basePoints` (absent: a write). */
  reading?: boolean;
}

export interface GcInputs {
  packs: { id: string; info: ObjectInfo }[];
  markers: { key: string; info: ObjectInfo; marker: InflightMarker | null }[];
  referenced: ReadonlySet<string>;
  now: number;
  graceMs: number;
  markerStaleMs: number;
}

export interface GcDecision {
  deletePacks: { id: string; size: number }[];
  deleteMarkers: string[];
  livePacks: Set<string>;
}

export function isLiveMarker(info: ObjectInfo, now: number, markerStaleMs: number): boolean {
  return now - info.modifiedMs < markerStaleMs;
}

export function decideGarbage(input: GcInputs): GcDecision {
  const livePacks = new Set<string>();
  const deleteMarkers: string[] = [];
  let unreadableLiveMarker = false;
  for (const m of input.markers) {
    if (isLiveMarker(m.info, input.now, input.markerStaleMs)) {
      if (m.marker === null) unreadableLiveMarker = true;
      for (const p of m.marker?.packs ?? []) livePacks.add(p);
    } else {
      deleteMarkers.push(m.key);
    }
  }
  if (unreadableLiveMarker) return { deletePacks: [], deleteMarkers, livePacks };
  const deletePacks = input.packs
    .filter((p) => !input.referenced.has(p.id) && !livePacks.has(p.id) && input.now - p.info.modifiedMs >= input.graceMs)
    .map((p) => ({ id: p.id, size: p.info.size }));
  return { deletePacks, deleteMarkers, livePacks };
}
