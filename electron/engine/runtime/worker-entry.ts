/**
 * Where a worker_threads entry point lives at run time, and how to start it.
 *
 * Contract: worker entries are the files `electron/worker/<name>.ts`. In the built app
 * (electron-vite bundles them to `out/main/workers/<name>.js`, next to the main bundle)
 * the built file is used; when running from source (CLI via tsx, vitest) the TypeScript
 * file is started through the tsx loader. Engine code starts workers by name through
 * `startWorker` and never imports worker/ modules. The worker sees `workerData` exactly
 * as given (plus one private `__bootstrap` key when started from source).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

export interface WorkerEntry {
  filename: string;
  execArgv: string[];
}

export function workerEntry(name: string): WorkerEntry {
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`invalid worker name: ${name}`);
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

export function startWorker(name: string, data: object, options: Omit<WorkerOptions, 'workerData' | 'eval'> = {}): Worker {
  const entry = workerEntry(name);
  if (entry.execArgv.length === 0) return new Worker(entry.filename, { ...options, workerData: data });
  const loader = entry.execArgv.includes('tsx') ? import.meta.resolve('tsx/esm/api') : null;
  return new Worker(BOOTSTRAP, {
    ...options,
    eval: true,
    workerData: { ...data, __bootstrap: { loader, entry: pathToFileURL(entry.filename).href } },
  });
}
