/**
 * Client tools that are not installed are TOOL_MISSING with the install hint, never
 * UNREACHABLE (issue 16 item 10), for PostgreSQL and MariaDB, in every operation that
 * needs them: test, list, dump, restore. The servers are real and reachable; the probe
 * (tests/fixtures/tool-missing-probe.ts) runs in a private mount namespace where the
 * system's client tools are hidden, with `tools.binDir` set to an empty folder and PATH
 * holding only that folder. Two PostgreSQL shapes: nothing at all, and Debian's
 * /usr/bin/psql wrapper without any postgresql-client package (it runs and fails).
 * Needs `unshare -m` (root or user namespaces); skipped, saying so, where that is missing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Server } from '../../../electron/shared/domain.ts';
import { startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const ROOT = join(import.meta.dirname, '../../..');
const PROBE = join(ROOT, 'tests/fixtures/tool-missing-probe.ts');
const PG_WRAPPER = '/usr/share/postgresql-common/pg_wrapper';
const MARIADB_TOOLS = ['/usr/bin/mariadb', '/usr/bin/mariadb-dump'].filter((f) => existsSync(f));

const canUnshare = (() => {
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs none /mnt'], { stdio: 'ignore' });
  if (r.status !== 0) console.warn('tool-missing tests skipped: `unshare -m` with mount is not available here');
  return r.status === 0;
})();

type Outcome = { ok: true } | { code: string; message: string };

/** Runs the probe with `hideDirs` covered by empty tmpfs mounts and `hideFiles` by /dev/null. */
function probe(input: object, hideDirs: string[], hideFiles: string[]): Record<string, Outcome> {
  const binDir = (input as { binDir: string }).binDir;
  const mounts = [...hideDirs.filter((d) => existsSync(d)).map((d) => `mount -t tmpfs none '${d}'`), ...hideFiles.map((f) => `mount --bind /dev/null '${f}'`)];
  const out = execFileSync(
    'unshare',
    ['-m', '--propagation', 'private', 'sh', '-c', `set -e; ${mounts.join('; ')}; exec env PATH='${binDir}' "$0" --import tsx "$1" "$2"`, process.execPath, PROBE, JSON.stringify(input)],
    { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
  );
  return JSON.parse(out) as Record<string, Outcome>;
}

function expectToolMissing(result: Record<string, Outcome>, tool: RegExp, product: string): void {
  for (const op of ['testConnection', 'listDatabases', 'dump', 'restore']) {
    const r = result[op];
    expect(r, `${op}: ${JSON.stringify(r)}`).toMatchObject({ code: 'TOOL_MISSING' });
    const message = (r as { message: string }).message;
    expect(message, op).toMatch(tool);
    expect(message, op).toContain(`Install the ${product} client tools or set their folder in Settings.`);
    expect(message, op).not.toMatch(/Cannot reach|UNREACHABLE/);
  }
}

describe.skipIf(!canUnshare)('client tools missing: TOOL_MISSING, not UNREACHABLE', () => {
  let pg: PgServer;
  let maria: MariadbServer;

  beforeAll(async () => {
    [pg, maria] = await Promise.all([startPostgres(), startMariadb()]);
  });
  afterAll(async () => {
    await Promise.all([pg?.stop(), maria?.stop()]);
  });

  const pgInput = (binDir: string) => ({
    server: { id: 'p', name: 'pg', kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, tls: 'disable', passwordRef: null, createdAt: '', updatedAt: '' } satisfies Server,
    password: pg.password,
    binDir,
    database: 'postgres',
    restoreAs: 'restored_without_tools',
  });

  test('PostgreSQL, no client tools anywhere', () => {
    const result = probe(pgInput(tempDir()), ['/usr/lib/postgresql'], existsSync(PG_WRAPPER) ? [PG_WRAPPER] : []);
    expect(result.findTool).toMatchObject({ code: 'TOOL_MISSING' }); // the test really cannot see the system's tools
    expectToolMissing(result, /\b(psql|pg_dump|pg_restore) was not found in the folder set in Settings/, 'PostgreSQL');
    expect(pg.psql("SELECT count(*) FROM pg_database WHERE datname = 'restored_without_tools'").trim()).toBe('0');
  });

  test.skipIf(!existsSync(PG_WRAPPER))('PostgreSQL, only Debian\'s psql wrapper without a client package', () => {
    const result = probe(pgInput(tempDir()), ['/usr/lib/postgresql'], []);
    expect(result.findTool).toMatchObject({ ok: true }); // /usr/bin/psql is found, and cannot run
    expectToolMissing(result, /You must install at least one postgresql-client|PostgreSQL version \d+ is not installed/, 'PostgreSQL');
    expect(pg.psql("SELECT count(*) FROM pg_database WHERE datname = 'restored_without_tools'").trim()).toBe('0');
  });

  test('MariaDB, no client tools anywhere', () => {
    const input = {
      server: { id: 'm', name: 'maria', kind: 'mysql', host: maria.host, port: maria.port, user: maria.user, tls: 'disable', passwordRef: null, createdAt: '', updatedAt: '' } satisfies Server,
      password: maria.password,
      binDir: tempDir(),
      database: 'mysql',
      restoreAs: 'restored_without_tools',
    };
    const result = probe(input, [], MARIADB_TOOLS);
    expect(result.findTool).toMatchObject({ code: 'TOOL_MISSING' });
    expectToolMissing(result, /\bmariadb(-dump)? or mysql(dump)? was not found in the folder set in Settings/, 'MySQL/MariaDB');
    expect(maria.sql("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'restored_without_tools'").trim()).toBe('0');
  });
});
