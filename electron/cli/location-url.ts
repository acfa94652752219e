/**
 * A backup location as the command line gives it: a local folder path, or a URL whose
 * scheme names the destination kind (`s3://bucket/prefix/<folder>`, `azure://container/prefix/<folder>`, `sftp://user@host:port/path/<folder>`, `ftp(s)://user@host:port/path/<folder>`). One entry per
 * scheme in SCHEMES; settings a URL cannot carry come from `LocationFlags` (command-line
 * flags) and the ecosystem's usual environment variables, credentials from the environment
 * only (never from the URL or a flag, so they stay out of shell history and `ps`).
 *
 * Contract: a text with a known scheme that does not parse → MALFORMED_REQUEST showing the
 * shape it must have; a password in the URL (`ftp://user:password@host/…`) → MALFORMED_REQUEST
 * naming the variable it belongs in, the password cut out of the message; missing
 * credentials → the error of cli-secrets.ts naming the variable; a flag the location would
 * ignore (`--endpoint` beside sftp:// or ftp(s)://, `--identity`/`--host-key` beside anything
 * but sftp://) → MALFORMED_REQUEST naming it;
 * anything without a `<scheme>://` prefix is a local path, resolved against the current folder.
 */
import { resolve } from 'node:path';
import type { BackupLocation } from '../shared/domain.ts';
import { BackstopError } from '../shared/result.ts';
import type { Credentials } from '../engine/destinations/index.ts';
import { secretFromEnv } from './cli-secrets.ts';
import { isHttpUrl } from './http-url.ts';

export interface Where {
  location: BackupLocation;
  credentials: Credentials | null;
}

/** Settings given as flags beside a location (`--endpoint URL`, ...). */
export interface LocationFlags {
  endpoint?: string;
  /** SFTP: the private key file to log in with (`--identity FILE`). */
  identity?: string;
  /** SFTP: the server's pinned host key fingerprint (`--host-key SHA256:…`). */
  hostKey?: string;
  /** FTP only: 'none' chooses plain FTP (the password crosses the network in clear); else BACKSTOP_FTP_TLS. */
  ftpTls?: 'explicit' | 'implicit' | 'none';
  /** FTP(S) only: the SHA-256 fingerprint of a certificate to accept (self-signed); else BACKSTOP_FTP_CERT_FINGERPRINT. */
  certificateFingerprint?: string;
}

/** A location as a command takes it: the text alone, or the text with its flags. */
export type LocationArg = string | { text: string; flags: LocationFlags };

/** `--endpoint`: an http(s) URL; given beside a local folder it is a mistake, named. */
function checkEndpoint(endpoint: string | undefined, local: boolean, text: string): void {
  if (endpoint === undefined) return;
  if (local) throw new BackstopError('MALFORMED_REQUEST', `--endpoint is for a remote location (like s3://bucket/prefix/<database folder>); "${text}" is a local folder.`);
  if (!isHttpUrl(endpoint)) {
    throw new BackstopError('MALFORMED_REQUEST', `--endpoint "${endpoint}" must be an http:// or https:// URL, like https://s3.example.com:9000.`);
  }
}

type Scheme = (rest: string, text: string, env: NodeJS.ProcessEnv, flags: LocationFlags) => Where;

const SCHEMES: Record<string, Scheme> = {
  /**
   * `s3://bucket/prefix/<database folder>`; credentials in AWS_ACCESS_KEY_ID /
   * AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), the region in AWS_REGION, an S3-compatible
   * endpoint in --endpoint or BACKSTOP_S3_ENDPOINT (path-style addressing).
   */
  s3: (rest, text, env, flags) => {
    // `s3://bucket` alone is the bucket's root: where a task without a prefix (the default) writes.
    const m = /^([^/]+)(?:\/(.*))?$/.exec(rest);
    if (!m) throw new BackstopError('MALFORMED_REQUEST', `"${text}" must look like s3://bucket/prefix/<database folder>.`);
    const accessKeyId = secretFromEnv('AWS_ACCESS_KEY_ID', `S3 bucket ${m[1]}`, env)!;
    const secretAccessKey = secretFromEnv('AWS_SECRET_ACCESS_KEY', `S3 bucket ${m[1]}`, env)!;
    return {
      location: {
        kind: 's3',
        bucket: m[1]!,
        prefix: (m[2] ?? '').replace(/\/+$/, ''),
        region: env.AWS_REGION ?? 'us-east-1',
        endpoint: flags.endpoint ?? env.BACKSTOP_S3_ENDPOINT ?? null,
        forcePathStyle: true,
        checksumMode: 'WHEN_REQUIRED',
        credentialsRef: null,
      },
      credentials: { accessKeyId, secretAccessKey, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) },
    };
  },
  /**
   * `azure://container/prefix/<database folder>`; the account in AZURE_STORAGE_ACCOUNT, its
   * credential in AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING
   * (the first one set), Azurite or a sovereign cloud in --endpoint (the service URL).
   */
  azure: (rest, text, env, flags) => {
    const m = /^([^/]+)(?:\/(.*))?$/.exec(rest);
    if (!m) throw new BackstopError('MALFORMED_REQUEST', `"${text}" must look like azure://container/prefix/<database folder>.`);
    const what = `Azure container ${m[1]}`;
    const connectionString = env.AZURE_STORAGE_CONNECTION_STRING || undefined;
    const accountFromString = connectionString ? /(?:^|;)\s*AccountName=([^;]+)/i.exec(connectionString)?.[1] : undefined;
    const accountName = env.AZURE_STORAGE_ACCOUNT || accountFromString || secretFromEnv('AZURE_STORAGE_ACCOUNT', what, env)!;
    const credentials: Credentials = env.AZURE_STORAGE_KEY
      ? { accountKey: env.AZURE_STORAGE_KEY }
      : env.AZURE_STORAGE_SAS_TOKEN
        ? { sasToken: env.AZURE_STORAGE_SAS_TOKEN.replace(/^\?/, '') }
        : connectionString
          ? { connectionString }
          : (() => {
              throw new BackstopError('AUTH_FAILED', `${what}: none of AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING is set.`);
            })();
    return {
      location: { kind: 'azure', accountName, container: m[1]!, prefix: (m[2] ?? '').replace(/\/+$/, ''), endpoint: flags.endpoint ?? null, credentialsRef: null },
      credentials,
    };
  },
  /**
   * `ftp://user@host:port/path/<database folder>`: explicit TLS (AUTH TLS, port 21 by default);
   * plain FTP only with BACKSTOP_FTP_TLS=none (a warning says the password is sent in clear).
   * Password in BACKSTOP_FTP_PASSWORD; a self-signed certificate is accepted when its
   * fingerprint is given (BACKSTOP_FTP_CERT_FINGERPRINT).
   */
  ftp: (rest, text, env, flags) => ftpLocation(rest, text, env, flags, 'ftp'),
  /** `ftps://user@host:port/path/<database folder>`: implicit TLS (TLS from the first byte, port 990 by default). */
  ftps: (rest, text, env, flags) => ftpLocation(rest, text, env, flags, 'ftps'),
  /**
   * `sftp://user@host[:port]/abs/path/<database folder>` (`/~/rel/…` for a folder under the
   * login folder, as curl reads it); the key file in --identity (its passphrase in
   * BACKSTOP_SFTP_PASSPHRASE) or the password in BACKSTOP_SFTP_PASSWORD; the host key in
   * --host-key (refused without one, naming the server's fingerprint).
   */
  sftp: (rest, text, env, flags) => {
    const shape = `"${text}" must look like sftp://user@host[:port]/path/<database folder>.`;
    const m = /^([^@/]+)@(\[[^\]]+\]|[^:/]+)(?::(\d+))?(\/.*)$/.exec(rest);
    if (!m) throw new BackstopError('MALFORMED_REQUEST', shape);
    const port = m[3] ? Number(m[3]) : 22;
    if (!(port >= 1 && port <= 65535)) throw new BackstopError('MALFORMED_REQUEST', shape);
    let user: string;
    let path: string;
    try {
      user = decodeURIComponent(m[1]!);
      path = decodeURIComponent(m[4]!).replace(/\/+$/, '');
    } catch {
      throw new BackstopError('MALFORMED_REQUEST', shape);
    }
    path = path === '/~' ? '' : path.startsWith('/~/') ? path.slice(3) : path;
    if (flags.hostKey !== undefined && !/^SHA256:[A-Za-z0-9+/]{43}$/.test(flags.hostKey)) {
      throw new BackstopError('MALFORMED_REQUEST', `--host-key must be a fingerprint like SHA256:<43 characters>, as ssh-keygen -lf prints it; got "${flags.hostKey}".`);
    }
    const host = m[2]!.replace(/^\[|\]$/g, '');
    const password = flags.identity ? undefined : secretFromEnv('BACKSTOP_SFTP_PASSWORD', `SFTP server ${host}`, env)!;
    const passphrase = flags.identity ? env.BACKSTOP_SFTP_PASSPHRASE : undefined;
    return {
      location: { kind: 'sftp', host, port, user, path, hostKey: flags.hostKey ?? null, privateKeyFile: flags.identity ? resolve(flags.identity) : null, credentialsRef: null },
      credentials: { ...(password ? { password } : {}), ...(passphrase ? { passphrase } : {}) },
    };
  },
};

function ftpLocation(rest: string, text: string, env: NodeJS.ProcessEnv, flags: LocationFlags, scheme: 'ftp' | 'ftps'): Where {
  const m = /^(?:([^@/]+)@)?([^/:@]+)(?::(\d{1,5}))?\/(.+)$/.exec(rest);
  if (!m || !m[1]) throw new BackstopError('MALFORMED_REQUEST', `"${text}" must look like ${scheme}://user@host:port/path/<database folder>.`);
  const chosen = flags.ftpTls ?? env.BACKSTOP_FTP_TLS;
  if (chosen !== undefined && !['explicit', 'implicit', 'none'].includes(chosen)) {
    throw new BackstopError('MALFORMED_REQUEST', `BACKSTOP_FTP_TLS must be "explicit", "implicit" or "none", not "${chosen}".`);
  }
  if (scheme === 'ftps' && chosen !== undefined && chosen !== 'implicit') {
    throw new BackstopError('MALFORMED_REQUEST', `"${text}" is an ftps:// (implicit TLS) location; use ftp:// for ${chosen === 'none' ? 'plain FTP' : 'explicit TLS'}.`);
  }
  const tls = scheme === 'ftps' ? 'implicit' : ((chosen as 'explicit' | 'implicit' | 'none' | undefined) ?? 'explicit');
  const host = m[2]!;
  if (tls === 'none') warnPlainFtp(host);
  const password = secretFromEnv('BACKSTOP_FTP_PASSWORD', `FTP server ${host}`, env)!;
  const fingerprint = flags.certificateFingerprint ?? env.BACKSTOP_FTP_CERT_FINGERPRINT ?? null;
  return {
    location: {
      kind: 'ftp',
      host,
      port: m[3] ? Number(m[3]) : tls === 'implicit' ? 990 : 21,
      user: decodeURIComponent(m[1]),
      path: `/${m[4]!.replace(/\/+$/, '')}`,
      tls,
      certificateFingerprint: fingerprint,
      credentialsRef: null,
    },
    credentials: { password },
  };
}

/** Plain FTP was chosen: say on stderr (never stdout, which may carry --json) that the password goes in clear. */
export function warnPlainFtp(host: string): void {
  process.stderr.write(`warning: plain FTP to ${host}: the password and the backups cross the network unencrypted. Use tls "explicit" or "implicit" where the server supports it.\n`);
}

export function parseLocation(arg: LocationArg, env: NodeJS.ProcessEnv = process.env, given: LocationFlags = {}): Where {
  const text = typeof arg === 'string' ? arg : arg.text;
  const flags = typeof arg === 'string' ? given : { ...given, ...arg.flags };
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(text);
  const scheme = m ? SCHEMES[m[1]!.toLowerCase()] : undefined;
  checkEndpoint(flags.endpoint, !m || !scheme, text);
  checkFlagsUsed(flags, m && scheme ? m[1]!.toLowerCase() : null, text);
  if (!m || !scheme) return { location: { kind: 'local', path: resolve(text) }, credentials: null };
  refusePasswordInUrl(m[1]!.toLowerCase(), m[2]!);
  return scheme(m[2]!, text, env, flags);
}

/** A flag the location would ignore is a mistake (the wrong location, or a flag meant for another), named. */
function checkFlagsUsed(flags: LocationFlags, scheme: string | null, text: string): void {
  if (flags.endpoint !== undefined && scheme !== null && scheme !== 's3' && scheme !== 'azure') {
    throw new BackstopError('MALFORMED_REQUEST', `--endpoint is for s3:// and azure:// locations; ${scheme}:// names its server in the URL ("${text}").`);
  }
  for (const [flag, value] of [['--identity', flags.identity], ['--host-key', flags.hostKey]] as const) {
    if (value !== undefined && scheme !== 'sftp') throw new BackstopError('MALFORMED_REQUEST', `${flag} is for sftp:// locations; "${text}" is not one.`);
  }
}

/** Where each scheme's secret goes instead of the URL. */
const SECRET_VARIABLE: Record<string, string> = {
  s3: 'AWS_SECRET_ACCESS_KEY',
  azure: 'AZURE_STORAGE_KEY (or AZURE_STORAGE_SAS_TOKEN)',
  ftp: 'BACKSTOP_FTP_PASSWORD',
  ftps: 'BACKSTOP_FTP_PASSWORD',
  sftp: 'BACKSTOP_SFTP_PASSWORD',
};

/**
 * `ftp://user:password@host/…` (curl's habit): the password would become part of the user
 * name, be sent as such, and be repeated by every error and record that names the
 * location. Refused before anything connects or is recorded; the message shows the URL
 * with the password cut out.
 */
function refusePasswordInUrl(scheme: string, rest: string): void {
  const authority = rest.split('/', 1)[0]!;
  const at = authority.lastIndexOf('@');
  const colon = authority.indexOf(':');
  if (at < 0 || colon < 0 || colon > at) return;
  const shown = `${scheme}://${authority.slice(0, colon)}:***${rest.slice(at)}`;
  throw new BackstopError(
    'MALFORMED_REQUEST',
    `"${shown}" has a password in the URL, where it would stay in your shell history and in what Backstop records. Remove it from the URL and set it in the environment variable ${SECRET_VARIABLE[scheme] ?? 'the documentation names'} instead.`,
  );
}
