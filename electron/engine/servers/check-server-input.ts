/**
 * Checks the meaning of a server definition before it is saved (the schema checked its
 * shape): a SQLite folder must be an existing, absolute directory path.
 *
 * Contract: throws VALIDATION naming the field; touches nothing.
 */
import { statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { ServerInputParsed } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';

export function checkServerInput(input: ServerInputParsed): void {
  if (input.kind !== 'sqlite') return;
  if (!isAbsolute(input.folder)) throw new BackstopError('VALIDATION', `folder: "${input.folder}" must be an absolute path.`);
  let isDir = false;
  try {
    isDir = statSync(input.folder).isDirectory();
  } catch {
    throw new BackstopError('VALIDATION', `folder: "${input.folder}" does not exist. Choose an existing folder of SQLite databases.`);
  }
  if (!isDir) throw new BackstopError('VALIDATION', `folder: "${input.folder}" is a file, not a folder.`);
}
