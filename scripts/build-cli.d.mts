// Types of scripts/build-cli.mjs for the TypeScript callers (tests' global setup, soak).
import type { BuildOptions } from 'esbuild';

export const ROOT: string;
export const CLI_OUT_DIR: string;
export function cliBuildOptions(root?: string): BuildOptions & { metafile: true };
export function buildCli(options?: { root?: string; outDir?: string }): Promise<{ outDir: string; ms: number }>;
