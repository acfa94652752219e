/**
 * Shared fixtures for repository tests: small chunker/pack parameters, deterministic
 * dump-like data, temp folders, and stream helpers. Not a test file.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { WritePointOptions } from '../../../electron/engine/repository/index.ts';

export const SMALL_CDC = { min: 1024, avg: 4096, max: 16384 };
export const SMALL_PACK = 64 * 1024;
/** Runtime options for fast, deterministic tests: inline encoding, no GC grace. */
export const FAST = { workers: 0, gcGraceMs: 0, markerStaleMs: 60 * 60_000 } as const;

/** Deterministic pseudo-random generator (xorshift32). */
export function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

/** Deterministic pseudo-random bytes (incompressible, with cut points everywhere). */
export function pseudoRandom(n: number, seed: number): Buffer {
  const r = rng(seed);
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

/** SQL-dump-like text: compressible, with row-level variety so CDC finds cut points. */
export function dumpLike(bytes: number, seed = 1): Buffer {
  const r = rng(seed);
  const parts: string[] = [];
  let n = 0;
  let i = 0;
  while (n < bytes) {
    const line = `INSERT INTO public.orders VALUES (${i++}, 'customer_${Math.floor(r() * 100000)}', ${(r() * 1000).toFixed(2)}, '2024-0${1 + Math.floor(r() * 9)}-1${Math.floor(r() * 9)}', ${r() < 0.5 ? 'true' : 'false'});\n`;
    parts.push(line);
    n += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

export async function* pieces(data: Buffer, size = 7919): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

export async function collect(stream: Readable | AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(parts);
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export function pointOpts(over: Partial<WritePointOptions> = {}): WritePointOptions {
  return {
    database: 'sales',
    serverIdentity: 'postgres://db1.example:5432',
    engineVersion: '15.6',
    dumpToolVersion: 'pg_dump 15.6',
    kind: 'full',
    backupType: 'logical',
    ...over,
  };
}

export async function tempDir(prefix = 'backstop-repo-'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** Awaits a promise expected to reject with a BackstopError; returns it for assertions. */
export async function rejection(p: Promise<unknown>): Promise<{ code: string; message: string; name: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code: string; message: string; name: string };
  }
  throw new Error('expected a rejection, but the promise resolved');
}
