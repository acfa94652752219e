#!/usr/bin/env node
/**
 * `npm run test:e2e`: build the renderer, then run the Playwright specs in tests/e2e
 * against it (served by vite preview, wired to a real engine by the harness).
 *
 * Build: `electron-vite build` (main, preload and renderer, exactly as the app ships).
 * When the Electron main or preload entry does not exist yet, only the renderer is built,
 * with plain vite and the renderer section of electron.vite.config.ts.
 * Set BACKSTOP_E2E_SKIP_BUILD=1 to reuse an existing out/renderer, or
 * BACKSTOP_E2E_RENDERER_ONLY=1 to build only the renderer (the specs need nothing else).
 *
 * Extra arguments are passed to `playwright test` (e.g. a spec file or `-g "name"`).
 * Exits with Playwright's exit code.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: process.env });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

async function buildRendererOnly() {
  const { loadConfigFromFile } = await import('electron-vite');
  const { build } = await import('vite');
  const loaded = await loadConfigFromFile({ command: 'build', mode: 'production' }, 'electron.vite.config.ts', root);
  const renderer = loaded.config.renderer;
  if (!renderer) throw new Error('electron.vite.config.ts has no renderer section');
  await build({
    ...renderer,
    configFile: false,
    mode: 'production',
    // What electron-vite's renderer preset sets: relative asset URLs (file:// in the app).
    base: './',
    build: { ...renderer.build, emptyOutDir: true, target: 'chrome130', modulePreload: { polyfill: false } },
  });
}

async function main() {
  if (process.env.BACKSTOP_E2E_SKIP_BUILD !== '1') {
    const haveShell = existsSync(resolve(root, 'electron/main/index.ts')) && existsSync(resolve(root, 'electron/preload/index.ts'));
    if (haveShell && process.env.BACKSTOP_E2E_RENDERER_ONLY !== '1') {
      const code = run(npx, ['electron-vite', 'build']);
      if (code !== 0) {
        console.error(`e2e: electron-vite build failed (exit ${code})`);
        return code;
      }
    } else {
      console.log(haveShell ? 'e2e: building the renderer only' : 'e2e: electron/main or electron/preload is missing; building the renderer only');
      await buildRendererOnly();
    }
  }
  if (!existsSync(resolve(root, 'out/renderer/index.html'))) {
    console.error('e2e: out/renderer/index.html does not exist; the renderer build did not produce it');
    return 1;
  }
  return run(npx, ['playwright', 'test', '-c', 'tests/e2e/playwright.config.ts', ...process.argv.slice(2)]);
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
