/**
 * What a restore onto another MySQL/MariaDB server must know of the dump, to say what that
 * server changed or refused:
 * - a table whose storage engine the target lacks (a plugin loaded on the source only, e.g.
 *   ARCHIVE from ha_archive): mariadb-dump's session sets sql_mode='NO_AUTO_VALUE_ON_ZERO',
 *   which allows engine substitution, so the server silently creates it with its default
 *   engine (InnoDB). The rows are all there, but the engine is not the source's:
 *   `engineNote` names each such table, its engine and the fix (INSTALL SONAME, ALTER TABLE).
 * - a target with innodb_force_primary_key=ON refuses (error 1173) the first table without a
 *   primary key: `forcePrimaryKeyError` names the setting, the tables and the fix.
 * - the dump's longest line in bytes: mariadb-dump writes each statement on one line and the
 *   client sends it as one packet, so that is what the target's max_allowed_packet must hold
 *   (restore-checks.ts `packetTooLargeError` words that failure).
 *
 * Contract: `DumpTables` is the one pass that reads the dump's lines for all three (the bytes
 * the client receives, after database-options.ts's rewrite); a backup reads the dump it takes
 * with it too (`scan`), for the tables' engines (non-transactional.ts's warning). It passes the dump through
 * unchanged (the same buffers) and reads only the start of each line (at most 4 KB of it, so
 * an 18 MB INSERT line is never held), and decodes only a line starting with `C` or one
 * inside a table: a `CREATE TABLE \`name\` (` line opens a table, a `  PRIMARY KEY (` line
 * inside marks its key, the `) ENGINE=X` line closes it. Views' placeholders
 * (`/*!50001 CREATE …`) and sequences are not tables here. `longest` counts every line's
 * bytes (without its \n), the one still being read included, so it is right even when the
 * restore stops inside a long line.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { BackstopError } from '../../../shared/result.ts';

export interface DumpTable {
  name: string;
  engine: string | null;
  primaryKey: boolean;
}

const HEAD = 4096;
const CREATE = /^CREATE TABLE `((?:[^`]|``)+)` \($/;
const ENGINE = /^\) ENGINE=(\w+)/;

export class DumpTables extends Transform {
  readonly tables: DumpTable[] = [];
  /** The start of the current line (its first HEAD bytes; none for a line not looked at) and its length so far. */
  private line: Buffer[] = [];
  private lineBytes = 0;
  /** Whether the current line is looked at: only a CREATE TABLE line, or a line inside an open table, is (INSERTs above all are not). */
  private looked = false;
  private longestEnded = 0;
  private open: DumpTable | null = null;

  /** The longest line so far in bytes, the one being read included. */
  get longest(): number {
    return Math.max(this.longestEnded, this.lineBytes);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.scan(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.endLine();
    cb();
  }

  /** Reads one buffer of the dump (keeps at most a line's first HEAD bytes of it): the Transform's step, and a dump's own reader's (connector.ts openDump). */
  scan(chunk: Buffer): void {
    for (let p = 0; p < chunk.length; ) {
      const nl = chunk.indexOf(0x0a, p);
      const end = nl < 0 ? chunk.length : nl;
      if (this.lineBytes === 0 && end > p) this.looked = this.open !== null || chunk[p] === 0x43; /* C */
      if (this.looked && this.lineBytes < HEAD) this.line.push(chunk.subarray(p, Math.min(end, p + HEAD - this.lineBytes)));
      this.lineBytes += end - p;
      if (nl < 0) break;
      this.endLine();
      p = nl + 1;
    }
  }

  private endLine(): void {
    this.longestEnded = Math.max(this.longestEnded, this.lineBytes);
    this.lineBytes = 0;
    this.looked = false;
    if (this.line.length === 0) return;
    const line = this.line;
    this.line = [];
    const text = Buffer.concat(line).toString('utf8').replace(/\r$/, '');
    const created = CREATE.exec(text);
    if (created) {
      this.open = { name: created[1]!.replace(/``/g, '`'), engine: null, primaryKey: false };
      return;
    }
    if (!this.open) return;
    if (text.startsWith('  PRIMARY KEY (')) this.open.primaryKey = true;
    else if (text.startsWith(')')) {
      this.open.engine = ENGINE.exec(text)?.[1] ?? null;
      this.tables.push(this.open);
      this.open = null;
    }
  }
}

const quoted = (name: string) => `\`${name.replace(/`/g, '``')}\``;
const listed = (names: string[]) => (names.length > 10 ? `${names.slice(0, 10).join(', ')} and ${names.length - 10} more` : names.join(', '));

/** The plugin libraries of MariaDB's loadable engines (INSTALL SONAME '…'). */
const SONAMES: Record<string, string> = {
  ARCHIVE: 'ha_archive',
  BLACKHOLE: 'ha_blackhole',
  FEDERATED: 'ha_federatedx',
  SPHINX: 'ha_sphinx',
  CONNECT: 'ha_connect',
  ROCKSDB: 'ha_rocksdb',
  SPIDER: 'ha_spider',
  S3: 'ha_s3',
  MROONGA: 'ha_mroonga',
  OQGRAPH: 'ha_oqgraph',
  TOKUDB: 'ha_tokudb',
};

/**
 * The note for tables the server created with another engine than the dump's (`restored`:
 * table name → engine as the server reports it), or null when every engine was kept.
 */
export function engineNote(database: string, tables: DumpTable[], restored: Map<string, string>): string | null {
  const changed = tables.filter((t) => t.engine && restored.has(t.name) && restored.get(t.name)!.toUpperCase() !== t.engine.toUpperCase());
  if (changed.length === 0) return null;
  const into = [...new Set(changed.map((t) => restored.get(t.name)!))].join(' or ');
  const engines = [...new Set(changed.map((t) => t.engine!.toUpperCase()))];
  const install = engines.map((e) => `INSTALL SONAME '${SONAMES[e] ?? `<the plugin of ${e}>`}';`).join(' ');
  const first = changed[0]!;
  return (
    `Tables of "${database}" use storage engines this server does not have, so it made them ${into} tables (their rows are all there): ${listed(changed.map((t) => `${quoted(t.name)} (${t.engine})`))}. ` +
    `To keep the original engine, load it on this server (${install}) and convert the tables back (ALTER TABLE ${quoted(first.name)} ENGINE=${first.engine};${changed.length > 1 ? ' and likewise for the others' : ''}).`
  );
}

const NO_PRIMARY_KEY = /ERROR 1173 \(42000\)/;

/** The error for a restore a server with innodb_force_primary_key=ON stopped (error 1173), or null for any other failure. */
export function forcePrimaryKeyError(server: string, database: string, tables: DumpTable[], failure: unknown): BackstopError | null {
  if (!(failure instanceof BackstopError) || failure.code === 'CANCELED' || !NO_PRIMARY_KEY.test(failure.message)) return null;
  const keyless = tables.filter((t) => !t.primaryKey).map((t) => quoted(t.name));
  const which = keyless.length === 0 ? 'a table without a primary key' : `${keyless.length === 1 ? 'a table' : 'tables'} without a primary key (${listed(keyless)})`;
  return new BackstopError(
    'RESTORE_FAILED',
    `Database "${database}" cannot be restored on the ${server}: it has innodb_force_primary_key=ON, and the backup has ${which}, which that server refuses to create. The new database was removed. ` +
      `Fix: on that server run SET GLOBAL innodb_force_primary_key = OFF; for the restore (and ON again after it), then restore again; or give the tables a primary key on the source and take a new backup.`,
    { cause: failure },
  );
}
