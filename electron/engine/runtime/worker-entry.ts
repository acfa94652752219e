/**
 * Where a worker_threads entry point lives at run time, and how to start it.
 *
 * Contract: worker entries are the files `electron/worker/<name>.ts`. Built entries are
 * used when `BACKSTOP_WORKER_DIR` names their folder (the Electron main sets it to
 * `out/main/workers`; bin/backstop.mjs and the tests to the CLI build's `out/cli/workers`)
 * or when they sit next to this module's bundle; otherwise (dev tools run through tsx) the
 * TypeScript file is started through the tsx loader, a dev dependency. Engine code starts workers by name through
 * `startWorker` and never imports worker/ modules. The worker sees `workerData` exactly
 * as given (plus one private `__bootstrap` key when started from source).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

export interface WorkerEntry {
  filename: string;
  execArgv: string[];
}

export function workerEntry(name: string): WorkerEntry {
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`invalid worker name: ${name}`);
  // The shell that built the workers says where they are (inherited by nested workers).
  const dir = process.env.BACKSTOP_WORKER_DIR;
  if (dir) {
    const file = join(dir, `${name}.js`);
    if (existsSync(file)) return { filename: file, execArgv: [] };
  }
  const built = fileURLToPath(new URL(`./workers/${name}.js`, import.meta.url));
  if (existsSync(built)) return { filename: built, execArgv: [] };
  const source = fileURLToPath(new URL(`../../worker/${name}.ts`, import.meta.url));
  if (existsSync(source)) return { filename: source, execArgv: ['--import', 'tsx'] };
  throw new Error(`worker entry "${name}" not found (looked for ${built} and ${source})`);
}

// On Node 20 a loader given in a worker's execArgv does not apply to the worker's own
// entry module, so a source entry is started through a bootstrap that registers tsx
// inside the worker first, then imports the entry.
const BOOTSTRAP = `const { workerData } = require('node:worker_threads');
(async () => {
  const { loader, entry } = workerData.__bootstrap;
  if (loader) (await import(loader)).register();
  await import(entry);
})().catch((e) => process.nextTick(() => { throw e; }));`;

/**
 * A worker inherits its parent's execArgv, so a built entry started from a process that
 * runs through tsx (the CLI, scripts) would load the TypeScript loader (and its hooks
 * thread) for nothing: ~100 ms and tens of MB per worker. For such a parent a built entry
 * gets only the flags below (an explicit execArgv may not hold V8 or process-wide flags,
 * which an inherited one silently may); otherwise it inherits as usual (undefined).
 */
export function builtWorkerExecArgv(parent: readonly string[]): string[] | undefined {
  const loadsTsx = parent.some((a, i) => /(^|[/\\])tsx([/\\]|$)/.test(a) && i > 0 && /^(--import|--loader|--require|-r)$/.test(parent[i - 1]!)) || parent.some((a) => /^--(import|loader|require)=.*\btsx\b/.test(a));
  if (!loadsTsx) return undefined;
  return parent.filter((a) => a === '--enable-source-maps' || a.startsWith('--conditions=') || a === '--no-warnings');
}

export function startWorker(name: string, data: object, options: Omit<WorkerOptions, 'workerData' | 'eval'> = {}): Worker {
  const entry = workerEntry(name);
  if (entry.execArgv.length === 0) return new Worker(entry.filename, { execArgv: builtWorkerExecArgv(process.execArgv), ...options, workerData: data });
  const loader = entry.execArgv.includes('tsx') ? import.meta.resolve('tsx/esm/api') : null;
  return new Worker(BOOTSTRAP, {
    ...options,
    eval: true,
    workerData: { ...data, __bootstrap: { loader, entry: pathToFileURL(entry.filename).href } },
  });
}
