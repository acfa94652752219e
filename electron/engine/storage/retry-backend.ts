/**
 * Retry decorator: repeats a call that failed with a retryable BackstopError (STORAGE:
 * a transient I/O or network failure) with exponential backoff and jitter. Never retries
 * NOT_FOUND, DISK_FULL, PERMISSION_DENIED, or a put whose body is a one-shot stream (an
 * AsyncIterable cannot be replayed; buffer bodies can). Retrying is safe because every
 * Backend call is idempotent (put is atomic and the repository never rewrites an object).
 * A retried put's progress (PutOptions.onProgress) is not counted twice: each attempt counts
 * from 0 again, and only what goes past the most an earlier attempt reached is reported
 * (BodyProgress), so a bar never runs ahead of what one attempt really sent.
 */
import { isBackstopError } from '../../shared/result.ts';
import type { Backend, ByteRange, ObjectInfo, PutBody, PutOptions } from './backend.ts';
import { BodyProgress } from './body-progress.ts';

export interface RetryOptions {
  /** Total attempts including the first. Default 4. */
  attempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  onRetry?: (info: { op: string; key: string; attempt: number; error: unknown }) => void;
}

export class RetryBackend implements Backend {
  readonly location: string;
  private readonly attempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    readonly inner: Backend,
    private readonly options: RetryOptions = {},
  ) {
    this.location = inner.location;
    this.attempts = Math.max(1, options.attempts ?? 4);
    this.baseDelayMs = options.baseDelayMs ?? 200;
    this.maxDelayMs = options.maxDelayMs ?? 5000;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  private async run<T>(op: string, key: string, fn: () => Promise<T>, replayable = true, signal?: AbortSignal): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        const retryable = isBackstopError(e) && e.retryable;
        if (!retryable || !replayable || attempt >= this.attempts || signal?.aborted) throw e;
        this.options.onRetry?.({ op, key, attempt, error: e });
        const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
        await this.sleep(delay / 2 + Math.random() * (delay / 2));
      }
    }
  }

  put(key: string, body: PutBody, options?: PutOptions): Promise<void> {
    const replayable = body instanceof Uint8Array || Array.isArray(body);
    const report = options?.onProgress;
    if (!report || !replayable) return this.run('put', key, () => this.inner.put(key, body, options), replayable, options?.signal);
    const size = body instanceof Uint8Array ? body.length : (body as readonly Uint8Array[]).reduce((n, b) => n + b.length, 0);
    const progress = new BodyProgress(size, report);
    return this.run(
      'put',
      key,
      () => {
        let sent = 0;
        return this.inner.put(key, body, { ...options, onProgress: (n) => progress.sent((sent += n)) });
      },
      true,
      options?.signal,
    );
  }
  get(key: string, range?: ByteRange): Promise<Buffer> {
    return this.run('get', key, () => this.inner.get(key, range));
  }
  list(prefix: string): Promise<ObjectInfo[]> {
    return this.run('list', prefix, () => this.inner.list(prefix));
  }
  delete(key: string): Promise<void> {
    return this.run('delete', key, () => this.inner.delete(key));
  }
  stat(key: string): Promise<ObjectInfo | null> {
    return this.run('stat', key, () => this.inner.stat(key));
  }
  listFolders(): Promise<string[]> {
    return this.run('list', '', () => this.inner.listFolders());
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  unwrap(): Backend {
    return this.inner;
  }
}
