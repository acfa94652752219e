import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../electron/cli/index.ts';
import { MIGRATIONS } from '../../../electron/engine/store/migrations.ts';
import pkg from '../../../package.json' with { type: 'json' };
import { tempDir } from '../../fixtures/temp-dir.ts';

const ROOT = join(import.meta.dirname, '../../..');

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('backstop CLI', () => {
  it('prints its version and help', async () => {
    expect(await cli('--version')).toEqual({ code: 0, out: pkg.version, err: '' });
    expect(JSON.parse((await cli('--version', '--json')).out)).toEqual({ version: pkg.version });
    const help = await cli('--help');
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^backstop \d+\.\d+\.\d+ — server-wide database backups/);
    expect(help.out).toContain('--data-dir DIR');
  });

  it('reports app info as JSON for a given data dir', async () => {
    const dataDir = tempDir();
    const r = await cli('info', '--data-dir', dataDir, '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ name: 'Backstop', version: pkg.version, dataDir, logsDir: join(dataDir, 'logs') });
  });

  it('answers info without opening the engine: the data folder is neither created nor written', async () => {
    const parent = tempDir();
    const dataDir = join(parent, 'fresh');
    const r = await cli('info', '--data-dir', dataDir, '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ name: 'Backstop', version: pkg.version, platform: process.platform, dataDir, logsDir: join(dataDir, 'logs'), schemaVersion: MIGRATIONS.length });
    expect(existsSync(dataDir)).toBe(false);
    // A relative --data-dir is reported as the absolute folder the engine would open.
    const relative = await cli('info', '--data-dir', 'some/dir');
    expect(relative).toEqual({ code: 0, out: `Backstop ${pkg.version}\ndata folder: ${resolve('some/dir')}\nlogs:        ${resolve('some/dir/logs')}`, err: '' });
    expect(existsSync(resolve('some'))).toBe(false);
    // A value that starts with a dash is the option's value (an SQLite file named -dash.db), not an option.
    const dashed = await cli('info', '--data-dir', '-odd dir', '--json');
    expect(dashed.code).toBe(0);
    expect(JSON.parse(dashed.out).dataDir).toBe(resolve('-odd dir'));
    // A value that is only the short options stays an option, as before: parseArgs names the fix, once.
    const ambiguous = await cli('info', '--data-dir', '-h', '--json');
    expect(ambiguous.code).toBe(2);
    expect(JSON.parse(ambiguous.out).error.message).toMatch(/use '--data-dir=-XYZ'\. Run "backstop --help"\.$/);
  });

  it('lists servers, tasks and history of an empty data dir', async () => {
    const dataDir = tempDir();
    expect(await cli('servers', '--data-dir', dataDir)).toMatchObject({ code: 0, out: 'No servers yet.' });
    expect(JSON.parse((await cli('tasks', '--data-dir', dataDir, '--json')).out)).toEqual([]);
    expect(await cli('history', '--data-dir', dataDir, '--limit', '5')).toMatchObject({ code: 0, out: 'No runs yet.' });
  });

  it('answers usage errors with exit code 2 and a JSON error', async () => {
    const dataDir = tempDir();
    const unknown = await cli('frobnicate', '--json');
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.out)).toEqual({ error: { code: 'MALFORMED_REQUEST', message: 'Unknown command "frobnicate". Run "backstop --help".' } });
    const badOption = await cli('info', '--colour');
    expect(badOption.code).toBe(2);
    expect(badOption.err).toMatch(/^backstop: MALFORMED_REQUEST: Unknown option '--colour'/);
    const badLimit = await cli('history', '--data-dir', dataDir, '--limit', 'lots', '--json');
    expect(badLimit.code).toBe(2);
    expect(JSON.parse(badLimit.out).error.code).toBe('MALFORMED_REQUEST');
  });

  it('runs as the installed bin with the right exit codes', () => {
    const bin = join(ROOT, 'bin/backstop.mjs');
    expect(execFileSync(process.execPath, [bin, '--version'], { encoding: 'utf8' }).trim()).toBe(pkg.version);
    const r = spawnSync(process.execPath, [bin, 'nope', '--json'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(JSON.parse(r.stdout).error.code).toBe('MALFORMED_REQUEST');
  });
});
