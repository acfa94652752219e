/**
 * makeTempFolder names its folder with the process id and, before making one, removes the
 * folders of the same prefix whose process no longer runs (what a killed backup left: a whole
 * copy of a database), keeping a running process's and other prefixes'.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempFolder } from '../../../electron/engine/servers/temp-folder.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

/** The id of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('makeTempFolder', () => {
  it('names the folder with this process id and removes the ones a dead process of the same prefix left', () => {
    const base = tempDir();
    const dead = deadPid();
    const leftover = join(base, `backstop-sqlite-${dead}-AbC123`);
    mkdirSync(leftover);
    writeFileSync(join(leftover, 'snapshot.sqlite'), 'a whole copy');
    const live = join(base, `backstop-sqlite-${process.pid}-keep01`);
    mkdirSync(live);
    const init = join(base, 'backstop-sqlite-1-init00'); // pid 1 runs (another user's process counts as running)
    mkdirSync(init);
    const other = join(base, `backstop-pgrestore-${dead}-Other1`);
    mkdirSync(other);
    const unrelated = join(base, 'backstop-sqlite-notapid');
    mkdirSync(unrelated);

    const made = makeTempFolder('backstop-sqlite-', 'Snapshotting "x"', base);
    expect(made).toMatch(new RegExp(`/backstop-sqlite-${process.pid}-[^/]{6}$`));
    expect(existsSync(leftover)).toBe(false);
    expect([live, init, other, unrelated, made].every((d) => existsSync(d))).toBe(true);
    expect(readdirSync(base).sort()).toHaveLength(5);
  });
});
