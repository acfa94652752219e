/**
 * Database names ↔ folder names (one child folder per database under a task's root).
 *
 * Contract (docs/FORMAT.md §1):
 * - `encodeDatabaseFolder(name)` keeps the name readable: letters of any script, digits,
 *   spaces and punctuation stay as they are, so `sales` stays `sales` and `Chinook` becomes
 *   `Chinook~<8 hex>`. It is safe on every OS and on S3: the characters Windows or a path
 *   forbids or misreads (`/ \ : * ? " < > |`, NUL and other control characters, the
 *   invisible bidi/zero-width marks, and `~`, which marks the suffix) become `_`; so do a
 *   leading `.`, `-` or space and a trailing `.` or space; a Windows device name (CON,
 *   nul.txt, COM1, …) gets a leading `_`. So no output is `.`/`..`, hidden, option-like,
 *   reserved, or holds a path separator.
 * - A short deterministic suffix, `~` + 8 hex digits of SHA-256 of the name written with
 *   the letters g–v (so it is never one of the earlier encoding's `~xx` escapes), is added only
 *   where needed to keep folders distinct on case-insensitive and normalising file systems:
 *   when the name is not all lower case, not in Unicode NFC, had a character replaced
 *   above, or is cut to fit. Names without a suffix are lower case, NFC and contain no `~`;
 *   names with one end in the suffix: the two sets never meet, and within the second the
 *   hash tells apart names whose readable parts fold to the same text.
 * - Output is at most MAX_FOLDER_LENGTH UTF-8 bytes (longer names are cut, with a suffix).
 * - `decodeDatabaseFolder(folder)` returns the name when the folder is exactly the name
 *   (or the name + its suffix), null when the folder was made from a name that lost
 *   characters (replaced or cut: read the name from the manifest), and throws VALIDATION
 *   for anything that is no database folder. Folders of the earlier encoding (below) decode too.
 * - `legacyDatabaseFolder(name)` is the encoding of Backstop ≤ 0.x (only `a-z 0-9 - _ .` and
 *   `~xx` byte escapes, e.g. `~43hinook`): a repository in such a folder is found and
 *   continued (destinations/location.ts), never duplicated.
 * - SERVER_FOLDER (`~server`) is reserved for server-level streams: no name produces it.
 */
import { createHash } from 'node:crypto';
import { BackstopError } from '../../shared/result.ts';

export const SERVER_FOLDER = '~server';
/** In UTF-8 bytes (file systems allow 255 per name; a key sibling's suffix must still fit). */
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

function assertName(name: string): void {
  if (name.length === 0) throw new BackstopError('VALIDATION', 'A database name must not be empty.');
  if (LONE_SURROGATE.test(name)) throw new BackstopError('VALIDATION', 'A database name must be valid Unicode text.');
}

/** Characters a folder name never holds: path separators, what Windows forbids, controls, invisible marks, and `~`. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what this matches
const UNSAFE = /[\u0000-\u001f\u007f-\u009f/\\:*?"<>|~\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]/gu;
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$|clock\$)$/;
const SUFFIX_HEX = 8;
/** `~` + 8 hex digits written with the letters g–v (0 → g … f → v): never an escape of the earlier encoding. */
const SUFFIX = new RegExp(`~[g-v]{${SUFFIX_HEX}}$`);

function suffixOf(name: string): string {
  const hex = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, SUFFIX_HEX);
  return `~${[...hex].map((h) => String.fromCharCode(0x67 + parseInt(h, 16))).join('')}`;
}

/** `text` cut to at most `bytes` UTF-8 bytes, never inside a character. */
function cutToBytes(text: string, bytes: number): string {
  let out = '';
  let used = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (used + n > bytes) break;
    out += ch;
    used += n;
  }
  return out;
}

export function encodeDatabaseFolder(name: string): string {
  assertName(name);
  const nfc = name.normalize('NFC');
  let readable = nfc.replace(UNSAFE, '_').replace(/^[.\- ]/, '_').replace(/[. ]$/, '_');
  const base = (readable.split('.')[0] ?? '').replace(/ +$/, '').toLowerCase();
  if (WINDOWS_DEVICE.test(base)) readable = `_${readable}`;
  const needsSuffix = readable !== name || name !== name.toLowerCase() || Buffer.byteLength(readable, 'utf8') > MAX_FOLDER_LENGTH;
  if (!needsSuffix) return readable;
  const suffix = suffixOf(name);
  const cut = cutToBytes(readable, MAX_FOLDER_LENGTH - suffix.length);
  // A cut may leave a trailing '.' or space, which Windows drops.
  return `${cut.replace(/[. ]$/, '_')}${suffix}`;
}

/** The folder name Backstop used before readable names (kept to find and continue those repositories). */
export function legacyDatabaseFolder(name: string): string {
  assertName(name);
  const plain = plainEncoding(name);
  if (plain.length <= MAX_FOLDER_LENGTH) return plain;
  const hash = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, HASH_HEX);
  let prefix = plain.slice(0, MAX_FOLDER_LENGTH - HASH_MARK.length - HASH_HEX);
  // Never cut an escape in half.
  const lastTilde = prefix.lastIndexOf('~');
  if (lastTilde >= 0 && lastTilde > prefix.length - 3) prefix = prefix.slice(0, lastTilde);
  return `${prefix}${HASH_MARK}${hash}`;
}

/** True for the earlier encoding's folders made from over-long names: they do not decode; read the name from the manifest. */
export function isHashedDatabaseFolder(folder: string): boolean {
  return new RegExp(`${HASH_MARK}[0-9a-f]{${HASH_HEX}}$`).test(folder) && folder.length <= MAX_FOLDER_LENGTH;
}

/** The database name of a folder (see header): the name, null when the folder cannot give it back, VALIDATION for no database folder. */
export function decodeDatabaseFolder(folder: string): string | null {
  const invalid = (): BackstopError => new BackstopError('VALIDATION', `"${folder.slice(0, 300)}" is not a database folder name.`);
  if (folder === SERVER_FOLDER || folder.length === 0) throw invalid();
  const candidate = SUFFIX.test(folder) ? folder.slice(0, -(SUFFIX_HEX + 1)) : folder;
  if (candidate.length > 0 && !LONE_SURROGATE.test(candidate) && encodeDatabaseFolder(candidate) === folder) return candidate;
  const legacy = decodeLegacyFolder(folder);
  if (legacy !== undefined) return legacy;
  // Made from a name that lost characters (replaced or cut): the manifest holds the name.
  const safe = candidate.length > 0 && candidate.replace(UNSAFE, '_') === candidate && !/^[.\- ]|[. ]$/.test(candidate);
  if (SUFFIX.test(folder) && safe && Buffer.byteLength(folder, 'utf8') <= MAX_FOLDER_LENGTH) return null;
  throw invalid();
}

/** A folder of the earlier encoding: its name, null for its hashed folders, undefined when it is none. */
function decodeLegacyFolder(folder: string): string | null | undefined {
  if (isHashedDatabaseFolder(folder)) return null;
  const bytes: number[] = [];
  for (let i = 0; i < folder.length; i++) {
    const c = folder.charCodeAt(i);
    if (c === 0x7e) {
      const hex = folder.slice(i + 1, i + 3);
      if (!/^[0-9a-f]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (literal(c)) {
      bytes.push(c);
    } else {
      return undefined;
    }
  }
  const buf = Buffer.from(bytes);
  const name = buf.toString('utf8');
  // Canonical only: rejects invalid UTF-8, needless escapes and anything encode would not produce.
  if (name.length === 0 || !Buffer.from(name, 'utf8').equals(buf) || plainEncoding(name) !== folder) return undefined;
  return name;
}

/** The database name of a folder, or null when the folder does not give it back (cut or replaced characters, sibling, foreign). */
export function databaseNameOf(folder: string): string | null {
  try {
    return decodeDatabaseFolder(folder);
  } catch {
    return null;
  }
}
