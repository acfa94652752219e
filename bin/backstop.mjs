#!/usr/bin/env node
// The `backstop` command. Runs the CLI built to plain JavaScript in out/cli (`npm run
// build`, or scripts/build-cli.mjs alone); no TypeScript loader at run time. Its worker
// threads start from the same build (BACKSTOP_WORKER_DIR, set here as the app's main
// process sets it for its own build).
//
// In a checkout the build is made on first use, and made again when a source file it was
// built from has changed since (esbuild, well under a second; a note goes to stderr, so
// --json output stays one document). Where it cannot be built (esbuild, a development
// dependency, is not installed), the command says what to run and exits 1. Started by a
// Node older than 22, it says so (TOOL_TOO_OLD, exit 1) before loading anything.
import { readFileSync, statSync } from 'node:fs';
import module from 'node:module';
import { homedir, userInfo } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// Not import.meta.dirname: Node 18 lacks it, and this file must run there far enough to say it needs Node 22.
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'out', 'cli');
const argv = process.argv.slice(2);

/** Why out/cli must be (re)built first, or null when it is up to date. */
function buildNeeded() {
  let build;
  try {
    build = JSON.parse(readFileSync(join(outDir, 'build.json'), 'utf8'));
    statSync(join(outDir, 'index.js'));
  } catch {
    return 'first use in this checkout';
  }
  for (const input of build.inputs) {
    let mtime;
    try {
      mtime = statSync(join(root, input)).mtimeMs;
    } catch {
      continue; // no sources next to the build (an installed copy): use the build as it is
    }
    if (mtime > build.builtAt) return `${input} changed`;
  }
  return null;
}

function fail(code, message) {
  if (argv.includes('--json')) process.stdout.write(`${JSON.stringify({ error: { code, message } })}\n`);
  else process.stderr.write(`backstop: ${code}: ${message}\n`);
  process.exit(1);
}

// An older Node (a cron table's or a service's PATH finding the distribution's node) cannot
// load the native modules built for Node 22 — zstd-napi crashes it with a segfault and no
// word: say which Node it is and how to start the right one, before loading anything.
if (Number(process.versions.node.split('.')[0]) < 22) {
  fail(
    'TOOL_TOO_OLD',
    `backstop needs Node.js 22 or later, but ${process.execPath} is Node ${process.versions.node}. Start it with Node 22: put that Node's bin folder first on PATH (a cron table or a service has a PATH of its own), or run it by its full path (/path/to/node22/bin/node ${join(root, 'bin', 'backstop.mjs')} …).`,
  );
}

const why = buildNeeded();
if (why) {
  let buildCli;
  try {
    ({ buildCli } = await import('../scripts/build-cli.mjs'));
  } catch {
    fail(
      'TOOL_MISSING',
      `The backstop command line is not built (${join('out', 'cli')} is missing or out of date) and cannot be built here: esbuild, a development dependency, is not installed. Run "npm ci && npm run build" in ${root}, then try again.`,
    );
  }
  process.stderr.write(`backstop: building the command line into out/cli (${why})…\n`);
  try {
    await buildCli({ root, outDir });
  } catch (e) {
    fail('INTERNAL', `Building the command line failed (${String(e.message).split('\n')[0]}). Fix the error above, or run "npm run build" in ${root} to see it again.`);
  }
}

// V8's compiled code for the build and its npm packages is kept on disk between runs
// (Node's module compile cache), in this user's own cache folder — never a shared /tmp one
// another account could fill — so a command and its worker threads start without compiling
// the engine again: a scheduled incremental pays its start-up on every run. Keyed by each
// file's contents; a changed build simply misses. NODE_COMPILE_CACHE (a folder) overrides
// where; NODE_DISABLE_COMPILE_CACHE=1 turns it off. Setting the variable hands the folder
// to the worker threads, which copy this process's environment when they start.
if (!process.env.NODE_DISABLE_COMPILE_CACHE && module.enableCompileCache) {
  // Absolute folders only (as defaultDataDir): a relative one (`HOME=` in a cron table) would land in the
  // current directory, and Node's cache set-up never returns for a relative folder under /proc.
  let home = homedir();
  try {
    if (!isAbsolute(home)) home = userInfo().homedir;
  } catch {
    // no user database entry: no cache folder (Node compiles as usual)
  }
  const cacheHome = process.env.XDG_CACHE_HOME && isAbsolute(process.env.XDG_CACHE_HOME) ? process.env.XDG_CACHE_HOME : isAbsolute(home) ? join(home, '.cache') : null;
  const folder = process.env.NODE_COMPILE_CACHE || (cacheHome && join(cacheHome, 'backstop', 'node-compile-cache'));
  const cache = folder ? module.enableCompileCache(folder) : {};
  // Set by the user, it is already what the threads inherit (and Node may answer with its own
  // versioned subfolder, which they must not nest under).
  if (cache.directory && !process.env.NODE_COMPILE_CACHE) process.env.NODE_COMPILE_CACHE = cache.directory;
}

process.env.BACKSTOP_WORKER_DIR = join(outDir, 'workers');
const { main } = await import(pathToFileURL(join(outDir, 'index.js')).href);
process.exitCode = await main(argv);
