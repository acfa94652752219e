/**
 * Tests never touch the developer's real Backstop data (tests/fixtures/private-config-home.ts,
 * config-home-per-file.ts): a `backstop` command a test starts without --data-dir opens the
 * test file's own throwaway data folder, and the run's guard names each file a command
 * created, changed or removed in a real data folder.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBackstop } from '../../fixtures/cli.ts';
import { realDataTouched, realPaths, watchUntouched } from '../../fixtures/private-config-home.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

describe("the tests' data folder", () => {
  it('a backstop command without --data-dir opens this test file’s own throwaway folder: empty, inside the run’s, not under HOME', async () => {
    const runFolder = process.env.BACKSTOP_TEST_CONFIG_HOME;
    const configHome = process.env.XDG_CONFIG_HOME;
    expect(runFolder, 'the run has a throwaway config folder').toBeTruthy();
    expect(configHome?.startsWith(`${runFolder}/file-`), `XDG_CONFIG_HOME=${configHome}`).toBe(true);
    expect(process.env.BACKSTOP_DATA_DIR).toBeUndefined();

    const info = await runBackstop(['info', '--json']);
    expect(JSON.parse(info.stdout)).toMatchObject({ dataDir: join(configHome!, 'Backstop') });
    const history = await runBackstop(['history', '--json']);
    expect([history.code, JSON.parse(history.stdout)]).toEqual([0, []]);
    expect(existsSync(join(configHome!, 'Backstop', 'backstop.db'))).toBe(true);
  });

  it('the guard names each file a command created, changed or removed in a real data folder, and what to do', async () => {
    const home = tempDir();
    const data = join(home, '.config', 'Backstop');
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, 'keep.txt'), 'kept');
    writeFileSync(join(data, 'gone.txt'), 'gone');
    const paths = realPaths({ HOME: home });
    expect(paths).toContain(data);
    expect(paths).toContain(join(home, '.config', 'systemd', 'user', 'backstop-agent.service'));
    const touched = watchUntouched(paths);
    const mine = () => touched().filter((p) => p.startsWith(`${home}/`));
    expect(mine()).toEqual([]);

    // What a test without its own folder did: the command's default data folder is HOME's.
    const r = await runBackstop(['history', '--json'], { env: { HOME: home, XDG_CONFIG_HOME: '' } });
    expect(r.code, r.stderr).toBe(0);
    writeFileSync(join(data, 'keep.txt'), 'changed, longer');
    rmSync(join(data, 'gone.txt'));
    const changed = mine();
    expect(changed).toEqual(expect.arrayContaining([`${join(data, 'backstop.db')} (created)`, `${join(data, 'gone.txt')} (removed)`, `${join(data, 'keep.txt')} (changed)`]));
    expect(changed.every((c) => / \((created|changed|removed)\)$/.test(c))).toBe(true);
    expect(realDataTouched(changed)).toMatch(/^The test run touched your real Backstop data — .+\n {2}.+backstop\.db \(created\)\n[^]*Give it one \(--data-dir tempDir\(\), createEngine\(\{ dataDir \}\), or HOME\/XDG_CONFIG_HOME set to a temp folder\)\./);
    expect(readFileSync(join(data, 'keep.txt'), 'utf8')).toBe('changed, longer');
  });
});
