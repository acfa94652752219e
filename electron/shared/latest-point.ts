/**
 * Which restore point "latest" means, and the order points were written in — the one owner of
 * both (a restore, a test restore, apply-globals, a server restore without a moment, the point
 * an incremental builds on, what an unchanged run compares with, retention's "newest").
 *
 * A point's date (`createdAt`, also the start of its id) is read from the clock of the machine
 * that wrote it, and clocks jump: a VM resumed from a snapshot, NTP correcting a wrong clock, a
 * clock set by hand. The points themselves say what was written after what, whatever their
 * dates: an incremental names the point it continues (`parentId`), and every point of a chain
 * was written after the full that starts it (`chainId`). So a point that another point
 * continues is never the latest. Among the rest (the tips), the newest by date — except that a
 * tip dated more than an hour after now was written while the clock was ahead (corrected since),
 * or this clock is behind: the tips written after the correction are dated before it, so it is
 * not the last one written. Such a tip that continues points not dated ahead ranks as the newest of
 * those (it was written after them): a clock a little behind the writer's (a restore on another
 * machine) sees the last points of this week's chain ahead, and must not take last week's chain
 * for the latest. When every tip is dated that far ahead with nothing before it that is not (this
 * clock behind them all), the newest of them. Points that carry neither link (a listing of ids)
 * are all tips: "latest" is then the newest point not dated more than an hour after now.
 *
 * Contract:
 * - `latestPoint(points, now)`: the point described above; undefined for none.
 * - `newestFirst(points, now)`: every point, each one before every point it continues
 *   (transitively), in the order "latest" takes them when the latest is removed one after
 *   another; a point whose links form a loop (a tampered folder) comes last, by date.
 *   `latestPoint(points, now) === newestFirst(points, now)[0]`.
 * - Cost: `latestPoint` O(n), `newestFirst` O(n log n); each date is parsed once.
 */
const AHEAD_MS = 3_600_000;

/** What ordering needs of a point (a manifest's info, a listing's summary, a retention point). */
export interface OrderedPoint {
  id: string;
  createdAt: string;
  /** The point this one continues (an incremental's parent); null or absent for a full. */
  parentId?: string | null;
  /** The full that starts its chain (a full's own id). */
  chainId?: string;
}

/** The ids of the points `p` continues that are among `byId`: its parent, and its chain's full. */
function continues(p: OrderedPoint, byId: ReadonlyMap<string, OrderedPoint>): string[] {
  const out: string[] = [];
  if (p.parentId && p.parentId !== p.id && byId.has(p.parentId)) out.push(p.parentId);
  if (p.chainId && p.chainId !== p.id && p.chainId !== p.parentId && byId.has(p.chainId)) out.push(p.chainId);
  return out;
}

/**
 * The date each point ranks by: its own unless it is dated more than an hour after now; then the
 * newest date not so far ahead among the points it continues (transitively: written before it),
 * or null when there is none (it ranks after every point that has one). O(n) with memo.
 */
function rankDates(points: readonly OrderedPoint[], byId: ReadonlyMap<string, OrderedPoint>, limit: number): Map<string, string | null> {
  const dates = new Map<string, string | null>();
  const ahead: OrderedPoint[] = [];
  for (const p of points) {
    if (Date.parse(p.createdAt) > limit) ahead.push(p);
    else dates.set(p.id, p.createdAt);
  }
  const open = new Set<string>();
  for (const start of ahead) {
    const stack = [start];
    while (stack.length > 0) {
      const p = stack[stack.length - 1]!;
      if (dates.has(p.id)) {
        stack.pop();
        continue;
      }
      const before = continues(p, byId);
      if (!open.has(p.id)) {
        open.add(p.id);
        // A point on the stack already is a loop of links: left out.
        const pending = before.filter((id) => !dates.has(id) && !open.has(id));
        if (pending.length > 0) {
          for (const id of pending) stack.push(byId.get(id)!);
          continue;
        }
      }
      let best: string | null = null;
      for (const id of before) {
        const d = dates.get(id);
        if (d != null && (best === null || d > best)) best = d;
      }
      dates.set(p.id, best);
      stack.pop();
    }
  }
  return dates;
}

/** > 0 when `a` is taken before `b` as "latest": a rank date first (see rankDates), the later one; then the later date, then the larger id. */
function rank(a: OrderedPoint, b: OrderedPoint, dates: ReadonlyMap<string, string | null>): number {
  const da = dates.get(a.id) ?? null;
  const db = dates.get(b.id) ?? null;
  if ((da === null) !== (db === null)) return da === null ? -1 : 1;
  if (da !== null && db !== null && da !== db) return da > db ? 1 : -1;
  if (a.createdAt !== b.createdAt) return a.createdAt > b.createdAt ? 1 : -1;
  return a.id > b.id ? 1 : a.id < b.id ? -1 : 0;
}

export function latestPoint<T extends OrderedPoint>(points: readonly T[], now: Date): T | undefined {
  const byId = new Map<string, OrderedPoint>(points.map((p) => [p.id, p]));
  const continued = new Set<string>();
  for (const p of points) for (const id of continues(p, byId)) continued.add(id);
  const dates = rankDates(points, byId, now.getTime() + AHEAD_MS);
  let best: T | undefined;
  for (const p of points) if (!continued.has(p.id) && (!best || rank(p, best, dates) > 0)) best = p;
  // Only a loop of links leaves no tip: the newest by date then.
  return best ?? points.reduce<T | undefined>((b, p) => (!b || rank(p, b, dates) > 0 ? p : b), undefined);
}

export function newestFirst<T extends OrderedPoint>(points: readonly T[], now: Date): T[] {
  const byId = new Map<string, OrderedPoint>(points.map((p) => [p.id, p]));
  const dates = rankDates(points, byId, now.getTime() + AHEAD_MS);
  const waiting = new Map<string, number>();
  for (const p of points) for (const id of continues(p, byId)) waiting.set(id, (waiting.get(id) ?? 0) + 1);
  // A binary heap of the points nothing left continues, best first.
  const heap: T[] = [];
  const above = (i: number, j: number) => rank(heap[i]!, heap[j]!, dates) > 0;
  const swap = (i: number, j: number) => ([heap[i], heap[j]] = [heap[j]!, heap[i]!]);
  const push = (p: T) => {
    heap.push(p);
    for (let i = heap.length - 1; i > 0 && above(i, (i - 1) >> 1); i = (i - 1) >> 1) swap(i, (i - 1) >> 1);
  };
  const pop = (): T => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && above(l, m)) m = l;
        if (r < heap.length && above(r, m)) m = r;
        if (m === i) break;
        swap(i, m);
        i = m;
      }
    }
    return top;
  };
  for (const p of points) if (!waiting.has(p.id)) push(p);
  const out: T[] = [];
  const taken = new Set<string>();
  while (heap.length > 0) {
    const p = pop();
    out.push(p);
    taken.add(p.id);
    for (const id of continues(p, byId)) {
      const left = waiting.get(id)! - 1;
      waiting.set(id, left);
      if (left === 0) push(byId.get(id) as T);
    }
  }
  if (out.length < points.length) out.push(...points.filter((p) => !taken.has(p.id)).sort((a, b) => rank(b, a, dates)));
  return out;
}
