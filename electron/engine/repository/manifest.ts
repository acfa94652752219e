/**
 * Restore-point manifests (docs/FORMAT.md §8): `points/<point id>.point`.
 *
 *   file  = magic "BKSTMANI" ‖ version u16 LE (1 or 2) ‖ 2 zero bytes ‖ seal(body, aad = first 12 bytes ‖ UTF-8 point id)
 *   body  = compression id u8 (0 none, 1 zstd) ‖ payload
 *   payload (after decompression) =
 *           json length u32 LE ‖ JSON (ManifestInfo) ‖
 *           pack count u32 LE ‖ pack count × pack id (32 raw bytes) ‖
 *           ref count u32 LE ‖ ref count × (chunk id 32 ‖ pack number u32 ‖ offset u32 ‖ stored length u32 ‖ raw length u32)
 *   version 2 (format 2, delta chunks): each ref also carries ‖ base u32 (an index into the
 *           table refs ‖ bases, 0xFFFFFFFF = stored whole), and after the refs
 *           base count u32 LE ‖ base count × (the same 52-byte entry): the chunks needed only
 *           as bases, so the manifest names every location a restore reads (the base
 *           closure). Bases form no cycle and are at most MAX_BASE_LINKS deep.
 *           ManifestInfo.sha256 (the whole stream's) is optional in version 2 and not
 *           written: the sealed refs (keyed chunk ids, raw lengths, in order) pin the stream.
 *
 *   version 2 may also carry, inside the JSON, `sketches`: base64 of the resemblance
 *           sketches of the chunks this point stored (sketch.ts packSketches; indexes into
 *           the table). Optional: manifests without it read the same; readers ignore it.
 *
 * Refs are in stream order; concatenating the raw chunks reproduces the stream. A
 * manifest is written once, last, by the writer that produced the point (its existence is
 * what commits the point) and never modified. Decoding errors: bad magic, authentication,
 * shape → ManifestDamagedError; newer version → FORMAT_TOO_NEW (handled by the caller).
 */
import { Decompressor } from 'zstd-napi';
import { z } from 'zod';
import type { Sealer } from '../crypto/seal.ts';
import { frame, unframe } from './frame.ts';
import { packSketches, unpackSketches } from './sketch.ts';

export const MANIFEST_MAGIC = Buffer.from('BKSTMANI', 'latin1');
/** The newest manifest version; format-1 repositories keep writing version 1. */
export const MANIFEST_VERSION = 2;
const REF_LENGTH_V1 = 48;
const REF_LENGTH_V2 = 52;
const NO_BASE = 0xffffffff;
/** Readers refuse longer base chains as malformed (writers keep them ≤ MAX_DELTA_DEPTH). */
const MAX_BASE_LINKS = 16;

const Json: z.ZodType<unknown> = z.lazy(() => z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(Json), z.record(z.string(), Json)]));

export const ManifestInfo = z.object({
  id: z.string(),
  database: z.string(),
  serverIdentity: z.string(),
  engineVersion: z.string(),
  dumpToolVersion: z.string(),
  kind: z.enum(['full', 'incremental']),
  backupType: z.enum(['logical', 'snapshot']),
  createdAt: z.string(),
  chainId: z.string(),
  parentId: z.string().nullable(),
  chunking: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('cdc'), min: z.number().int(), avg: z.number().int(), max: z.number().int() }),
    z.object({ kind: z.literal('fixed'), size: z.number().int() }),
  ]),
  length: z.number().int().nonnegative(),
  /**
   * SHA-256 of the whole stream: always in version 1; optional in version 2, where writers
   * omit it (the sealed list of chunk ids and raw lengths already pins the stream).
   */
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  stats: z.object({
    chunksNew: z.number().int(),
    chunksReused: z.number().int(),
    bytesNew: z.number().int(),
    bytesStored: z.number().int(),
    packsWritten: z.number().int(),
    /** Format 2: new chunks stored as deltas, and bytes read from the destination for bases. */
    chunksDelta: z.number().int().optional(),
    bytesBaseRead: z.number().int().optional(),
    /** Raw bytes of the new chunks by the zstd level they were compressed at (adaptive-level.ts). */
    bytesNewByLevel: z.record(z.string(), z.number().int()).optional(),
  }),
  meta: z.record(z.string(), Json),
});
export type ManifestInfo = z.infer<typeof ManifestInfo>;

export interface ChunkRef {
  id: Buffer;
  packId: string;
  offset: number;
  storedLength: number;
  rawLength: number;
  /** The chunk this one is a delta against (format 2); absent or null: stored whole. */
  base?: ChunkRef | null;
}

export interface Manifest {
  info: ManifestInfo;
  /** The stream's chunks, in order. */
  refs: ChunkRef[];
  /** Decoded only: chunks needed as bases but not in the stream (encode derives them from `refs`). */
  bases?: ChunkRef[];
  /**
   * Version 2: resemblance sketches (sketch.ts) of the chunks this point stored, by hex
   * chunk id. Optional; entries for ids not in the table are not written.
   */
  sketches?: Map<string, Uint32Array>;
}

/** Every location a manifest names: its refs, then the bases they need that are not refs. */
export function manifestLocations(m: Manifest): ChunkRef[] {
  return m.bases && m.bases.length > 0 ? [...m.refs, ...m.bases] : m.refs;
}

/** Number of bases to resolve to read `r` (0: stored whole). */
export function deltaDepth(r: ChunkRef): number {
  let d = 0;
  for (let b = r.base; b; b = b.base) d++;
  return d;
}

export class ManifestDamagedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestDamagedError';
  }
}

export class ManifestVersionError extends Error {
  constructor(readonly version: number) {
    super(`manifest format version ${version}`);
    this.name = 'ManifestVersionError';
  }
}

function prefix(version: number): Buffer {
  const p = Buffer.alloc(12);
  MANIFEST_MAGIC.copy(p, 0);
  p.writeUInt16LE(version, 8);
  return p;
}

/** `version` 1 (format-1 repositories) cannot express bases: a ref with one is refused. */
export function encodeManifest(m: Manifest, sealer: Sealer, level: number, version: number = MANIFEST_VERSION): Buffer {
  // The table: refs, then every base they need (transitively) that is not a ref.
  const index = new Map<string, number>();
  for (let i = 0; i < m.refs.length; i++) {
    const key = m.refs[i]!.id.toString('hex');
    if (!index.has(key)) index.set(key, i);
  }
  const bases: ChunkRef[] = [];
  for (const r of m.refs) {
    for (let b = r.base; b; b = b.base) {
      const key = b.id.toString('hex');
      if (index.has(key)) break; // it and its own bases are in the table already
      index.set(key, m.refs.length + bases.length);
      bases.push(b);
    }
  }
  if (version < 2 && bases.length + m.refs.filter((r) => r.base).length > 0) throw new Error('manifest version 1 cannot record delta chunks');
  const sketches: { index: number; sketch: Uint32Array }[] = [];
  if (version >= 2 && m.sketches) {
    for (const [id, sketch] of m.sketches) {
      const at = index.get(id);
      if (at !== undefined) sketches.push({ index: at, sketch });
    }
  }
  const json = Buffer.from(JSON.stringify(sketches.length > 0 ? { ...m.info, sketches: packSketches(sketches).toString('base64') } : m.info), 'utf8');
  const table = [...m.refs, ...bases];
  const packNumbers = new Map<string, number>();
  for (const r of table) if (!packNumbers.has(r.packId)) packNumbers.set(r.packId, packNumbers.size);
  const entry = version < 2 ? REF_LENGTH_V1 : REF_LENGTH_V2;
  const payload = Buffer.alloc(4 + json.length + 4 + packNumbers.size * 32 + 4 + m.refs.length * entry + (version < 2 ? 0 : 4 + bases.length * entry));
  let p = payload.writeUInt32LE(json.length, 0);
  p += json.copy(payload, p);
  p = payload.writeUInt32LE(packNumbers.size, p);
  for (const id of packNumbers.keys()) p += Buffer.from(id, 'hex').copy(payload, p);
  const put = (r: ChunkRef) => {
    p += r.id.copy(payload, p);
    p = payload.writeUInt32LE(packNumbers.get(r.packId)!, p);
    p = payload.writeUInt32LE(r.offset, p);
    p = payload.writeUInt32LE(r.storedLength, p);
    p = payload.writeUInt32LE(r.rawLength, p);
    if (version >= 2) p = payload.writeUInt32LE(r.base ? index.get(r.base.id.toString('hex'))! : NO_BASE, p);
  };
  p = payload.writeUInt32LE(m.refs.length, p);
  for (const r of m.refs) put(r);
  if (version >= 2) {
    p = payload.writeUInt32LE(bases.length, p);
    for (const r of bases) put(r);
  }
  const body = frame(payload, level);
  const head = prefix(version);
  return Buffer.concat([head, sealer.seal(body, Buffer.concat([head, Buffer.from(m.info.id, 'utf8')]))]);
}

export function decodeManifest(bytes: Buffer, pointId: string, sealer: Sealer): Manifest {
  if (bytes.length < 12 || !bytes.subarray(0, 8).equals(MANIFEST_MAGIC)) throw new ManifestDamagedError('it is not a manifest (bad magic)');
  const version = bytes.readUInt16LE(8);
  if (version > MANIFEST_VERSION) throw new ManifestVersionError(version);
  let body: Buffer;
  try {
    body = sealer.open(bytes.subarray(12), Buffer.concat([bytes.subarray(0, 12), Buffer.from(pointId, 'utf8')]));
  } catch (e) {
    throw new ManifestDamagedError(`it failed authentication (${(e as Error).message}): its bytes changed, or it is another point's manifest copied over this one`);
  }
  const payload = unframe(body, new Decompressor(), (reason) => new ManifestDamagedError(reason));
  try {
    let p = 0;
    const jsonLength = payload.readUInt32LE(p);
    p += 4;
    const rawInfo: unknown = JSON.parse(payload.subarray(p, p + jsonLength).toString('utf8'));
    const packedSketches = version >= 2 && typeof rawInfo === 'object' && rawInfo !== null && 'sketches' in rawInfo ? rawInfo.sketches : undefined;
    if (packedSketches !== undefined && typeof packedSketches !== 'string') throw new Error('sketches must be a base64 string');
    const info = ManifestInfo.parse(rawInfo);
    if (version < 2 && info.sha256 === undefined) throw new Error('a version-1 manifest must carry the stream\'s sha256');
    p += jsonLength;
    const packCount = payload.readUInt32LE(p);
    p += 4;
    const packs: string[] = [];
    for (let i = 0; i < packCount; i++, p += 32) packs.push(payload.subarray(p, p + 32).toString('hex'));
    const entry = version < 2 ? REF_LENGTH_V1 : REF_LENGTH_V2;
    const baseOf: number[] = [];
    const readEntries = (count: number): ChunkRef[] => {
      if (payload.length < p + count * entry) throw new Error('wrong length');
      const out = new Array<ChunkRef>(count);
      for (let i = 0; i < count; i++, p += entry) {
        const packId = packs[payload.readUInt32LE(p + 32)];
        if (packId === undefined) throw new Error('pack number out of range');
        out[i] = {
          id: Buffer.from(payload.subarray(p, p + 32)),
          packId,
          offset: payload.readUInt32LE(p + 36),
          storedLength: payload.readUInt32LE(p + 40),
          rawLength: payload.readUInt32LE(p + 44),
        };
        baseOf.push(version < 2 ? NO_BASE : payload.readUInt32LE(p + 48));
      }
      return out;
    };
    const refs = readEntries(payload.readUInt32LE((p += 4) - 4));
    let bases: ChunkRef[] = [];
    if (version >= 2) bases = readEntries(payload.readUInt32LE((p += 4) - 4));
    if (payload.length !== p) throw new Error('wrong length');
    const table = bases.length > 0 ? [...refs, ...bases] : refs;
    for (let i = 0; i < table.length; i++) {
      if (baseOf[i] === NO_BASE) continue;
      const base = table[baseOf[i]!];
      if (base === undefined) throw new Error('base number out of range');
      table[i]!.base = base;
    }
    for (const r of table) {
      let links = 0;
      for (let b = r.base; b; b = b.base) if (++links > MAX_BASE_LINKS) throw new Error('a chain of delta bases is cyclic or too deep');
    }
    if (info.id !== pointId) throw new Error('point id does not match its file name');
    const m: Manifest = bases.length > 0 ? { info, refs, bases } : { info, refs };
    if (packedSketches) {
      m.sketches = new Map();
      for (const { index, sketch } of unpackSketches(Buffer.from(packedSketches, 'base64'))) {
        const r = table[index];
        if (r === undefined) throw new Error('sketch index out of range');
        m.sketches.set(r.id.toString('hex'), sketch);
      }
    }
    return m;
  } catch (e) {
    throw new ManifestDamagedError(`its content is malformed (${(e as Error).message})`);
  }
}
