/**
 * Checks the meaning of a server definition before it is saved (the schema checked its
 * shape): a SQLite folder must be an existing, absolute directory path; a TLS CA certificate
 * file (`tlsCaFile`) an absolute path to a readable PEM certificate.
 *
 * Contract: throws VALIDATION naming the field; touches nothing.
 */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { ServerInputParsed } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';

export function checkServerInput(input: ServerInputParsed): void {
  if (input.kind !== 'sqlite') {
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
