/**
 * Facts a restore must reproduce, recorded per restore point at backup time (issue #22):
 * which tables the dump holds and how many rows each has (and, on PostgreSQL, how many large
 * objects), counted while the dump streams
 * by (PostgreSQL custom archives, MariaDB SQL text) or queried inside the dump's own
 * snapshot (SQLite). They are stored in the point's manifest `meta.facts` (sealed like the
 * rest of the manifest) and read back by test restores (test-restore.ts): as a JSON object
 * `tables` while that is small (every Backstop reads it), as `tablesZstd` (base64 of the
 * zstd-compressed JSON) for databases of thousands of tables, so a manifest — and each one a
 * listing keeps in memory — carries one compact string instead of an object per table.
 *
 * Contract: counting never fails a backup. A counter that meets something it does not
 * understand reports `unavailable` with the reason, and a test restore then checks what it
 * can without them. Table names are qualified the way the engine names them:
 * "schema.table" on PostgreSQL, the bare table name on MariaDB and SQLite.
 */
import { Compressor, Decompressor } from 'zstd-napi';
import type { JsonObject } from '../repository/types.ts';

export interface DumpFacts {
  /** How the counts were made, e.g. "pg-custom-stream", "mysql-sql-stream", "sqlite-snapshot". */
  method: string;
  /** Row count per table. */
  tables: Record<string, number>;
  /** PostgreSQL: the large objects the archive holds (absent where the engine has none). */
  largeObjects?: number;
  /**
   * MariaDB/MySQL SQL dumps: the longest statement (line) in bytes — what the target's
   * max_allowed_packet must hold; a restore checks it before creating anything. Absent in
   * points made before Backstop recorded it (their restore finds out while loading).
   */
  longestLine?: number;
}

export type FactsOutcome = { facts: DumpFacts } | { unavailable: string };

/** Watches a dump stream (each buffer in order, before anyone else may take it) and says what it held. */
export interface FactCounter {
  observe(chunk: Uint8Array): void;
  /** After the stream ended. */
  result(): FactsOutcome;
}

/** The key in a manifest's meta. */
export const FACTS_META_KEY = 'facts';

/** Row counts up to this size (JSON) are stored as a plain object; larger ones compressed. */
export const PLAIN_FACTS_BYTES = 48 * 1024;
/** Compressed row counts (base64) larger than this are left out (~200,000 tables; MAX_META_BYTES bounds the meta). */
export const MAX_FACTS_BYTES = 2 * 1024 * 1024;
const FACTS_ZSTD_LEVEL = 9;

/** The manifest meta entry for an outcome. */
export function factsMeta(outcome: FactsOutcome): JsonObject {
  if ('unavailable' in outcome) return { [FACTS_META_KEY]: { unavailable: outcome.unavailable } };
  const { method, tables, largeObjects, longestLine } = outcome.facts;
  const lo: JsonObject = { ...(largeObjects === undefined ? {} : { largeObjects }), ...(longestLine === undefined ? {} : { longestLine }) };
  const json = Buffer.from(JSON.stringify(tables), 'utf8');
  if (json.length <= PLAIN_FACTS_BYTES) return { [FACTS_META_KEY]: { method, tables, ...lo } };
  const c = new Compressor();
  c.setParameters({ compressionLevel: FACTS_ZSTD_LEVEL });
  const packed = c.compress(json).toString('base64');
  if (packed.length > MAX_FACTS_BYTES) {
    return { [FACTS_META_KEY]: { unavailable: `the row counts of ${Object.keys(tables).length} tables (${packed.length} bytes compressed) are too large to record` } };
  }
  return { [FACTS_META_KEY]: { method, tablesZstd: packed, ...lo } };
}

const MALFORMED: FactsOutcome = { unavailable: 'the recorded facts are malformed' };

/** The facts a point recorded, or why there are none. */
export function factsOf(meta: Record<string, unknown>): FactsOutcome {
  const f = meta[FACTS_META_KEY];
  if (f === undefined) return { unavailable: 'the restore point was made before Backstop recorded facts at backup time' };
  if (typeof f !== 'object' || f === null) return MALFORMED;
  const o = f as Record<string, unknown>;
  if (typeof o.unavailable === 'string') return { unavailable: o.unavailable };
  if (typeof o.method !== 'string') return MALFORMED;
  const recorded = typeof o.tablesZstd === 'string' ? unpackTables(o.tablesZstd) : o.tables;
  if (typeof recorded !== 'object' || recorded === null || Array.isArray(recorded)) return MALFORMED;
  const tables: Record<string, number> = {};
  for (const [k, v] of Object.entries(recorded as Record<string, unknown>)) {
    if (!isCount(v)) return MALFORMED;
    tables[k] = v;
  }
  const facts: DumpFacts = { method: o.method, tables };
  for (const key of ['largeObjects', 'longestLine'] as const) {
    const v = o[key];
    if (v === undefined) continue;
    if (!isCount(v)) return MALFORMED;
    facts[key] = v;
  }
  return { facts };
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

/** The compressed `tablesZstd` back as the parsed JSON; undefined when it does not decode. */
function unpackTables(packed: string): unknown {
  try {
    return JSON.parse(new Decompressor().decompress(Buffer.from(packed, 'base64')).toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Passes `source` through, showing every buffer to `counter` first (the counter never throws into the stream). */
export async function* observed(source: AsyncIterable<Uint8Array>, counter: FactCounter): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    counter.observe(chunk);
    yield chunk;
  }
}

/** A counter whose facts were known before the stream started (queried inside the dump's snapshot). */
export function knownFacts(outcome: FactsOutcome): FactCounter {
  return { observe: () => undefined, result: () => outcome };
}
