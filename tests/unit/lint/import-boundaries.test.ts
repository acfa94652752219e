/**
 * The architecture's import direction is enforced by ESLint (eslint.config.js). These
 * cases lint small snippets as if they lived in each layer, using the real config.
 */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: new URL('../../..', import.meta.url).pathname });

async function restrictedImports(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

const forbidden: [string, string, RegExp][] = [
  ['electron/engine/x.ts', "import { app } from 'electron';", /Only electron\/main and electron\/preload may import electron/],
  ['electron/engine/store/x.ts', "import { x } from '../../main/window.ts';", /never imports main/],
  ['electron/engine/x.ts', "import { x } from '../worker/seal.ts';", /never imports main, worker/],
  ['electron/engine/x.ts', "import App from '../../renderer/src/App.vue';", /Nothing imports renderer/],
  ['electron/shared/x.ts', "import { readFileSync } from 'node:fs';", /imports nothing but zod/],
  ['electron/shared/ipc/x.ts', "import { createEngine } from '../../engine/index.ts';", /must not import other layers/],
  ['electron/preload/x.ts', "import { z } from 'zod';", /imports only electron and shared/],
  ['electron/preload/x.ts', "import { dispatch } from '../engine/api/dispatch.ts';", /imports only electron and shared/],
  ['electron/worker/x.ts', "import { BrowserWindow } from 'electron';", /Only electron\/main/],
  ['electron/cli/x.ts', "import { x } from '../main/ipc.ts';", /import engine and shared only/],
  ['electron/serve/x.ts', "import { app } from 'electron';", /Only electron\/main/],
  ['electron/serve/x.ts', "import { main } from '../cli/index.ts';", /serve imports engine and shared only/],
  ['electron/serve/x.ts', "import App from '../../renderer/src/App.vue';", /Nothing imports renderer/],
  ['renderer/src/x.ts', "import { readFileSync } from 'fs';", /no Node modules/],
  ['renderer/src/x.ts', "import { spawn } from 'node:child_process';", /no Node modules/],
  ['renderer/src/x.ts', "import { ipcRenderer } from 'electron';", /Only electron\/main/],
  ['renderer/src/x.ts', "import { createEngine } from '../../electron/engine/index.ts';", /through @shared only/],
];

const allowed: [string, string][] = [
  ['electron/engine/x.ts', "import { readFileSync } from 'node:fs';\nimport { BackstopError } from '../shared/result.ts';\nvoid readFileSync; void BackstopError;"],
  ['electron/shared/x.ts', "import { z } from 'zod';\nimport { ok } from './result.ts';\nvoid z; void ok;"],
  ['electron/main/x.ts', "import { app } from 'electron';\nimport { createEngine } from '../engine/index.ts';\nvoid app; void createEngine;"],
  ['electron/preload/x.ts', "import { contextBridge } from 'electron';\nimport { COMMANDS } from '../shared/ipc/channels.ts';\nvoid contextBridge; void COMMANDS;"],
  ['renderer/src/x.ts', "import { COMMANDS } from '@shared/ipc/channels.ts';\nimport { ref } from 'vue';\nvoid COMMANDS; void ref;"],
  ['electron/serve/x.ts', "import { createServer } from 'node:http';\nimport { dispatch } from '../engine/api/dispatch.ts';\nvoid createServer; void dispatch;"],
];

describe('the bridge is reached only through renderer/src/api', () => {
  it('flags window.backstop in a view and allows it in src/api', async () => {
    const code = 'export const servers = () => window.backstop;\n';
    const [inView] = await eslint.lintText(code, { filePath: 'renderer/src/views/x.ts' });
    expect(inView!.messages.map((m) => m.message)).toContain('Only renderer/src/api may use window.backstop; call a store action instead.');
    const [inApi] = await eslint.lintText(code, { filePath: 'renderer/src/api/x.ts' });
    expect(inApi!.messages.filter((m) => m.ruleId === 'no-restricted-syntax')).toEqual([]);
  });
});

describe('import boundaries (ESLint)', () => {
  it.each(forbidden)('%s: %s is an error', async (file, code, message) => {
    const messages = await restrictedImports(file, code);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(message);
  });

  it.each(allowed)('%s: allowed imports pass', async (file, code) => {
    expect(await restrictedImports(file, code)).toEqual([]);
  });
});
