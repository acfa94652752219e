/**
 * Azure Blob Storage backend on @azure/storage-blob (block blobs).
 *
 * Contract: the Backend contract (backend.ts). Keys live under `<prefix>/` in the container.
 * - `put` is atomic because Azure commits a block blob only on Put Blob or Put Block List:
 *   staged blocks stay invisible (and are discarded by the service after a week) until
 *   `commitBlockList`. A body that fits one block (`blockSize`, default 8 MiB) is one Put
 *   Blob; larger bodies are staged as blocks, at most `blockConcurrency` in flight
 *   (memory ≤ (blockConcurrency + 1) × block size), then committed in order. An abort
 *   rethrows the signal's reason, like the local backend.
 * - `accessTier` (Hot/Cool/Cold) is set on the blobs whose key starts with `tierPrefix`
 *   (the repository's packs; small index objects stay in the account's default tier).
 *   Archive is never set: an archived blob cannot be read without hours of rehydration.
 * - `get` with a range is one ranged GET; ranges past the end return empty.
 * - `list` and `listFolders` page through List Blobs (5000 a page) and skips names that are not valid keys.
 * - Credentials: an account key (shared key), a SAS token, or a connection string. The
 *   service URL is `endpoint` (e.g. Azurite's `http://127.0.0.1:10000/devstoreaccount1`)
 *   or `https://<account>.blob.core.windows.net`. No message contains a secret.
 * - The SDK is imported on the first request, not with this module.
 * - A stalled connection fails the call: every request runs under a watchdog that aborts it
 *   when no bytes have moved for `requestTimeoutMs` (default 120 s) — an idle timeout, not a
 *   total one, so blocks sharing a slow uplink, each taking minutes, still complete. Upload
 *   bodies go out in 64 KiB slices so progress follows the socket; once a body is all handed
 *   over, the answer may take that plus the body's size at 16 KiB/s (what the kernel's send
 *   buffer may still hold on a slow link, invisibly). A stall is a retryable
 *   STORAGE error that says so. (The SDK itself sets no client-side timeout; its
 *   `tryTimeoutInMs` is only the server-side `timeout=` parameter, which is not sent, leaving
 *   the service's own limit, which grows with the body's size.)
 * - `onUploadProgress(bytes)` gets each Put Blob or block as the service acknowledges it; a put's
 *   own `onProgress` (PutOptions) gets its bytes as they are sent, 64 KiB at a time within each
 *   (BodyProgress, body-progress.ts: the SDK's retry of a request is not counted twice), so
 *   progress moves on a slow link while a pack's blocks are on their way.
 * The SDK retries single requests (`maxTries`); use `createAzureBackend` for a
 * RetryBackend around the whole call.
 */
import type * as AzureSdk from '@azure/storage-blob';
import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import { AlreadyThereError, assertValidKey, isValidKey, readBody, sizedParts, type Backend, type ByteRange, type ObjectInfo, type PutBody, type PutOptions } from './backend.ts';
import { azureBackstopError, classifyAzureError } from './azure-errors.ts';
import { BodyProgress, countedSlices } from './body-progress.ts';
import { RetryBackend, type RetryOptions } from './retry-backend.ts';
import { normalizePrefix } from './s3-backend.ts';

/** Exactly one way to authenticate. */
export type AzureCredentials = { accountKey: string } | { sasToken: string } | { connectionString: string };

export type AzureAccessTier = 'Hot' | 'Cool' | 'Cold';

export interface AzureBackendOptions {
  accountName: string;
  container: string;
  /** Folder under which keys live ('' for the container root). */
  prefix: string;
  /** Service URL (Azurite, sovereign clouds); null for https://<account>.blob.core.windows.net. Ignored with a connection string. */
  endpoint: string | null;
  credentials: AzureCredentials;
  accessTier: AzureAccessTier | null;
  /** Keys the access tier applies to (default 'packs/'). */
  tierPrefix?: string;
  /** Bytes acknowledged by the service, reported as deltas after each Put Blob / block. */
  onUploadProgress?: (bytes: number) => void;
  /** Block size; default 8 MiB. */
  blockSize?: number;
  /** Blocks staged at once per put. Default 4. */
  blockConcurrency?: number;
  /** Attempts per single HTTP request inside the SDK. Default 3. */
  maxTries?: number;
  /** A request fails when no bytes have moved (sent or received) for this long, in ms. Default 120 s. */
  requestTimeoutMs?: number;
  /** Blobs per List Blobs page (the service's maximum, 5000, by default). */
  listPageSize?: number;
}

type Sdk = typeof AzureSdk;
let sdkLoad: Promise<Sdk> | undefined;
const loadSdk = (): Promise<Sdk> => (sdkLoad ??= import('@azure/storage-blob'));

const MIB = 1024 * 1024;
const MAX_BLOCKS = 50_000;

/** The account's service URL as the destination gives it (no secret: a SAS token is added separately). */
export function azureServiceUrl(accountName: string, endpoint: string | null): string {
  return (endpoint ?? `https://${accountName}.blob.core.windows.net`).replace(/\/+$/, '');
}

/** The SAS token among the credentials (given alone, or as a connection string's SharedAccessSignature). */
function sasTokenOf(c: AzureCredentials): { sasToken?: string } {
  if ('sasToken' in c) return { sasToken: c.sasToken };
  if ('connectionString' in c) {
    const m = /(?:^|;)\s*SharedAccessSignature=([^;]+)/i.exec(c.connectionString);
    if (m) return { sasToken: m[1]! };
  }
  return {};
}

function secretsOf(c: AzureCredentials): string[] {
  const out: string[] = [];
  if ('accountKey' in c) out.push(c.accountKey);
  if ('sasToken' in c) out.push(c.sasToken, c.sasToken.replace(/^\?/, ''), ...sasSignatures(c.sasToken));
  if ('connectionString' in c) {
    out.push(c.connectionString);
    for (const part of c.connectionString.split(';')) {
      const m = /^(AccountKey|SharedAccessSignature)=(.+)$/i.exec(part.trim());
      if (m) out.push(m[2]!, ...sasSignatures(m[2]!));
    }
  }
  return out;
}

/** The `sig=` value of a SAS token, raw and URL-decoded (what a server may echo). */
function sasSignatures(sas: string): string[] {
  const sig = new URLSearchParams(sas.replace(/^\?/, '')).get('sig');
  return sig ? [sig, encodeURIComponent(sig)] : [];
}

/** A request aborted by the watchdog: nothing moved for `stalledMs`. */
class StalledError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(readonly stalledMs: number) {
    super(`no bytes moved for ${stalledMs / 1000} s`);
  }
}

/** A request body the SDK can re-read on its own retries, in slices, so upload progress follows the socket. */
const sliced = (buf: Buffer) => () => countedSlices(buf);

/** The SDK's upload progress of one request: the watchdog's `touch`, and the bytes sent so far to `sending` (BodyProgress). */
const following =
  (touch: (progress?: { loadedBytes: number }) => void, sending: BodyProgress) =>
  (progress: { loadedBytes: number }): void => {
    touch(progress);
    sending.sent(progress.loadedBytes);
  };

/**
 * The slowest uplink share a request is assumed to get (bytes/s): once a body is all handed to
 * the socket, up to all of it may still sit in the kernel's send buffer (megabytes) draining at
 * the link's pace, with no sign of progress until the answer; the watchdog waits that long extra.
 */
const FLOOR_BYTES_PER_SECOND = 16 * 1024;

/**
 * Runs `fn` with a signal that aborts when `signal` does, or when nothing has moved for `idleMs`
 * (then `fn`'s failure becomes a StalledError); the user's abort reason wins. `fn` calls `touch`
 * on progress, with the body bytes handed over so far when it sends `bodySize` bytes: once all
 * are handed over, the wait for the answer is `idleMs` + `bodySize` at FLOOR_BYTES_PER_SECOND.
 */
async function watched<T>(
  idleMs: number,
  signal: AbortSignal | undefined,
  fn: (signal: AbortSignal, touch: (progress?: { loadedBytes: number }) => void) => Promise<T>,
  bodySize = 0,
): Promise<T> {
  const ctl = new AbortController();
  let stalled = false;
  let timer: NodeJS.Timeout | undefined;
  const touch = (progress?: { loadedBytes: number }) => {
    clearTimeout(timer);
    const drainMs = progress && bodySize > 0 && progress.loadedBytes >= bodySize ? Math.ceil((bodySize * 1000) / FLOOR_BYTES_PER_SECOND) : 0;
    timer = setTimeout(() => {
      stalled = true;
      ctl.abort(new StalledError(idleMs + drainMs));
    }, idleMs + drainMs);
  };
  const onAbort = () => ctl.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  touch();
  try {
    return await fn(ctl.signal, touch);
  } catch (e) {
    if (stalled && !signal?.aborted) throw (ctl.signal.reason as StalledError);
    throw e;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Block ids must all have the same length within a blob. */
const blockId = (n: number) => Buffer.from(`backstop-${String(n).padStart(6, '0')}`).toString('base64');

export class AzureBackend implements Backend {
  readonly location: string;
  readonly container: string;
  readonly prefix: string;
  readonly serviceUrl: string;
  private readonly blockSize: number;
  private readonly blockConcurrency: number;
  private readonly tierPrefix: string;
  private readonly secrets: string[];
  private readonly idleMs: number;
  private opened: Promise<{ container: ContainerClient; sdk: Sdk }> | undefined;

  constructor(private readonly options: AzureBackendOptions) {
    this.container = options.container;
    this.prefix = normalizePrefix(options.prefix);
    this.serviceUrl = azureServiceUrl(options.accountName, options.endpoint);
    this.location = `Azure container ${options.container}/${this.prefix} in account ${options.accountName}${options.endpoint ? ` at ${new URL(this.serviceUrl).host}` : ''}`;
    this.blockSize = Math.max(64 * 1024, options.blockSize ?? 8 * MIB);
    this.blockConcurrency = Math.max(1, options.blockConcurrency ?? 4);
    this.tierPrefix = options.tierPrefix ?? 'packs/';
    this.secrets = secretsOf(options.credentials);
    this.idleMs = Math.max(1, options.requestTimeoutMs ?? 120_000);
  }

  private azure(): Promise<{ container: ContainerClient; sdk: Sdk }> {
    this.opened ??= loadSdk().then((sdk) => {
      const o = this.options;
      // No tryTimeoutInMs: it would only ask the service to give up after that long (`timeout=`),
      // which on a slow uplink cuts blocks that are still moving; stalls are the watchdog's job.
      const pipeline = { retryOptions: { maxTries: Math.max(1, o.maxTries ?? 3), retryDelayInMs: 500, maxRetryDelayInMs: 5_000 } };
      let service: BlobServiceClient;
      const c = o.credentials;
      if ('connectionString' in c) service = sdk.BlobServiceClient.fromConnectionString(c.connectionString, pipeline);
      else if ('sasToken' in c) service = new sdk.BlobServiceClient(`${this.serviceUrl}?${c.sasToken.replace(/^\?/, '')}`, new sdk.AnonymousCredential(), pipeline);
      else service = new sdk.BlobServiceClient(this.serviceUrl, new sdk.StorageSharedKeyCredential(o.accountName, c.accountKey), pipeline);
      return { container: service.getContainerClient(o.container), sdk };
    });
    return this.opened;
  }

  async close(): Promise<void> {
    // The SDK's HTTP client keeps no sockets beyond Node's global agent's idle keep-alive.
    this.opened = undefined;
  }

  unwrap(): null {
    return null;
  }

  private blobName(key: string): string {
    assertValidKey(key);
    return this.prefix + key;
  }

  private fail(op: string, key: string, e: unknown): Error {
    return azureBackstopError(e, { op, key, location: this.location, container: this.container, endpoint: this.serviceUrl, secrets: this.secrets, ...sasTokenOf(this.options.credentials) });
  }

  private tierFor(key: string): { tier?: AzureAccessTier } {
    return this.options.accessTier && key.startsWith(this.tierPrefix) ? { tier: this.options.accessTier } : {};
  }

  async put(key: string, body: PutBody, options?: PutOptions): Promise<void> {
    const name = this.blobName(key);
    const signal = options?.signal;
    // Blocks double every 10 000 up to 8 × blockSize: 50 000 blocks hold ~2 TB with 8 MiB.
    const sizeOf = (n: number) => this.blockSize * Math.min(8, 2 ** Math.floor((n - 1) / 10_000));
    const it = sizedParts(body, sizeOf);
    // Create only: the service refuses (409/412) when a blob of that name exists.
    const conditions = options?.ifAbsent ? { conditions: { ifNoneMatch: '*' } } : {};
    try {
      const { container } = await this.azure();
      const blob = container.getBlockBlobClient(name);
      signal?.throwIfAborted();
      const first = await it.next();
      signal?.throwIfAborted();
      const firstBlock = first.done ? Buffer.alloc(0) : first.value;
      const second = firstBlock.length < sizeOf(1) ? { done: true as const } : await it.next();
      if (second.done || second.value.length === 0) {
        const sending = new BodyProgress(firstBlock.length, options?.onProgress);
        await watched(this.idleMs, signal, (abortSignal, touch) =>
          blob.upload(sliced(firstBlock), firstBlock.length, { abortSignal, onProgress: following(touch, sending), ...this.tierFor(key), ...conditions }), firstBlock.length,
        );
        this.options.onUploadProgress?.(firstBlock.length);
        sending.acknowledged();
        return;
      }
      const ids = await this.stageBlocks(blob, [firstBlock, second.value], it, signal, options?.onProgress);
      signal?.throwIfAborted();
      await watched(this.idleMs, signal, (abortSignal) => blob.commitBlockList(ids, { abortSignal, ...this.tierFor(key), ...conditions }));
    } catch (e) {
      await it.return(undefined).catch(() => {});
      // Staged blocks that were never committed are invisible and discarded by the service.
      if (signal?.aborted) throw signal.reason;
      if (options?.ifAbsent && [409, 412].includes((e as { statusCode?: number }).statusCode ?? 0)) throw new AlreadyThereError(key, this.location, e);
      throw this.fail('put', key, e);
    }
  }

  private async stageBlocks(
    blob: AzureSdk.BlockBlobClient,
    firstTwo: Buffer[],
    rest: AsyncGenerator<Buffer>,
    signal: AbortSignal | undefined,
    onProgress: ((bytes: number) => void) | undefined,
  ): Promise<string[]> {
    const ids: string[] = [];
    const inFlight = new Set<Promise<void>>();
    let failure: { e: unknown } | undefined;
    const pending = [...firstTwo];
    try {
      for (;;) {
        const next = pending.shift() ?? (await rest.next()).value;
        if (failure || !next) break;
        if (next.length === 0 && ids.length > 0) break; // empty tail after full blocks
        signal?.throwIfAborted();
        if (ids.length >= MAX_BLOCKS) throw new Error(`more than ${MAX_BLOCKS} blocks`);
        const id = blockId(ids.length + 1);
        ids.push(id);
        const sending = new BodyProgress(next.length, onProgress);
        const p = watched(this.idleMs, signal, (abortSignal, touch) => blob.stageBlock(id, sliced(next), next.length, { abortSignal, onProgress: following(touch, sending) }), next.length)
          .then(() => {
            this.options.onUploadProgress?.(next.length);
            sending.acknowledged();
          })
          .catch((e: unknown) => {
            failure ??= { e };
          })
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
        while (inFlight.size >= this.blockConcurrency) await Promise.race(inFlight);
      }
    } finally {
      await Promise.all(inFlight);
    }
    if (failure) throw failure.e;
    return ids;
  }

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    const name = this.blobName(key);
    if (range && range.length <= 0) {
      if (!(await this.stat(key))) throw this.fail('get', key, Object.assign(new Error('not found'), { statusCode: 404, code: 'BlobNotFound' }));
      return Buffer.alloc(0);
    }
    try {
      const { container } = await this.azure();
      const { res, buf } = await watched(this.idleMs, undefined, async (abortSignal, touch) => {
        const res = await container.getBlobClient(name).download(range?.offset ?? 0, range?.length, { abortSignal, onProgress: () => touch() });
        return { res, buf: await readBody(res.readableStreamBody as AsyncIterable<Buffer> | undefined, res.contentLength) };
      });
      if (res.contentLength !== undefined && res.contentLength !== buf.length) {
        throw Object.assign(new Error(`truncated response: ${buf.length} of ${res.contentLength} bytes`), { code: 'ECONNRESET' });
      }
      return buf;
    } catch (e) {
      const info = e as { statusCode?: number; code?: string };
      // 416: the range starts at or past the end (an empty blob also lands here).
      if (range && (info.statusCode === 416 || info.code === 'InvalidRange')) return Buffer.alloc(0);
      throw this.fail('get', key, e);
    }
  }

  async listFolders(): Promise<string[]> {
    const out: string[] = [];
    try {
      const { container } = await this.azure();
      await watched(this.idleMs, undefined, async (abortSignal, touch) => {
        for await (const page of container.listBlobsByHierarchy('/', { prefix: this.prefix, abortSignal }).byPage({ maxPageSize: this.options.listPageSize ?? 5000 })) {
          touch();
          for (const p of page.segment.blobPrefixes ?? []) {
            if (p.name.startsWith(this.prefix)) out.push(p.name.slice(this.prefix.length).replace(/\/$/, ''));
          }
        }
      });
    } catch (e) {
      throw this.fail('list', '', e);
    }
    return out.sort();
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    try {
      const { container } = await this.azure();
      await watched(this.idleMs, undefined, async (abortSignal, touch) => {
        for await (const page of container.listBlobsFlat({ prefix: this.prefix + prefix, abortSignal }).byPage({ maxPageSize: this.options.listPageSize ?? 5000 })) {
          touch();
          for (const b of page.segment.blobItems) {
            if (!b.name.startsWith(this.prefix)) continue;
            const key = b.name.slice(this.prefix.length);
            if (!isValidKey(key)) continue;
            out.push({ key, size: b.properties.contentLength ?? 0, modifiedMs: b.properties.lastModified?.getTime() ?? 0 });
          }
        }
      });
    } catch (e) {
      throw this.fail('list', prefix, e);
    }
    return out;
  }

  async delete(key: string): Promise<void> {
    const name = this.blobName(key);
    try {
      const { container } = await this.azure();
      await watched(this.idleMs, undefined, (abortSignal) => container.getBlobClient(name).deleteIfExists({ abortSignal }));
    } catch (e) {
      throw this.fail('delete', key, e);
    }
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    const name = this.blobName(key);
    try {
      const { container } = await this.azure();
      const p = await watched(this.idleMs, undefined, (abortSignal) => container.getBlobClient(name).getProperties({ abortSignal }));
      return { key, size: p.contentLength ?? 0, modifiedMs: p.lastModified?.getTime() ?? 0 };
    } catch (e) {
      // HEAD responses carry no body, only x-ms-error-code: a missing container says so there.
      if (classifyAzureError(e).kind === 'no-such-blob') return null;
      throw this.fail('stat', key, e);
    }
  }
}

/** The Azure backend in a RetryBackend (backoff on STORAGE errors). This is what tasks use. */
export function createAzureBackend(options: AzureBackendOptions, retry: RetryOptions = {}): RetryBackend {
  return new RetryBackend(new AzureBackend(options), retry);
}
