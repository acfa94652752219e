/**
 * The real `backstop` command against a real S3-compatible server (s3rver): a backup's
 * output names each database's s3:// folder, `points` on the common root lists the
 * database folders as it does for a local root, and no command prints the AWS SDK's
 * Node-version notice on stderr.
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { CHINOOK, oneJsonDocument, runBackstop, writeTaskFile } from '../../fixtures/cli.ts';
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from '../../fixtures/s3rver.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

let s3: S3rverHandle;
beforeAll(async () => {
  s3 = await startS3rver(['backstop']);
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
    expect(oneJsonDocument(points.stdout)).toHaveLength(2);
  }, 180_000);
});
