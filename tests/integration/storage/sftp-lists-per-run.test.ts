/**
 * The run's one look at a database folder (s3-lists-per-run.test.ts) on SFTP, where a listing
 * is an OPENDIR, READDIRs and a CLOSE on the server: counted in the server's own log (OpenSSH's
 * sftp-server logging each request), over a full, an incremental with a change, an unchanged
 * one and another change, of one SQLite database; then the newest point restores.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { startSshd, type SshdHandle } from '../../fixtures/sshd.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

let sshd: SshdHandle;
beforeAll(async () => {
  sshd = await startSshd({ logSftp: true });
});
afterAll(async () => {
  await sshd?.stop();
});

/** The server's log lines so far (none before the first session). */
const logLines = (): string[] => {
  try {
    return readFileSync(join(sshd.dir, 'sftp.log'), 'utf8').split(/\r?\n/); // sftp-server -e ends its lines with CRLF
  } catch {
    return [];
  }
};

it('an incremental opens its database folder\'s points/ twice on the SFTP server (the run\'s look, the check after its marker)', { timeout: 120_000 }, async () => {
  const engine = await testEngine({ encoderWorkers: 0 });
  const folder = tempDir();
  const db = new Database(join(folder, 'shop.db'));
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('first')");
  const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder }));
  const path = join(sshd.data, 'lists');
  mkdirSync(path); // the destination's folder exists (Backstop creates only the folders under it)
  const task = data(
    await engine.call('tasks.create', {
      name: 'shop over sftp',
      serverId: server.id,
      type: 'snapshot',
      schedule: { full: '0 2 * * *', timezone: 'UTC' },
      retention: { minAgeDays: 0, minAgeHours: 0, keepLast: 2 },
      destinations: [{ kind: 'sftp', host: sshd.host, port: sshd.port, user: sshd.user, path, hostKey: sshd.hostKey(), privateKeyFile: sshd.clientKey, credentialsRef: null }],
    }),
  );
  const points = `opendir "${join(path, encodeDatabaseFolder('shop.db'), 'points')}"`;
  // Measured: 1 for the full (retention's plan), 2 for each incremental; before the run's view 1 and 6.
  const steps = [
    ['full', false, 1],
    ['incremental', true, 2],
    ['incremental', false, 2],
    ['incremental', true, 2],
  ] as const;
  for (const [i, [kind, change, most]] of steps.entries()) {
    if (change) db.exec(`INSERT INTO t (v) VALUES ('change ${i}')`);
    const before = logLines().length;
    const run = await runTask(engine, task.id, kind);
    expect(run.databases.map((d) => [d.status, d.kind])).toEqual([['success', kind]]);
    const opened = logLines().slice(Math.max(0, before - 1)).filter((l) => l === points).length;
    expect(opened, `run ${i + 1} (${kind}): opendirs of points/`).toBeLessThanOrEqual(most);
    expect(opened, 'the server logged the listing').toBeGreaterThan(0);
  }
  db.close();
  const location = { kind: 'sftp' as const, host: sshd.host, port: sshd.port, user: sshd.user, path: join(path, encodeDatabaseFolder('shop.db')), hostKey: sshd.hostKey(), privateKeyFile: sshd.clientKey, credentialsRef: null };
  const restored = await restoreAndWait(engine, { location, pointId: 'latest', serverId: server.id, database: 'copy.db' });
  expect(restored).toMatchObject({ status: 'success', error: null });
  const copy = new Database(join(folder, 'copy.db'));
  expect(copy.prepare('SELECT v FROM t ORDER BY id').all().map((r) => (r as { v: string }).v)).toEqual(['first', 'change 1', 'change 3']);
  copy.close();
});
