/**
 * Bundles the bench's Backstop child and the engine's worker entries with esbuild, so the
 * measured process runs like the shipped app (plain JS, no TypeScript loader thread per
 * worker) instead of through tsx. npm packages stay external (resolved from the repo's
 * node_modules, hence the output folder inside the repo: .tmp/bench-build, which git and
 * ESLint ignore; removed after the run).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

export interface Bundles {
  dir: string;
  child: string;
  workerDir: string;
  /** pipeline.ts's ceiling case worker (scripts/bench/ceiling-worker.ts). */
  ceilingWorker: string;
}

/** `name`: the folder under .tmp (a bench running beside another builds into its own). */
export async function buildBundles(root: string, name = 'bench-build'): Promise<Bundles> {
  const dir = join(root, '.tmp', name);
  rmSync(dir, { recursive: true, force: true });
  await build({
    entryPoints: {
      'backstop-child': join(root, 'scripts', 'bench', 'backstop-child.ts'),
      'workers/chunk-encoder': join(root, 'electron', 'worker', 'chunk-encoder.ts'),
      'workers/backup-job': join(root, 'electron', 'worker', 'backup-job.ts'),
      'ceiling-worker': join(root, 'scripts', 'bench', 'ceiling-worker.ts'),
    },
    outdir: dir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    packages: 'external',
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  return { dir, child: join(dir, 'backstop-child.js'), workerDir: join(dir, 'workers'), ceilingWorker: join(dir, 'ceiling-worker.js') };
}
