/**
 * Resemblance sketches: which stored chunk a new chunk most likely came from, when the
 * chunk at the same stream position is not it (blocks moved, tables reordered).
 *
 * Contract: `chunkSketch(raw)` returns SUPER_FEATURES 32-bit super-features (or null when
 * the chunk is too small to sample): the gear hash (the chunker's 32-byte rolling hash) is
 * sampled where its top 8 bits are zero (1 byte in 256); for each of FEATURES linear
 * transforms of the sampled hashes (Broder's min-wise permutations) the maximum is kept,
 * and each
 * super-feature hashes FEATURES / SUPER_FEATURES consecutive features. Two chunks that
 * share a super-feature very likely share most of their content (after Broder; Shilane et
 * al., FAST '12). Deterministic: the same bytes give the same sketch on every thread and
 * build (the value is stored in manifests, docs/FORMAT.md §8a). Cost: one add and shift per
 * byte plus FEATURES multiply-adds per sampled position.
 *
 * `SketchIndex` is the write side's lookup over the sketches of a chain's chunks: `add`
 * in chronological order (a newer chunk replaces an older one under the same
 * super-feature), `best(sketch)` = the chunk sharing the most super-features (ties: the
 * lower super-feature index), `matches(id, sketch)` = how many a given chunk shares
 * (null: its sketch is unknown).
 */
import { gearSamples } from './gear-scan.ts';

export const FEATURES = 12;
export const SUPER_FEATURES = 3;
const PER_SUPER = FEATURES / SUPER_FEATURES;
/** Sample positions whose rolling hash has its top 8 bits zero: 1 in 256. */
const SAMPLE_MASK = 0xff000000 | 0;
/** Fewer samples than this (chunks under ~1 KiB) give no usable sketch. */
const MIN_SAMPLES = 4;
/** The gear hash covers the last 32 bytes; earlier positions hash a partial window. */
const WINDOW = 32;

/** Per-feature transforms v = M·h + A (mod 2^32), M odd: fixed constants (part of the stored sketch's definition). */
const MUL = new Int32Array(FEATURES);
const ADD = new Int32Array(FEATURES);
{
  let x = 0x9e3779b9;
  for (let i = 0; i < FEATURES; i++) {
    x = fmix(x + 0x6d2b79f5);
    MUL[i] = x | 1;
    x = fmix(x + 0x6d2b79f5);
    ADD[i] = x;
  }
}

/** murmur3's 32-bit finalizer: a bijection that mixes every input bit into every output bit. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Sampled hashes of one chunk; grows to the largest chunk's need (one per thread). */
let samples = new Int32Array(4096);

export function chunkSketch(raw: Uint8Array): Uint32Array | null {
  // Far more room than the expected 1 in 256, so a chunk never runs out of it in practice.
  if (samples.length < (raw.length >>> 5) + 64) samples = new Int32Array((raw.length >>> 5) + 64);
  // The scan of chunker.ts (WebAssembly): the hashes where the top 8 bits are zero.
  const count = gearSamples(raw, SAMPLE_MASK, WINDOW - 1, samples);
  if (count < MIN_SAMPLES) return null;
  const features = new Uint32Array(FEATURES);
  for (let k = 0; k < FEATURES; k++) {
    const m = MUL[k]!;
    const a = ADD[k]!;
    // Unsigned maximum as a signed one: flip the sign bit.
    let best = -0x80000000;
    for (let j = 0; j < count; j++) {
      const v = (Math.imul(samples[j]!, m) + a) ^ -0x80000000;
      if (v > best) best = v;
    }
    features[k] = (best ^ -0x80000000) >>> 0;
  }
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
