/**
 * SFTP backend: one file per object under a base folder on an SSH server (ssh2, pure JS).
 *
 * Contract (besides backend.ts's):
 * - One SSH connection per backend, opened on first use, with a small pool of SFTP channels
 *   used round-robin so concurrent calls do not queue behind one another. A lost connection
 *   fails the calls in flight with STORAGE (retryable) and the next call reconnects. Every
 *   SFTP request goes through `call`, which settles when the request is answered or when
 *   its connection (or channel) is lost, whichever is first — ssh2 never answers a request
 *   sent on a closed channel, so without this a call could wait forever.
 * - The server's host key is pinned: `hostKey` is its SHA256 fingerprint as OpenSSH prints
 *   it (`SHA256:<base64>`). A different key is refused (AUTH_FAILED naming both
 *   fingerprints) and never accepted silently; no pinned key (null) is refused too
 *   (VALIDATION naming the server's fingerprint, for the user to verify and pin).
 * - `put` writes `.<name>.tmp-<random>` in the target folder, fsyncs it (fsync@openssh.com
 *   when offered), then renames it over the final name with posix-rename@openssh.com
 *   (atomic replace). A failed or interrupted put removes its temp file: on its own channel
 *   while the connection lives, else on a fresh connection (bounded); while the server is
 *   still down, the next connection this backend makes removes it before its first call.
 *   Files whose name starts with '.' are never objects, so a leftover is never listed, and
 *   `sweepTempFiles` removes old ones a killed process left (backend.ts, LeftoverSweeper).
 *   A put's `onProgress` (PutOptions) gets each 32 KiB piece as the server acknowledges it.
 * - `freeBytes`: the space free to the user on the root's file system (statvfs@openssh.com,
 *   OpenSSH's extension); null from a server without it.
 * - Errors: no such file → NOT_FOUND, permission → PERMISSION_DENIED, a failed write on a
 *   file system without free space (statvfs@openssh.com) → DISK_FULL, login refused →
 *   AUTH_FAILED, connection refused / lost / timed out → STORAGE (retryable).
 * - An idle connection does not keep the process alive (its socket is referenced only while
 *   calls are in flight). While calls are in flight, a keepalive (keepalive@openssh.com) is
 *   sent after every `keepaliveIntervalMs` without a byte from the server, which a live
 *   server answers even while a request of ours is busy; nothing from the server for
 *   `stallTimeoutMs` (a server restarted or frozen, a link dropped without a reset, a NAT
 *   that stopped forwarding) drops the connection: the calls fail with STORAGE naming the
 *   server (retried on a new connection). A call so fails at most `stallTimeoutMs` +
 *   `keepaliveIntervalMs` (60 s by default) after the server went silent.
 * Secrets (password, key, passphrase) never appear in `location` or in errors.
 */
import { hostPort } from '../../shared/domain.ts';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { posix } from 'node:path';
import type { Client, ConnectConfig, FileEntryWithStats, SFTPWrapper, Stats } from 'ssh2';
import { BackstopError } from '../../shared/result.ts';
import { AlreadyThereError, assertValidKey, bodyChunks, isTempFileName, tempFileName, type Backend, type ByteRange, type FreeSpaceReporter, type LeftoverSweeper, type ObjectInfo, type PutBody, type PutOptions, type SweepResult } from './backend.ts';
import { RetryBackend, type RetryOptions } from './retry-backend.ts';

export interface SftpBackendOptions {
  host: string;
  port: number;
  user: string;
  /** Base folder on the server: absolute, or relative to the user's login folder ('' = the login folder). */
  root: string;
  /**
   * The part of `root` that must already exist (the destination's base folder): `put` creates
   * the folders below it, never it (a mistyped or vanished base folder is NOT_FOUND, not re-created).
   * Default: `root` itself may be created too ('' = create everything).
   */
  base?: string;
  /** The pinned host key fingerprint, `SHA256:<base64>`; null refuses with the server's fingerprint. */
  hostKey: string | null;
  password?: string;
  /** Path of an OpenSSH/PEM private key file (read when connecting). */
  privateKeyFile?: string | null;
  passphrase?: string;
  /** SFTP channels opened on the one connection (default 4; OpenSSH allows 10 sessions). */
  channels?: number;
  /** How long connecting and logging in may take (default 15 s). */
  readyTimeoutMs?: number;
  /**
   * How long the server may send nothing while calls are in flight before the connection is
   * dropped as dead (default 45 s; keepalives make a live server answer sooner): the calls
   * fail with STORAGE (retried on a new connection). TCP keepalive alone cannot notice a
   * server process that is frozen or a link that still answers but hangs.
   */
  stallTimeoutMs?: number;
  /** Inbound silence after which a keepalive is sent while calls are in flight (default 15 s, at most a third of `stallTimeoutMs`). */
  keepaliveIntervalMs?: number;
}

/** Defaults of the silence bound (see the header): a dead server fails a call within their sum. */
export const SFTP_STALL_TIMEOUT_MS = 45_000;
export const SFTP_KEEPALIVE_INTERVAL_MS = 15_000;

/** SFTP status codes (draft-ietf-secsh-filexfer-02, what OpenSSH speaks). */
const FX = { EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4, NO_CONNECTION: 6, CONNECTION_LOST: 7, OP_UNSUPPORTED: 8 } as const;

/** Bytes per SFTP read/write request, and how many are in flight together. */
const PIECE = 32 * 1024;
const WRITES_IN_FLIGHT = 64;

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;

/** A host key's fingerprint as `ssh-keygen -l` prints it: SHA256 of the key blob, unpadded base64. */
export function hostKeyFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** True for a well-formed `SHA256:<43 base64 chars>` fingerprint. */
export function isHostKeyFingerprint(s: string): boolean {
  return /^SHA256:[A-Za-z0-9+/]{43}$/.test(s);
}

function sftpCode(e: unknown): number | undefined {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : undefined;
}

function where(o: Pick<SftpBackendOptions, 'host' | 'port'>): string {
  return hostPort(o.host, o.port);
}

/** Why a connection was refused over its host key (the cause of the BackstopError; classified by the probe). */
export class HostKeyRefused extends Error {
  constructor(
    readonly pinned: string | null,
    readonly seen: string,
  ) {
    super(pinned ? 'host key changed' : 'host key not pinned');
  }
}

/** A connection-level failure (connect, login, host key, lost connection) as a BackstopError. */
function connectionError(o: SftpBackendOptions, e: unknown, seenKey: string | null): BackstopError {
  if (e instanceof BackstopError) return e;
  const at = where(o);
  if (seenKey !== null && o.hostKey === null) {
    return new BackstopError(
      'VALIDATION',
      `The SFTP server at ${at} presents host key ${seenKey}, and no host key is pinned for this destination. Check that this is the server's key (on the server: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then pin it (accept it in the window, or --host-key ${seenKey}).`,
      { cause: new HostKeyRefused(null, seenKey) },
    );
  }
  if (seenKey !== null && seenKey !== o.hostKey) {
    return new BackstopError(
      'AUTH_FAILED',
      `The SSH host key of ${at} has changed: pinned ${o.hostKey}, the server now presents ${seenKey}. Backstop refuses to connect. If the server was reinstalled or its key replaced on purpose, verify the new key and pin it; otherwise someone may be intercepting the connection.`,
      { cause: new HostKeyRefused(o.hostKey, seenKey) },
    );
  }
  const level = typeof e === 'object' && e !== null ? (e as { level?: unknown }).level : undefined;
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  const detail = e instanceof Error ? e.message : String(e);
  if (level === 'client-authentication') {
    return new BackstopError('AUTH_FAILED', `The SFTP server at ${at} refused the login of user "${o.user}" (${o.password ? 'password' : o.privateKeyFile ? 'private key' : 'no password or key'} rejected). Check the user name and the password or key.`, { cause: e });
  }
  if (level === 'client-timeout') return new BackstopError('STORAGE', `The SFTP server at ${at} did not complete the SSH handshake in time. Check the host and port, and that an SSH server listens there.`, { cause: e });
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new BackstopError('STORAGE', `The host name ${o.host} could not be resolved. Check the host.`, { cause: e });
  if (typeof code === 'string') return new BackstopError('STORAGE', `Could not connect to the SFTP server at ${at} (${code}). Check the host and port, that the SSH server runs, and any firewall.`, { cause: e });
  return new BackstopError('STORAGE', `The connection to the SFTP server at ${at} failed: ${detail}`, { cause: e });
}

interface Session {
  client: Client;
  channels: SFTPWrapper[];
  /** Set once the connection (or one of its channels) closed: every later call reconnects. */
  closed: Error | null;
  socket: Socket | null;
  /** Rejects the requests waiting for an answer (each removes itself when answered). */
  pending: Set<(e: Error) => void>;
  /** When the server last sent a byte (or calls last started after an idle time). */
  heardAt: number;
  watchdog: NodeJS.Timeout | null;
}

/** An SFTP channel with the session it belongs to. */
interface Channel {
  s: SFTPWrapper;
  session: Session;
}

/** Marks the session lost (once) and fails every request still waiting on it. */
function lose(session: Session, e: Error): void {
  session.closed ??= e;
  if (session.watchdog) clearInterval(session.watchdog);
  session.watchdog = null;
  const waiting = [...session.pending];
  session.pending.clear();
  for (const reject of waiting) reject(session.closed);
}

/**
 * One SFTP request on `session`: settles with its answer, or rejects when the session is (or
 * becomes) lost — ssh2 queues a request on a closed channel and never answers it.
 */
function call<T>(session: Session, fn: (cb: (err: Error | null | undefined, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (session.closed) return reject(session.closed);
    session.pending.add(reject);
    fn((err, value) => {
      session.pending.delete(reject);
      if (err) reject(err);
      else resolve(value);
    });
  });
}

/** `p`'s value, or undefined when it fails or takes longer than `ms` (for cleanup that must not hang). */
async function bounded<T>(p: Promise<T>, ms = 5_000): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([p.catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export class SftpBackend implements Backend, LeftoverSweeper, FreeSpaceReporter {
  readonly location: string;
  private readonly root: string;
  private session: Promise<Session> | undefined;
  private next = 0;
  private closed = false;
  private readonly madeDirs = new Set<string>();
  /** Temp files of failed puts still to remove (their connection was lost): see removeTemp. */
  private readonly orphans = new Set<string>();
  /** Calls in flight: the connection's socket is referenced (keeps the process alive) only while > 0. */
  private busy = 0;

  constructor(private readonly options: SftpBackendOptions) {
    this.root = options.root === '/' ? '/' : options.root.replace(/\/+$/, '');
    this.location = `SFTP folder ${options.user}@${where(options)}:${this.root || '~'}`;
  }

  private path(key: string): string {
    assertValidKey(key);
    return this.root ? posix.join(this.root, key) : key;
  }

  private async connect(): Promise<Session> {
    const o = this.options;
    const { Client } = await import('ssh2');
    let privateKey: Buffer | undefined;
    if (o.privateKeyFile) {
      try {
        privateKey = await readFile(o.privateKeyFile);
      } catch (e) {
        throw new BackstopError('VALIDATION', `The private key file ${o.privateKeyFile} cannot be read (${(e as { code?: string }).code ?? 'error'}). Check the path and that the user Backstop runs as may read it.`);
      }
    }
    const client = new Client();
    let seenKey: string | null = null;
    const session: Session = { client, channels: [], closed: null, socket: null, pending: new Set(), heardAt: Date.now(), watchdog: null };
    const config: ConnectConfig = {
      host: o.host,
      port: o.port,
      username: o.user,
      readyTimeout: o.readyTimeoutMs ?? 15_000,
      // AES-GCM runs in OpenSSL; ssh2's chacha20-poly1305 falls back to slow JavaScript without its optional native module.
      algorithms: { cipher: ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'aes128-ctr', 'aes256-ctr', 'chacha20-poly1305@openssh.com'] },
      hostVerifier: (key: Buffer) => {
        seenKey = hostKeyFingerprint(key);
        return o.hostKey !== null && seenKey === o.hostKey;
      },
      ...(o.password !== undefined ? { password: o.password } : {}),
      ...(privateKey ? { privateKey, ...(o.passphrase !== undefined ? { passphrase: o.passphrase } : {}) } : {}),
    };
    await new Promise<void>((resolve, reject) => {
      const fail = (e: unknown) => reject(connectionError(o, e, seenKey));
      client.once('ready', () => {
        client.removeListener('error', fail);
        resolve();
      });
      // `on`, not `once`: a connection cut during the handshake emits 'error' twice (the socket's
      // error, then "Connection lost before handshake"), and an 'error' nobody listens to is
      // thrown — it ended the whole job thread (WORKER_CRASHED) when a server died as Backstop
      // reconnected. A failed client keeps this listener; a ready one swaps it for `lose` below.
      client.on('error', fail);
      client.once('close', () => fail(new Error('the server closed the connection during login')));
      try {
        client.connect(config);
      } catch (e) {
        // ssh2 throws synchronously for an unparsable key or a wrong passphrase.
        const msg = e instanceof Error ? e.message : String(e);
        const wrongPassphrase = /passphrase|decrypt|bad auth/i.test(msg);
        reject(new BackstopError('VALIDATION', wrongPassphrase ? `The private key ${o.privateKeyFile ?? ''} could not be decrypted: the passphrase is wrong or missing.` : `The private key ${o.privateKeyFile ?? ''} is not a key ssh can use (${msg}).`));
      }
    });
    // An idle connection must not keep a process alive (the CLI exits when its work is done):
    // the socket is referenced only while calls are in flight (`hold`), and the watchdog's
    // timer is unreferenced (ssh2's own keepalive timer would hold the process).
    session.socket = (client as unknown as { _sock?: Socket })._sock ?? null;
    session.socket?.setKeepAlive(true, 15_000);
    session.socket?.on('data', () => (session.heardAt = Date.now()));
    if (this.busy === 0) session.socket?.unref();
    client.on('error', (e) => lose(session, e));
    client.on('close', () => lose(session, new Error('the server closed the connection')));
    this.watch(session, client);
    try {
      const n = Math.max(1, o.channels ?? 4);
      for (let i = 0; i < n; i++) {
        const sftp = await call<SFTPWrapper>(session, (cb) => client.sftp(cb));
        // A channel that closes (its sftp-server process died) takes the connection with it:
        // a dead channel left in the pool would never answer again.
        sftp.on('close', () => {
          const sock = session.socket;
          lose(session, new Error(sock && !sock.destroyed && sock.readable ? 'the server closed an SFTP channel' : 'the server closed the connection'));
          client.end();
        });
        sftp.on('error', () => {});
        session.channels.push(sftp);
      }
    } catch (e) {
      client.end();
      if (session.closed) throw connectionError(o, e, seenKey);
      throw new BackstopError('STORAGE', `The SSH server at ${where(o)} accepted the login but refused the SFTP subsystem (${e instanceof Error ? e.message : String(e)}). Enable SFTP on the server (Subsystem sftp in sshd_config).`, { cause: e });
    }
    await this.removeOrphans(session);
    this.current = session;
    return session;
  }

  private current: Session | undefined;

  /**
   * The silence bound (header): while calls are in flight, a keepalive after every
   * `keepaliveIntervalMs` without a byte from the server; none for `stallTimeoutMs` drops the
   * connection (its calls fail as lost and are retried on a new one).
   */
  private watch(session: Session, client: Client): void {
    const stallMs = this.options.stallTimeoutMs ?? SFTP_STALL_TIMEOUT_MS;
    const intervalMs = Math.max(10, Math.min(this.options.keepaliveIntervalMs ?? SFTP_KEEPALIVE_INTERVAL_MS, Math.floor(stallMs / 3)));
    // ssh2 sends keepalive@openssh.com (want-reply) with this; a reply nobody waits for is ignored.
    const protocol = (client as unknown as { _protocol?: { ping?: () => void } })._protocol;
    session.watchdog = setInterval(() => {
      const now = Date.now();
      // Idle time between calls is not silence.
      if (this.busy === 0) session.heardAt = now;
      const silent = now - session.heardAt;
      if (silent >= stallMs) {
        const e = new Error(`no answer from the server for ${Math.round(silent / 1000)} s`);
        lose(session, e);
        session.socket?.destroy(e);
      } else if (silent >= intervalMs) {
        try {
          protocol?.ping?.();
        } catch {
          // The socket is going away: 'close' follows.
        }
      }
    }, intervalMs);
    session.watchdog.unref();
  }

  /** An SFTP channel of the live connection (connecting or reconnecting first). */
  private async channel(): Promise<Channel> {
    if (this.closed) throw new BackstopError('INTERNAL', `${this.location}: used after close().`);
    if (this.current?.closed) this.session = undefined;
    const pending = (this.session ??= this.connect());
    let s: Session;
    try {
      s = await pending;
    } catch (e) {
      if (this.session === pending) this.session = undefined;
      throw e;
    }
    return { s: s.channels[this.next++ % s.channels.length]!, session: s };
  }

  /** A failure of one SFTP request (or of the connection under it) as a BackstopError. */
  private error(op: string, key: string, e: unknown, session: Session | undefined = this.current): BackstopError {
    if (e instanceof BackstopError) return e;
    const what = `${op} of "${key}" in ${this.location}`;
    switch (sftpCode(e)) {
      case FX.NO_SUCH_FILE:
        return new BackstopError('NOT_FOUND', `${what} failed: the object does not exist.`, { cause: e });
      case FX.PERMISSION_DENIED:
        return new BackstopError('PERMISSION_DENIED', `${what} failed: permission denied. Check that SFTP user "${this.options.user}" may write to ${this.root || 'its login folder'} (owner and mode).`, { cause: e });
      case FX.OP_UNSUPPORTED:
        return new BackstopError('STORAGE', `${what} failed: the SFTP server does not support this operation (Backstop needs an OpenSSH-compatible server with posix-rename@openssh.com).`, { cause: e });
      case FX.FAILURE:
        return new BackstopError('STORAGE', `${what} failed: the SFTP server reported a failure.`, { cause: e });
      default: {
        const lost = session?.closed;
        const at = where(this.options);
        if (lost) {
          return new BackstopError('STORAGE', `${what} failed: the connection to ${at} was lost (${lost.message}). Backstop retries on a new connection; if this persists, check that the SSH server at ${at} runs and is reachable (network, firewall).`, { cause: e });
        }
        return new BackstopError('STORAGE', `${what} failed: ${e instanceof Error ? e.message : String(e)}. It is retried.`, { cause: e });
      }
    }
  }

  /** Runs `fn` with the connection's socket referenced, so the process waits for it. */
  private async hold<T>(fn: () => Promise<T>): Promise<T> {
    if (this.busy++ === 0 && this.current) {
      this.current.socket?.ref();
      // The silence bound counts from here: idle time between calls is not silence.
      this.current.heardAt = Date.now();
    }
    try {
      return await fn();
    } finally {
      if (--this.busy === 0) this.current?.socket?.unref();
    }
  }

  /** `mkdir -p dir` (cached): OpenSSH answers FAILURE for an existing folder, so a failed mkdir checks with stat. */
  private async makeDirs({ s, session }: Channel, dir: string, key: string): Promise<void> {
    const parts = dir.split('/');
    const base = (this.options.base ?? '').replace(/\/+$/, '');
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (p === '' || p === '.' || this.madeDirs.has(p)) continue;
      if (base && (p === base || base.startsWith(`${p}/`))) continue;
      try {
        await call<void>(session, (cb) => s.mkdir(p, (err) => cb(err, undefined)));
      } catch (e) {
        const st = await call<Stats>(session, (cb) => s.stat(p, cb)).catch(() => null);
        if (!st || (st.mode & S_IFMT) !== S_IFDIR) {
          if (sftpCode(e) === FX.NO_SUCH_FILE && base) throw this.folderMissing(base, e);
          throw this.error('put', key, e, session);
        }
      }
      this.madeDirs.add(p);
    }
  }

  private folderMissing(folder: string, e: unknown): BackstopError {
    return new BackstopError('NOT_FOUND', `The folder ${folder} does not exist on the SFTP server ${where(this.options)}. Create it there, or correct the destination's path.`, { cause: e });
  }

  /** After a failed write: DISK_FULL when the folder's file system has (next to) no space left. */
  private async diskFull({ s, session }: Channel, dir: string, key: string, e: unknown): Promise<BackstopError | null> {
    if (sftpCode(e) !== FX.FAILURE) return null;
    try {
      // ssh2 reports statvfs fields as f_* (numbers, or BigInts for large values).
      const v = await call<{ f_bavail: number | bigint; f_frsize: number | bigint; f_favail: number | bigint }>(session, (cb) => s.ext_openssh_statvfs(dir, cb as never));
      if (Number(v.f_bavail) * Number(v.f_frsize) < 1024 * 1024 || Number(v.f_favail) === 0) {
        return new BackstopError('DISK_FULL', `put of "${key}" in ${this.location} failed: no space left on the SFTP server's disk. Free space there (or raise the user's quota) and try again.`, { cause: e });
      }
    } catch {
      // statvfs@openssh.com not offered: keep the plain failure.
    }
    return null;
  }

  put(key: string, body: PutBody, options?: PutOptions): Promise<void> {
    return this.hold(() => this.putNow(key, body, options));
  }

  private async putNow(key: string, body: PutBody, options?: PutOptions): Promise<void> {
    const final = this.path(key);
    const dir = posix.dirname(final);
    const tmp = posix.join(dir, tempFileName(posix.basename(final)));
    const ch = await this.channel();
    const { s, session } = ch;
    let handle: Buffer | undefined;
    try {
      try {
        handle = await call<Buffer>(session, (cb) => s.open(tmp, 'wx', cb));
      } catch (e) {
        if (sftpCode(e) !== FX.NO_SUCH_FILE) throw e;
        await this.makeDirs(ch, dir, key);
        handle = await call<Buffer>(session, (cb) => s.open(tmp, 'wx', cb)).catch((again: unknown) => {
          throw sftpCode(again) === FX.NO_SUCH_FILE ? this.folderMissing(this.options.base || dir, again) : again;
        });
      }
      const h = handle;
      let position = 0;
      // Up to WRITES_IN_FLIGHT pieces outstanding (as ssh2's fastPut): one round trip per window, not per piece.
      const inFlight = new Set<Promise<void>>();
      let failed: unknown = null;
      for await (const chunk of bodyChunks(body)) {
        options?.signal?.throwIfAborted();
        const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        for (let off = 0; off < buf.length; off += PIECE) {
          if (failed) throw failed;
          while (inFlight.size >= WRITES_IN_FLIGHT) await Promise.race(inFlight);
          const len = Math.min(PIECE, buf.length - off);
          const at = position + off;
          const piece: Promise<void> = call<void>(session, (cb) => s.write(h, buf, off, len, at, (err) => cb(err, undefined))).then(
            () => {
              inFlight.delete(piece);
              options?.onProgress?.(len); // the server acknowledged this piece
            },
            (e: unknown) => {
              inFlight.delete(piece);
              failed ??= e;
            },
          );
          inFlight.add(piece);
        }
        position += buf.length;
      }
      await Promise.all(inFlight);
      if (failed) throw failed;
      options?.signal?.throwIfAborted();
      await call<void>(session, (cb) => s.ext_openssh_fsync(h, (err) => cb(err, undefined))).catch((e: unknown) => {
        if (sftpCode(e) !== FX.OP_UNSUPPORTED && !/not supported/i.test(String(e))) throw e;
      });
      handle = undefined;
      await call<void>(session, (cb) => s.close(h, (err) => cb(err, undefined)));
      if (options?.ifAbsent) {
        // The protocol's own rename never replaces an existing name (posix-rename would).
        const taken = await call<void>(session, (cb) => s.rename(tmp, final, (err) => cb(err, undefined))).then(
          () => false,
          async (e: unknown) => {
            if (await call<unknown>(session, (cb) => s.stat(final, cb)).then(() => true, () => false)) return true;
            throw e;
          },
        );
        if (taken) throw new AlreadyThereError(key, this.location);
      } else await call<void>(session, (cb) => s.ext_openssh_rename(tmp, final, (err) => cb(err, undefined)));
    } catch (e) {
      if (e instanceof AlreadyThereError) {
        await this.removeTemp(ch, undefined, tmp);
        throw e;
      }
      const aborted = e instanceof Error && e.name === 'AbortError';
      // Asked before the temp file is removed, which frees the space again.
      const full = aborted ? undefined : await bounded(this.diskFull(ch, dir, key, e));
      await this.removeTemp(ch, handle, tmp);
      if (aborted) throw e;
      throw full ?? this.error('put', key, e, session);
    }
  }

  /**
   * A failed put's temp file removed (best effort, bounded): on the put's own channel while
   * its connection lives, else on a fresh connection (requests on the lost one are never
   * answered). While the server is still down it stays in `orphans`, which the next
   * connection made removes before its first call.
   */
  private async removeTemp({ s, session }: Channel, handle: Buffer | undefined, tmp: string): Promise<void> {
    if (!session.closed) {
      if (handle) await bounded(call<void>(session, (cb) => s.close(handle, (err) => cb(err, undefined))));
      await bounded(call<void>(session, (cb) => s.unlink(tmp, (err) => cb(err, undefined))));
      if (!session.closed) return;
    }
    if (this.closed) return;
    // Remembered until a connection removes it: if this one cannot be made now (the server
    // is still restarting), the next one that is made does it first.
    this.orphans.add(tmp);
    const fresh = async () => {
      const c = await this.channel();
      // A connection made meanwhile by another call may have started before this was added.
      if (this.orphans.has(tmp)) await this.removeOrphans(c.session);
    };
    await bounded(fresh(), (this.options.readyTimeoutMs ?? 15_000) + 5_000);
  }

  /** Removes the temp files of failed puts a lost connection could not remove (on a new `session`, before its first call). */
  private async removeOrphans(session: Session): Promise<void> {
    const s = session.channels[0]!;
    for (const tmp of [...this.orphans]) {
      await bounded(call<void>(session, (cb) => s.unlink(tmp, (err) => cb(err, undefined))));
      if (!session.closed) this.orphans.delete(tmp);
    }
  }

  get(key: string, range?: ByteRange): Promise<Buffer> {
    return this.hold(() => this.getNow(key, range));
  }

  private async getNow(key: string, range?: ByteRange): Promise<Buffer> {
    const p = this.path(key);
    const { s, session } = await this.channel();
    let handle: Buffer;
    try {
      handle = await call<Buffer>(session, (cb) => s.open(p, 'r', cb));
    } catch (e) {
      throw this.error('get', key, e, session);
    }
    try {
      const size = (await call<Stats>(session, (cb) => s.fstat(handle, cb))).size;
      const start = range ? Math.min(range.offset, size) : 0;
      const want = range ? Math.min(range.length, size - start) : size;
      const buf = Buffer.allocUnsafe(want);
      // Pieces in flight together; a short piece (the file shrank) ends the read there.
      const reads: Promise<number>[] = [];
      for (let off = 0; off < want; off += PIECE) {
        const len = Math.min(PIECE, want - off);
        reads.push(this.readFully({ s, session }, handle, buf, off, len, start + off));
      }
      const got = await Promise.all(reads);
      let total = 0;
      for (let i = 0; i < got.length; i++) {
        total += got[i]!;
        if (got[i]! < Math.min(PIECE, want - i * PIECE)) break;
      }
      return total === want ? buf : buf.subarray(0, total);
    } catch (e) {
      throw this.error('get', key, e, session);
    } finally {
      await call<void>(session, (cb) => s.close(handle, (err) => cb(err, undefined))).catch(() => {});
    }
  }

  private async readFully({ s, session }: Channel, handle: Buffer, buf: Buffer, off: number, len: number, position: number): Promise<number> {
    let got = 0;
    while (got < len) {
      const n = await call<number>(session, (cb) => s.read(handle, buf, off + got, len - got, position + got, (err, bytesRead) => cb(err, bytesRead)));
      if (n === 0) break;
      got += n;
    }
    return got;
  }

  list(prefix: string): Promise<ObjectInfo[]> {
    return this.hold(() => this.listNow(prefix));
  }

  private async listNow(prefix: string): Promise<ObjectInfo[]> {
    const slash = prefix.lastIndexOf('/');
    const baseKey = slash >= 0 ? prefix.slice(0, slash) : '';
    const { s, session } = await this.channel();
    const out: ObjectInfo[] = [];
    const walk = async (dirKey: string): Promise<void> => {
      const dir = dirKey ? this.path(dirKey) : this.root || '.';
      let entries: FileEntryWithStats[];
      try {
        entries = await call<FileEntryWithStats[]>(session, (cb) => s.readdir(dir, cb));
      } catch (e) {
        if (sftpCode(e) === FX.NO_SUCH_FILE) return;
        throw this.error('list', prefix, e, session);
      }
      const subdirs: string[] = [];
      for (const ent of entries) {
        if (ent.filename.startsWith('.')) continue;
        const key = dirKey ? `${dirKey}/${ent.filename}` : ent.filename;
        const type = ent.attrs.mode & S_IFMT;
        if (type === S_IFDIR) {
          if (prefix.startsWith(key + '/') || key.startsWith(prefix) || prefix === '') subdirs.push(key);
        } else if (type === S_IFREG && key.startsWith(prefix)) {
          out.push({ key, size: ent.attrs.size, modifiedMs: ent.attrs.mtime * 1000 });
        }
      }
      await Promise.all(subdirs.map(walk));
    };
    if (baseKey && !baseKey.split('/').every((seg) => /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(seg))) return [];
    await walk(baseKey);
    return out;
  }

  delete(key: string): Promise<void> {
    return this.hold(() => this.deleteNow(key));
  }

  private async deleteNow(key: string): Promise<void> {
    const p = this.path(key);
    const { s, session } = await this.channel();
    try {
      await call<void>(session, (cb) => s.unlink(p, (err) => cb(err, undefined)));
    } catch (e) {
      if (sftpCode(e) === FX.NO_SUCH_FILE) return;
      throw this.error('delete', key, e, session);
    }
  }

  stat(key: string): Promise<ObjectInfo | null> {
    return this.hold(() => this.statNow(key));
  }

  private async statNow(key: string): Promise<ObjectInfo | null> {
    const p = this.path(key);
    const { s, session } = await this.channel();
    try {
      const st = await call<Stats>(session, (cb) => s.stat(p, cb));
      return (st.mode & S_IFMT) === S_IFREG ? { key, size: st.size, modifiedMs: st.mtime * 1000 } : null;
    } catch (e) {
      if (sftpCode(e) === FX.NO_SUCH_FILE) return null;
      throw this.error('stat', key, e, session);
    }
  }

  listFolders(): Promise<string[]> {
    return this.hold(() => this.listFoldersNow());
  }

  /** Bytes free to this user at the root's file system (statvfs@openssh.com); null when the server does not offer it. */
  freeBytes(): Promise<number | null> {
    return this.hold(async () => {
      const { s, session } = await this.channel();
      try {
        const v = await call<{ f_bavail: number | bigint; f_frsize: number | bigint }>(session, (cb) => s.ext_openssh_statvfs(this.root || '.', cb as never));
        return Number(v.f_bavail) * Number(v.f_frsize);
      } catch {
        return null;
      }
    });
  }

  sweepTempFiles(olderThanMs: number, now = Date.now()): Promise<SweepResult> {
    return this.hold(() => this.sweepNow(olderThanMs, now));
  }

  private async sweepNow(olderThanMs: number, now: number): Promise<SweepResult> {
    const { s, session } = await this.channel();
    const swept: SweepResult = { removed: 0, bytes: 0 };
    const walk = async (dir: string): Promise<void> => {
      const entries = await call<FileEntryWithStats[]>(session, (cb) => s.readdir(dir, cb)).catch(() => [] as FileEntryWithStats[]);
      const subdirs: string[] = [];
      for (const ent of entries) {
        const type = ent.attrs.mode & S_IFMT;
        const full = posix.join(dir, ent.filename);
        if (type === S_IFDIR && !ent.filename.startsWith('.')) subdirs.push(full);
        else if (type === S_IFREG && isTempFileName(ent.filename) && now - ent.attrs.mtime * 1000 >= olderThanMs) {
          const gone = await call<void>(session, (cb) => s.unlink(full, (err) => cb(err, undefined))).then(
            () => true,
            () => false,
          );
          if (gone) {
            swept.removed++;
            swept.bytes += ent.attrs.size;
          }
        }
      }
      await Promise.all(subdirs.map(walk));
    };
    await walk(this.root || '.');
    return swept;
  }

  private async listFoldersNow(): Promise<string[]> {
    const { s, session } = await this.channel();
    try {
      const entries = await call<FileEntryWithStats[]>(session, (cb) => s.readdir(this.root || '.', cb));
      return entries
        .filter((e) => (e.attrs.mode & S_IFMT) === S_IFDIR && e.filename !== '.' && e.filename !== '..')
        .map((e) => e.filename)
        .sort();
    } catch (e) {
      throw this.error('list', '', e, session);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const pending = this.session;
    this.session = undefined;
    this.current = undefined;
    const s = await pending?.catch(() => undefined);
    if (s?.watchdog) clearInterval(s.watchdog);
    if (s && !s.closed) {
      // Referenced while closing: the caller awaits this, so the process must wait for it.
      s.socket?.ref();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2_000);
        s.client.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        s.client.end();
      });
    }
  }

  unwrap(): null {
    return null;
  }
}

/** The server's host key fingerprint, without logging in (for "accept this key" on first use). */
export async function fetchHostKey(host: string, port: number, timeoutMs = 10_000): Promise<string> {
  const { Client } = await import('ssh2');
  const o: SftpBackendOptions = { host, port, user: 'backstop', root: '', hostKey: null };
  return new Promise<string>((resolve, reject) => {
    const client = new Client();
    let seen: string | null = null;
    client.on('error', (e) => (seen ? resolve(seen) : reject(connectionError(o, e, null))));
    client.on('close', () => (seen ? resolve(seen) : reject(connectionError(o, new Error('the server closed the connection'), null))));
    client.connect({
      host,
      port,
      username: 'backstop',
      readyTimeout: timeoutMs,
      hostVerifier: (key: Buffer) => {
        seen = hostKeyFingerprint(key);
        return false;
      },
    });
  });
}

/** An SFTP backend with retries of the whole call (a lost connection reconnects on the next attempt). */
export function createSftpBackend(options: SftpBackendOptions, retry: RetryOptions = {}): RetryBackend {
  return new RetryBackend(new SftpBackend(options), retry);
}
