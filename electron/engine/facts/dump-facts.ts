/**
 * Facts a restore must reproduce, recorded per restore point at backup time (issue #22):
 * which tables the dump holds and how many rows each has, counted while the dump streams
 * by (PostgreSQL custom archives, MariaDB SQL text) or queried inside the dump's own
 * snapshot (SQLite). They are stored in the point's manifest `meta.facts` (sealed like the
 * rest of the manifest) and read back by test restores (test-restore.ts).
 *
 * Contract: counting never fails a backup. A counter that meets something it does not
 * understand reports `unavailable` with the reason, and a test restore then checks what it
 * can without them. Table names are qualified the way the engine names them:
 * "schema.table" on PostgreSQL, the bare table name on MariaDB and SQLite.
 */
import type { JsonObject } from '../repository/types.ts';

export interface DumpFacts {
  /** How the counts were made, e.g. "pg-custom-stream", "mysql-sql-stream", "sqlite-snapshot". */
  method: string;
  /** Row count per table. */
  tables: Record<string, number>;
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

/** Facts larger than this (JSON) are left out: the manifest's meta is bounded (MAX_META_BYTES). */
export const MAX_FACTS_BYTES = 48 * 1024;

/** The manifest meta entry for an outcome. */
export function factsMeta(outcome: FactsOutcome): JsonObject {
  if ('unavailable' in outcome) return { [FACTS_META_KEY]: { unavailable: outcome.unavailable } };
  const entry = { method: outcome.facts.method, tables: outcome.facts.tables };
  const size = Buffer.byteLength(JSON.stringify(entry), 'utf8');
  if (size > MAX_FACTS_BYTES) {
    return { [FACTS_META_KEY]: { unavailable: `the row counts of ${Object.keys(outcome.facts.tables).length} tables (${size} bytes) are too large to record` } };
  }
  return { [FACTS_META_KEY]: entry };
}

/** The facts a point recorded, or why there are none. */
export function factsOf(meta: Record<string, unknown>): FactsOutcome {
  const f = meta[FACTS_META_KEY];
  if (f === undefined) return { unavailable: 'the restore point was made before Backstop recorded facts at backup time' };
  if (typeof f !== 'object' || f === null) return { unavailable: 'the recorded facts are malformed' };
  const o = f as Record<string, unknown>;
  if (typeof o.unavailable === 'string') return { unavailable: o.unavailable };
  if (typeof o.method !== 'string' || typeof o.tables !== 'object' || o.tables === null) return { unavailable: 'the recorded facts are malformed' };
  const tables: Record<string, number> = {};
  for (const [k, v] of Object.entries(o.tables as Record<string, unknown>)) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) return { unavailable: 'the recorded facts are malformed' };
    tables[k] = v;
  }
  return { facts: { method: o.method, tables } };
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
