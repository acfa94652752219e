import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import vue from '@vitejs/plugin-vue';
import { COMMANDS } from './electron/shared/ipc/contract.ts';

const root = import.meta.dirname;

// Every electron/worker/<name>.ts becomes out/main/workers/<name>.js, beside the main
// bundle, where engine/runtime/worker-entry.ts looks for it.
const workerInputs = Object.fromEntries(
  readdirSync(resolve(root, 'electron/worker'))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => [`workers/${f.slice(0, -3)}`, resolve(root, 'electron/worker', f)]),
);

export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      rollupOptions: {
        input: { index: resolve(root, 'electron/main/index.ts'), ...workerInputs },
      },
    },
  },
  preload: {
    // The command names from the contract table, inlined so the preload bundle holds no zod.
    define: { __BACKSTOP_COMMANDS__: JSON.stringify(COMMANDS) },
    build: {
      outDir: 'out/preload',
      // A sandboxed preload cannot load modules: bundle everything into one CommonJS file.
      externalizeDeps: false,
      rollupOptions: {
        input: { index: resolve(root, 'electron/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(root, 'renderer'),
    plugins: [vue()],
    resolve: { alias: { '@shared': resolve(root, 'electron/shared') } },
    build: {
      outDir: resolve(root, 'out/renderer'),
      rollupOptions: { input: { index: resolve(root, 'renderer/index.html') } },
    },
  },
});
