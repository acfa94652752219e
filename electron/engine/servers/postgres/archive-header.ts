/**
 * The bytes of a PostgreSQL custom-format archive (`pg_dump -Fc -Z0`) that pg_dump varies
 * on every run: the header's creation time. Two dumps of an unchanged database differ only
 * there (checked on real dumps, tests/integration/tasks/unchanged-incremental.test.ts), so
 * an incremental whose dump equals the newest point's apart from these bytes stores nothing
 * (repository/writer.ts, `volatile`).
 *
 * Header layout (pg_backup_archiver.c WriteHead, archive versions 1.12–1.16):
 *   "PGDMP" vmaj vmin vrev intSize offSize format(1 = custom);
 *   compression: an int before 1.15, one byte (the algorithm) from 1.15;
 *   the creation time: 7 ints (tm_sec, tm_min, tm_hour, tm_mday, tm_mon, tm_year, tm_isdst);
 *   then dbname, server version, pg_dump version (strings: not volatile).
 * An int is a sign byte + intSize little-endian bytes.
 *
 * Contract: `pgArchiveVolatile(head)` returns the one byte range [start, end) of the time
 * fields, or null whenever anything is not exactly as expected: wrong magic, another
 * version, bad int/offset sizes, not custom format, compressed, or `head` too short. Null
 * means "no bytes may be ignored", so the dump counts as changed (a false "changed" only
 * costs a point; a false "unchanged" would lose a change).
 * `unbreakDatabaseTags(head)` takes the line breaks out of the database entries' tags, for
 * pg_restore --create to read an archive of a database whose name has one (see there).
 */
import type { VolatileBytes } from '../../repository/types.ts';

const MAGIC = 'PGDMP';
const CUSTOM_FORMAT = 1;
const TIME_INTS = 7;

export const pgArchiveVolatile: VolatileBytes = (head) => {
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (b.length < 11 || b.toString('latin1', 0, 5) !== MAGIC) return null;
  const [major, minor, , intSize, offSize, format] = [b[5]!, b[6]!, b[7]!, b[8]!, b[9]!, b[10]!];
  if (major !== 1 || minor < 12 || minor > 16) return null;
  if (intSize < 1 || intSize > 8 || offSize < 1 || offSize > 16 || format !== CUSTOM_FORMAT) return null;
  let at = 11;
  // Compression: an int (sign + intSize bytes, all zero for -Z0) before 1.15, an algorithm byte (0 = none) from 1.15.
  const compressionBytes = minor >= 15 ? 1 : 1 + intSize;
  if (b.length < at + compressionBytes) return null;
  for (let i = at; i < at + compressionBytes; i++) if (b[i] !== 0) return null;
  at += compressionBytes;
  const end = at + TIME_INTS * (1 + intSize);
  if (b.length < end) return null;
  return [[at, end]];
};

/**
 * The DATABASE and DATABASE PROPERTIES entries' tags (the database name) with their line
 * breaks (CR, LF) turned into spaces, in place, in the first bytes of a custom-format archive:
 * pg_restore --create refuses to write such a name into the `\connect` line it prints after
 * each of them (CVE-2016-5424), while Backstop only reads the entries' statements, which quote
 * the name whole. Only the tags are touched (the same length, so no offset moves); an entry is
 * found as its tag string followed by its desc string (strings are an int length + bytes;
 * names are at most 63 bytes). Returns the byte ranges [start, end) it changed.
 */
export function unbreakDatabaseTags(head: Buffer): Array<[number, number]> {
  if (head.length < 11 || head.toString('latin1', 0, 5) !== MAGIC) return [];
  const intSize = head[8]!;
  if (intSize < 1 || intSize > 8) return [];
  const int = (n: number): Buffer => {
    const b = Buffer.alloc(1 + intSize);
    for (let i = 0; i < intSize; i++) b[1 + i] = (n >> (8 * i)) & 0xff;
    return b;
  };
  const changed: Array<[number, number]> = [];
  for (const descText of ['DATABASE', 'DATABASE PROPERTIES']) {
    const desc = Buffer.concat([int(descText.length), Buffer.from(descText, 'latin1')]);
    const at = head.indexOf(desc);
    if (at <= 0) continue;
    for (let len = 1; len <= 63 && at - len - 1 - intSize >= 0; len++) {
      const start = at - len;
      if (!head.subarray(start - 1 - intSize, start).equals(int(len))) continue;
      let broken = false;
      for (let i = start; i < at; i++) {
        if (head[i] === 0x0a || head[i] === 0x0d) {
          head[i] = 0x20;
          broken = true;
        }
      }
      if (broken) changed.push([start, at]);
      break;
    }
  }
  return changed;
}
