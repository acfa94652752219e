import { describe, expect, it } from 'vitest';
import { builtWorkerExecArgv } from '../../../electron/engine/runtime/worker-entry.ts';

describe('execArgv of a built worker entry', () => {
  it('inherits as usual when the parent does not run through tsx', () => {
    expect(builtWorkerExecArgv([])).toBeUndefined();
    expect(builtWorkerExecArgv(['--enable-source-maps', '--expose-gc'])).toBeUndefined();
    expect(builtWorkerExecArgv(['--import', './my-hooks.mjs'])).toBeUndefined();
  });

  it('drops the TypeScript loader (and flags a worker may not be given) when the parent runs through tsx', () => {
    expect(builtWorkerExecArgv(['--import', 'tsx'])).toEqual([]);
    expect(builtWorkerExecArgv(['--expose-gc', '--import', 'tsx', '--enable-source-maps'])).toEqual(['--enable-source-maps']);
    expect(builtWorkerExecArgv(['--import=tsx', '--conditions=development'])).toEqual(['--conditions=development']);
    expect(builtWorkerExecArgv(['--require', '/app/node_modules/tsx/dist/cjs/index.cjs'])).toEqual([]);
  });
});
