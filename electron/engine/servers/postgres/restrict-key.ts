/**
 * The bytes of a PostgreSQL plain-text script (`pg_dumpall --globals-only`) that the tool
 * varies on every run: the key of its `\restrict` / `\unrestrict` lines (PostgreSQL 13.22,
 * 14.19, 15.14, 16.10, 17.6 and later print them; the key is random per run). Two dumps of
 * unchanged roles and tablespaces differ only there, so an incremental whose `globals.sql`
 * equals the newest point's apart from the key stores nothing (repository/writer.ts,
 * `volatile`).
 *
 * Contract: `pgRestrictKeyVolatile(head)` returns
 * - `[]` when the script has no `\restrict` line before its first statement (an older tool:
 *   byte-identical whenever the content is);
 * - the two ranges [start, end) of the key in the `\restrict KEY` line (the first line that
 *   is not a `--` comment or blank) and in the `\unrestrict KEY` line with the same key;
 * - null whenever anything is not exactly so: a key that is not 1–256 ASCII letters/digits,
 *   or no `\unrestrict` line with that key in `head` (a script longer than its first chunk).
 * Null means "no bytes may be ignored", so the stream counts as changed (a false "changed"
 * costs one point; a false "unchanged" would lose a change). Only the tool's own line at
 * the top is trusted to hold the key: a role's comment cannot put a line there, and it
 * cannot know the random key to fake the closing line.
 */
import type { VolatileBytes } from '../../repository/types.ts';

const KEY = /^[A-Za-z0-9]{1,256}$/;

export const pgRestrictKeyVolatile: VolatileBytes = (head) => {
  const text = Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('latin1');
  let at = 0;
  // The header: blank lines and `--` comments only, then the first real line.
  for (;;) {
    const nl = text.indexOf('\n', at);
    if (nl < 0) return null;
    const line = text.slice(at, nl);
    if (line.trim() === '' || line.startsWith('--')) {
      at = nl + 1;
      continue;
    }
    if (!line.startsWith('\\restrict ')) return [];
    const key = line.slice('\\restrict '.length).replace(/\r$/, '');
    if (!KEY.test(key)) return null;
    const start = at + '\\restrict '.length;
    const closing = `\n\\unrestrict ${key}\n`;
    const end = text.indexOf(closing, nl);
    if (end < 0) return null;
    const second = end + closing.length - 1 - key.length;
    return [
      [start, start + key.length],
      [second, second + key.length],
    ];
  }
};
