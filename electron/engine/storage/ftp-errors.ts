/**
 * FTP(S) failures: what they mean (`classifyFtpError`, also used by "Test connection" for
 * its hint) and the BackstopError a DBA can act on (`ftpError`).
 *
 * Contract: 530/421 saying the server's connection limit is reached → STORAGE (retryable,
 * the hint names the server settings); 530 → AUTH_FAILED (or "TLS required" when the server says it needs
 * encryption); a 45x/55x saying the file is too large (ProFTPD's MaxStoreFileSize: 552) →
 * PERMISSION_DENIED naming the limit; 552/452, or any 45x/55x reply whose text says the disk or quota is full
 * (ftp-srv and others answer a write's ENOSPC with a plain 550) → DISK_FULL; 550 on read/stat/list → NOT_FOUND, on other steps
 * → PERMISSION_DENIED; 553 → PERMISSION_DENIED; a refused AUTH TLS or a certificate not
 * accepted → AUTH_FAILED (changing a setting fixes it, retrying does not); network,
 * passive-port and other failures → STORAGE (retryable). Messages never hold the password.
 */
import { createRequire } from 'node:module';
import type * as BasicFtp from 'basic-ftp';
import { BackstopError, type ErrorCode } from '../../shared/result.ts';
import { errnoCode } from './errors.ts';

// basic-ftp (CommonJS; importing it costs more CPU than zod) is required on first use, so a process
// that never talks to an FTP server (every run without an FTP destination, and each of its
// job workers) does not load it. Its FTPError is the class basic-ftp's Client throws.
const requireCjs = createRequire(import.meta.url);
let ftpModule: typeof BasicFtp | undefined;
export const basicFtp = (): typeof BasicFtp => (ftpModule ??= requireCjs('basic-ftp') as typeof BasicFtp);

/** The server's certificate was not accepted: not trusted by the system, or not the pinned one. */
export class FtpCertificateError extends Error {
  constructor(
    readonly problem: 'untrusted' | 'changed',
    readonly fingerprint: string,
    readonly reason?: string,
  ) {
    super(
      problem === 'changed'
        ? `the server's TLS certificate (SHA-256 ${fingerprint}) is not the pinned one`
        : `the server's TLS certificate is not trusted${reason ? ` (${reason})` : ''}; its SHA-256 fingerprint is ${fingerprint}`,
    );
    this.name = 'FtpCertificateError';
  }
}

/** The server answered AUTH TLS with a refusal (it has no TLS on this port). */
export class FtpTlsRefusedError extends Error {
  constructor(readonly reply: string) {
    super(`the server refused AUTH TLS (${reply})`);
    this.name = 'FtpTlsRefusedError';
  }
}

export type FtpErrorKind =
  | 'login'
  | 'tls-required'
  | 'tls-refused'
  | 'tls-handshake'
  | 'certificate-untrusted'
  | 'certificate-changed'
  | 'unreachable'
  | 'dns'
  | 'passive'
  | 'timeout'
  | 'no-space'
  | 'too-large'
  | 'busy'
  | 'denied'
  | 'not-found'
  | 'other';

export interface FtpErrorInfo {
  kind: FtpErrorKind;
  /** The server certificate's fingerprint, for certificate kinds. */
  fingerprint?: string;
}

const READS = new Set(['read', 'stat', 'list']);
/** A reply text that says the server's disk or the user's quota is full. */
const NO_SPACE = /ENOSPC|EDQUOT|no space left|disk (is )?full|quota exceeded|exceeds? (the |your )?quota|insufficient (storage|disk space)/i;
/** A reply text that says the file is larger than the server accepts (ProFTPD's MaxStoreFileSize: "552 Transfer aborted. File too large"). */
const TOO_LARGE = /EFBIG|file (is )?too (large|big)|maximum (file|upload) size/i;
/** A reply text that says the server's connection limit is reached (ProFTPD: "530 Sorry, the maximum number of clients (2) for this user are already connected."; vsftpd, Pure-FTPd: "421 Too many connections"). */
const BUSY = /maximum number of (allowed )?(clients|connections|users)|too many (connections|clients|users|sessions)|connection limit/i;

export function classifyFtpError(e: unknown, op = ''): FtpErrorInfo {
  if (e instanceof BackstopError && e.cause !== undefined) return classifyFtpError(e.cause, op);
  if (e instanceof FtpCertificateError) return { kind: e.problem === 'changed' ? 'certificate-changed' : 'certificate-untrusted', fingerprint: e.fingerprint };
  if (e instanceof FtpTlsRefusedError) return { kind: 'tls-refused' };
  if (e instanceof basicFtp().FTPError) {
    if ((e.code === 530 || e.code === 421) && BUSY.test(e.message)) return { kind: 'busy' };
    if (e.code >= 450 && e.code < 560 && TOO_LARGE.test(e.message)) return { kind: 'too-large' };
    if (e.code === 530 || e.code === 534 || e.code === 521) return { kind: /tls|ssl|encrypt|secure/i.test(e.message) || e.code !== 530 ? 'tls-required' : 'login' };
    if (e.code === 552 || e.code === 452 || (e.code >= 450 && e.code < 560 && NO_SPACE.test(e.message))) return { kind: 'no-space' };
    if (e.code === 553) return { kind: 'denied' };
    const missing = /no such|not found|does not exist|ENOENT/i.test(e.message);
    if (e.code === 550 || ((e.code === 450 || e.code === 451 || e.code === 551) && missing)) return { kind: READS.has(op) || (missing && op !== 'upload') ? 'not-found' : 'denied' };
    if (e.code === 425) return { kind: 'passive' };
    return { kind: 'other' };
  }
  const code = errnoCode(e);
  const message = e instanceof Error ? e.message : String(e);
  if (/passive mode|data connection/i.test(message)) return { kind: 'passive' };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { kind: 'dns' };
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return { kind: 'unreachable' };
  if (code === 'ETIMEDOUT' || /timeout/i.test(message)) return { kind: 'timeout' };
  if (code?.startsWith('ERR_SSL') || /ssl|tls|wrong version number|handshake/i.test(message)) return { kind: 'tls-handshake' };
  return { kind: 'other' };
}

const CODES: Record<FtpErrorKind, ErrorCode> = {
  login: 'AUTH_FAILED',
  'tls-required': 'AUTH_FAILED',
  'tls-refused': 'AUTH_FAILED',
  'certificate-untrusted': 'AUTH_FAILED',
  'certificate-changed': 'AUTH_FAILED',
  'tls-handshake': 'STORAGE',
  unreachable: 'STORAGE',
  dns: 'STORAGE',
  passive: 'STORAGE',
  timeout: 'STORAGE',
  'no-space': 'DISK_FULL',
  'too-large': 'PERMISSION_DENIED',
  busy: 'STORAGE',
  denied: 'PERMISSION_DENIED',
  'not-found': 'NOT_FOUND',
  other: 'STORAGE',
};

const FIX: Partial<Record<FtpErrorKind, string>> = {
  login: 'Check the user name and password.',
  'tls-required': 'The server accepts only encrypted sessions: choose explicit or implicit TLS.',
  'tls-refused': 'The server does not offer TLS on this port: ask for FTPS to be enabled, try implicit TLS (usually port 990), or choose plain FTP explicitly.',
  'certificate-untrusted': "If this is your server's certificate (compare the fingerprint with the server's), pin its fingerprint in the destination's settings.",
  'certificate-changed': "The server now shows another certificate. If it was renewed on purpose, pin the new fingerprint; otherwise someone may be intercepting the connection.",
  'tls-handshake': 'Check the TLS mode: implicit TLS needs a port that speaks TLS from the start (usually 990), explicit TLS a plain FTP port (usually 21).',
  unreachable: 'Check the host name, the port, and that the FTP server is running and reachable from this computer.',
  dns: 'The host name could not be resolved. Check the host name.',
  timeout: 'The FTP server stopped answering (a hung server, or a network that dropped the connection without a reset): check that it runs and is reachable from this computer. The call is retried on a new connection.',
  passive: "The server's passive data port could not be reached: open the server's passive port range in its firewall, or check its passive address setting.",
  'no-space': 'Free space on the server or raise the FTP user\'s quota.',
  'too-large': 'The server refuses files this large (an upload size limit, such as ProFTPD\'s MaxStoreFileSize or a NAS\'s per-file limit): Backstop uploads files of up to about 40 MiB; allow at least 64 MiB.',
  busy: 'The server limits how many connections this FTP user or computer may have open at once (ProFTPD MaxClientsPerUser / MaxClientsPerHost, vsftpd max_per_ip, Pure-FTPd -c / -C): allow at least 8 (Backstop opens up to 4 per database folder it writes, and runs 2 backups at once by default), or lower "Backups running at once" in Settings.',
  denied: 'Give the FTP user permission to create, rename and delete files in the folder.',
};

/** The BackstopError for a failed operation `op` on `key` at `location`. */
export function ftpError(op: string, key: string, location: string, e: unknown): BackstopError {
  if (e instanceof BackstopError) return e;
  const info = classifyFtpError(e, op);
  const detail = e instanceof Error ? e.message : String(e);
  const fix = FIX[info.kind];
  return new BackstopError(CODES[info.kind], `${op} of "${key}" at ${location} failed: ${detail}.${fix ? ` ${fix}` : ''}`, { cause: e });
}

/** The one "Test connection" hint naming the most likely fix. */
export function ftpProbeHint(failures: { info: FtpErrorInfo | null }[]): string | undefined {
  const infos = failures.map((f) => f.info).filter((i): i is FtpErrorInfo => i !== null);
  const order: FtpErrorKind[] = ['certificate-changed', 'certificate-untrusted', 'tls-refused', 'tls-required', 'tls-handshake', 'busy', 'login', 'dns', 'unreachable', 'passive', 'timeout', 'no-space', 'too-large', 'denied'];
  for (const kind of order) {
    const info = infos.find((i) => i.kind === kind);
    if (!info) continue;
    const fix = FIX[kind]!;
    return info.fingerprint ? `${fix} Server certificate SHA-256: ${info.fingerprint}` : fix;
  }
  return failures.length ? 'The FTP server could not be used. See the failed step for details.' : undefined;
}
