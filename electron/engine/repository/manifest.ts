/**
 * Restore-point manifests (docs/FORMAT.md §8): `points/<point id>.point`.
 *
 *   file  = magic "BKSTMANI" ‖ version u16 LE (1) ‖ 2 zero bytes ‖ seal(body, aad = first 12 bytes ‖ UTF-8 point id)
 *   body  = compression id u8 (0 none, 1 zstd) ‖ payload
 *   payload (after decompression) =
 *           json length u32 LE ‖ JSON (ManifestInfo) ‖
 *           pack count u32 LE ‖ pack count × pack id (32 raw bytes) ‖
 *           ref count u32 LE ‖ ref count × (chunk id 32 ‖ pack number u32 ‖ offset u32 ‖ stored length u32 ‖ raw length u32)
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

export const MANIFEST_MAGIC = Buffer.from('BKSTMANI', 'latin1');
export const MANIFEST_VERSION = 1;
const REF_LENGTH = 48;

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
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  stats: z.object({
    chunksNew: z.number().int(),
    chunksReused: z.number().int(),
    bytesNew: z.number().int(),
    bytesStored: z.number().int(),
    packsWritten: z.number().int(),
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
}

export interface Manifest {
  info: ManifestInfo;
  refs: ChunkRef[];
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

function prefix(): Buffer {
  const p = Buffer.alloc(12);
  MANIFEST_MAGIC.copy(p, 0);
  p.writeUInt16LE(MANIFEST_VERSION, 8);
  return p;
}

export function encodeManifest(m: Manifest, sealer: Sealer, level: number): Buffer {
  const json = Buffer.from(JSON.stringify(m.info), 'utf8');
  const packNumbers = new Map<string, number>();
  for (const r of m.refs) if (!packNumbers.has(r.packId)) packNumbers.set(r.packId, packNumbers.size);
  const payload = Buffer.alloc(4 + json.length + 4 + packNumbers.size * 32 + 4 + m.refs.length * REF_LENGTH);
  let p = payload.writeUInt32LE(json.length, 0);
  p += json.copy(payload, p);
  p = payload.writeUInt32LE(packNumbers.size, p);
  for (const id of packNumbers.keys()) p += Buffer.from(id, 'hex').copy(payload, p);
  p = payload.writeUInt32LE(m.refs.length, p);
  for (const r of m.refs) {
    p += r.id.copy(payload, p);
    p = payload.writeUInt32LE(packNumbers.get(r.packId)!, p);
    p = payload.writeUInt32LE(r.offset, p);
    p = payload.writeUInt32LE(r.storedLength, p);
    p = payload.writeUInt32LE(r.rawLength, p);
  }
  const body = frame(payload, level);
  const head = prefix();
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
    throw new ManifestDamagedError(`it failed authentication (${(e as Error).message})`);
  }
  const payload = unframe(body, new Decompressor(), (reason) => new ManifestDamagedError(reason));
  try {
    let p = 0;
    const jsonLength = payload.readUInt32LE(p);
    p += 4;
    const info = ManifestInfo.parse(JSON.parse(payload.subarray(p, p + jsonLength).toString('utf8')));
    p += jsonLength;
    const packCount = payload.readUInt32LE(p);
    p += 4;
    const packs: string[] = [];
    for (let i = 0; i < packCount; i++, p += 32) packs.push(payload.subarray(p, p + 32).toString('hex'));
    const refCount = payload.readUInt32LE(p);
    p += 4;
    if (payload.length !== p + refCount * REF_LENGTH) throw new Error('wrong length');
    const refs: ChunkRef[] = new Array<ChunkRef>(refCount);
    for (let i = 0; i < refCount; i++, p += REF_LENGTH) {
      const packId = packs[payload.readUInt32LE(p + 32)];
      if (packId === undefined) throw new Error('pack number out of range');
      refs[i] = {
        id: Buffer.from(payload.subarray(p, p + 32)),
        packId,
        offset: payload.readUInt32LE(p + 36),
        storedLength: payload.readUInt32LE(p + 40),
        rawLength: payload.readUInt32LE(p + 44),
      };
    }
    if (info.id !== pointId) throw new Error('point id does not match its file name');
    return { info, refs };
  } catch (e) {
    throw new ManifestDamagedError(`its content is malformed (${(e as Error).message})`);
  }
}
