/**
 * The reliability soak: kill -9 of `backstop backup` at random moments, many times, against
 * a SQLite folder and a throwaway PostgreSQL server, with the checks of
 * tests/fixtures/reliability/kill-harness.ts after every kill. Prints a summary table and
 * exits 1 if anything was lost, half-listed or left behind.
 *
 *   node --import tsx scripts/soak.ts [--runs N] [--seed S]
 *
 * N (default 50) kill runs are split between SQLite and PostgreSQL. Needs root or the
 * `postgres` OS user for the PostgreSQL server (see tests/fixtures/servers/postgres.ts).
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { buildCli, CLI_OUT_DIR } from './build-cli.mjs';
import { rng, Scratch } from '../tests/fixtures/reliability/common.ts';
import { KillHarness, postgresTarget, sqliteTarget, summarize, type KillCase } from '../tests/fixtures/reliability/kill-harness.ts';
import { startPostgres } from '../tests/fixtures/servers/postgres.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '50' }, seed: { type: 'string' } } });
const runs = Number(values.runs);
const seed = values.seed === undefined ? Date.now() % 1_000_000 : Number(values.seed);
if (!Number.isInteger(runs) || runs < 2) throw new Error('--runs must be a whole number ≥ 2');
// The CLI the kill runs start (bin/backstop.mjs) and the workers of the in-process checks: one build.
await buildCli();
process.env.BACKSTOP_WORKER_DIR ??= join(CLI_OUT_DIR, 'workers');

const scratch = new Scratch();
const pg = await startPostgres();
const cases: KillCase[] = [];
const started = Date.now();
try {
  const rand = rng(seed);
  const harnesses = [new KillHarness(sqliteTarget(scratch, 12_000)), new KillHarness(postgresTarget(scratch, pg, 25_000))];
  for (const h of harnesses) await h.prime();
  for (let i = 1; i <= runs; i++) {
    const h = harnesses[i % 2]!;
    const c = await h.runCase(i, rand);
    cases.push(c);
    const status = c.errors.length ? `FAIL ${c.errors.join(' | ').slice(0, 300)}` : 'ok';
    console.log(`#${String(i).padStart(3)} ${c.target.padEnd(8)} ${c.kind.padEnd(11)} kill@${c.aimed ? 'marker+' : 'start+ '}${String(c.delayMs).padStart(5)}ms ${c.killed ? 'killed ' : 'finished'} ${c.markerLeft ? 'in-write' : '        '} points ${c.pointsBefore}→${c.pointsAfter} debris ${c.garbageAfterKill} ${status}`);
  }
} finally {
  await pg.stop();
  scratch.cleanup();
}
const table = summarize(cases);
console.log(`\nkill -9 soak: ${runs} runs, seed ${seed}, ${Math.round((Date.now() - started) / 1000)} s`);
console.table(table);
const total = table[2]!;
const failed = cases.filter((c) => c.errors.length > 0);
console.log(`cases tried ${total.runs}, passed ${total.passed}, data lost = ${total.pointsLost}, half points listed = ${total.halfPointsListed}, left after next run = ${total.leftAfterNextRun}`);
process.exitCode = failed.length === 0 && total.pointsLost === 0 ? 0 : 1;
