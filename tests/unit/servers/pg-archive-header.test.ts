/**
 * The PostgreSQL custom-archive header parser (servers/postgres/archive-header.ts): on the
 * first bytes of a real `pg_dump -Fc -Z0` archive (PostgreSQL 15.18, archive 1.14) it names
 * exactly the creation-time fields; on the 1.15+ layout (compression as one byte) it shifts
 * them; on truncated, compressed, foreign or malformed input it names nothing (null), so
 * the dump counts as changed. (Two real dumps differing only there:
 * tests/integration/tasks/unchanged-incremental.test.ts.)
 * unbreakDatabaseTags: only the DATABASE and DATABASE PROPERTIES entries' tags lose their
 * line breaks, in place, same length (a real restore of such a name: servers/postgres.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { pgArchiveVolatile, unbreakDatabaseTags } from '../../../electron/engine/servers/postgres/archive-header.ts';

// The first 120 bytes of `pg_dump -Fc -Z0 d1` from PostgreSQL 15.18 (Debian): "PGDMP" 1.14.0,
// intSize 4, offSize 8, custom; compression int 0; time 42 s, 47 min, 7 h, 5th, month 11, year 126, isdst 0; "d1", "15.18 (…)"…
const REAL = Buffer.from(
  '5047444d50010e000408010000000000002a000000002f00000000070000000005000000000b000000007e000000000000000000020000006431001e00000031352e3138202844656269616e2031352e31382d302b6465623132753129001e00000031352e3138202844656269616e2031352e31382d302b',
  'hex',
);

/** A header in the 1.15+ layout: the compression is one byte (0 = none). */
function v115(minor: number): Buffer {
  return Buffer.concat([REAL.subarray(0, 6), Buffer.from([minor]), REAL.subarray(7, 11), Buffer.from([0]), REAL.subarray(16)]);
}

describe('pgArchiveVolatile', () => {
  it('names the seven time ints of a real archive header, and nothing else', () => {
    expect(pgArchiveVolatile(REAL)).toEqual([[16, 51]]);
    // The time fields as pg_dump wrote them: tm_sec 42 at 17, tm_year 126 at 42.
    expect(REAL[17]).toBe(42);
    expect(REAL[42]).toBe(126);
    // The next bytes are the database name's length and "d1": not volatile.
    expect(REAL.toString('latin1', 56, 58)).toBe('d1');
  });

  it('reads the header from a view into a larger buffer (the first chunk)', () => {
    const big = Buffer.concat([Buffer.from('junk'), REAL, Buffer.alloc(1000)]);
    expect(pgArchiveVolatile(big.subarray(4))).toEqual([[16, 51]]);
  });

  it('shifts the range for archives 1.15 and 1.16 (compression as one byte)', () => {
    expect(pgArchiveVolatile(v115(15))).toEqual([[12, 47]]);
    expect(pgArchiveVolatile(v115(16))).toEqual([[12, 47]]);
  });

  it('names nothing for a header cut short anywhere before the end of the time fields', () => {
    for (let n = 0; n < 51; n++) expect(pgArchiveVolatile(REAL.subarray(0, n))).toBeNull();
    expect(pgArchiveVolatile(REAL.subarray(0, 51))).toEqual([[16, 51]]);
  });

  it('names nothing for foreign, compressed or malformed input', () => {
    const with_ = (at: number, byte: number) => {
      const b = Buffer.from(REAL);
      b[at] = byte;
      return b;
    };
    expect(pgArchiveVolatile(Buffer.from('-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB\n'.repeat(3)))).toBeNull();
    expect(pgArchiveVolatile(Buffer.from('SQLite format 3\0'.padEnd(100, '\0')))).toBeNull();
    expect(pgArchiveVolatile(with_(0, 0x51))).toBeNull(); // "QGDMP"
    expect(pgArchiveVolatile(with_(5, 2))).toBeNull(); // archive 2.x
    expect(pgArchiveVolatile(with_(6, 11))).toBeNull(); // 1.11: older than any pg_dump Backstop runs
    expect(pgArchiveVolatile(with_(6, 17))).toBeNull(); // 1.17: a layout not known yet
    expect(pgArchiveVolatile(with_(8, 0))).toBeNull(); // intSize 0
    expect(pgArchiveVolatile(with_(8, 9))).toBeNull(); // intSize 9
    expect(pgArchiveVolatile(with_(9, 0))).toBeNull(); // offSize 0
    expect(pgArchiveVolatile(with_(10, 3))).toBeNull(); // tar format
    expect(pgArchiveVolatile(with_(12, 6))).toBeNull(); // compressed (-Z6)
    expect(pgArchiveVolatile(with_(11, 1))).toBeNull(); // a negative compression level
    const compressed115 = v115(15);
    compressed115[11] = 1; // gzip
    expect(pgArchiveVolatile(compressed115)).toBeNull();
  });
});

describe('unbreakDatabaseTags', () => {
  /** An archive string as pg_dump writes it with intSize 4: sign byte, length little-endian, bytes. */
  const str = (text: string) => {
    const bytes = Buffer.from(text, 'utf8');
    const n = Buffer.alloc(5);
    n.writeUInt32LE(bytes.length, 1);
    return Buffer.concat([n, bytes]);
  };
  /** A TOC stretch: a table entry whose tag has a line break too, then the database's two entries. */
  const toc = (name: string) =>
    Buffer.concat([REAL, str('odd\ntable'), str('TABLE'), str('9'), str(name), str('DATABASE'), str('PRE-DATA'), str('CREATE DATABASE ...'), str(name), str('DATABASE PROPERTIES'), str('PRE-DATA')]);

  it('turns the line breaks of the two database entries\' tags into spaces, nothing else, and names where', () => {
    const b = toc('two\nli\rnes');
    const before = Buffer.from(b);
    const ranges = unbreakDatabaseTags(b);
    expect(ranges).toHaveLength(2);
    for (const [from, to] of ranges) expect(b.toString('utf8', from, to)).toBe('two li nes');
    expect(b.length).toBe(before.length);
    expect(b.toString('utf8')).toContain('odd\ntable');
    const differing = [...b.keys()].filter((i) => b[i] !== before[i]);
    expect(differing).toHaveLength(4);
  });

  it('changes nothing for a name without a line break, or bytes that are not an archive', () => {
    const b = toc('plain name');
    const before = Buffer.from(b);
    expect(unbreakDatabaseTags(b)).toEqual([]);
    expect(b.equals(before)).toBe(true);
    const foreign = Buffer.concat([Buffer.from('NOTPG'), toc('two\nlines').subarray(5)]);
    expect(unbreakDatabaseTags(foreign)).toEqual([]);
  });
});
