/**
 * Row counts per table, and the number of large objects, from a PostgreSQL custom-format
 * archive (`pg_dump -Fc -Z0`) as it streams by: the header and table of contents name each data entry (schema + table),
 * and each TABLE DATA block is COPY text — one line per row, ended by `\.` and two empty
 * lines (pg_dump's dumpTableData_copy). Nothing is buffered beyond one TOC entry.
 *
 * Layout read (pg_backup_archiver.c / pg_backup_custom.c, archive versions 1.12–1.16):
 *   "PGDMP" vmaj vmin vrev intSize offSize format; compression (int, or a byte from 1.15);
 *   7 ints (time); dbname, server version, pg_dump version (strings); TOC count (int);
 *   per entry: dumpId, hadDumper, tableoid, oid, tag, desc, section, defn, dropStmt,
 *   copyStmt, namespace, tablespace, tableam, [relkind int from 1.16], owner, withOids,
 *   deps (strings until a null string), data offset (flag byte + offSize bytes);
 *   then blocks: type byte (1 data, 3 blobs), dumpId, chunks (int length + bytes, 0 ends);
 *   a blobs block is (oid, chunks…)… ended by oid 0.
 * An int is a sign byte + intSize little-endian bytes; a string is an int length (-1 =
 * null) + bytes. A compressed archive (Backstop dumps with -Z0) or anything unexpected
 * makes the facts unavailable; the stream itself is never affected.
 * Cost: it runs on the writer's thread for every byte of every dump, and -Z0 writes one data
 * chunk per row, so whole rows are counted in place — no copy, string or object per row.
 */
import type { FactCounter, FactsOutcome } from './dump-facts.ts';

const BLK_DATA = 1;
const BLK_BLOBS = 3;
const TERMINATOR = '\\.\n\n\n';
const TERMINATOR_BYTES = Buffer.from(TERMINATOR, 'latin1');

class NeedMore extends Error {}
class Unsupported extends Error {}

/** A cursor over buffered bytes; throws NeedMore when they run out (the caller retries with more). */
class Cursor {
  pos = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly intSize: number,
  ) {}
  byte(): number {
    if (this.pos >= this.buf.length) throw new NeedMore();
    return this.buf[this.pos++]!;
  }
  bytes(n: number): Buffer {
    if (this.pos + n > this.buf.length) throw new NeedMore();
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  int(): number {
    const sign = this.byte();
    const b = this.bytes(this.intSize);
    let v = 0;
    for (let i = this.intSize - 1; i >= 0; i--) v = v * 256 + b[i]!;
    return sign ? -v : v;
  }
  str(): string | null {
    const n = this.int();
    if (n < 0) return null;
    return this.bytes(n).toString('utf8');
  }
}

/** The archive's int at `pos` (a sign byte, then `size` little-endian bytes), the caller having checked they are there. */
function intAt(buf: Uint8Array, pos: number, size: number): number {
  let v = 0;
  for (let k = size; k >= 1; k--) v = v * 256 + buf[pos + k]!;
  return buf[pos] ? -v : v;
}

interface DataEntry {
  table: string;
}

type State =
  | { kind: 'header' }
  | { kind: 'toc'; remaining: number }
  | { kind: 'blockType' }
  | { kind: 'dumpId'; blobs: boolean }
  | { kind: 'chunkLen'; blobs: boolean }
  | { kind: 'chunkData'; remaining: number; blobs: boolean }
  | { kind: 'blobOid' }
  | { kind: 'failed'; reason: string };

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** A qualified, always-quoted PostgreSQL table name: "schema"."table". */
export function pgTableKey(schema: string, table: string): string {
  return `${quote(schema)}.${quote(table)}`;
}

export class PgCustomArchiveFacts implements FactCounter {
  private state: State = { kind: 'header' };
  private pending: Buffer = Buffer.alloc(0);
  private intSize = 4;
  private offSize = 8;
  private minor = 0;
  private readonly entries = new Map<number, DataEntry>();
  private readonly tables: Record<string, number> = {};
  private largeObjects = 0;
  private current: { entry: DataEntry | null; newlines: number; tail: Uint8Array; tailLen: number } | null = null;

  observe(chunk: Uint8Array): void {
    if (this.state.kind === 'failed') return;
    try {
      this.feed(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } catch (e) {
      this.state = { kind: 'failed', reason: e instanceof Unsupported ? e.message : `the archive could not be read (${(e as Error).message})` };
    }
  }

  result(): FactsOutcome {
    if (this.state.kind === 'failed') return { unavailable: this.state.reason };
    if (this.state.kind !== 'blockType' || this.pending.length > 0) return { unavailable: 'the archive ended in the middle of an entry' };
    return { facts: { method: 'pg-custom-stream', tables: { ...this.tables }, largeObjects: this.largeObjects } };
  }

  private feed(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      const s = this.state;
      if (s.kind === 'chunkData') {
        const n = Math.min(s.remaining, chunk.length - i);
        this.countData(chunk, i, i + n, s.blobs);
        i += n;
        s.remaining -= n;
        if (s.remaining === 0) this.state = { kind: 'chunkLen', blobs: s.blobs };
        continue;
      }
      if (s.kind === 'failed') return;
      // Fast path: a chunk length wholly in this buffer with nothing pending is read in place.
      // pg_dump -Z0 writes one chunk per COPY row, so this runs once per row of the database.
      if (s.kind === 'chunkLen' && this.pending.length === 0 && i + 1 + this.intSize <= chunk.length) {
        if (!s.blobs) i = this.wholeRows(chunk, i);
        if (i + 1 + this.intSize > chunk.length) continue;
        this.chunkLength(intAt(chunk, i, this.intSize), s.blobs);
        i += 1 + this.intSize;
        continue;
      }
      // Structured parts: accumulate (copied, never kept views of the input) and parse what is complete.
      const take = s.kind === 'header' || s.kind === 'toc' ? chunk.length - i : Math.min(chunk.length - i, this.smallNeed() - this.pending.length);
      this.pending = Buffer.concat([this.pending, chunk.subarray(i, i + take)]);
      i += take;
      this.parsePending();
    }
  }

  private smallNeed(): number {
    return this.state.kind === 'blockType' ? 1 : 1 + this.intSize;
  }

  /** Parses every complete structured item in `pending`; keeps the incomplete rest. */
  private parsePending(): void {
    for (;;) {
      const s = this.state;
      if (s.kind === 'chunkData') {
        if (this.pending.length === 0) return;
        const n = Math.min(s.remaining, this.pending.length);
        this.countData(this.pending, 0, n, s.blobs);
        this.pending = this.pending.subarray(n);
        s.remaining -= n;
        if (s.remaining === 0) this.state = { kind: 'chunkLen', blobs: s.blobs };
        continue;
      }
      const c = new Cursor(this.pending, this.intSize);
      try {
        if (s.kind === 'header') this.state = { kind: 'toc', remaining: this.header(c) };
        else if (s.kind === 'toc') {
          if (s.remaining === 0) {
            this.state = { kind: 'blockType' };
            continue;
          }
          this.tocEntry(c);
          s.remaining--;
        } else if (s.kind === 'blockType') {
          const t = c.byte();
          if (t !== BLK_DATA && t !== BLK_BLOBS) throw new Unsupported(`the archive has a data block of unknown type ${t}`);
          this.state = { kind: 'dumpId', blobs: t === BLK_BLOBS };
        } else if (s.kind === 'dumpId') {
          const id = c.int();
          if (s.blobs) this.state = { kind: 'blobOid' };
          else {
            this.current = { entry: this.entries.get(id) ?? null, newlines: 0, tail: new Uint8Array(TERMINATOR.length), tailLen: 0 };
            this.state = { kind: 'chunkLen', blobs: false };
          }
        } else if (s.kind === 'chunkLen') {
          this.chunkLength(c.int(), s.blobs);
        } else if (s.kind === 'blobOid') {
          if (c.int() === 0) this.state = { kind: 'blockType' };
          else {
            this.largeObjects++;
            this.state = { kind: 'chunkLen', blobs: true };
          }
        } else return;
      } catch (e) {
        if (e instanceof NeedMore) return;
        throw e;
      }
      this.pending = this.pending.subarray(c.pos);
      if (this.pending.length === 0 && this.state.kind !== 'toc') return;
    }
  }

  /** Counts the table-data chunks (rows) lying whole in `chunk` from `i`, with no state change; returns where the first other one starts. */
  private wholeRows(chunk: Buffer, i: number): number {
    const head = 1 + this.intSize;
    while (i + head <= chunk.length) {
      const n = intAt(chunk, i, this.intSize);
      if (n <= 0 || i + head + n > chunk.length) break;
      this.countData(chunk, i + head, i + head + n, false);
      i += head + n;
    }
    return i;
  }

  /** After a data chunk's length: its bytes follow, or 0 ends the table's data (or one large object). */
  private chunkLength(n: number, blobs: boolean): void {
    if (n < 0) throw new Unsupported('the archive has a negative chunk length');
    if (n > 0) this.state = { kind: 'chunkData', remaining: n, blobs };
    else if (blobs) this.state = { kind: 'blobOid' };
    else {
      this.endTableData();
      this.state = { kind: 'blockType' };
    }
  }

  /** Reads the archive header; returns the TOC entry count. */
  private header(c: Cursor): number {
    if (c.bytes(5).toString('latin1') !== 'PGDMP') throw new Unsupported('the dump is not a PostgreSQL custom-format archive');
    const major = c.byte();
    this.minor = c.byte();
    c.byte();
    if (major !== 1 || this.minor < 12 || this.minor > 16) throw new Unsupported(`archive version ${major}.${this.minor} is not one Backstop counts rows in (1.12 to 1.16)`);
    this.intSize = c.byte();
    this.offSize = c.byte();
    if (this.intSize < 1 || this.intSize > 8 || this.offSize < 1 || this.offSize > 16) throw new Unsupported('the archive header is malformed');
    const cursor = new Cursor(this.pending, this.intSize);
    cursor.pos = c.pos;
    if (cursor.byte() !== 1) throw new Unsupported('the archive is not in custom format');
    const compressed = this.minor >= 15 ? cursor.byte() !== 0 : cursor.int() !== 0;
    if (compressed) throw new Unsupported('the archive is compressed, so its rows are not counted (Backstop dumps with -Z0)');
    for (let k = 0; k < 7; k++) cursor.int();
    cursor.str();
    cursor.str();
    cursor.str();
    const count = cursor.int();
    c.pos = cursor.pos;
    return count;
  }

  private tocEntry(c: Cursor): void {
    const dumpId = c.int();
    const hadDumper = c.int();
    c.str(); // tableoid
    c.str(); // oid
    const tag = c.str();
    const desc = c.str();
    c.int(); // section
    c.str(); // defn
    c.str(); // dropStmt
    c.str(); // copyStmt
    const namespace = c.str();
    c.str(); // tablespace
    if (this.minor >= 14) c.str(); // tableam
    if (this.minor >= 16) c.int(); // relkind
    c.str(); // owner
    c.str(); // withOids
    while (c.str() !== null);
    c.byte();
    c.bytes(this.offSize);
    if (hadDumper && desc === 'TABLE DATA' && tag !== null && namespace !== null) this.entries.set(dumpId, { table: pgTableKey(namespace, tag) });
  }

  private countData(chunk: Buffer, from: number, to: number, blobs: boolean): void {
    const cur = this.current;
    if (blobs || !cur) return;
    for (let p = chunk.indexOf(10, from); p !== -1 && p < to; p = p + 1 < to ? chunk.indexOf(10, p + 1) : -1) cur.newlines++;
    // Keep the last TERMINATOR.length bytes seen (byte copies: this runs once per row).
    const t = cur.tail;
    const n = to - from;
    if (n >= t.length) {
      for (let k = 0; k < t.length; k++) t[k] = chunk[to - t.length + k]!;
      cur.tailLen = t.length;
    } else {
      const keep = Math.min(cur.tailLen, t.length - n);
      t.copyWithin(0, cur.tailLen - keep, cur.tailLen);
      for (let k = 0; k < n; k++) t[keep + k] = chunk[from + k]!;
      cur.tailLen = keep + n;
    }
  }

  private endTableData(): void {
    const cur = this.current;
    this.current = null;
    if (!cur?.entry) return;
    if (cur.tailLen !== TERMINATOR_BYTES.length || !TERMINATOR_BYTES.every((b, k) => cur.tail[k] === b)) throw new Unsupported(`the data of table ${cur.entry.table} is not COPY text ending in "\\."`);
    this.tables[cur.entry.table] = cur.newlines - 3;
  }
}
