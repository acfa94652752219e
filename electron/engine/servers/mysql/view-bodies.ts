/**
 * The source database's name inside the view statements of a mysqldump/mariadb-dump dump,
 * taken out so the views of a database restored under a new name read the new database.
 *
 * Why it is there: the dump takes a view's body from SHOW CREATE, and the server leaves the
 * database out of a name there only for names it resolved as the view's own database
 * (Item_ident::print skips it only through a resolved table whose view is in "compact"
 * format). It prints the stored, fully qualified form — `` `shop`.`items`.`name` `` — when it
 * could not resolve the view (its DEFINER account was dropped: error 1449 on opening it), and
 * `` `shop`.`items` `` for every table of a view that also reads another database. Restored
 * under a new name, the first fails (error 1054) and the second silently reads the source
 * database, when the server still has it.
 *
 * Contract: `unqualifyView(line, source)` takes one complete dump line that starts with
 * `/*!50001 VIEW ` (the view's body as mariadb-dump writes it, in its session's sql_mode '':
 * identifiers in backquotes with doubled backquotes, strings with backslash escapes) and the
 * source database's name; it returns the line with `` `source`. `` removed where that name is
 * provably the database qualifying a name, or null when nothing changes. Token-aware, on
 * bytes (string literals, including `_binary` ones, are never touched; bytes ≥ 0x80 never
 * look like quotes):
 * - `` `source`.`t`.`c` `` (three parts: database, table, column) → `` `t`.`c` ``;
 * - `` `source`.`x` `` (two parts: a table, view or function of that database) → `` `x` ``,
 *   but only when `source` is nowhere else in the body used as a name that a two-part name
 *   could start with (a table or table alias named like the database, as in
 *   `` from `items` `shop` `` or a table `` `shop` ``): then `` `shop`.`id` `` may be a
 *   column of that table, and every two-part name is left as it was. The view's own name, column aliases
 *   (`` AS `shop` ``) and columns (the last of three parts) named like it do not count.
 * Names qualified with another database stay as they are.
 */

export const VIEW_PREFIX = Buffer.from('/*!50001 VIEW ');

const BACKQUOTE = 0x60;
const DOT = 0x2e;

type Token = { kind: 'id'; start: number; end: number; name: Buffer } | { kind: 'dot' | 'other'; start: number; end: number; word: string };

/** The tokens of `line` from `from` on: backquoted identifiers (unescaped), dots, and everything else (words, punctuation, string literals). */
function tokens(line: Buffer, from: number): Token[] {
  const out: Token[] = [];
  let p = from;
  while (p < line.length) {
    const b = line[p]!;
    if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) {
      p++;
    } else if (b === BACKQUOTE) {
      const parts: Buffer[] = [];
      let q = p + 1;
      let s = q;
      for (;;) {
        const e = line.indexOf(BACKQUOTE, q);
        if (e < 0) return out.concat({ kind: 'other', start: p, end: line.length, word: '' }); // unterminated: nothing after it is a name
        parts.push(line.subarray(s, e));
        if (line[e + 1] === BACKQUOTE) {
          parts.push(line.subarray(e, e + 1));
          q = s = e + 2;
          continue;
        }
        q = e + 1;
        break;
      }
      out.push({ kind: 'id', start: p, end: q, name: Buffer.concat(parts) });
      p = q;
    } else if (b === 0x27 || b === 0x22) {
      // A string literal: backslash escapes, or the quote doubled.
      let q = p + 1;
      while (q < line.length) {
        const c = line[q]!;
        if (c === 0x5c) q += 2;
        else if (c === b && line[q + 1] === b) q += 2;
        else if (c === b) break;
        else q++;
      }
      out.push({ kind: 'other', start: p, end: Math.min(q + 1, line.length), word: '' });
      p = q + 1;
    } else if (b === DOT) {
      out.push({ kind: 'dot', start: p, end: p + 1, word: '.' });
      p++;
    } else if ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f || b === 0x24 || b >= 0x80) {
      let q = p + 1;
      while (q < line.length) {
        const c = line[q]!;
        if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x24 || c >= 0x80) q++;
        else break;
      }
      out.push({ kind: 'other', start: p, end: q, word: line.subarray(p, q).toString('latin1').toUpperCase() });
      p = q;
    } else {
      out.push({ kind: 'other', start: p, end: p + 1, word: String.fromCharCode(b) });
      p++;
    }
  }
  return out;
}

/** A dotted name: the indexes (in the token list) of its identifiers. */
function chains(list: Token[]): number[][] {
  const out: number[][] = [];
  let i = 0;
  while (i < list.length) {
    if (list[i]!.kind !== 'id') {
      i++;
      continue;
    }
    const chain = [i];
    while (list[i + 1]?.kind === 'dot' && list[i + 2]?.kind === 'id') {
      i += 2;
      chain.push(i);
    }
    out.push(chain);
    i++;
  }
  return out;
}

export function unqualifyView(line: Buffer, source: string): Buffer | null {
  if (!line.subarray(0, VIEW_PREFIX.length).equals(VIEW_PREFIX) || source === '') return null;
  const name = Buffer.from(source, 'utf8');
  const list = tokens(line, VIEW_PREFIX.length);
  const all = chains(list);
  const isSource = (i: number): boolean => (list[i] as { name: Buffer }).name.equals(name);
  // Is `source` used as a name a two-part name could start with (a table or a table alias)?
  let usedAsTable = false;
  for (const chain of all) {
    if (chain[0] === 0) continue; // the view's own name
    chain.forEach((t, k) => {
      if (!isSource(t)) return;
      if (k === 0 && chain.length >= 2) return; // a qualifier: what is decided below
      if (chain.length === 1 && list[t - 1]?.kind === 'other' && (list[t - 1] as { word: string }).word === 'AS') return; // a column alias
      if (chain.length === 3 && k === 2) return; // a column
      usedAsTable = true;
    });
  }
  const cuts: [number, number][] = [];
  for (const chain of all) {
    if (chain[0] === undefined || !isSource(chain[0])) continue;
    if (chain.length === 3 || (chain.length === 2 && !usedAsTable)) cuts.push([list[chain[0]]!.start, list[chain[1]!]!.start]);
  }
  if (cuts.length === 0) return null;
  const parts: Buffer[] = [];
  let at = 0;
  for (const [from, to] of cuts) {
    parts.push(line.subarray(at, from));
    at = to;
  }
  parts.push(line.subarray(at));
  return Buffer.concat(parts);
}
