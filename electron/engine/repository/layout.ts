/**
 * Object names inside one repository (one database's folder), docs/FORMAT.md §1.
 * Pure naming; every module builds keys through these functions.
 */

/** The newest repository format this build reads and the one it creates (docs/FORMAT.md §2). */
export const FORMAT_VERSION = 2;
/** Format 1 (no delta chunks) is still read and written: a repository keeps the version it was created with. */
export const OLDEST_FORMAT_VERSION = 1;

export const HEADER_KEY = 'backstop.repo';
export const POINTS_PREFIX = 'points/';
export const PACKS_PREFIX = 'packs/';
export const INFLIGHT_PREFIX = 'inflight/';

const HEX64 = /^[0-9a-f]{64}$/;
const POINT_ID = /^\d{8}T\d{9}Z-[0-9a-f]{8}$/;
const WRITE_ID = /^[0-9a-f]{32}$/;

export function isPackId(s: string): boolean {
  return HEX64.test(s);
}
export function isPointId(s: string): boolean {
  return POINT_ID.test(s);
}

export function packKey(packId: string): string {
  return `${PACKS_PREFIX}${packId.slice(0, 2)}/${packId}.pack`;
}
export function pointKey(pointId: string): string {
  return `${POINTS_PREFIX}${pointId}.point`;
}
export function inflightKey(writeId: string): string {
  return `${INFLIGHT_PREFIX}${writeId}.json`;
}

export function packIdFromKey(key: string): string | null {
  const m = /^packs\/[0-9a-f]{2}\/([0-9a-f]{64})\.pack$/.exec(key);
  return m && m[1]!.startsWith(key.slice(6, 8)) ? m[1]! : null;
}
export function pointIdFromKey(key: string): string | null {
  const m = /^points\/(.+)\.point$/.exec(key);
  return m && isPointId(m[1]!) ? m[1]! : null;
}
export function writeIdFromKey(key: string): string | null {
  const m = /^inflight\/(.+)\.json$/.exec(key);
  return m && WRITE_ID.test(m[1]!) ? m[1]! : null;
}

/** The creation time (ms since the epoch) a point id (`newPointId`) begins with. */
export function pointIdTime(pointId: string): number {
  const s = pointId;
  return Date.parse(`${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}.${s.slice(15, 18)}Z`);
}

/** Point ids sort by creation time: `YYYYMMDDTHHMMSSmmmZ-<8 hex random>` (UTC). */
export function newPointId(createdAt: Date, random: string): string {
  const iso = createdAt.toISOString(); // 2024-01-02T03:04:05.678Z
  const compact = iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + 'T' + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19) + iso.slice(20, 23) + 'Z';
  return `${compact}-${random}`;
}
