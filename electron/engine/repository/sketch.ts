/**
 * Resemblance sketches: which stored chunk a new chunk most likely came from, when the
 * chunk at the same stream position is not it (blocks moved, tables reordered).
 *
 * Contract: `chunkSketch(raw)` returns SUPER_FEATURES 32-bit super-features (or null when
 * the chunk is too small to sample): the gear hash (the chunker's 32-byte rolling hash) is
 * sampled where its top SAMPLE_BITS bits are zero; for each of FEATURES independent mixes
 * of the sampled hashes the maximum is kept (a min-hash of the chunk's windows), and each
 * super-feature hashes FEATURES / SUPER_FEATURES consecutive features. Two chunks that
 * share a super-feature very likely share most of their content (after Broder; Shilane et
 * al., FAST '12). Deterministic: the same bytes give the same sketch on every thread and
 * build (the value is stored in manifests, docs/FORMAT.md §8). Cost: one add and shift per
 * byte plus FEATURES mixes per sampled position (~1/64 of the bytes).
 *
 * `SketchIndex` is the write side's lookup over the sketches of a chain's chunks: `add`
 * in chronological order (a newer chunk replaces an older one under the same
 * super-feature), `best(sketch)` = the chunk sharing the most super-features (ties: the
 * lower super-feature index), `matches(id, sketch)` = how many a given chunk shares
 * (null: its sketch is unknown).
 */
import { GEAR } from './gear-scan.ts';

export const FEATURES = 12;
export const SUPER_FEATURES = 3;
const PER_SUPER = FEATURES / SUPER_FEATURES;
/** Sample positions whose rolling hash has its top 6 bits zero: 1 in 64. */
const SAMPLE_SHIFT = 26;
/** Fewer samples than this (chunks under ~1 KiB) give no usable sketch. */
const MIN_SAMPLES = 8;
/** The gear hash covers the last 32 bytes; earlier positions hash a partial window. */
const WINDOW = 32;

/** Per-feature seeds: fixed odd constants (part of the stored sketch's definition). */
const SEEDS: Uint32Array = (() => {
  const s = new Uint32Array(FEATURES);
  let x = 0x9e3779b9;
  for (let i = 0; i < FEATURES; i++) {
    x = fmix(x + 0x6d2b79f5);
    s[i] = x | 1;
  }
  return s;
})();

/** murmur3's 32-bit finalizer: a bijection that mixes every input bit into every output bit. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function chunkSketch(raw: Uint8Array): Uint32Array | null {
  const features = new Uint32Array(FEATURES);
  let samples = 0;
  let h = 0;
  const n = raw.length;
  for (let i = 0; i < n; i++) {
    h = ((h << 1) + GEAR[raw[i]!]!) | 0;
    if (h >>> SAMPLE_SHIFT !== 0 || i < WINDOW - 1) continue;
    samples++;
    for (let k = 0; k < FEATURES; k++) {
      const v = fmix(Math.imul(h, SEEDS[k]!) ^ SEEDS[k]!);
      if (v > features[k]!) features[k] = v;
    }
  }
  if (samples < MIN_SAMPLES) return null;
  const out = new Uint32Array(SUPER_FEATURES);
  for (let s = 0; s < SUPER_FEATURES; s++) {
    let acc = s + 1;
    for (let k = s * PER_SUPER; k < (s + 1) * PER_SUPER; k++) acc = fmix(Math.imul(acc, 0x01000193) ^ features[k]!);
    out[s] = acc;
  }
  return out;
}

/** `sketches` packed for a manifest: count × (index u32 ‖ SUPER_FEATURES × u32), little-endian. */
export function packSketches(entries: readonly { index: number; sketch: Uint32Array }[]): Buffer {
  const entry = 4 * (1 + SUPER_FEATURES);
  const out = Buffer.alloc(entries.length * entry);
  let p = 0;
  for (const { index, sketch } of entries) {
    p = out.writeUInt32LE(index, p);
    for (let s = 0; s < SUPER_FEATURES; s++) p = out.writeUInt32LE(sketch[s]!, p);
  }
  return out;
}

/** Inverse of packSketches; throws on a length that is not a whole number of entries. */
export function unpackSketches(bytes: Buffer): { index: number; sketch: Uint32Array }[] {
  const entry = 4 * (1 + SUPER_FEATURES);
  if (bytes.length % entry !== 0) throw new Error('sketch table has a partial entry');
  const out: { index: number; sketch: Uint32Array }[] = [];
  for (let p = 0; p < bytes.length; p += entry) {
    const sketch = new Uint32Array(SUPER_FEATURES);
    for (let s = 0; s < SUPER_FEATURES; s++) sketch[s] = bytes.readUInt32LE(p + 4 + 4 * s);
    out.push({ index: bytes.readUInt32LE(p), sketch });
  }
  return out;
}

export class SketchIndex<T extends { id: Buffer }> {
  private readonly bySuper = new Map<number, T>();
  private readonly byId = new Map<string, Uint32Array>();

  get size(): number {
    return this.byId.size;
  }

  add(chunk: T, sketch: Uint32Array): void {
    this.byId.set(chunk.id.toString('hex'), sketch);
    for (let s = 0; s < SUPER_FEATURES; s++) this.bySuper.set(s * 2 ** 32 + sketch[s]!, chunk);
  }

  best(sketch: Uint32Array): { chunk: T; matches: number } | null {
    let best: { chunk: T; matches: number } | null = null;
    const counted = new Map<T, number>();
    for (let s = 0; s < SUPER_FEATURES; s++) {
      const c = this.bySuper.get(s * 2 ** 32 + sketch[s]!);
      if (!c) continue;
      const m = (counted.get(c) ?? 0) + 1;
      counted.set(c, m);
      if (!best || m > best.matches) best = { chunk: c, matches: m };
    }
    return best;
  }

  matches(id: Buffer, sketch: Uint32Array): number | null {
    const known = this.byId.get(id.toString('hex'));
    if (!known) return null;
    let m = 0;
    for (let s = 0; s < SUPER_FEATURES; s++) if (known[s] === sketch[s]) m++;
    return m;
  }
}
