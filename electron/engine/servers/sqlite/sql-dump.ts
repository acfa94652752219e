/**
 * A logical SQL text dump of one SQLite database, generated lazily (never whole in memory).
 *
 * Contract: the caller opens a read transaction before the first chunk is pulled, so all
 * of it is one consistent snapshot. Output loads back with `sqlite3 new.db < dump.sql`
 * (or libsql) into an equivalent database:
 *   PRAGMA encoding/page_size/auto_vacuum; BEGIN; tables (CREATE + INSERTs in rowid order, rowids
 *   of tables without a rowid-alias INTEGER PRIMARY KEY kept when a rowid name is free); virtual tables via
 *   writable_schema with their shadow tables' rows (as sqlite3 .dump does); sqlite_sequence
 *   and sqlite_stat1 last; then indexes, triggers and views in creation order (triggers
 *   after data, so they do not fire during the restore); user_version/application_id; COMMIT;
 *   journal_mode = WAL when the source is a WAL database.
 * Values are exact: integers as 64-bit, reals with round-trip precision (always with a
 * `.`/exponent so they stay REAL), blobs as X'…', text with control characters as
 * CAST(X'…' AS TEXT) so no statement spans lines because of data. A large blob's literal is
 * generated in pieces, so the dump holds at most the row as SQLite returned it, never its hex
 * text whole (a 64 MB blob once cost an 835 MB peak here; see docs/PERFORMANCE.md).
 */
import type Libsql from 'libsql';

type Database = Libsql.Database;

const CHUNK_CHARS = 64 * 1024;
/** Blobs longer than this are written as their X'…' literal in pieces of HEX_PIECE bytes (each yielded on its own). */
const LARGE_BLOB = 64 * 1024;
const HEX_PIECE = 32 * 1024;

export function quoteSqliteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function sqlValue(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NULL';
    if (!Number.isFinite(v)) return v > 0 ? '9e999' : '-9e999';
    if (Object.is(v, -0)) return '-0.0';
    const s = String(v);
    return /^-?\d+$/.test(s) ? `${s}.0` : s;
  }
  if (typeof v === 'string') {
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x1f]/.test(v)) return `CAST(X'${Buffer.from(v, 'utf8').toString('hex')}' AS TEXT)`;
    return `'${v.replace(/'/g, "''")}'`;
  }
  if (v instanceof ArrayBuffer) return `X'${Buffer.from(v).toString('hex')}'`;
  if (ArrayBuffer.isView(v)) return `X'${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}'`;
  return `'${String(v).replace(/'/g, "''")}'`;
}

interface TableEntry {
  name: string;
  sql: string;
}

interface ColumnInfo {
  name: string;
  type: string;
  pk: number;
  hidden: number;
}

/** The first column of the first row (libsql's pluck() does not apply to get()). */
export function scalar(db: Database, sql: string): unknown {
  const row = db.prepare(sql).raw(true).get() as unknown[] | undefined;
  return row?.[0];
}

function tableList(db: Database): Map<string, { type: string; wr: number }> {
  const map = new Map<string, { type: string; wr: number }>();
  for (const r of db.prepare(`PRAGMA main.table_list`).all() as { name: string; type: string; wr: number }[]) {
    map.set(r.name, { type: r.type, wr: Number(r.wr) });
  }
  return map;
}

/** The INSERT statements of one table, in rowid (or primary key) order. */
function* tableRows(db: Database, name: string, withoutRowid: boolean, target = name): Generator<string> {
  const cols = (db.prepare(`PRAGMA main.table_xinfo(${quoteSqliteIdent(name)})`).all() as ColumnInfo[]).filter((c) => Number(c.hidden) === 0);
  if (cols.length === 0) return;
  const names = cols.map((c) => c.name);
  const pks = cols.filter((c) => Number(c.pk) > 0);
  // An INTEGER PRIMARY KEY is the rowid itself — except `INTEGER PRIMARY KEY DESC`, an ordinary
  // key with its own index (origin 'pk'), beside which the rowid must be kept (an FTS5
  // external-content index or an application may point at it).
  const ipk = !withoutRowid && pks.length === 1 && pks[0]?.type.toUpperCase() === 'INTEGER' &&
    !(db.prepare(`PRAGMA main.index_list(${quoteSqliteIdent(name)})`).all() as { origin: string }[]).some((i) => i.origin === 'pk');
  const alias = withoutRowid ? undefined : ['rowid', '_rowid_', 'oid'].find((a) => !names.some((n) => n.toLowerCase() === a));
  const keepRowid = alias !== undefined && !ipk;
  // Text containing NUL comes back cut at the NUL through libsql: such values are selected
  // as blobs, flagged in per-row bit masks (one per 30 columns), and written back as text.
  const hasNul = (c: string): string => `(typeof(${c}) = 'text' AND instr(CAST(${c} AS BLOB), x'00') > 0)`;
  const quoted = names.map(quoteSqliteIdent);
  const values = quoted.map((c) => `CASE WHEN ${hasNul(c)} THEN CAST(${c} AS BLOB) ELSE ${c} END`);
  const masks: string[] = [];
  for (let i = 0; i < quoted.length; i += 30) {
    masks.push(quoted.slice(i, i + 30).map((c, j) => `(CASE WHEN ${hasNul(c)} THEN ${1 << j} ELSE 0 END)`).join(' | '));
  }
  const lead = keepRowid ? 1 : 0;
  const order = alias !== undefined ? ` ORDER BY ${alias}` : '';
  const head = `INSERT INTO ${quoteSqliteIdent(target)}(${[...(keepRowid ? [alias] : []), ...quoted].join(',')}) VALUES(`;
  const sql = `SELECT ${[...masks, ...(keepRowid ? [alias] : []), ...values].join(',')} FROM main.${quoteSqliteIdent(name)}${order}`;
  const stmt = db.prepare(sql).raw(true).safeIntegers(true);
  for (const row of stmt.iterate() as Iterable<unknown[]>) {
    let text = head;
    for (let i = masks.length; i < row.length; i++) {
      const col = i - masks.length - lead;
      const v = row[i];
      const mask = col >= 0 ? Number(row[Math.floor(col / 30)] ?? 0) : 0;
      const asText = col >= 0 && mask & (1 << col % 30);
      if (i > masks.length) text += ',';
      if (ArrayBuffer.isView(v) && v.byteLength > LARGE_BLOB) {
        // A large blob's X'…' literal in pieces: never its whole hex text in memory at once.
        yield `${text}${asText ? 'CAST(' : ''}X'`;
        const bytes = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
        for (let p = 0; p < bytes.length; p += HEX_PIECE) yield bytes.subarray(p, p + HEX_PIECE).toString('hex');
        text = asText ? "' AS TEXT)" : "'";
        continue;
      }
      text += asText && ArrayBuffer.isView(v) ? `CAST(${sqlValue(v)} AS TEXT)` : sqlValue(v);
    }
    yield `${text});\n`;
  }
}

/**
 * Collating sequences the database's indexes use that this SQLite does not know (an application's
 * own, as Android's LOCALIZED): a restore cannot build those indexes. Thrown in SQLite's words.
 */
export function checkCollations(db: Database): void {
  const known = new Set((db.prepare('PRAGMA collation_list').all() as { name: string }[]).map((c) => c.name.toLowerCase()));
  const used = db.prepare(`SELECT DISTINCT x.coll FROM main.sqlite_schema s, pragma_index_xinfo(s.name, 'main') x WHERE s.type = 'index' AND x.coll IS NOT NULL`).pluck().all() as string[];
  const missing = used.find((c) => !known.has(c.toLowerCase()));
  if (missing !== undefined) throw new Error(`no such collation sequence: ${missing}`);
}

function* statements(db: Database): Generator<string> {
  checkCollations(db);
  const encoding = String(scalar(db, 'PRAGMA encoding'));
  const autoVacuum = Number(scalar(db, 'PRAGMA auto_vacuum'));
  const pageSize = Number(scalar(db, 'PRAGMA page_size'));
  const wal = String(scalar(db, 'PRAGMA journal_mode')).toLowerCase() === 'wal';
  yield `PRAGMA encoding = '${encoding}';\nPRAGMA page_size = ${pageSize};\nPRAGMA auto_vacuum = ${autoVacuum};\nPRAGMA foreign_keys = OFF;\nBEGIN TRANSACTION;\n`;
  const tables = db.prepare(`SELECT name, sql FROM main.sqlite_schema WHERE type = 'table' AND sql NOT NULL ORDER BY rowid`).all() as TableEntry[];
  const info = tableList(db);
  let writableSchema = false;
  const deferred: TableEntry[] = [];
  for (const t of tables) {
    if (t.name === 'sqlite_sequence' || t.name === 'sqlite_stat1') {
      deferred.push(t);
      continue;
    }
    if (t.name.startsWith('sqlite_')) continue;
    if (/^\s*CREATE\s+VIRTUAL\s+TABLE/i.test(t.sql)) {
      if (!writableSchema) {
        writableSchema = true;
        yield 'PRAGMA writable_schema = ON;\n';
      }
      yield `INSERT INTO sqlite_schema(type,name,tbl_name,rootpage,sql) VALUES('table',${sqlValue(t.name)},${sqlValue(t.name)},0,${sqlValue(t.sql)});\n`;
      continue;
    }
    yield `${t.sql};\n`;
    yield* tableRows(db, t.name, info.get(t.name)?.wr === 1);
  }
  for (const t of deferred) {
    if (t.name === 'sqlite_sequence') yield 'DELETE FROM sqlite_sequence;\n';
    else yield 'ANALYZE sqlite_schema;\nDELETE FROM sqlite_stat1;\n';
    yield* tableRows(db, t.name, false);
  }
  if (writableSchema) yield 'PRAGMA writable_schema = OFF;\n';
  const others = db.prepare(`SELECT sql FROM main.sqlite_schema WHERE type IN ('index', 'trigger', 'view') AND sql NOT NULL ORDER BY rowid`).pluck().all() as string[];
  for (const sql of others) yield `${sql};\n`;
  const userVersion = Number(scalar(db, 'PRAGMA user_version'));
  const applicationId = Number(scalar(db, 'PRAGMA application_id'));
  if (userVersion !== 0) yield `PRAGMA user_version = ${userVersion};\n`;
  if (applicationId !== 0) yield `PRAGMA application_id = ${applicationId};\n`;
  yield 'COMMIT;\n';
  // WAL is a property of the file (the other journal modes belong to each connection).
  if (wal) yield 'PRAGMA journal_mode = WAL;\n';
}

/** The dump as text chunks of about 64 KiB. */
export function* sqliteSqlDump(db: Database): Generator<string> {
  let pending = '';
  for (const s of statements(db)) {
    pending += s;
    if (pending.length >= CHUNK_CHARS) {
      yield pending;
      pending = '';
    }
  }
  if (pending) yield pending;
}
