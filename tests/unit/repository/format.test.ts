import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { registerAlgorithm, algorithmName, decideGarbage } from '../../../electron/engine/repository/index.ts';
import { decodeHeader, encodeHeader, type HeaderBody } from '../../../electron/engine/repository/header.ts';
import { PackBuilder, parsePack, PackDamagedError, PACK_HEADER_LENGTH } from '../../../electron/engine/repository/pack.ts';
import { decodeManifest, encodeManifest, ManifestDamagedError, ManifestVersionError, type Manifest } from '../../../electron/engine/repository/manifest.ts';
import { ChunkDecoder, ChunkEncoder, ChunkDamagedError } from '../../../electron/engine/repository/chunk-codec.ts';
import { AesGcmSealer, ChecksumSealer, generateKey, chunkIdFunction } from '../../../electron/engine/crypto/index.ts';
import { newPointId, isPointId, packIdFromKey, packKey } from '../../../electron/engine/repository/layout.ts';

const body: HeaderBody = {
  repositoryId: '0123456789abcdef0123456789abcdef',
  algorithms: { chunkId: 2, compression: 1, encryption: 1, chunker: 1 },
  chunker: { min: 1024, avg: 4096, max: 16384 },
  packSize: 65536,
  key: { kdf: 'hkdf-sha256', fingerprint: 'aaaa-bbbb-cccc-dddd', check: 'ab'.repeat(32) },
};

describe('algorithm registry', () => {
  it('refuses duplicate ids and reports names', () => {
    expect(algorithmName('compression', 1)).toBe('zstd');
    expect(() => registerAlgorithm('compression', 1, 'lz4')).toThrow(/already registered \(zstd\)/);
    expect(() => registerAlgorithm('chunker', 300, 'x')).toThrow(/0\.\.255/);
  });
});

describe('header', () => {
  it('has the documented byte layout', () => {
    const bytes = encodeHeader(body);
    expect(bytes.subarray(0, 8).toString('latin1')).toBe('BKSTREPO');
    expect(bytes.readUInt16LE(8)).toBe(2);
    const n = bytes.readUInt32LE(10);
    expect(bytes.length).toBe(14 + n + 32);
    expect(createHash('sha256').update(bytes.subarray(0, 14 + n)).digest().equals(bytes.subarray(14 + n))).toBe(true);
    expect(decodeHeader(bytes, 'here')).toEqual(body);
  });

  it('maps each failure to its code', () => {
    const bytes = encodeHeader(body);
    expect(() => decodeHeader(Buffer.from('hello world, not a header'), 'X')).toThrow(expect.objectContaining({ code: 'NOT_A_BACKUP' }));
    const newer = Buffer.from(bytes);
    newer.writeUInt16LE(3, 8);
    expect(() => decodeHeader(newer, 'X')).toThrow(expect.objectContaining({ code: 'FORMAT_TOO_NEW', message: expect.stringMatching(/version 3/) }));
    const flipped = Buffer.from(bytes);
    flipped[20]! ^= 1;
    expect(() => decodeHeader(flipped, 'X')).toThrow(expect.objectContaining({ code: 'INTEGRITY', message: expect.stringMatching(/checksum/) }));
    const unknownAlg = encodeHeader({ ...body, algorithms: { ...body.algorithms, compression: 77 } });
    expect(() => decodeHeader(unknownAlg, 'X')).toThrow(expect.objectContaining({ code: 'FORMAT_TOO_NEW', message: expect.stringMatching(/compression/) }));
  });
});

describe('chunk codec', () => {
  const key = generateKey();
  const cfg = { encryption: 1, dataKey: key, chunkIdKey: Buffer.alloc(32, 1), level: 3 };
  const idOf = chunkIdFunction(cfg.chunkIdKey);

  it('compresses compressible data, stores incompressible data raw', () => {
    const enc = new ChunkEncoder(cfg);
    const dec = new ChunkDecoder(cfg);
    const text = Buffer.from('abc'.repeat(5000));
    const stored = enc.encode(idOf(text), text);
    expect(stored.length).toBeLessThan(200);
    expect(dec.decode(idOf(text), stored, text.length).equals(text)).toBe(true);
    const noise = generateKey();
    const s2 = enc.encode(idOf(noise), noise);
    expect(s2.length).toBe(noise.length + 1 + 28);
    expect(dec.decode(idOf(noise), s2, 32).equals(noise)).toBe(true);
  });

  it('rejects a chunk under another id, a wrong length, or a flipped byte', () => {
    const enc = new ChunkEncoder(cfg);
    const dec = new ChunkDecoder(cfg);
    const a = Buffer.from('first chunk');
    const stored = enc.encode(idOf(a), a);
    expect(() => dec.decode(idOf(Buffer.from('other')), stored, a.length)).toThrow(ChunkDamagedError);
    expect(() => dec.decode(idOf(a), stored, a.length + 1)).toThrow(/expected/);
    const bad = Buffer.from(stored);
    bad[15]! ^= 4;
    expect(() => dec.decode(idOf(a), bad, a.length)).toThrow(/authentication/);
  });
});

describe('pack', () => {
  it('round-trips its index and detects damage', () => {
    const sealer = new AesGcmSealer(generateKey());
    const b = new PackBuilder(sealer);
    const e1 = b.add(Buffer.alloc(32, 1), Buffer.from('aaaa'), 10);
    const e2 = b.add(Buffer.alloc(32, 2), Buffer.from('bbbbbb'), 20);
    expect(e1.offset).toBe(PACK_HEADER_LENGTH);
    expect(e2.offset).toBe(PACK_HEADER_LENGTH + 4);
    const f = b.finish();
    const bytes = Buffer.concat(f.parts);
    expect(bytes.length).toBe(f.size);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(f.id);
    expect(bytes.subarray(0, 8).toString('latin1')).toBe('BKSTPACK');
    expect(bytes.subarray(bytes.length - 8).toString('latin1')).toBe('BKSTPEND');
    const entries = parsePack(bytes, f.id, sealer);
    expect(entries.map((e) => [e.offset, e.storedLength, e.rawLength])).toEqual([
      [32, 4, 10],
      [36, 6, 20],
    ]);
    expect(() => parsePack(bytes.subarray(0, bytes.length - 3), f.id, sealer)).toThrow(PackDamagedError);
    const other = new PackBuilder(sealer).finish();
    expect(other.id).not.toBe(new PackBuilder(sealer).finish().id); // random salt: identical content never shares a name
  });

  it('names live under a two-hex fan-out folder', () => {
    const id = 'ab'.repeat(32);
    expect(packKey(id)).toBe(`packs/ab/${id}.pack`);
    expect(packIdFromKey(packKey(id))).toBe(id);
    expect(packIdFromKey(`packs/cd/${id}.pack`)).toBeNull();
  });
});

describe('manifest', () => {
  const m: Manifest = {
    info: {
      id: newPointId(new Date('2024-05-06T07:08:09.010Z'), '0a1b2c3d'),
      database: 'sales',
      serverIdentity: 's',
      engineVersion: '15',
      dumpToolVersion: '15',
      kind: 'full',
      backupType: 'logical',
      createdAt: '2024-05-06T07:08:09.010Z',
      chainId: 'c',
      parentId: null,
      chunking: { kind: 'cdc', min: 1, avg: 2, max: 3 },
      length: 30,
      sha256: 'cd'.repeat(32),
      stats: { chunksNew: 2, chunksReused: 0, bytesNew: 30, bytesStored: 10, packsWritten: 1 },
      meta: { dumpFormat: 'custom', tables: ['a', 'b'] },
    },
    refs: [
      { id: Buffer.alloc(32, 1), packId: 'aa'.repeat(32), offset: 32, storedLength: 4, rawLength: 10 },
      { id: Buffer.alloc(32, 2), packId: 'bb'.repeat(32), offset: 32, storedLength: 6, rawLength: 20 },
    ],
  };

  it('point ids sort by time', () => {
    expect(m.info.id).toBe('20240506T070809010Z-0a1b2c3d');
    expect(isPointId(m.info.id)).toBe(true);
  });

  it('round-trips, binds the file name, and detects tampering', () => {
    for (const sealer of [new AesGcmSealer(generateKey()), new ChecksumSealer()]) {
      const bytes = encodeManifest(m, sealer, 3);
      expect(bytes.subarray(0, 8).toString('latin1')).toBe('BKSTMANI');
      expect(decodeManifest(bytes, m.info.id, sealer)).toEqual(m);
      expect(() => decodeManifest(bytes, '20240506T070809010Z-ffffffff', sealer)).toThrow(ManifestDamagedError);
      const bad = Buffer.from(bytes);
      bad[bad.length - 20]! ^= 1;
      expect(() => decodeManifest(bad, m.info.id, sealer)).toThrow(ManifestDamagedError);
      const newer = Buffer.from(bytes);
      newer.writeUInt16LE(9, 8);
      expect(() => decodeManifest(newer, m.info.id, sealer)).toThrow(ManifestVersionError);
    }
  });
});

describe('GC rule', () => {
  const info = (key: string, modifiedMs: number, size = 100) => ({ key, size, modifiedMs });
  const now = 1_000_000_000;
  const packs = ['p1', 'p2', 'p3', 'p4', 'p5'].map((id) => ({ id, info: info(id, now - 3_600_000) }));

  it('deletes only unreferenced, unprotected packs older than the grace period', () => {
    const d = decideGarbage({
      packs: [...packs, { id: 'young', info: info('young', now - 1000) }],
      markers: [
        { key: 'inflight/live.json', info: info('l', now - 60_000), marker: { writeId: 'l', startedAt: '', basePoints: [], packs: ['p3'] } },
        { key: 'inflight/dead.json', info: info('d', now - 7_200_000), marker: { writeId: 'd', startedAt: '', basePoints: [], packs: ['p4'] } },
      ],
      referenced: new Set(['p1', 'p2']),
      now,
      graceMs: 15 * 60_000,
      markerStaleMs: 3_600_000,
    });
    expect(d.deletePacks.map((p) => p.id)).toEqual(['p4', 'p5']);
    expect(d.deleteMarkers).toEqual(['inflight/dead.json']);
  });

  it('an unreadable live marker protects everything', () => {
    const d = decideGarbage({
      packs,
      markers: [{ key: 'inflight/x.json', info: info('x', now), marker: null }],
      referenced: new Set(),
      now,
      graceMs: 0,
      markerStaleMs: 3_600_000,
    });
    expect(d.deletePacks).toEqual([]);
  });
});
