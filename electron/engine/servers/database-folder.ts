/**
 * Database names ↔ folder names (one child folder per database under a task's root).
 *
 * Contract:
 * - `encodeDatabaseFolder` is injective and its output is safe on every OS and on S3:
 *   only `a-z 0-9 - _ .` and the escape `~xx` (two lowercase hex digits of one UTF-8 byte)
 *   appear, so two different names never map to folders that differ only in letter case
 *   (case-insensitive filesystems) or in Unicode normalisation (macOS NFD). Every other
 *   character (upper case, `/`, `\`, space, non-ASCII, …) is escaped, as are a leading
 *   `.` or `-`, a trailing `.`, and the first letter of Windows device names (CON, NUL.txt,
 *   COM1, …), so no output is `.`/`..`, hidden, option-like or reserved.
 * - Output is at most MAX_FOLDER_LENGTH characters. Names whose encoding is longer (never a
 *   PostgreSQL name: 63 bytes encode to at most 189) get a *hashed* folder: a readable
 *   prefix, `~~`, and 32 hex digits of SHA-256 of the name. That folder cannot be decoded:
 *   `decodeDatabaseFolder` returns null and the caller reads the name from the manifest.
 * - `decodeDatabaseFolder(encodeDatabaseFolder(n)) === n` for every other name; any folder
 *   name that is not exactly a canonical encoding throws VALIDATION.
 * - SERVER_FOLDER (`~server`) is reserved for server-level streams; `~s` is not an escape,
 *   so no database name can produce it.
 */
import { createHash } from 'node:crypto';
import { BackstopError } from '../../shared/result.ts';

export const SERVER_FOLDER = '~server';
export const MAX_FOLDER_LENGTH = 200;
const HASH_MARK = '~~';
const HASH_HEX = 32;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9]|conin\$|conout\$|clock\$)$/;

function literal(code: number): boolean {
  return (code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39) || code === 0x2d || code === 0x5f || code === 0x2e;
}

function escapeByte(b: number): string {
  return `~${b.toString(16).padStart(2, '0')}`;
}

function plainEncoding(name: string): string {
  const bytes = Buffer.from(name, 'utf8');
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] ?? 0;
    const edge = (i === 0 && (b === 0x2e || b === 0x2d)) || (i === bytes.length - 1 && b === 0x2e);
    out += literal(b) && !edge ? String.fromCharCode(b) : escapeByte(b);
  }
  // Windows device names are reserved with any extension ("nul.txt"): escape the first letter.
  const base = out.split('.')[0] ?? '';
  if (RESERVED.test(base)) out = escapeByte(bytes[0] ?? 0) + out.slice(1);
  return out;
}

export function encodeDatabaseFolder(name: string): string {
  if (name.length === 0) throw new BackstopError('VALIDATION', 'A database name must not be empty.');
  if (LONE_SURROGATE.test(name)) throw new BackstopError('VALIDATION', 'A database name must be valid Unicode text.');
  const plain = plainEncoding(name);
  if (plain.length <= MAX_FOLDER_LENGTH) return plain;
  const hash = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, HASH_HEX);
  let prefix = plain.slice(0, MAX_FOLDER_LENGTH - HASH_MARK.length - HASH_HEX);
  // Never cut an escape in half.
  const lastTilde = prefix.lastIndexOf('~');
  if (lastTilde >= 0 && lastTilde > prefix.length - 3) prefix = prefix.slice(0, lastTilde);
  return `${prefix}${HASH_MARK}${hash}`;
}

/** True for folders made from over-long names: they do not decode; read the name from the manifest. */
export function isHashedDatabaseFolder(folder: string): boolean {
  return new RegExp(`${HASH_MARK}[0-9a-f]{${HASH_HEX}}$`).test(folder) && folder.length <= MAX_FOLDER_LENGTH;
}

/** The database name of a folder made by encodeDatabaseFolder; null for hashed folders (see header). */
export function decodeDatabaseFolder(folder: string): string | null {
  const invalid = (): BackstopError => new BackstopError('VALIDATION', `"${folder.slice(0, 300)}" is not a database folder name.`);
  if (folder === SERVER_FOLDER) throw invalid();
  if (isHashedDatabaseFolder(folder)) return null;
  const bytes: number[] = [];
  for (let i = 0; i < folder.length; i++) {
    const c = folder.charCodeAt(i);
    if (c === 0x7e) {
      const hex = folder.slice(i + 1, i + 3);
      if (!/^[0-9a-f]{2}$/.test(hex)) throw invalid();
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (literal(c)) {
      bytes.push(c);
    } else {
      throw invalid();
    }
  }
  const buf = Buffer.from(bytes);
  const name = buf.toString('utf8');
  // Canonical only: rejects invalid UTF-8, needless escapes and anything encode would not produce.
  if (name.length === 0 || !Buffer.from(name, 'utf8').equals(buf) || plainEncoding(name) !== folder) throw invalid();
  return name;
}

/** The database name of a folder, or null when the folder is not a decodable database folder (hashed, sibling, foreign). */
export function databaseNameOf(folder: string): string | null {
  try {
    return decodeDatabaseFolder(folder);
  } catch {
    return null;
  }
}
