/**
 * The real `backstop` command against a real S3-compatible server (s3rver): a backup's
 * output names each database's s3:// folder, `points` on the common root lists the
 * database folders as it does for a local root, and no command prints the AWS SDK's
 * Node-version notice on stderr. `--endpoint URL` names the S3-compatible server without
 * BACKSTOP_S3_ENDPOINT for every location command (points, verify, extract, restore, prune,
 * restore-server), and a misplaced or malformed one is refused by name. Two machines sharing
 * a folder, each with its own local manifest cache: the listing decides what each shows.
 */
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import Database from 'libsql';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { CHINOOK, oneJsonDocument, runBackstop, writeTaskFile } from '../../fixtures/cli.ts';
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from '../../fixtures/s3rver.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

let s3: S3rverHandle;
beforeAll(async () => {
  s3 = await startS3rver(['backstop', 'bucket-root']);
}, 30_000);
afterAll(async () => {
  await s3?.stop();
});

describe('backstop with an S3 destination', () => {
  it('names the s3:// folder of each database, lists the folders of the root, and keeps stderr clean', async () => {
    const folder = tempDir();
    copyFileSync(CHINOOK, join(folder, 'chinook.sqlite'));
    copyFileSync(CHINOOK, join(folder, 'second.sqlite'));
    const task = writeTaskFile(tempDir(), { name: 's3', server: { kind: 'sqlite', folder }, destinations: [{ kind: 's3', bucket: 'backstop', prefix: 'nightly', endpoint: s3.endpoint }] });
    const env = { AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey, BACKSTOP_S3_ENDPOINT: s3.endpoint };
    const dataDir = tempDir();
    const backup = await runBackstop(['backup', '--config', task, '--data-dir', dataDir, '--json'], { env });
    expect(backup.code, backup.stdout).toBe(0);
    expect(backup.stderr).toBe('');
    const doc = oneJsonDocument(backup.stdout) as { databases: { database: string; location: string; status: string }[] };
    const byDb = Object.fromEntries(doc.databases.map((d) => [d.database, d]));
    expect(byDb['chinook.sqlite']).toMatchObject({ status: 'ok', location: `s3://backstop/nightly/${encodeDatabaseFolder('chinook.sqlite')}` });
    expect(byDb['second.sqlite']).toMatchObject({ status: 'ok', location: `s3://backstop/nightly/${encodeDatabaseFolder('second.sqlite')}` });
    const text = await runBackstop(['backup', '--config', task, '--data-dir', dataDir], { env });
    expect(text.stdout).toContain(`ok     chinook.sqlite → s3://backstop/nightly/${encodeDatabaseFolder('chinook.sqlite')}: full`);
    expect(text.stderr).toBe('');

    const root = await runBackstop(['points', 's3://backstop/nightly', '--data-dir', dataDir, '--json'], { env });
    expect(root.code).toBe(1);
    expect(root.stderr).toBe('');
    expect(oneJsonDocument(root.stdout)).toEqual({
      error: {
        code: 'NOT_A_BACKUP',
        message: `s3://backstop/nightly is the common root of a task's backups: it holds 2 database folders (${encodeDatabaseFolder('chinook.sqlite')}, ${encodeDatabaseFolder('second.sqlite')}). Choose one database's folder inside it.`,
      },
    });
    const points = await runBackstop(['points', byDb['chinook.sqlite']!.location, '--data-dir', dataDir, '--json'], { env });
    expect(points.stderr).toBe('');
    const listed = oneJsonDocument(points.stdout) as { id: string }[];
    expect(listed).toHaveLength(2);
    // Both manifests are now in the local cache (the second backup read the first, `points` the second): the next look downloads none.
    const cached = readdirSync(join(dataDir, 'chunk-cache')).flatMap((repo) => (existsSync(join(dataDir, 'chunk-cache', repo, 'points')) ? readdirSync(join(dataDir, 'chunk-cache', repo, 'points')) : []));
    for (const p of listed) expect(cached.some((name) => name.startsWith(`${p.id}@`)), p.id).toBe(true);
  }, 180_000);

  it("another machine's prune and new point: this machine's points, extract and verify follow the folder, never its cached manifests", async () => {
    const folder = tempDir();
    const db = new Database(join(folder, 'ledger.db'));
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    const task = writeTaskFile(tempDir(), { name: 'two-machines', server: { kind: 'sqlite', folder }, destinations: [{ kind: 's3', bucket: 'backstop', prefix: 'shared', endpoint: s3.endpoint }] });
    const env = { AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey, BACKSTOP_S3_ENDPOINT: s3.endpoint };
    const [writer, reader] = [tempDir(), tempDir()]; // each machine's data folder (and cache)
    const location = `s3://backstop/shared/${encodeDatabaseFolder('ledger.db')}`;
    const backup = async () => {
      db.exec(`INSERT INTO t (v) VALUES ('${Math.random()}')`);
      const r = await runBackstop(['backup', '--config', task, '--data-dir', writer, '--json'], { env });
      expect(r.code, r.stdout).toBe(0);
    };
    const pointsOn = async (dataDir: string) => (oneJsonDocument((await runBackstop(['points', location, '--data-dir', dataDir, '--json'], { env })).stdout) as { id: string }[]).map((p) => p.id);
    for (let i = 0; i < 3; i++) await backup();
    const all = await pointsOn(reader);
    expect(all).toHaveLength(3);
    const cachedOn = (dataDir: string) => readdirSync(join(dataDir, 'chunk-cache')).flatMap((repo) => (existsSync(join(dataDir, 'chunk-cache', repo, 'points')) ? readdirSync(join(dataDir, 'chunk-cache', repo, 'points')) : []));
    expect(cachedOn(reader)).toHaveLength(3);

    const prune = await runBackstop(['prune', location, '--min-age', '0d', '--keep-last', '1', '--data-dir', writer, '--json'], { env });
    expect((oneJsonDocument(prune.stdout) as { deleted: string[] }).deleted.sort()).toEqual(all.slice(0, 2).sort());
    expect(await pointsOn(reader)).toEqual(all.slice(2));
    expect(cachedOn(reader).map((n) => n.split('@')[0])).toEqual(all.slice(2)); // the pruned ones' copies are gone too
    const gone = await runBackstop(['extract', location, '--point', all[0]!, '--out', join(tempDir(), 'x.db'), '--data-dir', reader, '--json'], { env });
    expect(gone.code).toBe(1);
    expect(oneJsonDocument(gone.stdout)).toMatchObject({ error: { code: 'NOT_FOUND', message: expect.stringContaining(all[0]!) } });
    await backup();
    const now = await pointsOn(reader);
    expect(now.slice(0, 1)).toEqual(all.slice(2));
    expect(now).toHaveLength(2);
    const verify = await runBackstop(['verify', location, '--data-dir', reader, '--json'], { env });
    expect(oneJsonDocument(verify.stdout)).toMatchObject({ ok: true, pointsChecked: 2 });
    // Two processes sharing one cache at once (a run and a CLI look, same data folder).
    const [, during] = await Promise.all([backup(), pointsOn(writer)]);
    expect(during.slice(0, 2)).toEqual(now);
    const after = await pointsOn(writer);
    expect(after).toHaveLength(3);
    expect(await pointsOn(reader)).toEqual(after);
    expect(cachedOn(writer).map((n) => n.split('@')[0]).sort()).toEqual(after);
    db.close();
  }, 180_000);

  it('a data folder whose cache cannot be written (chunk-cache is a file, as an unwritable disk answers) still backs up, lists and verifies: the cache is best effort', async () => {
    const folder = tempDir();
    const db = new Database(join(folder, 'ledger.db'));
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    const task = writeTaskFile(tempDir(), { name: 'no-cache', server: { kind: 'sqlite', folder }, destinations: [{ kind: 's3', bucket: 'backstop', prefix: 'nocache', endpoint: s3.endpoint }] });
    const env = { AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey, BACKSTOP_S3_ENDPOINT: s3.endpoint };
    const dataDir = tempDir();
    writeFileSync(join(dataDir, 'chunk-cache'), 'not a folder');
    for (let i = 0; i < 2; i++) {
      db.exec(`INSERT INTO t (v) VALUES ('row ${i}')`);
      const r = await runBackstop(['backup', '--config', task, '--data-dir', dataDir, '--json'], { env });
      expect(r.code, r.stdout).toBe(0);
    }
    db.close();
    const location = `s3://backstop/nocache/${encodeDatabaseFolder('ledger.db')}`;
    const points = oneJsonDocument((await runBackstop(['points', location, '--data-dir', dataDir, '--json'], { env })).stdout) as { id: string }[];
    expect(points).toHaveLength(2);
    const verify = await runBackstop(['verify', location, '--data-dir', dataDir, '--json'], { env });
    expect(oneJsonDocument(verify.stdout)).toMatchObject({ ok: true, pointsChecked: 2 });
    expect(readFileSync(join(dataDir, 'chunk-cache'), 'utf8')).toBe('not a folder');
  }, 180_000);

  it('a task without a prefix writes at the bucket root, and s3://bucket alone is that root for restore-server and points', async () => {
    const folder = tempDir();
    copyFileSync(CHINOOK, join(folder, 'chinook.sqlite'));
    const task = writeTaskFile(tempDir(), { name: 's3-root', server: { kind: 'sqlite', folder }, destinations: [{ kind: 's3', bucket: 'bucket-root', endpoint: s3.endpoint }] });
    const env = { AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey, BACKSTOP_S3_ENDPOINT: s3.endpoint };
    const dataDir = tempDir();
    const backup = await runBackstop(['backup', '--config', task, '--data-dir', dataDir, '--json'], { env });
    expect(backup.code, backup.stdout).toBe(0);
    const folderName = encodeDatabaseFolder('chinook.sqlite');
    expect(oneJsonDocument(backup.stdout)).toMatchObject({ databases: [{ status: 'ok', location: `s3://bucket-root/${folderName}` }] });

    const root = await runBackstop(['points', 's3://bucket-root', '--data-dir', dataDir, '--json'], { env });
    expect(oneJsonDocument(root.stdout)).toEqual({
      error: { code: 'NOT_A_BACKUP', message: `s3://bucket-root/ is the common root of a task's backups: it holds 1 database folder (${folderName}). Choose one database's folder inside it.` },
    });
    const target = tempDir();
    const serverFile = join(tempDir(), 'server.json');
    writeFileSync(serverFile, JSON.stringify({ kind: 'sqlite', folder: target }));
    const whole = await runBackstop(['restore-server', 's3://bucket-root/', '--server', serverFile, '--prefix', 'all_', '--data-dir', dataDir, '--json'], { env });
    expect(whole.code, whole.stdout).toBe(0);
    expect(oneJsonDocument(whole.stdout)).toMatchObject({ databases: [{ database: 'chinook.sqlite', restoredAs: 'all_chinook.sqlite', status: 'ok' }] });
    const restored = readFileSync(join(target, 'all_chinook.sqlite'));
    expect(restored.subarray(0, 16).toString('latin1')).toBe('SQLite format 3\0');
    expect(restored.length).toBe(readFileSync(CHINOOK).length);
  }, 120_000);

  it('takes the server of an s3:// location from --endpoint, without BACKSTOP_S3_ENDPOINT', async () => {
    const folder = tempDir();
    copyFileSync(CHINOOK, join(folder, 'chinook.sqlite'));
    const task = writeTaskFile(tempDir(), { name: 's3-endpoint', server: { kind: 'sqlite', folder }, destinations: [{ kind: 's3', bucket: 'backstop', prefix: 'endpoint', endpoint: s3.endpoint }] });
    // Credentials only: no BACKSTOP_S3_ENDPOINT anywhere in the children's environment.
    const { BACKSTOP_S3_ENDPOINT: _unused, ...base } = process.env;
    const env = { ...base, AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey };
    const dataDir = tempDir();
    const backup = await runBackstop(['backup', '--config', task, '--data-dir', dataDir, '--json'], { env });
    expect(backup.code, backup.stdout).toBe(0);
    const location = `s3://backstop/endpoint/${encodeDatabaseFolder('chinook.sqlite')}`;
    const run = (...argv: string[]) => runBackstop([...argv, '--endpoint', s3.endpoint, '--data-dir', dataDir, '--json'], { env });

    const points = await run('points', location);
    expect(points.code, points.stdout).toBe(0);
    expect(oneJsonDocument(points.stdout)).toHaveLength(1);
    const verify = await run('verify', location);
    expect(verify.code, verify.stdout).toBe(0);
    expect(oneJsonDocument(verify.stdout)).toMatchObject({ ok: true, pointsChecked: 1 });
    const out = join(tempDir(), 'chinook.copy');
    const extract = await run('extract', location, '--point', 'latest', '--out', out);
    expect(extract.code, extract.stdout).toBe(0);
    const extracted = readFileSync(out);
    expect(extracted.subarray(0, 16).toString('latin1')).toBe('SQLite format 3\0');
    const target = tempDir();
    const serverFile = join(tempDir(), 'server.json');
    writeFileSync(serverFile, JSON.stringify({ kind: 'sqlite', folder: target }));
    const restore = await run('restore', location, '--point', 'latest', '--server', serverFile, '--database', 'copy.sqlite');
    expect(restore.code, restore.stdout).toBe(0);
    expect(readFileSync(join(target, 'copy.sqlite')).equals(extracted)).toBe(true);
    const whole = await run('restore-server', 's3://backstop/endpoint', '--server', serverFile, '--prefix', 'all_');
    expect(whole.code, whole.stdout).toBe(0);
    expect(existsSync(join(target, 'all_chinook.sqlite'))).toBe(true);
    const prune = await run('prune', location, '--min-age', '0d', '--dry-run');
    expect(prune.code, prune.stdout).toBe(0);
    expect(oneJsonDocument(prune.stdout)).toMatchObject({ deleted: [] });

    // A misplaced or malformed --endpoint is refused by name.
    const misplaced = await runBackstop(['points', tempDir(), '--endpoint', s3.endpoint, '--data-dir', dataDir, '--json'], { env });
    expect(misplaced.code).toBe(2);
    expect(oneJsonDocument(misplaced.stdout)).toEqual({ error: { code: 'MALFORMED_REQUEST', message: expect.stringMatching(/^--endpoint is for a remote location \(like s3:\/\/bucket\/prefix\/<database folder>\); ".+" is a local folder\.$/) } });
    const malformed = await runBackstop(['points', location, '--endpoint', 'localhost:9000', '--data-dir', dataDir, '--json'], { env });
    expect(malformed.code).toBe(2);
    expect(oneJsonDocument(malformed.stdout)).toEqual({ error: { code: 'MALFORMED_REQUEST', message: '--endpoint "localhost:9000" must be an http:// or https:// URL, like https://s3.example.com:9000.' } });
  }, 180_000);
});
