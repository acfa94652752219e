/**
 * Fault-injecting decorator for tests of the commit protocol (after Kopia's faulty storage).
 *
 * - `inject(rule)`: make matching calls fail with an errno-style error (mapped like a real
 *   backend maps it: ENOSPC → DISK_FULL, EIO → STORAGE, …), optionally after letting a
 *   number of matching calls through, and optionally leaving a *torn* object behind (the
 *   first `partialBytes` of the body stored as if complete — what a non-atomic destination
 *   might do).
 * - `crashAfter(n)`: simulate the process dying after n more successful mutations
 *   (put/delete): from then on every call throws `SimulatedCrash` and nothing reaches the
 *   inner backend. Tests then reopen the repository on the inner backend.
 * Every call that reached the inner backend is recorded in `log`.
 */
import { storageError } from './errors.ts';
import { bodyChunks, type Backend, type ByteRange, type ObjectInfo, type PutBody, type PutOptions } from './backend.ts';

export type BackendOp = 'put' | 'get' | 'list' | 'delete' | 'stat';

export interface FaultRule {
  op: BackendOp | readonly BackendOp[];
  /** Only keys starting with this (list: prefixes starting with this). */
  keyPrefix?: string;
  /** Let this many matching calls succeed first. Default 0. */
  after?: number;
  /** Fire this many times, then stop matching. Default: forever. */
  times?: number;
  /** errno code (ENOSPC, EIO, ECONNRESET, EACCES, …) or a custom error. */
  error: string | Error;
  /** put only: store the first N bytes of the body under the key before failing. */
  partialBytes?: number;
}

export class SimulatedCrash extends Error {
  constructor() {
    super('simulated crash: the process died here');
    this.name = 'SimulatedCrash';
  }
}

interface ActiveRule extends FaultRule {
  seen: number;
  fired: number;
}

export class FaultyBackend implements Backend {
  readonly location: string;
  readonly log: { op: BackendOp; key: string }[] = [];
  private rules: ActiveRule[] = [];
  private mutationsLeft = Infinity;
  private dead = false;

  constructor(readonly inner: Backend) {
    this.location = inner.location;
  }

  inject(rule: FaultRule): this {
    this.rules.push({ ...rule, seen: 0, fired: 0 });
    return this;
  }

  clear(): void {
    this.rules = [];
    this.mutationsLeft = Infinity;
    this.dead = false;
  }

  crashAfter(mutations: number): this {
    this.mutationsLeft = mutations;
    return this;
  }

  get crashed(): boolean {
    return this.dead;
  }

  private gate(op: BackendOp, key: string): ActiveRule | null {
    if (this.dead) throw new SimulatedCrash();
    if (op === 'put' || op === 'delete') {
      if (this.mutationsLeft <= 0) {
        this.dead = true;
        throw new SimulatedCrash();
      }
    }
    for (const r of this.rules) {
      const ops: readonly BackendOp[] = typeof r.op === 'string' ? [r.op] : r.op;
      if (!ops.includes(op)) continue;
      if (r.keyPrefix !== undefined && !key.startsWith(r.keyPrefix)) continue;
      if (r.times !== undefined && r.fired >= r.times) continue;
      r.seen++;
      if (r.seen <= (r.after ?? 0)) continue;
      r.fired++;
      return r;
    }
    return null;
  }

  private fail(rule: ActiveRule, op: BackendOp, key: string): never {
    if (rule.error instanceof Error) throw rule.error;
    const e = Object.assign(new Error(`${rule.error}: injected fault`), { code: rule.error });
    throw storageError(op, key, this.location, e);
  }

  private mutated(op: BackendOp, key: string): void {
    this.log.push({ op, key });
    if (this.mutationsLeft !== Infinity) this.mutationsLeft--;
  }

  async put(key: string, body: PutBody, options?: PutOptions): Promise<void> {
    const rule = this.gate('put', key);
    if (rule) {
      if (rule.partialBytes !== undefined) {
        const parts: Uint8Array[] = [];
        let n = 0;
        for await (const c of bodyChunks(body)) {
          if (n >= rule.partialBytes) break;
          const take = c.subarray(0, rule.partialBytes - n);
          parts.push(take);
          n += take.length;
        }
        await this.inner.put(key, parts);
        this.log.push({ op: 'put', key });
      } else {
        // Drain the body so a streaming producer is not left hanging.
        for await (const _ of bodyChunks(body)) void _;
      }
      this.fail(rule, 'put', key);
    }
    await this.inner.put(key, body, options);
    if (this.dead) throw new SimulatedCrash();
    this.mutated('put', key);
  }

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    const rule = this.gate('get', key);
    if (rule) this.fail(rule, 'get', key);
    this.log.push({ op: 'get', key });
    return this.inner.get(key, range);
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const rule = this.gate('list', prefix);
    if (rule) this.fail(rule, 'list', prefix);
    this.log.push({ op: 'list', key: prefix });
    return this.inner.list(prefix);
  }

  async delete(key: string): Promise<void> {
    const rule = this.gate('delete', key);
    if (rule) this.fail(rule, 'delete', key);
    await this.inner.delete(key);
    this.mutated('delete', key);
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    const rule = this.gate('stat', key);
    if (rule) this.fail(rule, 'stat', key);
    this.log.push({ op: 'stat', key });
    return this.inner.stat(key);
  }
}
