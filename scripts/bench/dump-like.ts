/**
 * Synthetic dump-like input for the benches (pipeline.ts, keep-up.ts): 1 MiB blocks made of
 * runs of 1–64 KiB copied from random places of a fixed ~24 MB table of pseudo-random rows,
 * like a table scan. Deterministic for a seed; compresses about like a real dump (~3.4×).
 */
function xorshift(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

/** ~24 MB of distinct dump rows built once; blocks copy runs of consecutive rows from it. */
function buildTable(): Buffer {
  const r = xorshift(12345);
  const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima'];
  const rows: string[] = [];
  for (let i = 0; i < 200_000; i++) {
    const name = `${words[r() % words.length]} ${words[r() % words.length]}`;
    rows.push(
      `${i}\t${name}\t${(r() % 100000) / 100}\t2024-${String(1 + (r() % 12)).padStart(2, '0')}-${String(1 + (r() % 28)).padStart(2, '0')} ${String(r() % 24).padStart(2, '0')}:${String(r() % 60).padStart(2, '0')}:00+00\t${r() % 2 ? 't' : 'f'}\t${(r() % 0xffffffff).toString(16)}\t{"sku":"SKU-${r() % 50000}","qty":${r() % 20}}\n`,
    );
  }
  return Buffer.from(rows.join(''));
}
const TABLE = buildTable();

/** Like a table scan: runs of 1–64 KiB copied from random places of the row table. */
export async function* dumpStream(bytes: number, seed = 7): AsyncGenerator<Buffer> {
  const r = xorshift(seed);
  const BLOCK = 1024 * 1024;
  let left = bytes;
  while (left > 0) {
    const n = Math.min(BLOCK, left);
    const block = Buffer.allocUnsafe(n);
    let pos = 0;
    while (pos < n) {
      const run = Math.min(n - pos, 1024 + (r() % (63 * 1024)));
      const from = r() % (TABLE.length - run);
      pos += TABLE.copy(block, pos, from, from + run);
    }
    left -= n;
    yield block;
  }
}
