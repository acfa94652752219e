/**
 * Client-tool discovery and version parsing, with the filesystem, PATH and platform
 * injected so every OS's search order is checked here.
 */
import { describe, expect, test } from 'vitest';
import { candidateDirs, compareVersions, findTool, knownToolVersions, parseToolVersion, seedToolVersions, toolVersion } from '../../../electron/engine/servers/tools.ts';

function fakeFs(tree: Record<string, string[]>): { listDir: (d: string) => string[]; isExecutable: (f: string) => boolean } {
  const files = new Set<string>();
  for (const [dir, entries] of Object.entries(tree)) for (const e of entries) files.add(`${dir}${dir.includes('\\') ? '\\' : '/'}${e}`);
  return {
    listDir: (d) => tree[d] ?? [],
    isExecutable: (f) => files.has(f),
  };
}

describe('candidateDirs', () => {
  test('linux: settings folder, then PATH, then /usr/lib/postgresql/*/bin newest first', () => {
    const fs = fakeFs({ '/usr/lib/postgresql': ['9.6', '15', '12', '16'] });
    const dirs = candidateDirs('postgres', { platform: 'linux', binDir: '/opt/pg/bin', pathEnv: '/usr/bin:/bin', ...fs });
    expect(dirs.slice(0, 7)).toEqual([
      '/opt/pg/bin',
      '/usr/bin',
      '/bin',
      '/usr/lib/postgresql/16/bin',
      '/usr/lib/postgresql/15/bin',
      '/usr/lib/postgresql/12/bin',
      '/usr/lib/postgresql/9.6/bin',
    ]);
    expect(dirs).toContain('/usr/local/pgsql/bin');
  });

  test('macOS: Homebrew postgresql@N newest first, Postgres.app', () => {
    const fs = fakeFs({ '/opt/homebrew/opt': ['postgresql@14', 'postgresql@17', 'mysql-client'], '/Applications/Postgres.app/Contents/Versions': ['latest', '16'] });
    const dirs = candidateDirs('postgres', { platform: 'darwin', pathEnv: '', ...fs });
    expect(dirs.indexOf('/opt/homebrew/opt/postgresql@17/bin')).toBeLessThan(dirs.indexOf('/opt/homebrew/opt/postgresql@14/bin'));
    expect(dirs).toContain('/Applications/Postgres.app/Contents/Versions/latest/bin');
    expect(dirs).toContain('/Applications/Postgres.app/Contents/Versions/16/bin');
  });

  test('windows: C:\\Program Files\\PostgreSQL\\N\\bin newest first, ; separated PATH', () => {
    const fs = fakeFs({ 'C:\\Program Files\\PostgreSQL': ['13', '16'] });
    const dirs = candidateDirs('postgres', { platform: 'win32', pathEnv: 'C:\\Windows;C:\\tools', ...fs });
    expect(dirs.slice(0, 4)).toEqual(['C:\\Windows', 'C:\\tools', 'C:\\Program Files\\PostgreSQL\\16\\bin', 'C:\\Program Files\\PostgreSQL\\13\\bin']);
  });

  test('windows: MariaDB and MySQL install folders for the mysql family', () => {
    const fs = fakeFs({ 'C:\\Program Files': ['MariaDB 10.11', 'MariaDB 11.4', 'Common Files'], 'C:\\Program Files\\MySQL': ['MySQL Server 8.0'] });
    const dirs = candidateDirs('mysql', { platform: 'win32', pathEnv: '', ...fs });
    expect(dirs).toEqual(['C:\\Program Files\\MariaDB 11.4\\bin', 'C:\\Program Files\\MariaDB 10.11\\bin', 'C:\\Program Files\\MySQL\\MySQL Server 8.0\\bin']);
  });
});

describe('findTool', () => {
  test('the settings folder wins over PATH; name order applies within a folder', () => {
    const fs = fakeFs({ '/custom': ['mysqldump'], '/usr/bin': ['mariadb-dump', 'mysqldump'] });
    expect(findTool(['mariadb-dump', 'mysqldump'], 'mysql', { platform: 'linux', binDir: '/custom', pathEnv: '/usr/bin', ...fs })).toBe('/custom/mysqldump');
    expect(findTool(['mariadb-dump', 'mysqldump'], 'mysql', { platform: 'linux', pathEnv: '/usr/bin', ...fs })).toBe('/usr/bin/mariadb-dump');
  });

  test('falls back to the usual locations when PATH has nothing', () => {
    const fs = fakeFs({ '/usr/lib/postgresql': ['15', '16'], '/usr/lib/postgresql/16/bin': ['pg_dump'], '/usr/lib/postgresql/15/bin': ['pg_dump'] });
    expect(findTool(['pg_dump'], 'postgres', { platform: 'linux', pathEnv: '/nothing', ...fs })).toBe('/usr/lib/postgresql/16/bin/pg_dump');
  });

  test('windows adds .exe', () => {
    const fs = fakeFs({ 'C:\\Program Files\\PostgreSQL': ['16'], 'C:\\Program Files\\PostgreSQL\\16\\bin': ['pg_dump.exe'] });
    expect(findTool(['pg_dump'], 'postgres', { platform: 'win32', pathEnv: '', ...fs })).toBe('C:\\Program Files\\PostgreSQL\\16\\bin\\pg_dump.exe');
  });

  test('TOOL_MISSING names the tool and where it looked', () => {
    const fs = fakeFs({});
    expect(() => findTool(['pg_dump'], 'postgres', { platform: 'linux', binDir: '/opt/x', pathEnv: '', ...fs })).toThrow(
      expect.objectContaining({ code: 'TOOL_MISSING', message: expect.stringMatching(/pg_dump was not found in the folder set in Settings \(\/opt\/x\)/) }),
    );
  });
});

describe('versions', () => {
  test.each([
    ['pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)', { version: '15.18', major: '15', flavor: 'postgresql' }],
    ['pg_dump (PostgreSQL) 9.6.24', { version: '9.6.24', major: '9.6', flavor: 'postgresql' }],
    ['pg_dump (PostgreSQL) 17beta1', { version: '17', major: '17', flavor: 'postgresql' }],
    ['mariadb-dump  Ver 10.19 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)', { version: '10.11.19', major: '10.11', flavor: 'mariadb' }],
    ['mariadb-dump from 11.4.2-MariaDB, client 10.19 for Linux (x86_64)', { version: '11.4.2', major: '11.4', flavor: 'mariadb' }],
    ['mysqldump  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)', { version: '8.0.36', major: '8.0', flavor: 'mysql' }],
    ['mysql  Ver 8.4.0 for macos14 on arm64 (Homebrew)', { version: '8.4.0', major: '8.4', flavor: 'mysql' }],
  ])('%s', (out, expected) => {
    expect(parseToolVersion(out)).toEqual(expected);
  });

  test('garbage is null', () => {
    expect(parseToolVersion('command not found')).toBeNull();
  });

  test('compareVersions is numeric', () => {
    expect(compareVersions('15', '9.6')).toBeGreaterThan(0);
    expect(compareVersions('9.6', '10')).toBeLessThan(0);
    expect(compareVersions('10.11.6', '10.5')).toBeGreaterThan(0);
    expect(compareVersions('16', '16')).toBe(0);
  });
});

describe('tool versions handed to a job worker', () => {
  test('a version read in one thread is known; one seeded from another thread is answered without running the tool', async () => {
    const sh = await toolVersion('/bin/sh').catch(() => null); // not a database tool: TOOL_MISSING, and not known
    expect(sh).toBeNull();
    expect(knownToolVersions()['/bin/sh']).toBeUndefined();
    // A path that cannot run: only the seeded value can answer for it.
    const absent = '/nonexistent/backstop-test/mariadb';
    const parsed = { version: '10.11.19', major: '10.11', flavor: 'mariadb' as const };
    seedToolVersions({ [absent]: parsed });
    await expect(toolVersion(absent)).resolves.toEqual(parsed);
    expect(knownToolVersions()[absent]).toEqual(parsed);
    // A seed never replaces what this thread already has.
    seedToolVersions({ [absent]: { version: '8.0.36', major: '8.0', flavor: 'mysql' } });
    await expect(toolVersion(absent)).resolves.toEqual(parsed);
  });
});
