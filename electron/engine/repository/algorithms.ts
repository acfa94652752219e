/**
 * Registry of algorithm ids written into repositories (after Kopia's compression ids).
 *
 * Contract: an id, once written into any repository, means the same algorithm forever.
 * Registering an id twice, or an id listed as retired, throws. Unknown ids found in a
 * repository mean a newer Backstop wrote it (FORMAT_TOO_NEW). Registration happens at
 * module load; callers only look up.
 */

export type AlgorithmGroup = 'chunk-id' | 'compression' | 'encryption' | 'chunker';

const registry = new Map<AlgorithmGroup, Map<number, string>>();
/** Ids that were once used and must never be assigned again. Empty in format 1. */
const RETIRED: Readonly<Record<AlgorithmGroup, readonly number[]>> = {
  'chunk-id': [],
  compression: [],
  encryption: [],
  chunker: [],
};

export function registerAlgorithm(group: AlgorithmGroup, id: number, name: string): void {
  if (!Number.isInteger(id) || id < 0 || id > 255) throw new RangeError(`algorithm id must be 0..255, got ${id}`);
  if (RETIRED[group].includes(id)) throw new Error(`${group} algorithm id ${id} is retired and must not be reused`);
  let ids = registry.get(group);
  if (!ids) registry.set(group, (ids = new Map()));
  const existing = ids.get(id);
  if (existing !== undefined) throw new Error(`${group} algorithm id ${id} is already registered (${existing})`);
  ids.set(id, name);
}

export function algorithmName(group: AlgorithmGroup, id: number): string | undefined {
  return registry.get(group)?.get(id);
}

export function isKnownAlgorithm(group: AlgorithmGroup, id: number): boolean {
  return algorithmName(group, id) !== undefined;
}

export const CHUNK_ID = { SHA256: 1, HMAC_SHA256: 2 } as const;
export const COMPRESSION = { NONE: 0, ZSTD: 1, ZSTD_DELTA: 2 } as const;
export const ENCRYPTION = { NONE_SHA256_TAG: 0, AES_256_GCM: 1 } as const;
export const CHUNKER = { FASTCDC_GEAR_V1: 1, FIXED: 2 } as const;

registerAlgorithm('chunk-id', CHUNK_ID.SHA256, 'sha-256');
registerAlgorithm('chunk-id', CHUNK_ID.HMAC_SHA256, 'hmac-sha-256');
registerAlgorithm('compression', COMPRESSION.NONE, 'none');
registerAlgorithm('compression', COMPRESSION.ZSTD, 'zstd');
// Format 2: a chunk frame compressed by zstd with a base chunk as raw-content dictionary.
registerAlgorithm('compression', COMPRESSION.ZSTD_DELTA, 'zstd against a base chunk');
registerAlgorithm('encryption', ENCRYPTION.NONE_SHA256_TAG, 'none (sha-256 integrity tag)');
registerAlgorithm('encryption', ENCRYPTION.AES_256_GCM, 'aes-256-gcm');
registerAlgorithm('chunker', CHUNKER.FASTCDC_GEAR_V1, 'fastcdc-gear-v1');
registerAlgorithm('chunker', CHUNKER.FIXED, 'fixed');
