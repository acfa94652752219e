/**
 * Where a worker_threads entry point lives at run time.
 *
 * Contract: worker entries are the files `electron/worker/<name>.ts`. In the built app
 * (electron-vite bundles them to `out/main/workers/<name>.js`, next to the main bundle)
 * the built file is used; when running from source (CLI via tsx, vitest) the TypeScript
 * file is started with the tsx loader. Engine code spawns workers by name through this
 * function and never imports worker/ modules.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

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
