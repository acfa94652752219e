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
 * - The rate limit counts failed logins (form or Bearer) per client address over a
 *   sliding minute; `limited(ip)` is true once `maxFailures` have failed in it.
 * The clock is injected (`now`), so expiry and the limit are testable.
 */
import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

export interface Session {
  csrf: string;
  expiresAt: number;
}

export interface AuthOptions {
  ttlMs: number;
  password?: string;
  maxFailures?: number;
  windowMs?: number;
  now?: () => number;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export class Auth {
  /** The login token, in the clear only until `takeToken()` hands it out. */
  private token: string | null;
  private readonly tokenHash: Buffer;
  private readonly password: { salt: Buffer; hash: Buffer } | null;
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
    const session = { csrf: randomBytes(24).toString('base64url'), expiresAt: this.now() + this.opts.ttlMs };
    this.sessions.set(sha256(id).toString('hex'), session);
    return { id, session };
  }

  session(id: string | undefined): Session | null {
    if (!id || id.length > 200) return null;
    const key = sha256(id).toString('hex');
    const s = this.sessions.get(key);
    if (!s) return null;
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(key);
      return null;
    }
    return s;
  }

  end(id: string | undefined): void {
    if (id) this.sessions.delete(sha256(id).toString('hex'));
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
