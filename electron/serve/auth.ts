/**
 * Who may use a served window: the login secret, sessions and the login rate limit.
 *
 * Contract:
 * - The login token is 32 random bytes (base64url), made once per `backstop serve` start
 *   and handed to the caller once; only its SHA-256 is kept. A password (when configured)
 *   is kept only as a scrypt hash with a random salt. `checkSecret` compares in constant
 *   time and accepts either.
 * - A session is a random id (kept as its SHA-256) with its own CSRF token; it ends
 *   `ttlMs` after login (absolute, not sliding) or at `end`. `session(id)` answers null
 *   for an unknown or expired one and forgets expired ones.
 * - With `sessionsFile`, sessions survive a restart: the file (0600, written whole to a
 *   private temporary file, then renamed over) holds each session's id hash, CSRF token,
 *   created, last-seen (kept to the minute) and expiry — never an id. It is read at start
 *   (expired and malformed entries dropped) and written at login, logout and expiry. The
 *   login token is not in it: a restart makes a new one, as before. It also holds the
 *   password's salted scrypt hash (when one is configured): a start whose password differs
 *   (changed, added or removed) ends every stored session, so changing a leaked password
 *   signs every browser out.
 * - The rate limit counts failed logins (form or Bearer) per client address over a
 *   sliding minute; `limited(ip)` is true once `maxFailures` have failed in it.
 * The clock is injected (`now`), so expiry and the limit are testable.
 */
import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

export interface Session {
  csrf: string;
  expiresAt: number;
  createdAt: number;
  lastSeenAt: number;
}

/** How often a session's last-seen time is written back (it changes on every request). */
const LAST_SEEN_GRANULARITY_MS = 60_000;

export interface AuthOptions {
  ttlMs: number;
  password?: string;
  maxFailures?: number;
  windowMs?: number;
  now?: () => number;
  /** Where sessions are kept across restarts (serve: `<dataDir>/serve-sessions.json`). */
  sessionsFile?: string;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export class Auth {
  /** The login token, in the clear only until `takeToken()` hands it out. */
  private token: string | null;
  private readonly tokenHash: Buffer;
  private password: { salt: Buffer; hash: Buffer } | null;
  private readonly sessions = new Map<string, Session>();
  private readonly failures = new Map<string, number[]>();
  private readonly now: () => number;
  private readonly maxFailures: number;
  private readonly windowMs: number;

  constructor(private readonly opts: AuthOptions) {
    this.now = opts.now ?? Date.now;
    this.maxFailures = opts.maxFailures ?? 5;
    this.windowMs = opts.windowMs ?? 60_000;
    this.token = randomBytes(32).toString('base64url');
    this.tokenHash = sha256(this.token);
    if (opts.password) {
      const salt = randomBytes(16);
      this.password = { salt, hash: scryptSync(opts.password, salt, 32) };
    } else {
      this.password = null;
    }
    this.load();
  }

  private load(): void {
    if (!this.opts.sessionsFile) return;
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.opts.sessionsFile, 'utf8'));
    } catch {
      return; // none yet, or unreadable: start with none (the next write replaces it)
    }
    const list = (raw as { sessions?: unknown }).sessions;
    if (!Array.isArray(list)) return;
    if (!this.samePassword((raw as { password?: unknown }).password)) {
      if (list.length) this.save(); // the sessions of another password end here
      return;
    }
    const now = this.now();
    let dropped = false;
    for (const e of list as Record<string, unknown>[]) {
      const ok =
        e && typeof e.hash === 'string' && /^[0-9a-f]{64}$/.test(e.hash) && typeof e.csrf === 'string' &&
        typeof e.expiresAt === 'number' && typeof e.createdAt === 'number' && typeof e.lastSeenAt === 'number';
      if (!ok || (e.expiresAt as number) <= now) {
        dropped = true;
        continue;
      }
      this.sessions.set(e.hash as string, { csrf: e.csrf as string, expiresAt: e.expiresAt as number, createdAt: e.createdAt as number, lastSeenAt: e.lastSeenAt as number });
    }
    if (dropped) this.save();
  }

  /** Whether the password recorded with stored sessions (absent: none) is the one configured now. */
  private samePassword(recorded: unknown): boolean {
    if (recorded === undefined || recorded === null) return this.password === null;
    const r = recorded as { salt?: unknown; hash?: unknown };
    if (!this.opts.password || typeof r.salt !== 'string' || typeof r.hash !== 'string') return false;
    const hash = Buffer.from(r.hash, 'base64');
    if (hash.length !== 32) return false;
    if (!timingSafeEqual(scryptSync(this.opts.password, Buffer.from(r.salt, 'base64'), 32), hash)) return false;
    this.password = { salt: Buffer.from(r.salt, 'base64'), hash }; // the same password: keep its record as it is
    return true;
  }

  private save(): void {
    const file = this.opts.sessionsFile;
    if (!file) return;
    const sessions = [...this.sessions].map(([hash, s]) => ({ hash, ...s }));
    const password = this.password ? { password: { salt: this.password.salt.toString('base64'), hash: this.password.hash.toString('base64') } } : {};
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: 1, sessions, ...password }) + '\n', { mode: 0o600 });
    renameSync(tmp, file);
  }

  /** The login token, once: the server prints it and forgets the clear text. */
  takeToken(): string {
    const t = this.token;
    if (t === null) throw new Error('The login token was already handed out.');
    this.token = null;
    return t;
  }

  checkSecret(secret: string): boolean {
    if (typeof secret !== 'string' || secret.length === 0 || secret.length > 1024) return false;
    let good = timingSafeEqual(sha256(secret), this.tokenHash);
    if (this.password) good = timingSafeEqual(scryptSync(secret, this.password.salt, 32), this.password.hash) || good;
    return good;
  }

  /** A new session; returns its id (the cookie value) and CSRF token. */
  createSession(): { id: string; session: Session } {
    const id = randomBytes(32).toString('base64url');
    const now = this.now();
    const session = { csrf: randomBytes(24).toString('base64url'), expiresAt: now + this.opts.ttlMs, createdAt: now, lastSeenAt: now };
    this.sessions.set(sha256(id).toString('hex'), session);
    this.save();
    return { id, session };
  }

  session(id: string | undefined): Session | null {
    if (!id || id.length > 200) return null;
    const key = sha256(id).toString('hex');
    const s = this.sessions.get(key);
    if (!s) return null;
    const now = this.now();
    if (s.expiresAt <= now) {
      this.sessions.delete(key);
      this.save();
      return null;
    }
    if (now - s.lastSeenAt >= LAST_SEEN_GRANULARITY_MS) {
      s.lastSeenAt = now;
      this.save();
    }
    return s;
  }

  end(id: string | undefined): void {
    if (id && this.sessions.delete(sha256(id).toString('hex'))) this.save();
  }

  limited(ip: string): boolean {
    return this.recent(ip).length >= this.maxFailures;
  }

  recordFailure(ip: string): void {
    const list = this.recent(ip);
    list.push(this.now());
    this.failures.set(ip, list);
  }

  /** Seconds until the oldest counted failure leaves the window (for Retry-After). */
  retryAfterSeconds(ip: string): number {
    const oldest = this.recent(ip)[0];
    return oldest === undefined ? 0 : Math.max(1, Math.ceil((oldest + this.windowMs - this.now()) / 1000));
  }

  private recent(ip: string): number[] {
    const since = this.now() - this.windowMs;
    const list = (this.failures.get(ip) ?? []).filter((t) => t > since);
    if (list.length) this.failures.set(ip, list);
    else this.failures.delete(ip);
    return list;
  }
}
