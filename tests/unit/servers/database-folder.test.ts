/**
 * Database name ↔ folder name mapping: every hostile case named in the issue, plus a
 * round-trip property over random strings and a collision check that simulates
 * case-insensitive and normalising filesystems.
 */
import { describe, expect, test } from 'vitest';
import {
  databaseNameOf,
  decodeDatabaseFolder,
  encodeDatabaseFolder,
  isHashedDatabaseFolder,
  legacyDatabaseFolder,
  MAX_FOLDER_LENGTH,
  SERVER_FOLDER,
} from '../../../electron/engine/servers/database-folder.ts';

// eslint-disable-next-line no-control-regex -- control characters are exactly what this matches
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f/\\:*?"<>|\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/u;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])$/i;
const SUFFIXED = /~[g-v]{8}$/;

/** What a filesystem might do to a name: case folding, Unicode normalisation, stripped trailing dots/spaces. */
function fsCanonical(folder: string): string {
  return folder.normalize('NFD').toLowerCase().replace(/[. ]+$/, '');
}

function safeOnEveryOs(folder: string): void {
  expect(folder).not.toMatch(FORBIDDEN);
  expect(Buffer.byteLength(folder, 'utf8')).toBeLessThanOrEqual(MAX_FOLDER_LENGTH);
  expect((folder.split('.')[0] ?? '').trimEnd()).not.toMatch(WINDOWS_RESERVED);
  expect(folder).not.toMatch(/^[.\- ~]|[. ]$/);
  expect(folder).not.toBe(SERVER_FOLDER);
  // The only `~` is the suffix's.
  expect(folder.replace(SUFFIXED, '')).not.toContain('~');
}

/** Encodes a name: a safe folder that decodes to the name, or to null when characters were lost. */
function encodes(name: string): string {
  const folder = encodeDatabaseFolder(name);
  safeOnEveryOs(folder);
  const back = decodeDatabaseFolder(folder);
  if (back !== null) expect(back).toBe(name);
  return folder;
}

describe('hostile names', () => {
  test.each([
    ['../x'],
    ['..'],
    ['.'],
    ['.hidden'],
    ['-rf'],
    ['a/b'],
    ['a\\b'],
    ['C:x'],
    ['CON'],
    ['con'],
    ['Con.txt'],
    ['nul.txt'],
    ['NUL.txt'],
    ['nul .txt'],
    ['com1'],
    ['COM1'],
    ['com¹'],
    ['lpt9.tar.gz'],
    ['aux'],
    ['trailing.'],
    ['trailing '],
    ['trailing. . '],
    [' leading space'],
    ['tab\there'],
    ['new\nline'],
    ['nul\0byte'],
    ['right\u202eto-left'],
    ['~server'],
    ['~'],
    ['~~'],
    ['a~41'],
    ['x~plain'],
    ['100%'],
    ['a:b*c?d"e<f>g|h'],
    ['emoji 😀'],
    ['日本語のデータベース'],
    ['Ünïcødé'],
  ])('%j becomes a safe folder', (name) => {
    encodes(name);
  });

  test('names keep their case and letters of any script, with a suffix only where needed', () => {
    expect(encodeDatabaseFolder('shop_prod-2024.v2')).toBe('shop_prod-2024.v2');
    expect(encodeDatabaseFolder('日本語のデータベース')).toBe('日本語のデータベース');
    expect(encodeDatabaseFolder('sales ü 2026')).toBe('sales ü 2026');
    expect(encodeDatabaseFolder('Chinook')).toMatch(/^Chinook~[g-v]{8}$/);
    expect(encodeDatabaseFolder('Sales Ü 2026')).toMatch(/^Sales Ü 2026~[g-v]{8}$/);
    expect(encodeDatabaseFolder('Chinook')).toBe(encodeDatabaseFolder('Chinook')); // deterministic
    expect(decodeDatabaseFolder(encodeDatabaseFolder('Sales Ü 2026'))).toBe('Sales Ü 2026');
    // Characters that had to be replaced cannot be read back: the manifest has the name.
    expect(encodeDatabaseFolder('a/b')).toMatch(/^a_b~[g-v]{8}$/);
    expect(decodeDatabaseFolder(encodeDatabaseFolder('a/b'))).toBeNull();
    expect(encodeDatabaseFolder('..')).toMatch(/^__~[g-v]{8}$/);
    expect(encodeDatabaseFolder('nul.txt')).toMatch(/^_nul\.txt~[g-v]{8}$/);
  });

  test('names that differ only in case map to folders that differ on a case-insensitive filesystem', () => {
    const names = ['shop', 'Shop', 'SHOP', 'sHoP', 'Straße', 'STRASSE', 'strasse', 'ǅemal', 'ǆemal', 'Ǆemal'];
    const folders = names.map(encodes);
    expect(new Set(folders.map(fsCanonical)).size).toBe(names.length);
    // Names that lose different characters to '_' stay apart too.
    const lossy = ['a/b', 'a\\b', 'a:b', 'a_b', 'A_b'].map(encodes);
    expect(new Set(lossy.map(fsCanonical)).size).toBe(lossy.length);
  });

  test('NFC and NFD spellings of the same text map to different folders that survive normalisation', () => {
    const nfc = 'café'.normalize('NFC');
    const nfd = 'café'.normalize('NFD');
    expect(nfc).not.toBe(nfd);
    const a = encodes(nfc);
    const b = encodes(nfd);
    expect(a).toBe('café');
    expect(fsCanonical(a)).not.toBe(fsCanonical(b));
  });

  test('every 63-byte PostgreSQL name is kept whole', () => {
    for (const n of ['a'.repeat(63), 'A'.repeat(63), 'é'.repeat(31), `${'Ж'.repeat(31)}X`]) expect(decodeDatabaseFolder(encodes(n))).toBe(n);
  });

  test('very long names are cut to fit, with a suffix: safe, distinct, and not decodable (the name lives in the manifest)', () => {
    const long1 = 'q'.repeat(300);
    const long2 = `${'q'.repeat(299)}r`;
    const f1 = encodes(long1);
    const f2 = encodes(long2);
    expect(f1).not.toBe(f2);
    expect(f1.startsWith('qqqq')).toBe(true); // readable prefix
    expect(decodeDatabaseFolder(f1)).toBeNull();
    expect(Buffer.byteLength(encodes('日'.repeat(200)), 'utf8')).toBeLessThanOrEqual(MAX_FOLDER_LENGTH);
  });

  test('the reserved server-level folder is no database and no name produces it', () => {
    expect(() => decodeDatabaseFolder(SERVER_FOLDER)).toThrow(/not a database folder/);
    expect(encodeDatabaseFolder('~server')).not.toBe(SERVER_FOLDER);
    expect(encodeDatabaseFolder('~SERVER').toLowerCase()).not.toBe(SERVER_FOLDER);
  });

  test('empty names and broken Unicode are refused', () => {
    expect(() => encodeDatabaseFolder('')).toThrow(/must not be empty/);
    expect(() => encodeDatabaseFolder('a\uD800b')).toThrow(/valid Unicode/);
  });

  test('folders that are no database folder are refused, key siblings included', () => {
    const sibling = `${encodeDatabaseFolder('Chinook')}~plain`;
    for (const f of ['Chinook', '~61', '~4', '~zz', 'a/b', '~c3', '', '.x', 'x.', 'con', '~ff~fe', sibling, 'sales~key-0123abcd', 'x~ghijklmz']) {
      expect(() => decodeDatabaseFolder(f), f).toThrow(/not a database folder/);
      expect(databaseNameOf(f)).toBeNull();
    }
  });
});

describe('folders of the earlier encoding', () => {
  test('are still read, and lower-case ASCII names have the same folder in both', () => {
    expect(legacyDatabaseFolder('Chinook')).toBe('~43hinook');
    expect(decodeDatabaseFolder('~43hinook')).toBe('Chinook');
    expect(decodeDatabaseFolder('~53ales~20~c3~9c~202026')).toBe('Sales Ü 2026');
    expect(legacyDatabaseFolder('shop_prod-2024.v2')).toBe(encodeDatabaseFolder('shop_prod-2024.v2'));
    const hashed = legacyDatabaseFolder('Q'.repeat(300));
    expect(isHashedDatabaseFolder(hashed)).toBe(true);
    expect(decodeDatabaseFolder(hashed)).toBeNull();
  });
});

describe('property: random strings round-trip and never collide', () => {
  // A small deterministic PRNG so failures reproduce.
  let seed = 0x2545f491;
  const rand = (n: number): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const alphabet = [...'aAzZ09._-~ /\\:*?"<>|%\t\n\0', 'é', 'e\u0301', 'ß', 'İ', 'ı', 'Ω', 'Ω', '😀', '日', '\u00a0', '\u200b'];
  const randomName = (): string => {
    const len = 1 + rand(50);
    let s = '';
    for (let i = 0; i < len; i++) s += rand(4) === 0 ? String.fromCodePoint(1 + rand(0x2ffff)).replace(/[\uD800-\uDFFF]/g, 'x') : (alphabet[rand(alphabet.length)] ?? 'a');
    return s;
  };

  test('5000 random names', () => {
    const seen = new Map<string, string>();
    let lossy = 0;
    for (let i = 0; i < 5000; i++) {
      const name = randomName();
      const folder = encodeDatabaseFolder(name);
      safeOnEveryOs(folder);
      const back = decodeDatabaseFolder(folder);
      if (back === null) lossy++;
      else expect(back).toBe(name);
      // The earlier encoding's folder of a name never reads as another name.
      expect([name, null]).toContain(decodeDatabaseFolder(legacyDatabaseFolder(name)));
      const key = fsCanonical(folder);
      const other = seen.get(key);
      if (other !== undefined) expect(other).toBe(name);
      seen.set(key, name);
    }
    // Most random names read back; the alphabet's hostile characters exercise the lossy form.
    expect(lossy).toBeGreaterThan(0);
    expect(lossy).toBeLessThan(5000);
  });
});
