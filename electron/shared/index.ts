/** Code that runs in every process (main, worker, preload, renderer, CLI): types, schemas, results. Imports nothing but zod. */
export * from './result.ts';
export * from './domain.ts';
export * from './ipc/index.ts';
export * from './format-bytes.ts';
