/**
 * Secrets a DBA types where they do not belong, and operations that fail: the secret must
 * still end up nowhere but the keychain (or nowhere at all) — not in the app database,
 * logs, events, history, CLI output or error messages (searched as given, URL-encoded and
 * base64, fixtures/reliability/secrets-scan.ts).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLocation } from '../../../electron/cli/location-url.ts';
import { oneJsonDocument, runBackstop } from '../../fixtures/cli.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { FTP_PASSWORD, FTP_USER, startFtpServer, type FtpServerHandle } from '../../fixtures/ftp-server.ts';
import { findSecrets } from '../../fixtures/reliability/secrets-scan.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { sqliteFolder } from '../../fixtures/sqlite-files.ts';
import { PG_BIN, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

let pg: PgServer;
let ftp: FtpServerHandle;
beforeAll(async () => {
  [pg, ftp] = await Promise.all([startPostgres(), startFtpServer('explicit')]);
}, 60_000);
afterAll(async () => {
  await Promise.all([pg?.stop(), ftp?.stop()]);
});

describe('secrets typed where they do not belong', () => {
  it('a connection URI with its password pasted as a server host is refused (MALFORMED_REQUEST naming the field) and stored nowhere', async () => {
    const engine = await testEngine({ encoderWorkers: 0 });
    const events: string[] = [];
    engine.events.onAny((name, payload) => events.push(JSON.stringify({ name, payload })));
    data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
    const uri = `postgresql://postgres:${pg.password}@${pg.host}:${pg.port}/postgres`;
    const answers = [
      await engine.call('servers.create', { kind: 'postgres', name: 'pasted', host: uri, port: pg.port, user: 'postgres', tls: 'disable' }),
      await engine.call('servers.create', { kind: 'mysql', name: 'pasted', host: `mysql://root:${pg.password}@db1`, user: 'root', tls: 'disable' }),
      await engine.call('servers.test', { server: { kind: 'postgres', name: 'pasted', host: uri, port: pg.port, user: 'postgres', tls: 'disable' } }),
    ];
    for (const a of answers) {
      expect(a).toMatchObject({ ok: false, code: 'MALFORMED_REQUEST' });
      expect(!a.ok && a.message).toMatch(/host: must be a host name or address alone, not a URL or user@host; put the user and the password in their own fields/);
    }
    // An update of a good server with the pasted URI is refused too, and the server keeps its host.
    const good = data(await engine.call('servers.create', { kind: 'postgres', name: 'good', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' }));
    const update = await engine.call('servers.update', { id: good.id, server: { kind: 'postgres', name: 'good', host: uri, port: pg.port, user: pg.user, tls: 'disable' } });
    expect(update).toMatchObject({ ok: false, code: 'MALFORMED_REQUEST' });
    expect(data(await engine.call('servers.list', undefined)).map((s) => s.kind !== 'sqlite' && s.host)).toEqual([pg.host]);
    // A plain address still passes.
    expect(data(await engine.call('servers.test', { server: { kind: 'postgres', name: 'v4', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' } })).tools.length).toBeGreaterThan(0);

    // The same from a server file (`backstop servers add --config`): refused, the password in no output.
    const file = join(tempDir(), 'server.json');
    writeFileSync(file, JSON.stringify({ kind: 'postgres', name: 'pasted', host: uri, user: 'postgres', tls: 'disable' }));
    const cli = await runBackstop(['servers', 'add', '--config', file, '--data-dir', engine.dataDir, '--json']);
    expect(cli.code).toBe(2); // a usage error
    expect(oneJsonDocument(cli.stdout)).toMatchObject({ error: { code: 'MALFORMED_REQUEST', message: expect.stringContaining('host: must be a host name or address alone') } });

    const history = JSON.stringify(data(await engine.call('history.list', { limit: 100 })));
    await engine.close();
    expect(findSecrets({ 'pasted password': pg.password }, [engine.dataDir], { answers: JSON.stringify(answers), update: JSON.stringify(update), events: events.join('\n'), history, 'CLI output': cli.stdout + cli.stderr })).toEqual([]);
  });

  it('an S3 endpoint or FTP host with the credentials pasted in is refused (VALIDATION naming the field) by tasks.create and Test connection; the secret is stored nowhere', async () => {
    const engine = await testEngine({ encoderWorkers: 0 });
    const events: string[] = [];
    engine.events.onAny((name, payload) => events.push(JSON.stringify({ name, payload })));
    const pasted = 'Pasted-S3-Secret-61';
    const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder: tempDir() }));
    const { credentialsRef } = data(await engine.call('destinations.saveCredentials', { secret: { kind: 's3', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } }));
    const s3 = { kind: 's3', bucket: 'vault', prefix: 'p', region: 'us-east-1', endpoint: `http://S3RVER:${pasted}@127.0.0.1:9000`, forcePathStyle: true, checksumMode: 'WHEN_REQUIRED', credentialsRef } as const;
    const ftpDest = { kind: 'ftp', host: `ftp://${FTP_USER}:${pasted}@${ftp.host}`, port: ftp.port, user: FTP_USER, path: '/x', tls: 'explicit', certificateFingerprint: ftp.certificateFingerprint, credentialsRef: null } as const;
    const task = (destination: typeof s3 | typeof ftpDest) => engine.call('tasks.create', { name: 'pasted', serverId: server.id, type: 'snapshot', schedule: { full: '0 2 * * *', timezone: 'UTC' }, destinations: [{ kind: 'local', path: tempDir() }, destination] });
    const answers = [await task(s3), await engine.call('destinations.test', { destination: s3 }), await task(ftpDest), await engine.call('destinations.test', { destination: ftpDest })];
    expect(answers[0]).toMatchObject({ ok: false, code: 'VALIDATION', message: expect.stringMatching(/^destinations\.1\.endpoint: the endpoint URL carries a user name or password\. .*access key and secret key/) });
    expect(answers[1]).toMatchObject({ ok: false, code: 'VALIDATION', message: expect.stringMatching(/^destination\.endpoint: the endpoint URL carries a user name or password/) });
    expect(answers[2]).toMatchObject({ ok: false, code: 'VALIDATION', message: expect.stringMatching(/^destinations\.1\.host: must be a host name or address alone, not a URL or user@host/) });
    expect(answers[3]).toMatchObject({ ok: false, code: 'VALIDATION', message: expect.stringMatching(/^destination\.host: must be a host name or address alone/) });
    expect(data(await engine.call('tasks.list', undefined))).toEqual([]);
    const history = JSON.stringify(data(await engine.call('history.list', { limit: 100 })));
    await engine.close();
    expect(findSecrets({ 'pasted secret': pasted }, [engine.dataDir], { answers: JSON.stringify(answers), events: events.join('\n'), history })).toEqual([]);
  });

  it("the log never holds a field of a destination's secret: a library error quoting the SFTP password, the S3 secret key or a URL-encoded webhook token is scrubbed", async () => {
    const engine = await testEngine({ encoderWorkers: 0 });
    const sftp = 'Sftp-Pw/with+chars 9';
    const s3Secret = 'S3-Secret-Key/abc+def';
    const token = 'hook token/8?x=1';
    data(await engine.call('destinations.saveCredentials', { secret: { kind: 'sftp', password: sftp } }));
    data(await engine.call('destinations.saveCredentials', { secret: { kind: 's3', accessKeyId: 'AKIAEXAMPLE', secretAccessKey: s3Secret } }));
    data(await engine.call('notifications.saveChannel', { channel: { kind: 'webhook', name: 'chat', on: ['all'] }, url: `https://hooks.example/services/${token}` }));
    // What an SSH or HTTP library's error says, logged the way the engine logs failures (pino, nested err).
    engine.logger.error({ err: new Error(`All configured authentication methods failed (tried password "${sftp}")`) }, 'sftp login failed');
    engine.logger.warn({ job: { cause: { detail: { text: `signed with ${s3Secret}` } } } }, 'deep object');
    engine.logger.warn(`POST https://hooks.example/services/${encodeURIComponent(`https://hooks.example/services/${token}`)} failed`);
    engine.logger.info({ accessKeyId: 'AKIAEXAMPLE' }, 'the access key id is an identifier and stays readable: AKIAEXAMPLE');
    await engine.close();
    const log = readdirSync(engine.logsDir).map((f) => readFileSync(join(engine.logsDir, f), 'utf8')).join('\n');
    expect(log).toContain('sftp login failed');
    expect(log).toContain('[redacted]');
    expect(log).toContain('stays readable: AKIAEXAMPLE');
    expect(findSecrets({ 'SFTP password': sftp, 'S3 secret': s3Secret, 'webhook token': token }, [engine.dataDir])).toEqual([]);
  });

  it("a hook that prints a secret Backstop holds (set -x of a script with the database password): history keeps its output with the secret cut out", async () => {
    pg.psql('CREATE DATABASE hooked');
    const engine = await testEngine({ encoderWorkers: 0 });
    data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
    const server = data(await engine.call('servers.create', { kind: 'postgres', name: 'pg', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' }));
    const script = join(tempDir(), 'pre.sh');
    writeFileSync(script, `#!/bin/sh\necho "+ psql postgresql://${pg.user}:${pg.password}@${pg.host}:${pg.port}/hooked -c CHECKPOINT"\n`, { mode: 0o755 });
    const task = data(await engine.call('tasks.create', { name: 'hooked', serverId: server.id, type: 'logical', schedule: { full: '0 2 * * *', timezone: 'UTC' }, excludeDatabases: ['postgres'], destinations: [{ kind: 'local', path: tempDir() }], hooks: { pre: [script], post: null, timeoutSeconds: 60, onFailure: 'fail' } }));
    const run = await runTask(engine, task.id, 'full');
    expect(run.status).toBe('success');
    expect((engine.db.prepare('SELECT output FROM run_hooks WHERE run_id = ?').all(run.id) as { output: string }[]).map((h) => h.output)).toEqual([`+ psql postgresql://${pg.user}:[redacted]@${pg.host}:${pg.port}/hooked -c CHECKPOINT\n`]);
    const history = JSON.stringify(data(await engine.call('history.list', { limit: 10 })));
    await engine.close();
    expect(findSecrets({ 'database password': pg.password }, [engine.dataDir], { history })).toEqual([]);

    // The CLI with a task file: the FTP password comes from the environment; the hook prints it.
    writeFileSync(script, `#!/bin/sh\necho "+ curl -u ${FTP_USER}:${FTP_PASSWORD} ftp://${ftp.host}/"\n`, { mode: 0o755 });
    const folder = sqliteFolder(['a.db']);
    const dataDir = tempDir();
    const taskFile = join(tempDir(), 'task.json');
    writeFileSync(taskFile, JSON.stringify({ name: 'files', type: 'snapshot', schedule: { full: '0 2 * * *' }, server: { kind: 'sqlite', folder }, destinations: [{ kind: 'ftp', host: ftp.host, port: ftp.port, user: FTP_USER, path: '/hooked', tls: 'explicit', certificateFingerprint: ftp.certificateFingerprint }], hooks: { pre: [script] } }));
    const cli = await runBackstop(['backup', '--config', taskFile, '--data-dir', dataDir, '--json'], { env: { BACKSTOP_FTP_PASSWORD: FTP_PASSWORD } });
    expect(cli.code, cli.stdout + cli.stderr).toBe(0);
    expect(findSecrets({ 'FTP password': FTP_PASSWORD }, [dataDir], { 'CLI output': cli.stdout + cli.stderr })).toEqual([]);
    expect(cli.stdout).toContain(`+ curl -u ${FTP_USER}:[redacted] ftp://`); // the hook's output is kept, cut
  });

  it('a password in a location URL (ftp://user:password@host/…) is refused before anything connects, naming the variable, the password cut out', async () => {
    const dataDir = tempDir();
    const location = `ftp://${FTP_USER}:${FTP_PASSWORD}@${ftp.host}:${ftp.port}/nightly/db`;
    const env = { BACKSTOP_FTP_PASSWORD: FTP_PASSWORD, BACKSTOP_FTP_CERT_FINGERPRINT: ftp.certificateFingerprint };
    const points = await runBackstop(['points', location, '--data-dir', dataDir, '--json'], { env });
    expect(points.code).toBe(2); // a usage error
    expect(oneJsonDocument(points.stdout)).toMatchObject({
      error: { code: 'MALFORMED_REQUEST', message: `"ftp://${FTP_USER}:***@${ftp.host}:${ftp.port}/nightly/db" has a password in the URL, where it would stay in your shell history and in what Backstop records. Remove it from the URL and set it in the environment variable BACKSTOP_FTP_PASSWORD instead.` },
    });
    expect(findSecrets({ 'FTP password': FTP_PASSWORD }, [dataDir], { 'CLI output': points.stdout + points.stderr })).toEqual([]);
    // Every remote scheme the same way; a user@host without a password and IPv6 hosts still parse.
    const refused = (text: string) => {
      try {
        parseLocation(text, env);
        return null;
      } catch (e) {
        return { code: (e as { code: string }).code, message: (e as Error).message };
      }
    };
    expect(refused('sftp://backup:Pw-9@[::1]:2222/data/db')).toEqual({ code: 'MALFORMED_REQUEST', message: expect.stringContaining('"sftp://backup:***@[::1]:2222/data/db" has a password in the URL') });
    expect(refused('sftp://backup:Pw-9@[::1]:2222/data/db')!.message).toContain('BACKSTOP_SFTP_PASSWORD');
    expect(refused('s3://AKIA1:SecretKey-9@bucket/prefix/db')).toEqual({ code: 'MALFORMED_REQUEST', message: expect.stringContaining('AWS_SECRET_ACCESS_KEY') });
    expect(refused('s3://AKIA1:SecretKey-9@bucket/prefix/db')!.message).not.toContain('SecretKey-9');
    expect(refused(`ftps://${FTP_USER}:${FTP_PASSWORD}@host/x/db`)!.message).not.toContain(FTP_PASSWORD);
    expect(refused(`ftp://${FTP_USER}@${ftp.host}:${ftp.port}/nightly/db`)).toBeNull();
    expect(refused('sftp://backup@[::1]:2222/data/db')).toEqual({ code: 'AUTH_FAILED', message: expect.stringContaining('BACKSTOP_SFTP_PASSWORD') });
  });
});
