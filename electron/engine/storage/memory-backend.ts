/**
 * In-memory backend for tests and benchmarks. Objects are copied in and out, so callers
 * may reuse their buffers. A put becomes visible only after its whole body was read.
 */
import { BackstopError } from '../../shared/result.ts';
import { assertValidKey, bodyChunks, type Backend, type ByteRange, type ObjectInfo, type PutBody, type PutOptions } from './backend.ts';

interface Stored {
  data: Buffer;
  modifiedMs: number;
}

export interface MemoryBackendOptions {
  /** Clock for modifiedMs (tests of the garbage-collection grace period). */
  now?: () => number;
  /** Objects whose key matches keep only their size (a "/dev/null" destination for benchmarks); get on them throws. */
  discard?: (key: string) => boolean;
}

export class MemoryBackend implements Backend {
  readonly location: string;
  private readonly objects = new Map<string, Stored>();
  private readonly now: () => number;
  private readonly discard: (key: string) => boolean;

  constructor(name = 'memory', options: MemoryBackendOptions = {}) {
    this.location = `memory store "${name}"`;
    this.now = options.now ?? Date.now;
    this.discard = options.discard ?? (() => false);
  }

  async put(key: string, body: PutBody, options?: PutOptions): Promise<void> {
    assertValidKey(key);
    const discard = this.discard(key);
    const parts: Buffer[] = [];
    let size = 0;
    for await (const c of bodyChunks(body)) {
      options?.signal?.throwIfAborted();
      size += c.length;
      if (!discard) parts.push(Buffer.from(c));
    }
    options?.signal?.throwIfAborted();
    this.objects.set(key, { data: discard ? Buffer.alloc(0) : Buffer.concat(parts), modifiedMs: this.now() });
    if (discard) this.sizes.set(key, size);
    else this.sizes.delete(key);
  }

  private readonly sizes = new Map<string, number>();

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    assertValidKey(key);
    const o = this.objects.get(key);
    if (!o) throw new BackstopError('NOT_FOUND', `get of "${key}" in ${this.location} failed: the object does not exist.`);
    if (this.sizes.has(key)) throw new BackstopError('STORAGE', `${this.location} discarded "${key}"; it cannot be read.`);
    if (!range) return Buffer.from(o.data);
    const start = Math.min(range.offset, o.data.length);
    return Buffer.from(o.data.subarray(start, Math.min(o.data.length, start + range.length)));
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    for (const [key, o] of this.objects) if (key.startsWith(prefix)) out.push(this.info(key, o));
    return out;
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    this.objects.delete(key);
    this.sizes.delete(key);
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    assertValidKey(key);
    const o = this.objects.get(key);
    return o ? this.info(key, o) : null;
  }

  /** Test helper: replace an object's bytes in place (simulates bit rot or tampering). */
  tamper(key: string, edit: (data: Buffer) => Buffer): void {
    const o = this.objects.get(key);
    if (!o) throw new Error(`no object ${key}`);
    o.data = edit(Buffer.from(o.data));
  }

  private info(key: string, o: Stored): ObjectInfo {
    return { key, size: this.sizes.get(key) ?? o.data.length, modifiedMs: o.modifiedMs };
  }
}
