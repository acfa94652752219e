/**
 * `limiter(limit)` is the same bound for calls that start at different times (each backup job
 * of a run as the run starts it): at most `limit` of the calls given to it run at once, the
 * others wait in order.
 *
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

/** A gate for calls started at different times: at most `limit` (at least 1) of those given to it run at once, in the order given. */
export function limiter(limit: number): <R>(fn: () => Promise<R>) => Promise<R> {
  const max = Math.max(1, limit);
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <R>(fn: () => Promise<R>): Promise<R> => {
    if (running >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}
