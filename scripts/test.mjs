#!/usr/bin/env node
// `npm test`: everything that can run on this machine, in order — type check, lint,
// unit + renderer + integration tests (vitest), end-to-end tests (Playwright + Chromium)
// — then one summary. Tests always run against a private, throwaway GNOME keyring on a
// private D-Bus session, never the developer's own keychain: this script re-executes
// itself inside `dbus-run-session` and keeps an unlocked keyring daemon running (test-keyring.mjs).
//
// Options: --only=typecheck,lint,vitest,e2e,package   run a subset of the steps
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { busConfig, superviseKeyring } from './test-keyring.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

if (!process.env.BACKSTOP_TEST_KEYRING) {
  const missing = ['dbus-run-session', 'gnome-keyring-daemon'].filter((c) => !have(c));
  if (missing.length) {
    console.error(`npm test needs a private keychain for its tests, but ${missing.join(' and ')} is missing.`);
    console.error('Install it with: sudo apt-get install dbus gnome-keyring   (or run .ci/run as root, which installs it)');
    process.exit(1);
  }
  const keyringHome = mkdtempSync(join(tmpdir(), 'backstop-keyring-'));
  const child = spawn('dbus-run-session', [`--config-file=${busConfig(keyringHome)}`, '--', process.execPath, 'scripts/test.mjs', ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, BACKSTOP_TEST_KEYRING: keyringHome, BACKSTOP_TEST_KEYRING_START: '1' },
  });
  child.on('exit', (code, signal) => {
    rmSync(keyringHome, { recursive: true, force: true });
    process.exit(code ?? (signal ? 1 : 0));
  });
} else {
  // Inside the private D-Bus session: start the keyring here (unless whoever set
  // BACKSTOP_TEST_KEYRING runs one already) and keep it running for the whole run.
  const keyring = process.env.BACKSTOP_TEST_KEYRING_START ? await superviseKeyring(process.env.BACKSTOP_TEST_KEYRING) : null;
  await runSteps(keyring);
}

async function runSteps(keyring) {
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
  const reports = join(root, '.tmp', 'test-reports');
  rmSync(reports, { recursive: true, force: true });
  mkdirSync(reports, { recursive: true });
  const vitestJson = join(reports, 'vitest.json');
  const e2eJson = join(reports, 'e2e.json');

  const steps = [
    { name: 'typecheck', label: 'type check (tsc + vue-tsc)', cmd: 'npm run -s typecheck' },
    // Lint runs at the same time as the type check (both only read the sources).
    { name: 'lint', label: 'lint (eslint, import boundaries)', cmd: 'npx eslint . --max-warnings 0', withPrevious: true },
    {
      name: 'vitest',
      label: 'unit, renderer and integration tests (vitest)',
      cmd: `npx vitest run --reporter=default --reporter=json --outputFile.json='${vitestJson}'`,
      counts: () => vitestCounts(vitestJson),
    },
    {
      name: 'e2e',
      label: 'end-to-end tests (Playwright + Chromium)',
      cmd: 'node scripts/e2e.mjs',
      env: { PLAYWRIGHT_JSON_OUTPUT_FILE: e2eJson },
      counts: () => playwrightCounts(e2eJson),
    },
    {
      name: 'package',
      label: 'packaging (electron-builder config + --dir package)',
      cmd: 'node scripts/package-check.mjs',
    },
  ].filter((s) => !only || only.includes(s.name));

  // A step marked `withPrevious` runs at the same time as the one before it; its output is
  // held and printed whole once it ends, so the two logs never interleave.
  const run = (step, held) => {
    const started = Date.now();
    const cpuBefore = cpuTimes();
    return new Promise((resolve) => {
      const child = spawn('sh', ['-c', step.cmd], { stdio: held ? ['ignore', 'pipe', 'pipe'] : 'inherit', env: { ...process.env, ...step.env } });
      const out = [];
      child.stdout?.on('data', (d) => out.push(d));
      child.stderr?.on('data', (d) => out.push(d));
      child.on('exit', (c, signal) => resolve({ code: c ?? (signal ? 1 : 0), seconds: (Date.now() - started) / 1000, busy: cpuBusy(cpuBefore, cpuTimes()), output: Buffer.concat(out) }));
    });
  };
  const results = [];
  const suiteStarted = Date.now();
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    const alongside = steps[i + 1]?.withPrevious ? steps[++i] : null;
    console.log(`\n━━━ ${step.label} ━━━${alongside ? ` (with: ${alongside.label})` : ''}`);
    const [main, other] = await Promise.all([run(step, false), alongside && run(alongside, true)]);
    results.push({ ...step, code: main.code, seconds: main.seconds, busy: main.busy, tests: step.counts?.() });
    if (alongside) {
      console.log(`\n━━━ ${alongside.label} ━━━ (ran with the step above)`);
      process.stdout.write(other.output);
      results.push({ ...alongside, code: other.code, seconds: other.seconds, busy: other.busy, tests: alongside.counts?.() });
    }
  }

  let passed = 0;
  let failed = 0;
  console.log('\n━━━ summary ━━━');
  for (const r of results) {
    const status = r.code === 0 ? 'PASS' : 'FAIL';
    const tests = r.tests ? `  ${r.tests.passed} passed, ${r.tests.failed} failed${r.tests.skipped ? `, ${r.tests.skipped} skipped` : ''}` : '';
    const busy = r.busy === null ? '' : `  (CPU ${r.busy}% busy)`;
    console.log(`${status}  ${r.label.padEnd(48)} ${r.seconds.toFixed(1).padStart(6)} s${tests}${busy}`);
    if (r.tests) {
      passed += r.tests.passed;
      failed += r.tests.failed;
    } else if (r.code === 0) passed += 1;
    else failed += 1;
    // A step that failed without a failing test (crash, build error) still counts as a failure.
    if (r.code !== 0 && r.tests && r.tests.failed === 0) failed += 1;
  }
  printCpuReport(join(reports, 'cpu.jsonl'));
  // The failing tests are named again here, at the very end, so a log that keeps only its tail
  // (a CI page, a terminal scrolled away) still says what failed and why.
  const failures = [vitestFailures, playwrightFailures].flatMap((read, i) => {
    try {
      return read(i === 0 ? vitestJson : e2eJson);
    } catch (err) {
      return [{ where: i === 0 ? 'vitest' : 'e2e', name: '(its report could not be read)', message: String(err) }];
    }
  });
  if (failures.length) {
    console.log('\nfailed tests:');
    for (const f of failures.slice(0, 20)) console.log(`  ✗ ${f.where} › ${f.name}\n      ${f.message}`);
    if (failures.length > 20) console.log(`  … and ${failures.length - 20} more (see the output above)`);
  }
  const keyringNote = keyring?.report();
  if (keyringNote) console.log(`\nnote: ${keyringNote}.`);
  keyring?.stop();
  const ok = results.every((r) => r.code === 0);
  console.log(`wall time: ${((Date.now() - suiteStarted) / 1000).toFixed(1)} s`);
  console.log(`\n${ok ? 'All checks passed.' : 'Some checks FAILED.'}`);
  console.log(`total: ${passed} passed, ${failed} failed`);
  process.exit(ok ? 0 : 1);
}

// How busy the machine's CPUs were during a step (all processes, from /proc/stat; null where
// there is no /proc): says whether a slow step waits on something or needs fewer CPU-seconds.
function cpuTimes() {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { idle: fields[3] + (fields[4] ?? 0), total: fields.reduce((a, b) => a + b, 0) };
  } catch {
    return null;
  }
}
function cpuBusy(before, after) {
  if (!before || !after || after.total <= before.total) return null;
  return Math.round(100 * (1 - (after.idle - before.idle) / (after.total - before.total)));
}

// The integration files that cost the most CPU (tests/fixtures/cpu-report.ts writes one line
// per file): where to look first when the run gets slower.
function printCpuReport(file) {
  if (!existsSync(file)) return;
  const rows = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const total = rows.reduce((a, r) => a + r.cpuSeconds, 0);
  console.log(`\nintegration files by CPU seconds (their process and the servers/tools it reaped; ${rows.length} files, ${total.toFixed(0)} s in all):`);
  for (const r of rows.sort((a, b) => b.cpuSeconds - a.cpuSeconds).slice(0, 12)) console.log(`  ${r.cpuSeconds.toFixed(1).padStart(6)} s CPU ${String(r.wallSeconds).padStart(6)} s wall  ${r.file}`);
}

function vitestCounts(file) {
  if (!existsSync(file)) return undefined;
  const j = JSON.parse(readFileSync(file, 'utf8'));
  return { passed: j.numPassedTests ?? 0, failed: j.numFailedTests ?? 0, skipped: (j.numPendingTests ?? 0) + (j.numTodoTests ?? 0) };
}

// The first line of a failure message, shortened: enough to tell one failure from another.
function firstLine(text) {
  // eslint-disable-next-line no-control-regex -- the terminal colour codes vitest puts in its messages
  const lines = String(text ?? '').replace(/\u001b\[[0-9;]*m/g, '').split('\n');
  const line = (lines.find((l) => l.trim()) ?? '').trim();
  // An assertion whose message is a whole document ("AssertionError: {") says what differed further down.
  const expected = line.endsWith('{') || line.endsWith('[') ? lines.find((l) => /\bexpected\b.*\bto\b/.test(l))?.trim() : undefined;
  return (expected ? `${line} … ${expected}` : line).slice(0, 300);
}

function vitestFailures(file) {
  if (!existsSync(file)) return [];
  const j = JSON.parse(readFileSync(file, 'utf8'));
  const out = [];
  for (const suite of j.testResults ?? []) {
    const where = suite.name ? suite.name.replace(`${root}/`, '') : '?';
    const failedTests = (suite.assertionResults ?? []).filter((t) => t.status === 'failed');
    for (const t of failedTests) out.push({ where, name: t.fullName ?? t.title, message: firstLine(t.failureMessages?.[0]) });
    // A file that failed before any test ran (import error, hook failure) has no failed test.
    if (!failedTests.length && suite.status === 'failed') out.push({ where, name: '(the file itself)', message: firstLine(suite.message) });
  }
  return out;
}

function playwrightFailures(file) {
  if (!existsSync(file)) return [];
  const out = [];
  const walk = (suite, path) => {
    for (const spec of suite.specs ?? []) {
      for (const t of spec.tests ?? []) {
        if (t.status !== 'unexpected') continue;
        const last = t.results?.[t.results.length - 1];
        out.push({ where: spec.file ?? path, name: spec.title, message: firstLine(last?.error?.message) });
      }
    }
    for (const child of suite.suites ?? []) walk(child, child.file ?? path);
  };
  for (const s of JSON.parse(readFileSync(file, 'utf8')).suites ?? []) walk(s, s.file ?? '?');
  return out;
}

function playwrightCounts(file) {
  if (!existsSync(file)) return undefined;
  const s = JSON.parse(readFileSync(file, 'utf8')).stats ?? {};
  return { passed: (s.expected ?? 0) + (s.flaky ?? 0), failed: s.unexpected ?? 0, skipped: s.skipped ?? 0 };
}
