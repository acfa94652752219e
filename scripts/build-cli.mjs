#!/usr/bin/env node
/**
 * Builds the `backstop` command line and the engine's worker threads to plain JavaScript
 * (esbuild, ESM for Node 22) in out/cli:
 *   index.js            the CLI (exports `main`), what bin/backstop.mjs runs
 *   workers/<name>.js   one per electron/worker/<name>.ts, where the built CLI's
 *                       worker threads start from (BACKSTOP_WORKER_DIR)
 *   chunk-*.js          code shared between them, split so a command loads the engine
 *                       and its heavy packages (zod, libsql, the AWS SDK…) only when it
 *                       needs them — `backstop --help` loads none of them
 *   build.json          when it was built and from which source files (bin/backstop.mjs
 *                       rebuilds a checkout's build when one of them is newer)
 * npm packages stay external: they are resolved from node_modules at run time.
 *
 * Contract: the new build is written to a sibling folder and renamed into place, so a
 * command starting meanwhile sees the old build or the new one, never half of one. A
 * process still running from the old build must be restarted (its lazily loaded chunks
 * are gone). Builds of the same sources are interchangeable, so when two builds race the
 * last one to finish stays. Used by `npm run build`, bin/backstop.mjs (first use in a
 * checkout), the tests' global setup, the soak and the bench.
 *
 * Usage: node scripts/build-cli.mjs [--out DIR]
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

export const ROOT = resolve(import.meta.dirname, '..');
export const CLI_OUT_DIR = join(ROOT, 'out', 'cli');

/** esbuild options for the CLI and worker bundles (also used by the startup check in tests). */
export function cliBuildOptions(root = ROOT) {
  const workerDir = join(root, 'electron', 'worker');
  const workers = readdirSync(workerDir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => [`workers/${f.slice(0, -3)}`, join(workerDir, f)]);
  return {
    absWorkingDir: root,
    entryPoints: { index: join(root, 'electron', 'cli', 'index.ts'), ...Object.fromEntries(workers) },
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    packages: 'external',
    chunkNames: 'chunk-[hash]',
    metafile: true,
    logLevel: 'warning',
  };
}

/** Builds into `outDir` (default out/cli) and returns how long it took. */
export async function buildCli({ root = ROOT, outDir = join(root, 'out', 'cli') } = {}) {
  const started = Date.now();
  const id = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = `${outDir}.tmp-${id}`;
  try {
    const result = await build({ ...cliBuildOptions(root), outdir: tmp });
    const inputs = Object.keys(result.metafile.inputs).filter((f) => !f.includes('node_modules/'));
    writeFileSync(join(tmp, 'build.json'), `${JSON.stringify({ builtAt: started, inputs }, null, 1)}\n`);
    const old = `${outDir}.old-${id}`;
    try {
      renameSync(outDir, old);
    } catch (e) {
      if (e.code !== 'ENOENT') throw e;
    }
    try {
      renameSync(tmp, outDir);
    } catch (e) {
      // Another build of the same sources was renamed into place in between: keep it.
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
    }
    rmSync(old, { recursive: true, force: true });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { outDir, ms: Date.now() - started };
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  const { outDir, ms } = await buildCli(values.out ? { outDir: resolve(values.out) } : {});
  console.log(`built the backstop CLI into ${relative(process.cwd(), outDir) || '.'} in ${ms} ms`);
}
