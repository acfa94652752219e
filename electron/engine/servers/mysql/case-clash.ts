/**
 * A restore onto a MySQL/MariaDB server with lower_case_table_names 1 or 2 (table names
 * compared without case) of a dump from a server with 0, where two tables' names differ
 * only in case (`Orders` and `orders`): mariadb-dump writes `DROP TABLE IF EXISTS` before
 * each `CREATE TABLE`, so on such a target the second table's DROP silently removes the
 * first one, data and all.
 *
 * Contract: `CaseClashGuard` passes the dump through unchanged (the same buffers) and looks
 * at every line that starts with `CREATE TABLE \`name\`` or `DROP TABLE IF EXISTS \`name\``;
 * the first one whose name equals an earlier one's except for case fails the stream (a
 * RESTORE_FAILED naming both tables and the fix) before the chunk holding it is passed on,
 * so the client never runs it. Lines are found with native buffer searches: a line cut
 * between two chunks is found in the next (the end of each chunk is kept for that).
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { BackstopError } from '../../../shared/result.ts';

const PREFIXES = ['\nCREATE TABLE `', '\nDROP TABLE IF EXISTS `'].map((p) => Buffer.from(p, 'utf8'));
/** Bytes of a chunk kept to find a line cut at its end: the longest prefix and a name of 64 characters, `` escaped, 4 bytes each. */
const KEEP = 24 + 2 * 64 * 4 + 1;

export class CaseClashGuard extends Transform {
  private tail: Buffer = Buffer.from('\n');
  private readonly names = new Map<string, string>();

  /** `refuse(first, second)`: the error for two tables whose names differ only in case. */
  constructor(private readonly refuse: (first: string, second: string) => BackstopError) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const text = this.tail.length ? Buffer.concat([this.tail, chunk]) : chunk;
    for (const prefix of PREFIXES) {
      for (let at = text.indexOf(prefix); at >= 0; at = text.indexOf(prefix, at + 1)) {
        const name = nameAt(text, at + prefix.length);
        if (name === null) continue; // cut at the chunk's end: found again in the next one
        const key = name.toLowerCase();
        const seen = this.names.get(key);
        if (seen === undefined) this.names.set(key, name);
        else if (seen !== name) return cb(this.refuse(seen, name));
      }
    }
    this.tail = Buffer.from(text.subarray(Math.max(0, text.length - KEEP)));
    cb(null, chunk);
  }
}

/** The backquoted name that starts at `from` (after its opening backquote), or null when it does not end in `text`. */
function nameAt(text: Buffer, from: number): string | null {
  let p = from;
  for (;;) {
    const q = text.indexOf(0x60, p);
    if (q < 0) return null;
    if (text[q + 1] === 0x60) {
      p = q + 2;
      continue;
    }
    if (q + 1 >= text.length) return null; // a `` cut in two is not known yet
    return text.subarray(from, q).toString('utf8').replace(/``/g, '`');
  }
}
