/**
 * Database name ↔ folder name mapping: every hostile case named in the issue, plus a
 * round-trip property over random strings and a collision check that simulates
 * case-insensitive and normalising filesystems.
 */
import { describe, expect, test } from 'vitest';
import {
  decodeDatabaseFolder,
  encodeDatabaseFolder,
  isHashedDatabaseFolder,
  MAX_FOLDER_LENGTH,
  SERVER_FOLDER,
} from '../../../electron/engine/servers/database-folder.ts';

const SAFE = /^[a-z0-9._~-]+$/;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;

/** What a filesystem might do to a name: case folding, Unicode normalisation, stripped trailing dots/spaces. */
function fsCanonical(folder: string): string {
  return folder.normalize('NFD').toLowerCase().replace(/[. ]+$/, '');
}

function safeOnEveryOs(folder: string): void {
  expect(folder).toMatch(SAFE);
  expect(folder.length).toBeLessThanOrEqual(MAX_FOLDER_LENGTH);
  expect(folder).not.toMatch(WINDOWS_RESERVED);
  expect(folder).not.toMatch(/^[.-]|\.$/);
  expect(folder).not.toBe(SERVER_FOLDER);
}

function roundTrips(name: string): string {
  const folder = encodeDatabaseFolder(name);
  safeOnEveryOs(folder);
  expect(decodeDatabaseFolder(folder)).toBe(name);
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
    ['com1'],
    ['COM1'],
    ['lpt9.tar.gz'],
    ['aux'],
    ['trailing.'],
    ['trailing '],
    ['trailing. . '],
    [' leading space'],
    ['tab\there'],
    ['new\nline'],
    ['nul\0byte'],
    ['~server'],
    ['~'],
    ['~~'],
    ['a~41'],
    ['100%'],
    ['a:b*c?d"e<f>g|h'],
    ['emoji 😀'],
    ['日本語のデータベース'],
    ['Ünïcødé'],
  ])('%j round-trips to a safe folder', (name) => {
    roundTrips(name);
  });

  test('lower-case ASCII names stay readable', () => {
    expect(encodeDatabaseFolder('shop_prod-2024.v2')).toBe('shop_prod-2024.v2');
    expect(encodeDatabaseFolder('Chinook')).toBe('~43hinook');
  });

  test('Windows device names are escaped however they are spelled', () => {
    for (const n of ['con', 'nul.txt', 'com1', 'lpt1.db', 'prn', 'aux.x.y']) expect(encodeDatabaseFolder(n)).not.toMatch(WINDOWS_RESERVED);
  });

  test('names that differ only in case map to folders that differ on a case-insensitive filesystem', () => {
    const names = ['shop', 'Shop', 'SHOP', 'sHoP'];
    const folders = names.map(roundTrips);
    expect(new Set(folders.map(fsCanonical)).size).toBe(names.length);
  });

  test('NFC and NFD spellings of the same text map to different folders that survive normalisation', () => {
    const nfc = 'café'.normalize('NFC');
    const nfd = 'café'.normalize('NFD');
    expect(nfc).not.toBe(nfd);
    const a = roundTrips(nfc);
    const b = roundTrips(nfd);
    expect(fsCanonical(a)).not.toBe(fsCanonical(b));
    expect(a.normalize('NFD')).toBe(a); // pure ASCII: a normalising filesystem keeps it as is
  });

  test('every 63-byte PostgreSQL name round-trips (worst case: all bytes escaped)', () => {
    roundTrips('a'.repeat(63));
    roundTrips('A'.repeat(63));
    roundTrips('é'.repeat(31)); // 62 bytes
    const folder = roundTrips('Ж'.repeat(31) + 'X');
    expect(folder.length).toBeLessThanOrEqual(MAX_FOLDER_LENGTH);
  });

  test('very long names get a hashed folder: safe, distinct, and not decodable (the name lives in the manifest)', () => {
    const long1 = 'Q'.repeat(300);
    const long2 = `${'Q'.repeat(299)}R`;
    const f1 = encodeDatabaseFolder(long1);
    const f2 = encodeDatabaseFolder(long2);
    safeOnEveryOs(f1);
    safeOnEveryOs(f2);
    expect(f1).not.toBe(f2);
    expect(f1.startsWith('~51~51')).toBe(true); // readable prefix
    expect(isHashedDatabaseFolder(f1)).toBe(true);
    expect(decodeDatabaseFolder(f1)).toBeNull();
    expect(encodeDatabaseFolder(long1)).toBe(f1); // deterministic
    expect(isHashedDatabaseFolder(encodeDatabaseFolder('short'))).toBe(false);
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

  test('folders that are not canonical encodings are refused', () => {
    for (const f of ['Chinook', '~61', '~4', '~zz', 'a b', '~c3', '', '.x', 'x.', 'con', '~ff~fe']) {
      expect(() => decodeDatabaseFolder(f), f).toThrow(/not a database folder/);
    }
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
    let hashed = 0;
    for (let i = 0; i < 5000; i++) {
      const name = randomName();
      const folder = encodeDatabaseFolder(name);
      safeOnEveryOs(folder);
      if (isHashedDatabaseFolder(folder)) {
        hashed++;
        expect(decodeDatabaseFolder(folder)).toBeNull();
      } else {
        expect(decodeDatabaseFolder(folder)).toBe(name);
      }
      const key = fsCanonical(folder);
      const other = seen.get(key);
      if (other !== undefined) expect(other).toBe(name);
      seen.set(key, name);
    }
    // Most random names are short enough to be decodable; a few exercise the hashed form.
    expect(hashed).toBeGreaterThan(0);
    expect(hashed).toBeLessThan(2500);
  });
});
