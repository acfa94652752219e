/**
 * Checks the meaning of a server definition before it is saved (the schema checked its
 * shape): a SQLite folder must be an existing, absolute directory path; a TLS CA certificate
 * file (`tlsCaFile`) an absolute path to a readable PEM certificate; a host that is a socket
 * path the kind's form of it (PostgreSQL: the socket's folder; MySQL/MariaDB: the socket file).
 *
 * Contract: throws VALIDATION naming the field; touches nothing.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { isSocketPath, type ServerInputParsed } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';

export function checkServerInput(input: ServerInputParsed): void {
  if (input.kind !== 'sqlite') {
    checkSocketHost(input.kind, input.host, 'host');
    if (input.tlsCaFile) checkTlsCaFile(input.tlsCaFile, 'tlsCaFile');
    return;
  }
  if (!isAbsolute(input.folder)) throw new BackstopError('VALIDATION', `folder: "${input.folder}" must be an absolute path.`);
  let isDir = false;
  try {
    isDir = statSync(input.folder).isDirectory();
  } catch {
    throw new BackstopError('VALIDATION', `folder: "${input.folder}" does not exist. Choose an existing folder of SQLite databases.`);
  }
  if (!isDir) throw new BackstopError('VALIDATION', `folder: "${input.folder}" is a file, not a folder.`);
}

/**
 * A CA certificate file for verifying a database server's certificate: an absolute path to a readable file holding a PEM
 * certificate. `field` names the setting in the error (the window's field key, or a CLI file's key).
 */
export function checkTlsCaFile(path: string, field: string): void {
  if (!isAbsolute(path)) throw new BackstopError('VALIDATION', `${field}: "${path}" must be an absolute path to the CA certificate file (PEM).`);
  let text: string;
  try {
    if (statSync(path).isDirectory()) throw new BackstopError('VALIDATION', `${field}: "${path}" is a folder; choose the CA certificate file (PEM) in it.`);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof BackstopError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new BackstopError(
      'VALIDATION',
      `${field}: the CA certificate file "${path}" ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (e as Error).message})`}. Choose the PEM file of the CA that signed the database server's certificate.`,
    );
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    throw new BackstopError('VALIDATION', `${field}: "${path}" holds no PEM certificate (no "-----BEGIN CERTIFICATE-----" line). Choose the PEM file of the CA that signed the database server's certificate.`);
  }
}

/**
 * A host that is a socket path, in the form each kind's tools take: PostgreSQL's tools take the socket's FOLDER
 * (`/var/run/postgresql`; the port picks `.s.PGSQL.<port>` in it), MariaDB's the socket FILE (`/run/mysqld/mysqld.sock`).
 * The other form failed only at the connection ("Not a directory", "Can't connect … through socket"); it is refused
 * with VALIDATION naming the form to give. A path that does not exist (yet) is left to the connection test.
 */
export function checkSocketHost(kind: 'postgres' | 'mysql', host: string, field: string): void {
  if (!isSocketPath(host)) return;
  let isDir: boolean | null = null;
  try {
    isDir = statSync(host).isDirectory();
  } catch {
    /* not there: the connection test names it */
  }
  if (kind === 'postgres' && (isDir === false || /^\.s\.PGSQL\.\d+$/.test(basename(host)))) {
    throw new BackstopError(
      'VALIDATION',
      `${field}: "${host}" is a socket file; for PostgreSQL give the folder that holds it ("${dirname(host)}"), as psql -h takes it — the port picks .s.PGSQL.<port> in that folder.`,
    );
  }
  if (kind === 'mysql' && isDir === true) {
    throw new BackstopError('VALIDATION', `${field}: "${host}" is a folder; for MySQL/MariaDB give the path of the server's socket file itself (e.g. "${join(host, 'mysqld.sock')}"; SHOW VARIABLES LIKE 'socket' names it).`);
  }
}
