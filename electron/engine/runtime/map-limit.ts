/**
 * `fn` over `items` with at most `limit` calls in flight at once; the results in the items'
 * order. The first rejection rejects the whole (calls already started still run to their end,
 * none is started after it). For work that costs the other side a connection or a request each
 * (a restore per database, a stat per remote folder, a manifest per point), so a long list
 * never opens as many at once as it has items.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
