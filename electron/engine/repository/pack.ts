/**
 * Packs: files of ~packSize bytes holding many stored chunks plus their index
 * (docs/FORMAT.md §7).
 *
 *   header   32 bytes: magic "BKSTPACK" ‖ version u16 LE (1) ‖ 6 zero bytes ‖ 16 random bytes
 *   blobs    stored chunks back to back, starting at offset 32
 *   index    seal(index plaintext, aad = "BKSTPIDX" ‖ header)
 *   trailer  12 bytes: index length u32 LE ‖ magic "BKSTPEND"
 *   pack id  = hex SHA-256 of the whole file; the file is packs/<id[0,2]>/<id>.pack
 *
 *   index plaintext = count u32 LE ‖ count × (chunk id 32 ‖ offset u32 ‖ stored length u32 ‖ raw length u32)
 *
 * A PackBuilder is used by one writer; `finish` may be called once. Parsing never trusts
 * lengths: a short, truncated or altered pack throws PackDamagedError.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import type { Sealer } from '../crypto/seal.ts';
import { CHUNK_ID_LENGTH } from '../crypto/chunk-id.ts';

export const PACK_MAGIC = Buffer.from('BKSTPACK', 'latin1');
export const PACK_END_MAGIC = Buffer.from('BKSTPEND', 'latin1');
const INDEX_AAD_MAGIC = Buffer.from('BKSTPIDX', 'latin1');
export const PACK_VERSION = 1;
export const PACK_HEADER_LENGTH = 32;
export const PACK_TRAILER_LENGTH = 12;
const ENTRY_LENGTH = CHUNK_ID_LENGTH + 12;

export interface PackEntry {
  id: Buffer;
  offset: number;
  storedLength: number;
  rawLength: number;
}

export class PackDamagedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PackDamagedError';
  }
}

export interface FinishedPack {
  id: string;
  parts: Buffer[];
  size: number;
  entries: PackEntry[];
}

export class PackBuilder {
  private readonly header: Buffer;
  private readonly parts: Buffer[] = [];
  private readonly hash: Hash = createHash('sha256');
  readonly entries: PackEntry[] = [];
  private pos: number;

  constructor(private readonly sealer: Sealer) {
    this.header = Buffer.alloc(PACK_HEADER_LENGTH);
    PACK_MAGIC.copy(this.header, 0);
    this.header.writeUInt16LE(PACK_VERSION, 8);
    randomBytes(16).copy(this.header, 16);
    this.append(this.header);
    this.pos = PACK_HEADER_LENGTH;
  }

  private append(b: Buffer): void {
    this.parts.push(b);
    this.hash.update(b);
  }

  get size(): number {
    return this.pos;
  }

  get count(): number {
    return this.entries.length;
  }

  add(id: Buffer, stored: Buffer, rawLength: number): PackEntry {
    const entry = { id, offset: this.pos, storedLength: stored.length, rawLength };
    this.append(stored);
    this.pos += stored.length;
    this.entries.push(entry);
    return entry;
  }

  finish(): FinishedPack {
    const plain = Buffer.alloc(4 + this.entries.length * ENTRY_LENGTH);
    plain.writeUInt32LE(this.entries.length, 0);
    let p = 4;
    for (const e of this.entries) {
      e.id.copy(plain, p);
      plain.writeUInt32LE(e.offset, p + 32);
      plain.writeUInt32LE(e.storedLength, p + 36);
      plain.writeUInt32LE(e.rawLength, p + 40);
      p += ENTRY_LENGTH;
    }
    const index = this.sealer.seal(plain, Buffer.concat([INDEX_AAD_MAGIC, this.header]));
    const trailer = Buffer.alloc(PACK_TRAILER_LENGTH);
    trailer.writeUInt32LE(index.length, 0);
    PACK_END_MAGIC.copy(trailer, 4);
    this.append(index);
    this.append(trailer);
    const size = this.pos + index.length + trailer.length;
    return { id: this.hash.digest('hex'), parts: this.parts, size, entries: this.entries };
  }
}

/** Checks a whole pack (content hash, header, index) and returns its index. */
export function parsePack(pack: Buffer, expectedId: string, sealer: Sealer): PackEntry[] {
  const actual = createHash('sha256').update(pack).digest('hex');
  if (actual !== expectedId) throw new PackDamagedError(`its content does not match its name (SHA-256 is ${actual.slice(0, 16)}…; ${pack.length} bytes)`);
  if (pack.length < PACK_HEADER_LENGTH + PACK_TRAILER_LENGTH) throw new PackDamagedError('it is too short to be a pack');
  if (!pack.subarray(0, 8).equals(PACK_MAGIC)) throw new PackDamagedError('its header is not a pack header');
  if (pack.readUInt16LE(8) !== PACK_VERSION) throw new PackDamagedError(`it has unknown pack version ${pack.readUInt16LE(8)}`);
  const tail = pack.subarray(pack.length - PACK_TRAILER_LENGTH);
  if (!tail.subarray(4).equals(PACK_END_MAGIC)) throw new PackDamagedError('its trailer is missing (truncated?)');
  const indexLength = tail.readUInt32LE(0);
  const indexStart = pack.length - PACK_TRAILER_LENGTH - indexLength;
  if (indexStart < PACK_HEADER_LENGTH) throw new PackDamagedError('its index length is impossible');
  let plain: Buffer;
  try {
    plain = sealer.open(pack.subarray(indexStart, indexStart + indexLength), Buffer.concat([INDEX_AAD_MAGIC, pack.subarray(0, PACK_HEADER_LENGTH)]));
  } catch (e) {
    throw new PackDamagedError(`its index failed authentication (${(e as Error).message})`);
  }
  if (plain.length < 4) throw new PackDamagedError('its index is empty');
  const count = plain.readUInt32LE(0);
  if (plain.length !== 4 + count * ENTRY_LENGTH) throw new PackDamagedError('its index has the wrong length');
  const entries: PackEntry[] = [];
  let expectOffset = PACK_HEADER_LENGTH;
  for (let i = 0, p = 4; i < count; i++, p += ENTRY_LENGTH) {
    const e: PackEntry = {
      id: Buffer.from(plain.subarray(p, p + 32)),
      offset: plain.readUInt32LE(p + 32),
      storedLength: plain.readUInt32LE(p + 36),
      rawLength: plain.readUInt32LE(p + 40),
    };
    if (e.offset !== expectOffset) throw new PackDamagedError(`its index entry ${i} has offset ${e.offset}, expected ${expectOffset}`);
    expectOffset += e.storedLength;
    entries.push(e);
  }
  if (expectOffset !== indexStart) throw new PackDamagedError('its index does not cover the blobs exactly');
  return entries;
}

