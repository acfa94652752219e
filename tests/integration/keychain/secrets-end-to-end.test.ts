/**
 * The secrets promise, end to end: a full backup (PostgreSQL with a password, an encrypted
 * task, a local and an S3 destination) and a restore with known secrets, all kept in the
 * real OS keychain — then the app database, logs, history and every emitted event are
 * searched for those secrets, and none is found. Verify key is checked on the same task.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngine } from '../../fixtures/engine.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from '../../fixtures/s3rver.ts';
import { PG_BIN, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

let pg: PgServer;
let s3: S3rverHandle;

beforeAll(async () => {
  [pg, s3] = await Promise.all([startPostgres(), startS3rver(['vault'])]);
  pg.psql('CREATE DATABASE ledger');
  pg.psql("CREATE TABLE entry (id serial PRIMARY KEY, amount numeric, memo text); INSERT INTO entry (amount, memo) SELECT g, 'memo ' || g FROM generate_series(1, 2000) g", 'ledger');
});
afterAll(async () => {
  await Promise.all([pg?.stop(), s3?.stop()]);
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

describe('secrets never leave the keychain', () => {
  it('backs up and restores with known secrets, and none appears in the database, logs, history or events', async () => {
    const engine = await testEngine({ encoderWorkers: 0 });
    const events: string[] = [];
    engine.events.onAny((name, payload) => events.push(JSON.stringify({ name, payload })));
    data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));

    const server = data(await engine.call('servers.create', { kind: 'postgres', name: 'pg', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' }));
    const s3Secret = `${S3RVER_CREDENTIALS.secretAccessKey}`;
    const { credentialsRef } = data(await engine.call('destinations.saveCredentials', { secret: { kind: 's3', ...S3RVER_CREDENTIALS } }));
    const key = data(await engine.call('keys.generate', undefined));
    const keyText = data(await engine.call('keys.reveal', { keyRef: key.keyRef })).key;
    data(await engine.call('keys.markExported', { keyRef: key.keyRef, method: 'clipboard' }));
    const local = tempDir();
    const task = data(
      await engine.call('tasks.create', {
        name: 'vaulted',
        serverId: server.id,
        type: 'logical',
        schedule: { full: '0 2 * * *', timezone: 'UTC' },
        excludeDatabases: ['postgres'],
        encryption: { mode: 'key', keyRef: key.keyRef, fingerprint: key.fingerprint },
        destinations: [
          { kind: 'local', path: local },
          { kind: 's3', bucket: 'vault', prefix: 'pg', region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, checksumMode: 'WHEN_REQUIRED', credentialsRef },
        ],
      }),
    );
    const run = await runTask(engine, task.id, 'full');
    expect(run.status).toBe('success');

    // Verify key: the keychain's key opens the newest point at both destinations; another key does not.
    const verified = data(await engine.call('keys.verify', { taskId: task.id }));
    expect(verified.map((v) => v.ok)).toEqual([true, true]);
    const wrong = data(await engine.call('keys.verify', { taskId: task.id, key: randomBytes(32).toString('base64') }));
    expect(wrong.map((v) => v.error?.code)).toEqual(['KEY_MISMATCH', 'KEY_MISMATCH']);
    expect(wrong[0]!.error!.message).toContain(key.fingerprint);

    const restored = await restoreAndWait(engine, {
      location: { kind: 'local', path: join(local, encodeDatabaseFolder('ledger')) },
      pointId: 'latest',
      serverId: server.id,
      database: 'ledger_copy',
    });
    expect(restored.status).toBe('success');
    expect(pg.psql('SELECT count(*) FROM entry', 'ledger_copy').trim()).toBe('2000');

    const history = JSON.stringify(data(await engine.call('history.list', { limit: 100 })));
    await engine.close();

    const secrets = { 'database password': pg.password, 'S3 secret': s3Secret, 'encryption key': keyText };
    const haystacks: [string, Buffer][] = [
      ...filesUnder(engine.dataDir).map((f): [string, Buffer] => [f, readFileSync(f)]),
      ['history', Buffer.from(history)],
      ['events', Buffer.from(events.join('\n'))],
    ];
    expect(haystacks.some(([f]) => f.endsWith('backstop.db'))).toBe(true);
    expect(haystacks.some(([f]) => f.endsWith('backstop.log'))).toBe(true);
    expect(events.length).toBeGreaterThan(5);
    for (const [what, secret] of Object.entries(secrets)) {
      for (const [where, bytes] of haystacks) expect(bytes.includes(Buffer.from(secret)), `${what} found in ${where}`).toBe(false);
    }
    // The key's raw bytes are not in the backups either (they hold only a fingerprint and a key check).
    const raw = Buffer.from(keyText, 'base64');
    for (const f of filesUnder(local)) expect(readFileSync(f).includes(raw), f).toBe(false);
  });
});
