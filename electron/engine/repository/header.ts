/**
 * The repository header object (`backstop.repo`), the only plaintext metadata:
 *
 *   0   8  magic "BKSTREPO"
 *   8   2  format version, u16 LE
 *   10  4  body length N, u32 LE
 *   14  N  body: UTF-8 JSON (HeaderBody)
 *   14+N 32 SHA-256 of bytes [0, 14+N)
 *
 * Versions 1 and 2 share this layout (2 adds delta chunks and manifest version 2).
 * Decoding order (each failure has its own error code): magic → NOT_A_BACKUP; version >
 * FORMAT_VERSION → FORMAT_TOO_NEW; checksum or JSON → INTEGRITY; unknown algorithm id →
 * FORMAT_TOO_NEW. Written once by initRepository; the only later change is the version
 * field 1 → 2 (format-upgrade.ts, docs/FORMAT.md §2a).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { BackstopError } from '../../shared/result.ts';
import { FORMAT_VERSION, OLDEST_FORMAT_VERSION } from './layout.ts';
import { isKnownAlgorithm } from './algorithms.ts';

export const HEADER_MAGIC = Buffer.from('BKSTREPO', 'latin1');

const HeaderBody = z.object({
  repositoryId: z.string().regex(/^[0-9a-f]{32}$/),
  algorithms: z.object({
    chunkId: z.number().int(),
    compression: z.number().int(),
    encryption: z.number().int(),
    chunker: z.number().int(),
  }),
  chunker: z.object({ min: z.number().int(), avg: z.number().int(), max: z.number().int() }),
  packSize: z.number().int().positive(),
  key: z
    .object({
      kdf: z.literal('hkdf-sha256'),
      fingerprint: z.string(),
      check: z.string().regex(/^[0-9a-f]{64}$/),
    })
    .nullable(),
});
export type HeaderBody = z.infer<typeof HeaderBody>;

export function encodeHeader(body: HeaderBody, version: number = FORMAT_VERSION): Buffer {
  const json = Buffer.from(JSON.stringify(body), 'utf8');
  const head = Buffer.alloc(14);
  HEADER_MAGIC.copy(head, 0);
  head.writeUInt16LE(version, 8);
  head.writeUInt32LE(json.length, 10);
  const sum = createHash('sha256').update(head).update(json).digest();
  return Buffer.concat([head, json, sum]);
}

/** The header's body; `headerVersion` tells the format version it declares. */
export function decodeHeader(bytes: Buffer, location: string): HeaderBody {
  return decodeVersionedHeader(bytes, location).body;
}

export function decodeVersionedHeader(bytes: Buffer, location: string): { version: number; body: HeaderBody } {
  if (bytes.length < 10 || !bytes.subarray(0, 8).equals(HEADER_MAGIC)) {
    throw new BackstopError('NOT_A_BACKUP', `${location} is not a Backstop repository (its header is not a Backstop header).`);
  }
  const version = bytes.readUInt16LE(8);
  if (version > FORMAT_VERSION) {
    throw new BackstopError(
      'FORMAT_TOO_NEW',
      `The repository at ${location} uses format version ${version}; this Backstop reads up to version ${FORMAT_VERSION}. Update Backstop to use it.`,
    );
  }
  const damaged = (why: string) =>
    new BackstopError('INTEGRITY', `The repository header at ${location} is damaged (${why}). The restore points cannot be opened without it.`);
  if (version < OLDEST_FORMAT_VERSION || bytes.length < 14 + 32) throw damaged('too short');
  const n = bytes.readUInt32LE(10);
  if (bytes.length !== 14 + n + 32) throw damaged('wrong length');
  const sum = createHash('sha256').update(bytes.subarray(0, 14 + n)).digest();
  if (!sum.equals(bytes.subarray(14 + n))) throw damaged('checksum mismatch');
  let parsed: HeaderBody;
  try {
    parsed = HeaderBody.parse(JSON.parse(bytes.subarray(14, 14 + n).toString('utf8')));
  } catch {
    throw damaged('unreadable body');
  }
  const a = parsed.algorithms;
  const unknown =
    (!isKnownAlgorithm('chunk-id', a.chunkId) && 'chunk id') ||
    (!isKnownAlgorithm('compression', a.compression) && 'compression') ||
    (!isKnownAlgorithm('encryption', a.encryption) && 'encryption') ||
    (!isKnownAlgorithm('chunker', a.chunker) && 'chunker');
  if (unknown) {
    throw new BackstopError('FORMAT_TOO_NEW', `The repository at ${location} uses a ${unknown} algorithm this Backstop does not know. Update Backstop to use it.`);
  }
  return { version, body: parsed };
}
