#!/usr/bin/env node
/**
 * `npm start`: build the app with electron-vite, then run it in Electron.
 *
 * Contract: exits with Electron's exit status. When the Electron binary is not
 * available (build machines install the electron package for its types only, with the
 * binary download skipped or impossible), it says so plainly — it never hangs or prints
 * only a stack trace — and offers the same window in a browser: on a terminal it asks
 * whether to start `backstop serve` on 127.0.0.1 (which prints the URL and the sign-in
 * token) and runs it until Ctrl+C; without a terminal it says how and exits 1.
 * `npm start -- --serve` starts `backstop serve` without asking (and without Electron).
 * Other extra arguments are passed on to the app (e.g. `npm start -- --hidden`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline/promises';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const require = createRequire(join(root, 'package.json'));

function build() {
  const pkgPath = require.resolve('electron-vite/package.json');
  const bin = JSON.parse(readFileSync(pkgPath, 'utf8')).bin['electron-vite'];
  const result = spawnSync(process.execPath, [join(dirname(pkgPath), bin), 'build'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('\nnpm start: the build failed (see above); not starting Electron.');
    process.exit(result.status ?? 1);
  }
}

/** The Electron executable, or { error } saying why there is none. */
function findElectron() {
  let pkgDir;
  try {
    pkgDir = dirname(require.resolve('electron/package.json'));
  } catch {
    return { error: 'the `electron` package is not installed in node_modules.' };
  }
  const downloaded = existsSync(join(pkgDir, 'path.txt'));
  if (!downloaded && process.env.ELECTRON_SKIP_BINARY_DOWNLOAD) {
    return { error: 'the Electron binary was never downloaded (ELECTRON_SKIP_BINARY_DOWNLOAD is set).' };
  }
  try {
    // Resolves to the executable's path; when it is missing, the package tries to download it.
    const path = require('electron');
    if (typeof path === 'string' && existsSync(path)) return { path };
    return { error: `the Electron binary is missing (looked for ${String(path)}).` };
  } catch {
    return { error: 'the Electron binary is not installed and downloading it failed (details above).' };
  }
}

function explain(reason) {
  console.error(`
npm start: cannot start Backstop — ${reason}

Backstop is a desktop app: it needs a desktop session and the Electron binary, which
npm downloads on a normal machine (run \`npm install\`, or \`npx install-electron\`, with
network access and without ELECTRON_SKIP_BINARY_DOWNLOAD). On build machines, where
Electron is installed for its types only, the app itself cannot run; these work without it:

  npm start -- --serve      the same window in your browser (backstop serve on 127.0.0.1)
  npm run cli -- --help     the backstop command line (same engine as the app)
  npm test                  type check, lint, unit, integration and browser tests
  npm run build             build the app into out/
`);
}

/** Runs `backstop serve` on loopback in the foreground (it prints the URL and token) until it exits. */
function serve() {
  const child = spawn(process.execPath, [join(root, 'bin', 'backstop.mjs'), 'serve', '--host', '127.0.0.1'], { cwd: root, stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

/** On a terminal, asks whether to serve the window to a browser instead. */
async function offerServe() {
  const hint = 'The same window runs in a browser: `npm start -- --serve` (or `npm run cli -- serve`) serves it on 127.0.0.1 and prints the URL and a sign-in token.';
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    console.error(hint);
    process.exit(1);
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const answer = (await rl.question('Open the Backstop window in your browser instead (backstop serve on 127.0.0.1)? [Y/n] ')).trim().toLowerCase();
  rl.close();
  if (answer === '' || answer === 'y' || answer === 'yes') return serve();
  console.error(hint);
  process.exit(1);
}

const wantsServe = process.argv.includes('--serve');
build();
if (wantsServe) {
  serve();
} else {
  const electron = findElectron();
  if (!electron.path) {
    explain(electron.error);
    await offerServe();
  } else {
    run(electron.path);
  }
}

function run(electronPath) {

  const child = spawn(electronPath, [root, ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('error', (e) => {
    explain(`Electron could not be launched (${e.message}).`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
