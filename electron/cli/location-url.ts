/**
 * A backup location as the command line gives it: a local folder path, or a URL whose
 * scheme names the destination kind (`s3://bucket/prefix/<folder>`, `sftp://user@host:port/path/<folder>`). One entry per
 * scheme in SCHEMES; settings a URL cannot carry come from `LocationFlags` (command-line
 * flags) and the ecosystem's usual environment variables, credentials from the environment
 * only (never from the URL or a flag, so they stay out of shell history and `ps`).
 *
 * Contract: a text with a known scheme that does not parse → MALFORMED_REQUEST showing the
 * shape it must have; missing credentials → the error of cli-secrets.ts naming the variable;
 * anything without a `<scheme>://` prefix is a local path, resolved against the current folder.
 */
import { resolve } from 'node:path';
import type { BackupLocation } from '../shared/domain.ts';
import { BackstopError } from '../shared/result.ts';
import type { Credentials } from '../engine/destinations/index.ts';
import { secretFromEnv } from './cli-secrets.ts';

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
}

type Scheme = (rest: string, text: string, env: NodeJS.ProcessEnv, flags: LocationFlags) => Where;

const SCHEMES: Record<string, Scheme> = {
  /**
   * `s3://bucket/prefix/<database folder>`; credentials in AWS_ACCESS_KEY_ID /
   * AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), the region in AWS_REGION, an S3-compatible
   * endpoint in --endpoint or BACKSTOP_S3_ENDPOINT (path-style addressing).
   */
  s3: (rest, text, env, flags) => {
    const m = /^([^/]+)\/(.+)$/.exec(rest);
    if (!m) throw new BackstopError('MALFORMED_REQUEST', `"${text}" must look like s3://bucket/prefix/<database folder>.`);
    const accessKeyId = secretFromEnv('AWS_ACCESS_KEY_ID', `S3 bucket ${m[1]}`, env)!;
    const secretAccessKey = secretFromEnv('AWS_SECRET_ACCESS_KEY', `S3 bucket ${m[1]}`, env)!;
    return {
      location: {
        kind: 's3',
        bucket: m[1]!,
        prefix: m[2]!.replace(/\/+$/, ''),
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

let commandLineFlags: LocationFlags = {};

/** The location flags of this invocation (cli/index.ts sets them once; parseLocation's default). */
export function setLocationFlags(flags: LocationFlags): void {
  commandLineFlags = flags;
}

export function parseLocation(text: string, env: NodeJS.ProcessEnv = process.env, flags: LocationFlags = commandLineFlags): Where {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(text);
  const scheme = m ? SCHEMES[m[1]!.toLowerCase()] : undefined;
  if (!m || !scheme) return { location: { kind: 'local', path: resolve(text) }, credentials: null };
  return scheme(m[2]!, text, env, flags);
}
