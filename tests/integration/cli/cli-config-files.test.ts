/**
 * Configuration as code (issue #25): `backstop servers|tasks add|update|remove|export`
 * through the built CLI and the real keychain (run under `kr`). The round trip: what
 * `export` writes, `add` accepts unchanged (in another data dir too) and exports again
 * identically; secrets go to the keychain and never into an exported file. Error paths
 * say the code and the fix, and leave nothing half-added.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyFingerprint } from '../../../electron/engine/crypto/index.ts';
import { loadS3Credentials } from '../../../electron/engine/destinations/s3-credentials.ts';
import { KeychainSecretStore } from '../../../electron/engine/secrets/index.ts';
import { oneJsonDocument, runBackstop } from '../../fixtures/cli.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

async function ok(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<unknown> {
  const r = await runBackstop([...argv, '--json'], { env });
  expect(r.code, `${argv.join(' ')}: ${r.stdout}${r.stderr}`).toBe(0);
  return oneJsonDocument(r.stdout);
}

async function fails(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; error: { code: string; message: string } }> {
  const r = await runBackstop([...argv, '--json'], { env });
  return { code: r.code, ...(oneJsonDocument(r.stdout) as { error: { code: string; message: string } }) };
}

function json(path: string, doc: unknown): string {
  writeFileSync(path, JSON.stringify(doc, null, 2));
  return path;
}

describe('backstop servers|tasks add|update|remove|export', () => {
  it('round trip: add → list → export → remove → add the exported file → the same export; secrets only in the keychain', { timeout: 300_000 }, async () => {
    const dataDir = tempDir();
    const dir = tempDir();
    const password = `pw-${randomBytes(6).toString('hex')}`;
    const key = randomBytes(32);
    writeFileSync(join(dir, 'nightly.key'), key.toString('base64') + '\n');
    mkdirSync(join(dir, 'backups'));
    mkdirSync(join(dir, 'sqlite'));

    const pg = (await ok(['servers', 'add', '--config', json(join(dir, 'pg.json'), { name: 'billing-db', kind: 'postgres', host: 'db.internal', port: 5433, user: 'backup', passwordEnv: 'PG_PW' }), '--data-dir', dataDir], { PG_PW: password })) as { id: string; name: string };
    expect(pg).toEqual({ id: expect.any(String), name: 'billing-db' });
    const servers = (await ok(['servers', '--data-dir', dataDir])) as { id: string; passwordRef: string }[];
    expect(servers).toHaveLength(1);
    expect(await new KeychainSecretStore().get(servers[0]!.passwordRef)).toBe(password);

    // What the file says and the export gives back alike.
    const same = {
      name: 'billing nightly',
      server: 'billing-db',
      type: 'logical',
      enabled: false,
      schedule: { full: '0 2 * * 0', incremental: '0 2 * * 1-6', timezone: 'Europe/Berlin' },
      retention: { minAge: '36h', keepLast: 7 },
    };
    const taskFile = json(join(dir, 'task.json'), {
      ...same,
      encryption: { mode: 'key', keyFile: 'nightly.key' },
      destinations: [{ kind: 'local', path: 'backups' }],
      excludeDatabases: ['scratch'],
      hooks: { pre: ['/usr/local/bin/app-stop'], post: null, timeoutSeconds: 60, onFailure: 'warn' },
      testRestore: { schedule: '0 5 * * 6' },
    });
    const added = (await ok(['tasks', 'add', '--config', taskFile, '--data-dir', dataDir])) as { id: string; name: string };
    expect(added).toEqual({ id: expect.any(String), name: 'billing nightly' });

    const tasks = (await ok(['tasks', '--data-dir', dataDir])) as Record<string, unknown>[];
    expect(tasks).toEqual([
      expect.objectContaining({
        id: added.id,
        name: 'billing nightly',
        serverId: pg.id,
        enabled: false,
        schedule: { full: '0 2 * * 0', incremental: '0 2 * * 1-6', timezone: 'Europe/Berlin' },
        retention: { minAgeDays: 2, minAgeHours: 36, keepLast: 7 },
        encryption: { mode: 'key', keyRef: `key.${keyFingerprint(key)}`, fingerprint: keyFingerprint(key) },
        destinations: [{ kind: 'local', path: join(dir, 'backups') }],
        excludeDatabases: ['scratch'],
        testRestore: { schedule: '0 5 * * 6', afterFull: false, maxMinutes: null },
      }),
    ]);

    const exported = join(dir, 'exported-task.json');
    const ex = (await ok(['tasks', 'export', added.id, '--out', exported, '--data-dir', dataDir])) as { file: string; notes: string[] };
    expect(ex).toMatchObject({ id: added.id, name: 'billing nightly', file: exported });
    const text = readFileSync(exported, 'utf8');
    const doc = JSON.parse(text) as Record<string, unknown>;
    expect(doc).toEqual({
      ...same,
      encryption: { mode: 'key', fingerprint: keyFingerprint(key) },
      destinations: [{ kind: 'local', path: join(dir, 'backups') }],
      excludeDatabases: ['scratch'],
      hooks: { pre: ['/usr/local/bin/app-stop'], post: null, timeoutSeconds: 60, onFailure: 'warn' },
      testRestore: { schedule: '0 5 * * 6' },
    });
    expect(text).not.toContain(key.toString('base64'));
    const serverOut = join(dir, 'exported-server.json');
    await ok(['servers', 'export', 'billing-db', '--out', serverOut, '--data-dir', dataDir]);
    const serverText = readFileSync(serverOut, 'utf8');
    expect(JSON.parse(serverText)).toEqual({ name: 'billing-db', kind: 'postgres', host: 'db.internal', port: 5433, user: 'backup', tls: 'prefer' });
    expect(serverText).not.toContain(password);

    // `--out -`: the document itself on stdout, nothing written.
    expect(await ok(['tasks', 'export', 'billing nightly', '--out', '-', '--data-dir', dataDir])).toEqual(doc);

    // remove keeps the backups (says where); then the exported file is accepted unchanged.
    writeFileSync(join(dir, 'backups', 'keep-me'), 'a backup');
    const removed = await runBackstop(['tasks', 'remove', added.id, '--data-dir', dataDir]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toContain(`Its backups are kept (restorable with "backstop restore"): ${join(dir, 'backups')}`);
    expect(readFileSync(join(dir, 'backups', 'keep-me'), 'utf8')).toBe('a backup');
    expect(await ok(['tasks', '--data-dir', dataDir])).toEqual([]);
    const again = (await ok(['tasks', 'add', '--config', exported, '--data-dir', dataDir])) as { id: string };
    const second = join(dir, 'second.json');
    await ok(['tasks', 'export', again.id, '--out', second, '--data-dir', dataDir]);
    expect(readFileSync(second, 'utf8')).toBe(text);

    // Another data dir (another machine's app): the exported server and task files, unchanged.
    const other = tempDir();
    await ok(['servers', 'add', '--config', serverOut, '--data-dir', other]);
    await ok(['tasks', 'add', '--config', exported, '--data-dir', other]);
    const otherTasks = (await ok(['tasks', '--data-dir', other])) as { name: string }[];
    expect(otherTasks.map((t) => t.name)).toEqual(['billing nightly']);

    // update: a changed file changes the stored task (by name or id); the server keeps its keychain password.
    json(exported, { ...doc, enabled: true, excludeDatabases: [] });
    await ok(['tasks', 'update', 'billing nightly', '--config', exported, '--data-dir', dataDir]);
    expect(await ok(['tasks', '--data-dir', dataDir])).toEqual([expect.objectContaining({ id: again.id, enabled: true, excludeDatabases: [] })]);
    await ok(['servers', 'update', 'billing-db', '--config', serverOut, '--data-dir', dataDir]);
    const after = (await ok(['servers', '--data-dir', dataDir])) as { passwordRef: string }[];
    expect(await new KeychainSecretStore().get(after[0]!.passwordRef)).toBe(password);
  });

  it('an inline server becomes a stored server (reused when the same connection is stored), and the export names it', { timeout: 300_000 }, async () => {
    const dataDir = tempDir();
    const dir = tempDir();
    mkdirSync(join(dir, 'files'));
    // Each its own folder: two tasks never share a destination (check-task-input.ts checkSharedDestinations).
    const file = (name: string) => json(join(dir, `${name}.json`), { name, server: { kind: 'sqlite', folder: 'files' }, type: 'snapshot', schedule: { full: '0 3 * * *' }, destinations: [{ kind: 'local', path: `out/${name}` }] });
    await ok(['tasks', 'add', '--config', file('files a'), '--data-dir', dataDir]);
    await ok(['tasks', 'add', '--config', file('files b'), '--data-dir', dataDir]);
    const servers = (await ok(['servers', '--data-dir', dataDir])) as { name: string; folder: string }[];
    expect(servers).toEqual([expect.objectContaining({ name: 'files a (SQLite folder)', kind: 'sqlite', folder: join(dir, 'files') })]);
    const doc = await ok(['tasks', 'export', 'files b', '--out', '-', '--data-dir', dataDir]);
    expect(doc).toMatchObject({ server: 'files a (SQLite folder)', destinations: [{ kind: 'local', path: join(dir, 'out', 'files b') }] });
  });

  it('"testServer" names a stored server of the same kind (stored as testRestore.serverId, exported by name so it applies elsewhere, and refused otherwise); a test server in use is not removed', { timeout: 300_000 }, async () => {
    const dataDir = tempDir();
    const dir = tempDir();
    const pg = (name: string, port: number) => ({ name, kind: 'postgres', host: '127.0.0.1', port, user: 'backup' });
    await ok(['servers', 'add', '--config', json(join(dir, 'prod.json'), pg('prod', 5432)), '--data-dir', dataDir]);
    await ok(['servers', 'add', '--config', json(join(dir, 'scratch.json'), pg('scratch', 5433)), '--data-dir', dataDir]);
    await ok(['servers', 'add', '--config', json(join(dir, 'files.json'), { name: 'files', kind: 'sqlite', folder: dir }), '--data-dir', dataDir]);
    const servers = (await ok(['servers', '--data-dir', dataDir])) as { id: string; name: string }[];
    const scratchId = servers.find((x) => x.name === 'scratch')!.id;
    const task = (extra: Record<string, unknown>) => json(join(dir, 'task.json'), { name: 'ledger', server: 'prod', type: 'logical', schedule: { full: '0 3 * * *' }, destinations: [{ kind: 'local', path: 'out' }], ...extra });

    const wrongKind = await fails(['tasks', 'add', '--config', task({ testRestore: { schedule: '0 5 * * 6' }, testServer: 'files' }), '--data-dir', dataDir]);
    expect(wrongKind.error).toEqual({
      code: 'VALIDATION',
      message: `testRestore.serverId: the test server "files" is a SQLite folder, but this task backs up a PostgreSQL server; a test restore needs a server of the same kind. Choose a PostgreSQL server, or the task's own server.`,
    });
    const alone = await fails(['tasks', 'add', '--config', task({ testServer: 'scratch' }), '--data-dir', dataDir]);
    expect(alone.error).toEqual({ code: 'VALIDATION', message: `testServer in ${join(dir, 'task.json')}: a stored task uses a test server for its scheduled test restores; add "testRestore" (a schedule, or afterFull: true), or remove "testServer".` });
    expect(await ok(['tasks', '--data-dir', dataDir])).toEqual([]);

    await ok(['tasks', 'add', '--config', task({ testRestore: { schedule: '0 5 * * 6' }, testServer: 'scratch' }), '--data-dir', dataDir]);
    // A stored task's history is asked for by its name too (it has no runs yet: an empty list, not NOT_FOUND).
    expect(await ok(['history', '--task', 'ledger', '--data-dir', dataDir])).toEqual([]);
    expect((await ok(['tasks', '--data-dir', dataDir])) as unknown[]).toEqual([expect.objectContaining({ testRestore: expect.objectContaining({ serverId: scratchId }) })]);
    // Exported by name, like the task's own server: the file applies in another data dir (another
    // machine), where the servers have other ids, and exports there identically.
    const doc = await ok(['tasks', 'export', 'ledger', '--out', '-', '--data-dir', dataDir]);
    expect(doc).toMatchObject({ testRestore: { schedule: '0 5 * * 6' }, testServer: 'scratch' });
    expect((doc as { testRestore: object }).testRestore).not.toHaveProperty('serverId');
    const elsewhere = tempDir();
    await ok(['servers', 'add', '--config', join(dir, 'prod.json'), '--data-dir', elsewhere]);
    await ok(['servers', 'add', '--config', join(dir, 'scratch.json'), '--data-dir', elsewhere]);
    await ok(['tasks', 'add', '--config', json(join(dir, 'exported.json'), doc), '--data-dir', elsewhere]);
    expect(await ok(['tasks', 'export', 'ledger', '--out', '-', '--data-dir', elsewhere])).toEqual(doc);
    const removed = await fails(['servers', 'remove', 'scratch', '--data-dir', dataDir]);
    expect(removed.error).toEqual({ code: 'CONFLICT', message: 'Server "scratch" is the test server of task "ledger"; choose another test server for that task first.' });
  });

  it('S3 credentials go from the named variables into the keychain, never into the export; update without them keeps them', { timeout: 300_000 }, async () => {
    const dataDir = tempDir();
    const dir = tempDir();
    mkdirSync(join(dir, 'files'));
    const secret = `secret-${randomBytes(8).toString('hex')}`;
    const file = json(join(dir, 's3.json'), {
      name: 'offsite',
      server: { kind: 'sqlite', folder: 'files' },
      type: 'snapshot',
      schedule: { full: '0 3 * * *' },
      destinations: [{ kind: 's3', bucket: 'backups-bucket', prefix: 'db1', endpoint: 'http://127.0.0.1:9', accessKeyIdEnv: 'MY_KEY_ID', secretAccessKeyEnv: 'MY_SECRET' }],
    });
    const missing = await fails(['tasks', 'add', '--config', file, '--data-dir', dataDir], { MY_KEY_ID: 'AKIDEXAMPLE' });
    expect(missing.error).toEqual({ code: 'AUTH_FAILED', message: `destinations.0 (S3 bucket backups-bucket) in ${file}: the environment variable MY_SECRET is not set.` });
    expect(await ok(['tasks', '--data-dir', dataDir])).toEqual([]);
    expect(await ok(['servers', '--data-dir', dataDir])).toEqual([]);

    const added = (await ok(['tasks', 'add', '--config', file, '--data-dir', dataDir], { MY_KEY_ID: 'AKIDEXAMPLE', MY_SECRET: secret })) as { id: string };
    const [task] = (await ok(['tasks', '--data-dir', dataDir])) as { destinations: { credentialsRef: string }[] }[];
    const ref = task!.destinations[0]!.credentialsRef;
    expect(await loadS3Credentials(new KeychainSecretStore(), ref)).toEqual({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: secret });

    const out = join(dir, 'exported.json');
    await ok(['tasks', 'export', added.id, '--out', out, '--data-dir', dataDir]);
    const text = readFileSync(out, 'utf8');
    expect(text).not.toContain(secret);
    expect(text).not.toContain('AKIDEXAMPLE');
    expect(JSON.parse(text)).toMatchObject({ destinations: [{ kind: 's3', bucket: 'backups-bucket', prefix: 'db1', region: 'us-east-1', endpoint: 'http://127.0.0.1:9' }] });

    // The exported file (default variable names) with no variables set: the stored credentials stay.
    await ok(['tasks', 'update', 'offsite', '--config', out, '--data-dir', dataDir], { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' });
    const [after] = (await ok(['tasks', '--data-dir', dataDir])) as { destinations: { credentialsRef: string }[] }[];
    expect(after!.destinations[0]!.credentialsRef).toBe(ref);
    expect(await loadS3Credentials(new KeychainSecretStore(), ref)).toEqual({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: secret });

    // Removing the task removes the secret only it used from the keychain (its backups stay).
    await ok(['tasks', 'remove', 'offsite', '--data-dir', dataDir]);
    expect(await new KeychainSecretStore().get(ref)).toBeNull();
  });

  it('error paths name the code, the field and the fix, and add nothing', { timeout: 300_000 }, async () => {
    const dataDir = tempDir();
    const dir = tempDir();
    const base = { name: 'nightly', type: 'snapshot', schedule: { full: '0 3 * * *' }, destinations: [{ kind: 'local', path: 'out' }] };

    // A task file that names a server that does not exist.
    const noServer = await fails(['tasks', 'add', '--config', json(join(dir, 'a.json'), { ...base, server: 'ghost' }), '--data-dir', dataDir]);
    expect(noServer).toEqual({
      code: 1,
      error: { code: 'NOT_FOUND', message: `server in ${join(dir, 'a.json')}: no stored server is named "ghost" (or has that id). There are no stored servers yet. Add it with "backstop servers add --config server.json", or give the server inline.` },
    });

    // Malformed: the field is named.
    const bad = await fails(['tasks', 'add', '--config', json(join(dir, 'b.json'), { ...base, server: 'ghost', schedule: { full: 5 } }), '--data-dir', dataDir]);
    expect(bad.code).toBe(2);
    expect(bad.error.code).toBe('MALFORMED_REQUEST');
    expect(bad.error.message).toContain('schedule.full:');
    const noName = await fails(['servers', 'add', '--config', json(join(dir, 's.json'), { kind: 'sqlite', folder: dir }), '--data-dir', dataDir]);
    expect(noName.error).toEqual({ code: 'VALIDATION', message: `The server file ${join(dir, 's.json')}: name: a stored server needs a name; add "name": "…" (it is how task files refer to the server).` });
    const notifications = await fails(['tasks', 'add', '--config', json(join(dir, 'n.json'), { ...base, server: 'x', notifications: [{ kind: 'webhook', urlEnv: 'HOOK' }] }), '--data-dir', dataDir]);
    expect(notifications.error.code).toBe('VALIDATION');
    expect(notifications.error.message).toMatch(/^notifications in .*: a stored task notifies through the notification channels set up in Settings; list their ids in "channels" instead/);
    expect(await ok(['tasks', '--data-dir', dataDir])).toEqual([]);
    expect(await ok(['servers', '--data-dir', dataDir])).toEqual([]);

    // Duplicate name; and a refused task with an inline server leaves no server behind.
    await ok(['servers', 'add', '--config', json(join(dir, 's.json'), { name: 'files', kind: 'sqlite', folder: dir }), '--data-dir', dataDir]);
    const dupServer = await fails(['servers', 'add', '--config', join(dir, 's.json'), '--data-dir', dataDir]);
    expect(dupServer.error.code).toBe('CONFLICT');
    expect(dupServer.error.message).toContain('"files"');
    await ok(['tasks', 'add', '--config', json(join(dir, 'c.json'), { ...base, server: 'files' }), '--data-dir', dataDir]);
    mkdirSync(join(dir, 'other'));
    const dup = await fails(['tasks', 'add', '--config', json(join(dir, 'd.json'), { ...base, server: { kind: 'sqlite', name: 'elsewhere', folder: join(dir, 'other') } }), '--data-dir', dataDir]);
    expect(dup).toEqual({ code: 1, error: { code: 'CONFLICT', message: 'A task named "nightly" already exists.' } });
    expect(((await ok(['tasks', '--data-dir', dataDir])) as unknown[]).length).toBe(1);
    expect(((await ok(['servers', '--data-dir', dataDir])) as { name: string }[]).map((s) => s.name)).toEqual(['files']);

    // Unknown id.
    const unknown = await fails(['tasks', 'remove', 'no-such-task', '--data-dir', dataDir]);
    expect(unknown.error).toEqual({ code: 'NOT_FOUND', message: 'No task has the id or name "no-such-task". "backstop tasks" lists them.' });
    const unknownServer = await fails(['servers', 'export', 'nope', '--out', '-', '--data-dir', dataDir]);
    expect(unknownServer.error.code).toBe('NOT_FOUND');

    // A server a task uses cannot be removed.
    const used = await fails(['servers', 'remove', 'files', '--data-dir', dataDir]);
    expect(used.error).toEqual({ code: 'CONFLICT', message: 'Server "files" is used by task "nightly"; delete or change that task first.' });

    // Export to a path that cannot be written: STORAGE naming the file, nothing left behind.
    const target = join(dir, 'missing-folder', 'task.json');
    const unwritable = await fails(['tasks', 'export', 'nightly', '--out', target, '--data-dir', dataDir]);
    expect(unwritable.error).toEqual({ code: 'STORAGE', message: `Cannot write ${target} (ENOENT): check that its folder exists and that you may write there.` });

    // A secret variable that is not set: AUTH_FAILED naming it, no server stored.
    const noPw = await fails(['servers', 'add', '--config', json(join(dir, 'p.json'), { name: 'pg', kind: 'postgres', passwordEnv: 'NOT_SET_ANYWHERE' }), '--data-dir', dataDir]);
    expect(noPw.error).toEqual({ code: 'AUTH_FAILED', message: `passwordEnv in ${join(dir, 'p.json')}: the environment variable NOT_SET_ANYWHERE is not set.` });
    expect(((await ok(['servers', '--data-dir', dataDir])) as unknown[]).length).toBe(1);

    // Usage: a subcommand without its id.
    const usage = await fails(['tasks', 'export', '--data-dir', dataDir]);
    expect(usage).toEqual({ code: 2, error: { code: 'MALFORMED_REQUEST', message: 'tasks export needs the id (or name) of a task; "backstop tasks" lists them. Run "backstop --help".' } });
  });
});
