/**
 * kill -9 of `backstop backup` at a random moment (a handful of runs here; scripts/soak.ts
 * does 50+): every committed point verifies and restores with the rows it had, nothing
 * earlier is lost, no half point is listed, the dead writer's packs are protected while
 * its marker is fresh, and the next run succeeds and collects them once stale.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { rng, Scratch } from '../../fixtures/reliability/common.ts';
import { findSecrets } from '../../fixtures/reliability/secrets-scan.ts';
import { KillHarness, postgresTarget, sqliteTarget, summarize, type KillCase } from '../../fixtures/reliability/kill-harness.ts';

const SEED = Number(process.env.BACKSTOP_SOAK_SEED ?? Date.now() % 100_000);
const scratch = new Scratch();
let pg: PgServer;

beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  await pg?.stop();
  scratch.cleanup();
});

function expectClean(cases: KillCase[]): void {
  console.log(`kill -9 (seed ${SEED}):`);
  console.table(summarize(cases));
  for (const c of cases) expect(c.errors, `${c.target} run ${c.run} (kill after ${c.delayMs} ms)`).toEqual([]);
  expect(cases.reduce((n, c) => n + c.lost + c.halfPoints, 0)).toBe(0);
  expect(cases.every((c) => c.verifyOk && c.nextRunOk && c.collectableAtOnce === 0 && c.garbageAfterNextRun === 0)).toBe(true);
  expect(cases.reduce((n, c) => n + c.restoresChecked, 0)).toBeGreaterThan(0);
}

describe('kill -9 during a backup', () => {
  it('SQLite folder: 6 runs killed at random moments lose nothing', async () => {
    const h = new KillHarness(sqliteTarget(scratch, 8_000));
    await h.prime();
    const rand = rng(SEED);
    const cases: KillCase[] = [];
    for (let i = 1; i <= 6; i++) cases.push(await h.runCase(i, rand));
    expectClean(cases);
  }, 240_000);

  it('PostgreSQL: 2 runs killed at random moments lose nothing', async () => {
    const h = new KillHarness(postgresTarget(scratch, pg, 20_000));
    await h.prime();
    const rand = rng(SEED + 1);
    const cases: KillCase[] = [];
    for (let i = 1; i <= 2; i++) cases.push(await h.runCase(i, rand));
    expectClean(cases);
    // The password went through the environment; it must not be in the app database, logs or history.
    expect(findSecrets({ 'PostgreSQL password': pg.password }, [h.target.dataDir])).toEqual([]);
  }, 240_000);
});
