/**
 * A Backend on an FTP server, over TLS (explicit AUTH TLS or implicit FTPS) or, only when
 * the destination chose it, plain FTP. Passive mode, binary transfers (basic-ftp).
 *
 * Contract (tests/unit/storage/backend-contract.ts, tests/integration/storage/ftp-backend.test.ts):
 * - Objects are files under the absolute server folder `root` (`<root>/<key>`); folders
 *   are created on first put (MKD, the base folder too).
 * - put is atomic: the body goes to a temporary name in the same folder
 *   (`.backstop-tmp-<random>-<name>`, never a valid key, so never listed), then RNFR/RNTO
 *   to the final name (a `replaceable` put onto a server that refuses to rename over a file
 *   deletes the old file first: PutOptions); a failed or aborted upload removes the temporary file on a fresh
 *   connection, or, when the server does not answer then, the next call does first
 *   (a killed process leaves it, invisible to list; `sweepTempFiles` removes it after a
 *   dead writer: backend.ts, LeftoverSweeper).
 * - A put's `onProgress` (PutOptions) gets the bytes sent on the data connection, sampled every
 *   500 ms and at the transfer's end (FTP acknowledges only the whole file).
 * - A server that stops answering fails the call after `timeoutMs` (30 s) without a reply or
 *   a byte on the data connection (basic-ftp's socket timeout), with STORAGE (retried).
 * - get with a range: REST <offset> + RETR (one data connection per read, however long the
 *   range), keeping `length` bytes in one buffer of that size; a transfer that runs far
 *   past them is stopped by closing that connection. A read that fails without a 550 (a
 *   data connection reset instead, or REST past the end refused) asks the file's size:
 *   none → NOT_FOUND, a range past the end → empty.
 * - list: recursive MLSD where the server has it, LIST otherwise (basic-ftp picks); a LIST
 *   line's time is not usable (no zone, minute or year), so each file's modification time is
 *   then asked with MDTM: garbage collection and the temp-file sweep go by it.
 * - FTP runs one transfer per control connection: a pool of up to `connections` logged-in
 *   connections serves concurrent calls; a connection that failed, or that the server closed
 *   while it was idle (its idle timeout, a restart), is closed, not reused. A login refused
 *   for the server's connection limit while others of the pool are open shrinks the pool to
 *   those (the call waits for one of them).
 * - TLS certificates: a certificate the system trusts for `host` is accepted; any other
 *   (self-signed, expired, another host's) only when its SHA-256 fingerprint equals
 *   `certificateFingerprint`, and then data connections are held to that certificate too.
 *   Otherwise the connection fails with the server's fingerprint in the message, to pin.
 * - Errors (ftp-errors.ts): 530 → AUTH_FAILED, 552 (or a reply saying the disk/quota is
 *   full) → DISK_FULL, 550 on reads → NOT_FOUND, 550/553 on writes → PERMISSION_DENIED, network and TLS failures → STORAGE/UNREACHABLE.
 *   The password never appears in a message.
 * - Tasks use `createFtpBackend`: the backend in a RetryBackend, so a call cut by a lost
 *   control connection (reset, stall, server restart) is repeated on a fresh connection.
 */
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import type { ConnectionOptions, PeerCertificate, TLSSocket } from 'node:tls';
import type { Client, FileInfo, FTPContext } from 'basic-ftp';
import { BackstopError } from '../../shared/result.ts';
import { AlreadyThereError, assertValidKey, bodyChunks, isValidKey, type Backend, type ByteRange, type LeftoverSweeper, type ObjectInfo, type PutBody, type PutOptions, type ReplacesWithGap, type SweepResult } from './backend.ts';
import { basicFtp, classifyFtpError, ftpError, FtpCertificateError, ftpProbeHint, FtpTlsRefusedError } from './ftp-errors.ts';
import { probeBackend } from './probe.ts';
import { RetryBackend, type RetryOptions } from './retry-backend.ts';
import type { ProbeReport } from '../../shared/domain.ts';

export type FtpTls = 'explicit' | 'implicit' | 'none';

export interface FtpBackendOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  tls: FtpTls;
  /** SHA-256 fingerprint (AB:CD:…, as `openssl x509 -fingerprint -sha256` prints it) of a certificate to accept although the system does not trust it. */
  certificateFingerprint?: string | null;
  /** Absolute folder on the server ('/backups/sales'); '/' for the login folder's root. */
  root: string;
  /** Concurrent control connections (default 4). */
  connections?: number;
  /** Control-connection timeout in ms (default 30 s). */
  timeoutMs?: number;
}

/** A transfer running this far past the wanted range is stopped by closing its connection. */
const READ_PAST_LIMIT = 1024 * 1024;

export function normalizeFingerprint(f: string): string {
  return f.replace(/^sha256:/i, '').replace(/[^0-9a-f]/gi, '').toUpperCase();
}

export function ftpRoot(path: string): string {
  const segs = path.split('/').filter((s) => s.length > 0);
  return `/${segs.join('/')}`;
}

/** A put's temporary file: `.backstop-tmp-<12 hex digits>-<name>` (never a valid key). */
const TEMP_PREFIX = '.backstop-tmp-';
const TEMP_NAME = /^\.backstop-tmp-[0-9a-f]{12}-.+$/;

/** Whether the server answers SIZE for `path` (a file is there); any refusal or failure counts as no. */
function answersSize(client: Client, path: string): Promise<boolean> {
  return client.size(path).then(() => true, () => false);
}

export class FtpBackend implements Backend, LeftoverSweeper, ReplacesWithGap {
  readonly location: string;
  /** A `replaceable` put may delete the old file before renaming (renameOnto). */
  readonly replacesWithGap = true as const;
  private readonly root: string;
  private readonly idle: Client[] = [];
  private readonly waiting: ((c: Client | null) => void)[] = [];
  private open = 0;
  /** At most this many connections (`connections`; lowered when the server refuses more). */
  private limit: number;
  private closed = false;
  private readonly madeDirs = new Set<string>();
  /** Temp files of failed uploads whose cleanup could not reach the server: removed before the next call's work. */
  private readonly orphans = new Set<string>();

  constructor(private readonly options: FtpBackendOptions) {
    this.root = ftpRoot(options.root);
    this.limit = options.connections ?? 4;
    const scheme = options.tls === 'implicit' ? 'ftps' : 'ftp';
    this.location = `${scheme}://${options.user}@${options.host}:${options.port}${this.root === '/' ? '' : this.root}`;
  }

  private path(key: string): string {
    return this.root === '/' ? `/${key}` : `${this.root}/${key}`;
  }

  async put(key: string, body: PutBody, options?: PutOptions): Promise<void> {
    assertValidKey(key);
    const final = this.path(key);
    const slash = final.lastIndexOf('/');
    const dir = final.slice(0, slash) || '/';
    const temp = `${dir === '/' ? '' : dir}/${TEMP_PREFIX}${randomBytes(6).toString('hex')}-${final.slice(slash + 1)}`;
    const signal = options?.signal;
    try {
      await this.withClient('upload', key, async (client) => {
        await this.ensureDir(client, dir);
        signal?.throwIfAborted();
        const onAbort = () => client.close();
        signal?.addEventListener('abort', onAbort, { once: true });
        // Progress: bytes sent on the data connection (basic-ftp samples them every 500 ms and at the end).
        let sent = 0;
        if (options?.onProgress) {
          const report = options.onProgress;
          client.trackProgress((info) => {
            if (info.type !== 'upload' || info.bytes <= sent) return;
            report(info.bytes - sent);
            sent = info.bytes;
          });
        }
        try {
          await client.uploadFrom(Readable.from(bodyChunks(body)), temp);
          signal?.throwIfAborted();
          // FTP has no create-only rename (RNTO replaces): the name is checked just before it.
          if (options?.ifAbsent && (await answersSize(client, final))) throw new AlreadyThereError(key, this.location);
          await this.renameOnto(client, temp, final, key, options);
        } finally {
          signal?.removeEventListener('abort', onAbort);
          if (options?.onProgress) client.trackProgress();
        }
      });
    } catch (e) {
      // On a connection of its own: the upload's may be gone (and holding it could starve the pool).
      // If none can be made now (the server is down or hung), the next connection made removes it first.
      await this.withClient('cleanup', key, (c) => c.remove(temp, true)).catch(() => this.orphans.add(temp));
      if (signal?.aborted) throw new BackstopError('CANCELED', `upload of "${key}" to ${this.location} was canceled.`, { cause: e });
      throw e;
    }
  }

  /**
   * RNFR/RNTO `temp` onto `final` (`key`). A server that refuses to rename over an existing
   * file (550/553 while `final` exists, e.g. ProFTPD `AllowOverwrite off`): a create-only put
   * is AlreadyThere; a `replaceable` one deletes the old file, then renames again; any other
   * is PERMISSION_DENIED naming the setting. A refusal while `final` is absent stands as it is.
   */
  private async renameOnto(client: Client, temp: string, final: string, key: string, options: PutOptions | undefined): Promise<void> {
    try {
      await client.rename(temp, final);
    } catch (e) {
      if (!(e instanceof basicFtp().FTPError) || (e.code !== 550 && e.code !== 553)) throw e;
      if (!(await answersSize(client, final))) throw e;
      if (options?.ifAbsent) throw new AlreadyThereError(key, this.location, e);
      if (!options?.replaceable) {
        throw new BackstopError('PERMISSION_DENIED', `upload of "${key}" at ${this.location} failed: ${e.message}: the server refuses to replace an existing file by renaming over it. Let it (ProFTPD: "AllowOverwrite on" for this folder).`, { cause: e });
      }
      await client.remove(final);
      await client.rename(temp, final);
    }
  }

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    assertValidKey(key);
    if (range && range.length === 0) return Buffer.alloc(0);
    try {
      return await this.read(key, range);
    } catch (e) {
      if (e instanceof BackstopError && e.code === 'NOT_FOUND') throw e;
      // Not every server answers a missing file or a range past the end with a reply the
      // client sees: ProFTPD answers RETR of a missing file with 550 but resets the data
      // connection it has just opened (the reset reaches the client first), and REST past the
      // end with 554. The file's size, asked on another connection, tells.
      const size = await this.withClient('stat', key, (c) => this.size(c, key)).catch(() => undefined);
      if (size === null) throw new BackstopError('NOT_FOUND', `read of "${key}" at ${this.location} failed: there is no such file on the server.`, { cause: e });
      if (range && size !== undefined && range.offset >= size) return Buffer.alloc(0);
      throw e;
    }
  }

  private read(key: string, range?: ByteRange): Promise<Buffer> {
    return this.withClient('read', key, async (client) => {
      // A ranged read lands in one buffer of its length (no second copy at the end).
      const into = range ? Buffer.allocUnsafe(range.length) : null;
      const chunks: Buffer[] = [];
      let got = 0;
      let stopped = false;
      const want = range ? range.length : Infinity;
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          if (into) {
            if (got < want) chunk.copy(into, got, 0, Math.min(chunk.length, want - got));
          } else chunks.push(chunk);
          got += chunk.length;
          if (got >= want + READ_PAST_LIMIT) {
            stopped = true;
            done(new Error('enough bytes read'));
          } else done();
        },
      });
      try {
        await client.downloadTo(sink, this.path(key), range?.offset ?? 0);
      } catch (e) {
        if (!stopped) throw e;
      }
      return into ? into.subarray(0, Math.min(got, want)) : Buffer.concat(chunks);
    });
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const slash = prefix.lastIndexOf('/');
    const start = slash < 0 ? '' : prefix.slice(0, slash);
    const out: ObjectInfo[] = [];
    await this.walk(start, prefix, out);
    return out;
  }

  /** Lists folder `rel` ('' = root) recursively into `out`, entering only folders that can hold keys with `prefix`. */
  private async walk(rel: string, prefix: string, out: ObjectInfo[]): Promise<void> {
    const entries = await this.listDir(rel);
    if (!entries) return;
    const subdirs: string[] = [];
    const files: Promise<unknown>[] = [];
    for (const e of entries) {
      if (!isValidKey(e.name)) continue;
      const key = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) {
        const asFolder = `${key}/`;
        if (asFolder.startsWith(prefix) || prefix.startsWith(asFolder)) subdirs.push(key);
      } else if (e.isFile && key.startsWith(prefix)) {
        files.push(this.modifiedMs(key, e).then((ms) => out.push(ms === null ? { key, size: e.size, modifiedMs: Date.now(), modifiedUnknown: true } : { key, size: e.size, modifiedMs: ms })));
      }
    }
    await Promise.all([...files, ...subdirs.map((d) => this.walk(d, prefix, out))]);
  }

  /**
   * When `e` (an entry of `key`) was last modified: from the listing where the server lists
   * with MLSD, else asked with MDTM (a LIST line's time has no time zone and no year or
   * minute, depending on its age). Unknown → null; listed as now (`modifiedUnknown`): the
   * file then counts as just written, so garbage collection keeps it rather than take one a
   * writer may still need, and the local manifest cache keeps no copy of an unnamed version.
   */
  private async modifiedMs(key: string, e: FileInfo): Promise<number | null> {
    if (e.modifiedAt) return e.modifiedAt.getTime();
    const asked = await this.withClient('stat', key, (c) => c.lastMod(this.path(key))).catch(() => null);
    return asked?.getTime() ?? null;
  }

  async sweepTempFiles(olderThanMs: number, now = Date.now()): Promise<SweepResult> {
    const swept: SweepResult = { removed: 0, bytes: 0 };
    const walk = async (rel: string): Promise<void> => {
      const entries = (await this.listDir(rel).catch(() => null)) ?? [];
      const subdirs: string[] = [];
      for (const e of entries) {
        const key = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory && isValidKey(e.name)) subdirs.push(key);
        else if (e.isFile && TEMP_NAME.test(e.name) && now - ((await this.modifiedMs(key, e)) ?? now) >= olderThanMs) {
          const gone = await this.withClient('cleanup', key, (c) => c.remove(this.path(key))).then(
            () => true,
            () => false,
          );
          if (gone) {
            swept.removed++;
            swept.bytes += e.size;
          }
        }
      }
      await Promise.all(subdirs.map(walk));
    };
    await walk('');
    return swept;
  }

  /** The entries of folder `rel`, or null when it does not exist. */
  private async listDir(rel: string): Promise<FileInfo[] | null> {
    const path = rel ? this.path(rel) : this.root;
    try {
      return await this.withClient('list', rel || '/', (c) => c.list(path));
    } catch (e) {
      if (e instanceof BackstopError && e.code === 'NOT_FOUND') return null;
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    await this.withClient('delete', key, async (client) => {
      try {
        await client.remove(this.path(key));
      } catch (e) {
        if (!(e instanceof basicFtp().FTPError) || e.code !== 550) throw e;
        // 550 is both "no such file" (fine: delete is idempotent) and "not allowed".
        if ((await this.size(client, key)) !== null) {
          throw new BackstopError('PERMISSION_DENIED', `delete of "${key}" in ${this.location} failed: the server refused (${e.message}). Give the FTP user permission to delete files in this folder.`, { cause: e });
        }
      }
    });
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    assertValidKey(key);
    return this.withClient('stat', key, async (client) => {
      const size = await this.size(client, key);
      if (size === null) return null;
      const modified = await client.lastMod(this.path(key)).catch(() => null);
      return modified ? { key, size, modifiedMs: modified.getTime() } : { key, size, modifiedMs: Date.now(), modifiedUnknown: true };
    });
  }

  private async size(client: Client, key: string): Promise<number | null> {
    try {
      return await client.size(this.path(key));
    } catch (e) {
      if (e instanceof basicFtp().FTPError && e.code === 550) return null;
      throw e;
    }
  }

  async listFolders(): Promise<string[]> {
    // Like an object store's prefix: a base folder not created yet holds no folders.
    const entries = (await this.listDir('')) ?? [];
    return entries
      .filter((e) => e.isDirectory && e.name !== '.' && e.name !== '..')
      .map((e) => e.name)
      .sort();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w(null);
    for (const c of this.idle.splice(0)) c.close();
  }

  unwrap(): Backend | null {
    return null;
  }

  private async ensureDir(client: Client, dir: string): Promise<void> {
    const segs = dir.split('/').filter((s) => s.length > 0);
    let p = '';
    for (const s of segs) {
      p += `/${s}`;
      if (this.madeDirs.has(p)) continue;
      await client.sendIgnoringError(`MKD ${p}`);
      this.madeDirs.add(p);
    }
  }

  /** Runs `fn` on a pooled, logged-in connection; a connection that failed at the network level is discarded. */
  private async withClient<T>(op: string, key: string, fn: (c: Client) => Promise<T>): Promise<T> {
    let client: Client;
    try {
      client = await this.acquire();
    } catch (e) {
      throw ftpError(op, key, this.location, e);
    }
    let healthy = true;
    try {
      for (const temp of [...this.orphans]) {
        this.orphans.delete(temp);
        await client.remove(temp, true);
      }
      return await fn(client);
    } catch (e) {
      // An FTP reply (4xx/5xx) leaves the connection usable; anything else does not.
      healthy = e instanceof basicFtp().FTPError && !client.closed;
      throw ftpError(op, key, this.location, e);
    } finally {
      this.release(client, healthy && !client.closed);
    }
  }

  private async acquire(): Promise<Client> {
    if (this.closed) throw new BackstopError('STORAGE', `${this.location} is closed.`);
    // A pooled connection the server has closed meanwhile (its idle timeout: ProFTPD's
    // TimeoutIdle, vsftpd's idle_session_timeout; a restart) is dropped, never handed out:
    // each one would fail a call (and use up one of its retries).
    for (let c = this.idle.pop(); c; c = this.idle.pop()) {
      if (!c.closed) {
        c.ftp.socket.ref();
        return c;
      }
      c.close();
      this.open--;
    }
    if (this.open < this.limit) {
      this.open++;
      try {
        return await this.connect();
      } catch (e) {
        this.open--;
        // The server allows this user or computer fewer connections than the pool holds: the
        // pool shrinks to the connections it has, and this call takes one of them (idle by
        // now, or the next one released).
        if (this.open > 0 && classifyFtpError(e).kind === 'busy') {
          this.limit = this.open;
          return this.acquire();
        }
        this.wakeOne();
        throw e;
      }
    }
    const next = await new Promise<Client | null>((resolve) => this.waiting.push(resolve));
    if (!next) throw new BackstopError('STORAGE', `${this.location} is closed.`);
    return next;
  }

  private release(client: Client, reusable: boolean): void {
    if (!reusable || this.closed) {
      client.close();
      this.open--;
      this.wakeOne();
      return;
    }
    const w = this.waiting.shift();
    if (w) w(client);
    else {
      // An idle connection, like an HTTP agent's idle socket, must not keep a finished CLI process alive.
      client.ftp.socket.unref();
      this.idle.push(client);
    }
  }

  /** A waiter gets a fresh connection slot when one frees up without a client to hand over. */
  private wakeOne(): void {
    const w = this.waiting.shift();
    if (!w) return;
    this.acquire().then(w, () => w(null));
  }

  private async connect(): Promise<Client> {
    const o = this.options;
    const client = new (basicFtp().Client)(o.timeoutMs ?? 30_000);
    try {
      // Certificates are checked below (trust or the pinned fingerprint), so the server's fingerprint can be reported.
      const tlsOptions: ConnectionOptions = { host: o.host, servername: isIp(o.host) ? undefined : o.host, rejectUnauthorized: false };
      if (o.tls === 'implicit') await client.connectImplicitTLS(o.host, o.port, tlsOptions);
      else await client.connect(o.host, o.port);
      if (o.tls === 'explicit') {
        await client.useTLS(tlsOptions).catch((e: unknown) => {
          throw e instanceof basicFtp().FTPError ? new FtpTlsRefusedError(e.message) : e;
        });
      }
      if (o.tls !== 'none') {
        const pin = this.checkCertificate(client.ftp.socket as TLSSocket);
        client.ftp.tlsOptions = { host: o.host, servername: isIp(o.host) ? undefined : o.host, ...(pin ? { rejectUnauthorized: false } : {}) };
        if (pin) holdDataConnectionsTo(client.ftp, pin);
      }
      await client.login(o.user, o.password);
      await client.useDefaultSettings();
      return client;
    } catch (e) {
      client.close();
      throw e;
    }
  }

  /** Accepts the control connection's certificate or throws; returns the pinned fingerprint (normalized) when the pin accepted it, null when the system trusts it. */
  private checkCertificate(socket: TLSSocket): string | null {
    const o = this.options;
    const cert = socket.getPeerCertificate(true) as PeerCertificate;
    const seen = cert.fingerprint256 ?? '';
    const pin = o.certificateFingerprint ? normalizeFingerprint(o.certificateFingerprint) : null;
    if (pin) {
      if (normalizeFingerprint(seen) !== pin) throw new FtpCertificateError('changed', seen, socket.authorizationError?.toString());
      return pin;
    }
    if (!socket.authorized) throw new FtpCertificateError('untrusted', seen, socket.authorizationError?.toString());
    return null;
  }
}

/**
 * Holds every TLS data connection of `ftp` to the pinned certificate: one that resumes the
 * control connection's TLS session is that server's (only it holds the session's keys); any
 * other has its certificate's fingerprint checked when the handshake is done, and is
 * destroyed before a byte of the transfer passes if it is not the pinned one. Not by a CA check (`ca: [the pinned
 * certificate]`): a data connection resumes the control connection's TLS session (ProFTPD,
 * and vsftpd's require_ssl_reuse, refuse one that does not), and a resumed session carries
 * the control handshake's verdict ("self-signed": nothing vouched for the certificate then),
 * so every transfer failed; nor can a CA check accept an expired certificate or one issued
 * for another name, which a pin does. (basic-ftp sets `dataSocket` once per transfer.)
 */
function holdDataConnectionsTo(ftp: FTPContext, pin: string): void {
  const accessor = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(ftp) as object, 'dataSocket');
  if (!accessor?.get || !accessor.set) throw new Error('basic-ftp has no dataSocket accessor to hold data connections to the pinned certificate');
  const { get, set } = accessor;
  Object.defineProperty(ftp, 'dataSocket', {
    configurable: true,
    get: () => get.call(ftp) as unknown,
    set: (socket: unknown) => {
      if (isTlsSocket(socket)) {
        socket.prependOnceListener('secureConnect', () => {
          // A resumed session shows no certificate, and needs none: only the server that showed the pinned one on the control connection holds its keys.
          if (socket.isSessionReused()) return;
          const seen = socket.getPeerCertificate().fingerprint256 ?? '';
          if (normalizeFingerprint(seen) !== pin) socket.destroy(new FtpCertificateError('changed', seen));
        });
      }
      set.call(ftp, socket);
    },
  });
}

function isTlsSocket(socket: unknown): socket is TLSSocket {
  return typeof (socket as Partial<TLSSocket> | undefined)?.getPeerCertificate === 'function';
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

/** An FTP backend with retries of the whole call (a lost connection is replaced on the next attempt). */
export function createFtpBackend(options: FtpBackendOptions, retry: RetryOptions = {}): RetryBackend {
  return new RetryBackend(new FtpBackend(options), retry);
}

/** "Test connection" for an FTP destination: storage/probe.ts's probe with FTP's hint. */
export function probeFtp(options: FtpBackendOptions): Promise<ProbeReport> {
  return probeBackend(new FtpBackend(options), { classify: (e) => classifyFtpError(e), hint: (_steps, failures) => ftpProbeHint(failures) });
}
