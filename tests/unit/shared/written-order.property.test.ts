/**
 * The written order (shared/latest-point.ts) against the date order it replaced, on random but
 * valid histories of a folder written without a clock jump: weekly fulls with hourly
 * incrementals, a task whose backup type changed (two types in one folder), PostgreSQL WAL
 * chains (rollsForward), two incrementals of one parent (two writers), points deleted by a prune
 * or by hand (links to missing points), and dates a few ms apart. There "latest", an
 * incremental's parent, every order and every retention plan must be exactly what the dates
 * alone gave (the old code, tests/unit/retention/date-order-plan.ts). With a clock more than an
 * hour behind the writer's (a restore on another machine), "latest" is still a chain tip and never
 * older than what the dates gave. Seeded: a failure names its seed.
 */
import { describe, expect, it } from 'vitest';
import { latestPoint, newestFirst } from '../../../electron/shared/latest-point.ts';
import { planRetention, type RetentionPoint } from '../../../electron/engine/retention/index.ts';
import { newPointId } from '../../../electron/engine/repository/layout.ts';
import type { Retention } from '../../../electron/shared/domain.ts';
import { dateOrderPlan } from '../retention/date-order-plan.ts';
import { rng } from '../repository/helpers.ts';

const HOUR = 3_600_000;

interface Point extends RetentionPoint {
  parentId: string | null;
  backupType: 'logical' | 'snapshot';
}

/** The seeded generator of the repository tests; the seed spread first (xorshift32 starts low from small seeds). */
const random = (seed: number) => rng(Math.imul(seed, 0x9e3779b1));

const byDateNewestFirst = (a: Point, b: Point) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id);

/** A folder's points written in time order (shuffled: the order given must not matter). */
function history(r: () => number): Point[] {
  let t = Date.parse('2026-01-05T02:00:00.000Z') + Math.floor(r() * 86_400_000);
  const live: Point[] = [];
  const twoTypes = r() < 0.4;
  let type: Point['backupType'] = 'logical';
  const walChains = new Set<string>();
  const hex = () => Math.floor(r() * 0xffffffff).toString(16).padStart(8, '0');
  const n = 1 + Math.floor(r() * 150);
  for (let i = 0; i < n; i++) {
    const step = r();
    let forceFull = false;
    if (step < 0.03 && live.length > 0) forceFull = true; // the same ms as the point before: an unrelated full (another type's chain)
    else if (step < 0.55) t += HOUR + Math.floor(r() * 60_000);
    else if (step < 0.75) t += 24 * HOUR;
    else if (step < 0.85) t += Math.floor(r() * 14 * 24 * HOUR);
    else t += 1 + Math.floor(r() * 1000);
    if (twoTypes && r() < 0.08) type = type === 'logical' ? 'snapshot' : 'logical';
    const ofType = live.filter((p) => p.backupType === type).sort(byDateNewestFirst);
    const newest = ofType[0];
    const createdAt = new Date(t);
    const id = newPointId(createdAt, hex());
    const roll = r();
    let p: Point;
    if (!newest || forceFull || roll < 0.1) {
      if (forceFull) type = type === 'logical' ? 'snapshot' : 'logical';
      p = { id, kind: 'full', createdAt: createdAt.toISOString(), chainId: id, parentId: null, backupType: type };
      if (r() < 0.3) walChains.add(id);
    } else {
      // Two writers: the second continues the parent the first continued, not the first.
      const parent = roll < 0.15 && newest.parentId ? (live.find((q) => q.id === newest.parentId) ?? newest) : newest;
      p = { id, kind: 'incremental', createdAt: createdAt.toISOString(), chainId: parent.chainId, parentId: parent.id, backupType: type };
      if (walChains.has(p.chainId)) p.rollsForward = true;
    }
    live.push(p);
    // A prune or a hand deleted a point (never the newest): its links now name a missing point.
    if (r() < 0.1 && live.length > 2) {
      const newestAll = [...live].sort(byDateNewestFirst)[0]!;
      const victims = live.filter((q) => q !== newestAll);
      live.splice(live.indexOf(victims[Math.floor(r() * victims.length)]!), 1);
    }
  }
  for (let i = live.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [live[i], live[j]] = [live[j]!, live[i]!];
  }
  return live;
}

/** "latest" before the written order (latest-point.ts at 93ef610^): the newest not dated more than an hour after now, else the newest. */
function dateLatest(points: readonly Point[], now: Date): Point | undefined {
  const sorted = [...points].sort(byDateNewestFirst);
  return sorted.find((p) => Date.parse(p.createdAt) <= now.getTime() + HOUR) ?? sorted[0];
}

const policies: Retention[] = [
  { minAgeDays: 0, keepLast: null },
  { minAgeDays: 7, keepLast: null },
  { minAgeDays: 30, keepLast: 3 },
  { minAgeDays: 1, keepLast: 10 },
  { minAgeDays: 0, minAgeHours: 0, keepLast: 1 },
  { minAgeDays: 0, minAgeHours: 0, keepLast: 5 },
  { minAgeDays: 0, minAgeHours: 36, keepLast: null },
];

const SEEDS = 400;

describe('the written order on histories without a clock jump', () => {
  it('orders, picks "latest" and each type\'s parent, and plans retention exactly as the dates alone did', () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = random(seed);
      const points = history(r);
      const last = Math.max(...points.map((p) => Date.parse(p.createdAt)));
      // This clock: days after the last point, or up to an hour before it (two machines' clocks a little apart).
      const now = new Date(r() < 0.25 ? last - Math.floor(r() * HOUR) : last + Math.floor(r() * 30 * 24 * HOUR));
      const context = `seed ${seed}`;
      const dated = [...points].sort(byDateNewestFirst);
      expect(newestFirst(points, now).map((p) => p.id), context).toEqual(dated.map((p) => p.id));
      expect(latestPoint(points, now)?.id, context).toBe(dateLatest(points, now)?.id);
      expect(latestPoint(points, now)?.id, context).toBe(dated[0]!.id);
      // write-chain.ts loadChain: the parent an incremental of each type continues was the newest of that type.
      for (const type of ['logical', 'snapshot'] as const) {
        const ofType = points.filter((p) => p.backupType === type);
        expect(latestPoint(ofType, now)?.id, `${context} ${type}`).toBe(ofType.sort(byDateNewestFirst)[0]?.id);
      }
      for (const policy of policies) {
        expect(planRetention(points, policy, now), `${context} ${JSON.stringify(policy)}`).toEqual(dateOrderPlan(points, policy, now));
      }
    }
  });

  it('with this clock more than an hour behind the writer\'s, "latest" is a chain tip never older than the dates gave, and a count keeps it', () => {
    let differed = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = random(seed);
      const points = history(r);
      const times = points.map((p) => Date.parse(p.createdAt)).sort((a, b) => a - b);
      const first = times[0]!;
      const last = times.at(-1)!;
      // Behind by more than an hour: somewhere within the history, or before all of it.
      const now = new Date(first + Math.floor(r() * (last - first + 1)) - HOUR - 1 - Math.floor(r() * 3 * HOUR));
      const context = `seed ${seed}`;
      const latest = latestPoint(points, now)!;
      const before = dateLatest(points, now)!;
      expect(points.some((p) => p.parentId === latest.id || (p.chainId === latest.id && p.id !== latest.id)), context).toBe(false);
      expect(latest.createdAt >= before.createdAt, `${context}: ${latest.id} older than ${before.id}`).toBe(true);
      if (latest.id !== before.id) differed++;
      expect(newestFirst(points, now)[0], context).toBe(latest);
      const plan = planRetention(points, { minAgeDays: 0, minAgeHours: 0, keepLast: 1 }, now);
      expect(plan.find((d) => d.id === latest.id)?.action, context).toBe('keep');
    }
    // The histories do reach the case where the written order picks a newer point than the dates did.
    expect(differed).toBeGreaterThan(0);
  });

  it('a foreign or tampered folder (links in loops, to missing points, to itself; dates ahead and behind): every point once, "latest" first, each point before those it continues outside a loop', () => {
    let checked = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = random(seed);
      const n = 1 + Math.floor(r() * 40);
      const ids = Array.from({ length: n }, (_, i) => `p${i}`);
      const pick = () => (r() < 0.15 ? 'missing' : ids[Math.floor(r() * n)]!);
      const now = new Date('2026-12-06T12:00:00.000Z');
      const points = ids.map((id) => ({
        id,
        createdAt: new Date(now.getTime() + Math.floor((r() - 0.7) * 10 * 24) * HOUR).toISOString(),
        parentId: r() < 0.3 ? null : pick(),
        chainId: r() < 0.5 ? id : pick(),
      }));
      const order = newestFirst(points, now);
      const context = `seed ${seed}`;
      expect(new Set(order).size, context).toBe(n);
      expect(order.length, context).toBe(n);
      expect(latestPoint(points, now), context).toBe(order[0]);
      // Outside a loop, a point comes before every point it continues.
      const at = new Map(order.map((p, i) => [p.id, i]));
      const reaches = (from: string, to: string) => {
        const seen = new Set<string>();
        const todo = [from];
        while (todo.length > 0) {
          const id = todo.pop()!;
          if (id === to) return true;
          if (seen.has(id)) continue;
          seen.add(id);
          const p = points.find((q) => q.id === id);
          if (p) for (const next of [p.parentId, p.chainId]) if (next && next !== id) todo.push(next);
        }
        return false;
      };
      const links = (p: (typeof points)[number]) => [p.parentId, p.chainId].filter((q): q is string => !!q && q !== p.id && at.has(q));
      const onLoop = (x: (typeof points)[number]) => links(x).some((q) => reaches(q, x.id));
      let kept = 0;
      for (const p of points) {
        // Continued (transitively) by a point on a loop: it waits with the loop, after the rest, by date.
        if (points.some((x) => onLoop(x) && reaches(x.id, p.id))) continue;
        for (const q of links(p)) {
          expect(at.get(p.id)!, `${context}: ${p.id} after ${q}, which it continues`).toBeLessThan(at.get(q)!);
          kept++;
        }
      }
      checked += kept;
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it('stays O(n log n): 20,000 points in hourly chains, weekly fulls, ordered in well under a second each', () => {
    const points: Point[] = [];
    const start = Date.parse('2020-01-01T00:00:00.000Z');
    let chain = '';
    let parent = '';
    for (let i = 0; i < 20_000; i++) {
      const createdAt = new Date(start + i * HOUR);
      const id = newPointId(createdAt, i.toString(16).padStart(8, '0'));
      const full = i % 168 === 0;
      if (full) chain = id;
      points.push({ id, kind: full ? 'full' : 'incremental', createdAt: createdAt.toISOString(), chainId: chain, parentId: full ? null : parent, backupType: 'logical' });
      parent = id;
    }
    // The clock behind every point too: every rank date comes from the links.
    for (const now of [new Date(start + 20_000 * HOUR), new Date(start - HOUR * 2)]) {
      const began = performance.now();
      const order = newestFirst(points, now);
      expect(latestPoint(points, now)).toBe(points.at(-1));
      expect(performance.now() - began).toBeLessThan(1500);
      expect(order[0]).toBe(points.at(-1));
      expect(order.at(-1)).toBe(points[0]);
    }
  });
});
