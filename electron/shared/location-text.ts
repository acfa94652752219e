/**
 * Where backups live, as text: the one place that turns a destination (or a backup folder's
 * location) into the strings people and history see. Pure; used by the engine, the CLI and
 * the renderer alike, so none of them rebuilds an `s3://…` string or trims a prefix itself.
 *
 * Contract:
 * - `trimSlashes(p)`: `p` without leading and trailing slashes ("/a/b/" → "a/b");
 *   `joinPath(...parts)`: '/'-joined parts without empty segments.
 * - `destinationId(d)`: stable and secret-free, names a destination in history
 *   (`local:<path>`, `s3:<bucket>/<prefix>`, `azure:<account>/<container>/<prefix>`). Never changes for an existing destination.
 * - `placeText(d, path?)`: a local path or an `s3://bucket/prefix[/path]` (`azure://container/prefix[/path]`) URL, for output
 *   and scripts (the CLI accepts it back); `path` is a folder under the destination's root.
 * - `destinationDisplay(d)`: what the window shows for a destination (the S3 endpoint's host
 *   when it is not AWS).
 * - SFTP: `sftp://user@host[:port]/abs/path`, a folder relative to the login folder as `/~/rel`.
 * Adding a destination kind: one entry in TEXT (the compiler asks for it).
 */
import type { BackupLocation, Destination } from './domain.ts';

/** A destination, or a backup folder's location (same fields for text; the S3 prefix is the folder's whole prefix). */
export type Place = Destination | BackupLocation;

interface KindText<P> {
  id(p: P): string;
  root(p: P): string;
  child(p: P, path: string): string;
  display(p: P): string;
}

type Of<K extends Place['kind']> = Extract<Place, { kind: K }>;

export function trimSlashes(p: string): string {
  return p.replace(/^\/+|\/+$/g, '');
}

/** Joins '/'-separated parts, dropping empty segments ("", "a/", "/b" → "a/b"). */
export function joinPath(...parts: string[]): string {
  return parts
    .flatMap((p) => p.split('/'))
    .filter((s) => s.length > 0)
    .join('/');
}

function hostOf(endpoint: string): string {
  try {
    return new URL(endpoint).host;
  } catch {
    return endpoint;
  }
}

const TEXT: { [K in Place['kind']]: KindText<Of<K>> } = {
  local: {
    id: (d) => `local:${d.path}`,
    root: (d) => d.path,
    child: (d, path) => {
      // The path's own separator (a Windows path uses backslashes), as path.join would.
      const sep = d.path.includes('\\') && !d.path.includes('/') ? '\\' : '/';
      return [d.path.replace(/[\\/]+$/, ''), ...path.split('/').filter((s) => s.length > 0)].join(sep);
    },
    display: (d) => d.path,
  },
  s3: {
    id: (d) => `s3:${d.bucket}/${trimSlashes(d.prefix)}`,
    root: (d) => `s3://${d.bucket}/${trimSlashes(d.prefix)}`,
    child: (d, path) => `s3://${d.bucket}/${joinPath(d.prefix, path)}`,
    display: (d) => {
      const prefix = trimSlashes(d.prefix);
      const where = `s3://${d.bucket}${prefix ? `/${prefix}` : ''}`;
      return d.endpoint ? `${where} at ${hostOf(d.endpoint)}` : where;
    },
  },
  azure: {
    id: (d) => `azure:${d.accountName}/${d.container}/${trimSlashes(d.prefix)}`,
    root: (d) => `azure://${d.container}/${trimSlashes(d.prefix)}`,
    child: (d, path) => `azure://${d.container}/${joinPath(d.prefix, path)}`,
    display: (d) => {
      const prefix = trimSlashes(d.prefix);
      const where = `azure://${d.container}${prefix ? `/${prefix}` : ''} in account ${d.accountName}`;
      return d.endpoint ? `${where} at ${hostOf(d.endpoint)}` : where;
    },
  },
  ftp: {
    id: (d) => `ftp:${d.user}@${d.host}:${d.port}/${trimSlashes(d.path)}`,
    root: (d) => ftpUrl(d, ''),
    child: (d, path) => ftpUrl(d, path),
    display: (d) => `${ftpUrl(d, '')}${d.tls === 'none' ? ' (plain FTP, not encrypted)' : ''}`,
  },
  sftp: {
    id: (d) => `sftp:${d.user}@${sftpHost(d)}${sftpPath(d.path)}`,
    root: (d) => `sftp://${d.user}@${sftpHost(d)}${sftpPath(d.path)}`,
    child: (d, path) => `sftp://${d.user}@${sftpHost(d)}${sftpPath(d.path, path)}`,
    display: (d) => `sftp://${d.user}@${sftpHost(d)}${sftpPath(d.path)}`,
  },
};

/** `ftps://` for implicit TLS, `ftp://` otherwise (explicit TLS, or plain FTP when chosen). */
function ftpUrl(d: Of<'ftp'>, path: string): string {
  const where = joinPath(d.path, path);
  return `${d.tls === 'implicit' ? 'ftps' : 'ftp'}://${encodeURIComponent(d.user)}@${d.host}:${d.port}/${where}`;
}

/** host:port (IPv6 in brackets; the port only when it is not 22). */
function sftpHost(d: { host: string; port: number }): string {
  const host = d.host.includes(':') ? `[${d.host}]` : d.host;
  return d.port === 22 ? host : `${host}:${d.port}`;
}

/** An SFTP folder as a URL path (as curl reads sftp:// URLs): absolute as is, relative to the login folder under `/~`. */
export function sftpPath(base: string, path = ''): string {
  const joined = joinPath(base, path);
  if (base.startsWith('/')) return `/${joined}`;
  return joined ? `/~/${joined}` : '/~';
}

function textOf<P extends Place>(p: P): KindText<P> {
  return TEXT[p.kind] as unknown as KindText<P>;
}

export function destinationId(d: Place): string {
  return textOf(d).id(d);
}

/** A local path or an s3:// URL: the destination's root, or `path` under it. */
export function placeText(d: Place, path = ''): string {
  return path ? textOf(d).child(d, path) : textOf(d).root(d);
}

export function destinationDisplay(d: Place): string {
  return textOf(d).display(d);
}
