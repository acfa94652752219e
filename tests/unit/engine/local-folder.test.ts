/**
 * destinations.checkFolder / destinations.createFolder through the contract: a missing
 * folder is reported (and not created) by the check, created with its parents only on
 * request; a file in the way or a relative path is refused with VALIDATION and nothing is
 * created.
 */
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testEngine } from '../../fixtures/engine.ts';
import { MemorySecretStore } from '../../fixtures/memory-secret-store.ts';
import { data } from '../../fixtures/runs.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

describe('local destination folders', () => {
  it('checks without creating, and creates a missing folder with its parents only when asked', async () => {
    const engine = await testEngine({ secrets: new MemorySecretStore() });
    const root = tempDir();
    const target = join(root, 'disk', 'backstop');
    expect(data(await engine.call('destinations.checkFolder', { path: target }))).toEqual({ path: target, exists: false });
    expect(existsSync(join(root, 'disk'))).toBe(false);
    expect(data(await engine.call('destinations.createFolder', { path: target }))).toEqual({ path: target, created: true });
    expect(statSync(target).isDirectory()).toBe(true);
    expect(data(await engine.call('destinations.checkFolder', { path: target }))).toEqual({ path: target, exists: true });
    // An existing folder is left as it is.
    writeFileSync(join(target, 'keep.txt'), 'x');
    expect(data(await engine.call('destinations.createFolder', { path: target }))).toEqual({ path: target, created: false });
    expect(readdirSync(target)).toEqual(['keep.txt']);
  });

  it('refuses a relative path, a file, and a path through a file with VALIDATION, creating nothing', async () => {
    const engine = await testEngine({ secrets: new MemorySecretStore() });
    const root = tempDir();
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    mkdirSync(join(root, 'empty'));

    expect(await engine.call('destinations.checkFolder', { path: 'backups' })).toMatchObject({
      ok: false,
      code: 'VALIDATION',
      message: '"backups" is not an absolute path; enter the full path of the folder, e.g. /mnt/backups/backstop.',
    });
    expect(await engine.call('destinations.createFolder', { path: file })).toMatchObject({
      ok: false,
      code: 'VALIDATION',
      message: `"${file}" is a file, not a folder; choose a folder for the backups.`,
    });
    expect(await engine.call('destinations.createFolder', { path: join(file, 'sub') })).toMatchObject({
      ok: false,
      code: 'VALIDATION',
      message: `A part of "${join(file, 'sub')}" is a file, not a folder; choose another folder.`,
    });
    expect(readdirSync(root).sort()).toEqual(['a-file', 'empty']);
  });
});
