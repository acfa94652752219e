/**
 * The real `backstop` command against a real PostgreSQL 15: every failure prints exactly
 * one JSON document with `--json` (server down, wrong password, bad task file), the
 * messages name the task-file keys to change, and a database that refuses connections is
 * reported as skipped — in the output and in history — instead of vanishing silently.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneJsonDocument, runBackstop } from '../../fixtures/cli.ts';
import { freePort } from '../../fixtures/servers/common.ts';
import { PG_BIN, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

let pg: PgServer;
beforeAll(async () => {
  pg = await startPostgres();
  pg.psql('CREATE DATABASE shop; CREATE DATABASE frozen; ALTER DATABASE frozen ALLOW_CONNECTIONS false;');
}, 60_000);
afterAll(async () => {
  await pg?.stop();
});

function taskFile(server: Record<string, unknown>): string {
  const path = join(tempDir(), 'task.json');
  writeFileSync(
    path,
    JSON.stringify({
      name: 'pg',
      server: { kind: 'postgres', host: pg.host, port: pg.port, user: 'postgres', passwordEnv: 'CLI_TEST_PGPASSWORD', tls: 'disable', ...server },
      type: 'logical',
      schedule: { full: '0 2 * * *' },
      destinations: [{ kind: 'local', path: join(tempDir(), 'backups') }],
      tools: { binDir: PG_BIN },
    }),
  );
  return path;
}

describe('backstop backup failures: one JSON document, fixes named in task-file terms', () => {
  it('server down: one document with the run-level error beside runId, naming server.host/server.port', async () => {
    const task = taskFile({ port: await freePort() });
    const r = await runBackstop(['backup', '--config', task, '--data-dir', tempDir(), '--json'], { env: { CLI_TEST_PGPASSWORD: pg.password } });
    expect(r.code).toBe(1);
    const doc = oneJsonDocument(r.stdout) as { runId: string; status: string; error: { code: string; message: string }; databases: unknown[] };
    expect(doc).toMatchObject({ runId: expect.any(String), status: 'failed', databases: [], error: { code: 'UNREACHABLE' } });
    expect(doc.error.message).toContain(`\`server.host\`/\`server.port\` in ${task}`);
    expect(doc.error.message).not.toContain('server settings');
  }, 60_000);

  it('wrong password: one document, AUTH_FAILED naming server.user and server.passwordEnv, no secret', async () => {
    const task = taskFile({});
    const r = await runBackstop(['backup', '--config', task, '--data-dir', tempDir(), '--json'], { env: { CLI_TEST_PGPASSWORD: 'not-the-password-123' } });
    expect(r.code).toBe(1);
    const doc = oneJsonDocument(r.stdout) as { status: string; error: { code: string; message: string } };
    expect(doc).toMatchObject({ status: 'failed', error: { code: 'AUTH_FAILED' } });
    expect(doc.error.message).toContain(`Check \`server.user\` in ${task}, and the password in the environment variable that \`server.passwordEnv\` names`);
    expect(r.stdout + r.stderr).not.toContain('not-the-password-123');
    // Text output: the same run line and the error, once.
    const text = await runBackstop(['backup', '--config', task, '--data-dir', tempDir()], { env: { CLI_TEST_PGPASSWORD: 'not-the-password-123' } });
    expect(text.code).toBe(1);
    expect(text.stdout.match(/AUTH_FAILED/g)).toHaveLength(1);
  }, 60_000);

  it('bad task file and unknown option: one document each', async () => {
    const bad = join(tempDir(), 'task.json');
    writeFileSync(bad, '{"name": "x",');
    const r = await runBackstop(['backup', '--config', bad, '--json']);
    expect(r.code).toBe(2);
    expect(oneJsonDocument(r.stdout)).toEqual({ error: { code: 'MALFORMED_REQUEST', message: expect.stringContaining('is not valid JSON') } });
    const u = await runBackstop(['backup', '--colour', '--json']);
    expect(u.code).toBe(2);
    expect(oneJsonDocument(u.stdout)).toMatchObject({ error: { code: 'MALFORMED_REQUEST' } });
  }, 60_000);
});

describe('a database with ALLOW_CONNECTIONS false', () => {
  it('is reported as skipped with the fix, in the output and in history', async () => {
    const task = taskFile({});
    const dataDir = tempDir();
    const r = await runBackstop(['backup', '--config', task, '--data-dir', dataDir, '--json'], { env: { CLI_TEST_PGPASSWORD: pg.password } });
    expect(r.stderr).toBe('');
    const doc = oneJsonDocument(r.stdout) as { status: string; databases: { database: string; status: string; warning?: string }[] };
    expect(r.code).toBe(0);
    expect(doc.status).toBe('success');
    expect(doc.databases.find((d) => d.database === 'shop')).toMatchObject({ status: 'ok' });
    expect(doc.databases.find((d) => d.database === 'frozen')).toEqual({
      database: 'frozen',
      status: 'skipped',
      warning: 'connections to database "frozen" are not allowed, so it was not backed up — run ALTER DATABASE "frozen" ALLOW_CONNECTIONS true to back it up',
    });
    const text = await runBackstop(['backup', '--config', task, '--data-dir', dataDir], { env: { CLI_TEST_PGPASSWORD: pg.password } });
    expect(text.stdout).toContain('skipped frozen: connections to database "frozen" are not allowed');
    const history = oneJsonDocument((await runBackstop(['history', '--data-dir', dataDir, '--json'])).stdout) as {
      databases: { database: string; status: string; errorMessage: string | null }[];
    }[];
    expect(history).toHaveLength(2);
    expect(history[0]!.databases.filter((d) => d.database === 'frozen')).toEqual([
      expect.objectContaining({ status: 'skipped', errorMessage: expect.stringContaining('ALTER DATABASE "frozen" ALLOW_CONNECTIONS true') }),
    ]);
  }, 120_000);
});
