/** Where work copies go (runtime/work-folder.ts): TMPDIR when set, else the engine's data dir's work/, else the OS temp folder. */
import { existsSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useWorkFolder, workFolderBase } from '../../../electron/engine/runtime/work-folder.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const saved = { TMPDIR: process.env.TMPDIR, BACKSTOP_WORK_DIR: process.env.BACKSTOP_WORK_DIR };
const restore = (name: keyof typeof saved): void => {
  if (saved[name] === undefined) delete process.env[name];
  else process.env[name] = saved[name];
};
beforeEach(() => {
  delete process.env.TMPDIR;
  delete process.env.BACKSTOP_WORK_DIR;
});
afterEach(() => {
  restore('TMPDIR');
  restore('BACKSTOP_WORK_DIR');
});

describe('workFolderBase', () => {
  it('is the data dir’s work folder once an engine uses it, created private (0700) on demand', () => {
    const dataDir = tempDir();
    useWorkFolder(dataDir);
    expect(workFolderBase()).toBe(join(dataDir, 'work'));
    expect(statSync(join(dataDir, 'work')).isDirectory()).toBe(true);
    expect(statSync(join(dataDir, 'work')).mode & 0o777).toBe(0o700);
  });

  it('is TMPDIR when the user set it, whatever the data dir', () => {
    const mine = tempDir();
    process.env.TMPDIR = mine;
    useWorkFolder(tempDir());
    expect(workFolderBase()).toBe(mine);
  });

  it('is the OS temp folder with no engine, and when the data dir is gone (never recreated)', () => {
    expect(workFolderBase()).toBe(tmpdir());
    const dataDir = tempDir();
    useWorkFolder(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
    expect(workFolderBase()).toBe(tmpdir());
    expect(existsSync(dataDir)).toBe(false);
  });

  it('an engine that closes gives back the previous folder, and leaves a later engine’s alone', () => {
    const a = tempDir();
    const b = tempDir();
    const releaseA = useWorkFolder(a);
    const releaseB = useWorkFolder(b);
    releaseA();
    expect(workFolderBase()).toBe(join(b, 'work'));
    releaseB();
    expect(workFolderBase()).toBe(join(a, 'work'));
  });
});
