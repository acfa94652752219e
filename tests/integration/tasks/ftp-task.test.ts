/**
 * A task writing to an FTPS server (real ftp-srv over explicit TLS, the certificate pinned,
 * the password in the real OS keychain) beside a local folder: Test connection, backup,
 * the restore browser, restore, verify and a tampered/deleted object named, hostile
 * database names as folder names, the password nowhere but the keychain, and plain FTP
 * refused unless the destination chooses it.
 */
import { copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import type { BackupLocation, Destination } from '../../../electron/shared/domain.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { FTP_PASSWORD, FTP_USER, startFtpServer, type FtpServerHandle } from '../../fixtures/ftp-server.ts';
import { findSecrets } from '../../fixtures/reliability/secrets-scan.ts';
import { startTcpFaultProxy } from '../../fixtures/reliability/tcp-fault-proxy.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const CHINOOK = join(import.meta.dirname, '../../../../shared/fixtures/chinook/Chinook_Sqlite.sqlite');
const HOSTILE = "Ünï cøde 'q' ;-- $(x) %41 #1.db";
let ftp: FtpServerHandle;
let plain: FtpServerHandle;
let seq = 0;

beforeAll(async () => {
  ftp = await startFtpServer('explicit');
  plain = await startFtpServer('none');
});
afterAll(async () => {
  await ftp?.stop();
  await plain?.stop();
});

async function setup(server: FtpServerHandle = ftp, tls: 'explicit' | 'none' = 'explicit') {
  const dataDir = tempDir();
  const engine = await testEngine({ encoderWorkers: 0, dataDir });
  const folder = tempDir();
  const local = tempDir();
  copyFileSync(CHINOOK, join(folder, 'chinook.sqlite'));
  const db = new Database(join(folder, 'notes.db'));
  db.exec("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO note (body) VALUES ('remember the milk')");
  db.close();
  const hostile = new Database(join(folder, HOSTILE));
  hostile.exec("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('hostile ok')");
  hostile.close();
  const srv = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder }));
  const { credentialsRef } = data(await engine.call('destinations.saveCredentials', { secret: { kind: 'ftp', password: FTP_PASSWORD } }));
  const dest: Destination = {
    kind: 'ftp',
    host: server.host,
    port: server.port,
    user: FTP_USER,
    path: `/team/run-${seq++}`,
    tls,
    certificateFingerprint: server.certificateFingerprint || null,
    credentialsRef,
  };
  const task = data(
    await engine.call('tasks.create', {
      name: 'ftp',
      serverId: srv.id,
      type: 'snapshot',
      schedule: { full: '0 2 * * *', timezone: 'UTC' },
      destinations: [{ kind: 'local', path: local }, dest],
    }),
  );
  return { engine, folder, local, srv, task, dest, dataDir, server };
}

function folderAt(dest: Destination, database: string): BackupLocation {
  if (dest.kind !== 'ftp') throw new Error('ftp only');
  const { limits: _l, ...rest } = dest;
  return { ...rest, path: `${dest.path}/${encodeDatabaseFolder(database)}` };
}

describe('task with a local and an FTPS destination', () => {
  it('tests the connection, backs up to both, lists and restores from FTPS, hostile names included; the password stays in the keychain', async () => {
    const { engine, folder, srv, task, dest, dataDir } = await setup();
    expect(data(await engine.call('destinations.test', { destination: dest }))).toMatchObject({ ok: true });
    const run = await runTask(engine, task.id, 'full');
    expect(run.status).toBe('success');
    expect(run.databases.map((d) => [d.database, d.destination.split(':')[0], d.status]).sort()).toEqual(
      [
        ['chinook.sqlite', 'ftp', 'success'],
        ['chinook.sqlite', 'local', 'success'],
        ['notes.db', 'ftp', 'success'],
        ['notes.db', 'local', 'success'],
        [HOSTILE, 'ftp', 'success'],
        [HOSTILE, 'local', 'success'],
      ].sort(),
    );
    const folders = data(await engine.call('restore.folders', { destination: dest })).filter((f) => !f.serverStream);
    expect(folders.map((f) => [f.folder, f.database]).sort()).toEqual(
      [
        [encodeDatabaseFolder('chinook.sqlite'), 'chinook.sqlite'],
        [encodeDatabaseFolder('notes.db'), 'notes.db'],
        [encodeDatabaseFolder(HOSTILE), HOSTILE],
      ].sort(),
    );
    const notes = folders.find((f) => f.database === 'notes.db')!;
    expect(notes.location).toEqual(folderAt(dest, 'notes.db'));
    const restored = await restoreAndWait(engine, { location: notes.location, pointId: 'latest', serverId: srv.id, database: 'notes-from-ftp.db' });
    expect(restored).toMatchObject({ status: 'success', path: join(folder, 'notes-from-ftp.db') });
    const db = new Database(restored.path!, { readonly: true });
    expect(db.prepare('SELECT body FROM note').pluck().all()).toEqual(['remember the milk']);
    db.close();
    const hostile = folders.find((f) => f.database === HOSTILE)!;
    const back = await restoreAndWait(engine, { location: hostile.location, pointId: 'latest', serverId: srv.id, database: 'hostile-back.db' });
    expect(back.status).toBe('success');
    const h = new Database(back.path!, { readonly: true });
    expect(h.prepare('SELECT v FROM t').pluck().all()).toEqual(['hostile ok']);
    h.close();
    expect(data(await engine.call('restore.verify', { location: notes.location }))).toMatchObject({ ok: true, problems: [] });
    const history = JSON.stringify(data(await engine.call('history.list', {})));
    expect(findSecrets({ 'ftp password': FTP_PASSWORD }, [dataDir], { history, run: JSON.stringify(run) })).toEqual([]);
  });

  it('verify names a flipped byte in a pack and a deleted pack on the FTP server; a restore from it writes nothing', async () => {
    const { engine, folder, srv, task, dest, server } = await setup();
    expect((await runTask(engine, task.id, 'full')).status).toBe('success');
    const loc = folderAt(dest, 'chinook.sqlite');
    const onDisk = join(server.directory, loc.kind === 'ftp' ? loc.path : '');
    const packs = readdirSync(join(onDisk, 'packs'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    expect(packs.length).toBeGreaterThan(0);
    const pack = join(packs[0]!.parentPath, packs[0]!.name);
    const bytes = readFileSync(pack);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(pack, bytes);
    const flipped = data(await engine.call('restore.verify', { location: loc }));
    expect(flipped.ok).toBe(false);
    expect(flipped.problems[0]).toMatchObject({ code: 'INTEGRITY', packId: expect.any(String) });
    expect(packs[0]!.name).toContain(flipped.problems[0]!.packId);
    const r = await restoreAndWait(engine, { location: loc, pointId: 'latest', serverId: srv.id, database: 'tampered.sqlite' });
    expect(r).toMatchObject({ status: 'failed', error: { code: 'INTEGRITY' } });
    expect(readdirSync(folder)).not.toContain('tampered.sqlite');
    rmSync(pack);
    const deleted = data(await engine.call('restore.verify', { location: loc }));
    expect(deleted.ok).toBe(false);
    expect(deleted.problems[0]).toMatchObject({ code: 'INTEGRITY', packId: expect.any(String) });
    expect(packs[0]!.name).toContain(deleted.problems[0]!.packId);
  });

  it('refuses an FTP destination that does not say which TLS mode it uses (no silent plain FTP)', async () => {
    const { engine, task, dest } = await setup();
    const { tls: _t, ...noTls } = dest as Extract<Destination, { kind: 'ftp' }>;
    const res = await engine.call('tasks.update', { id: task.id, task: { name: task.name, serverId: task.serverId, type: task.type, schedule: task.schedule, retention: task.retention, encryption: task.encryption, destinations: [noTls as unknown as Destination], excludeDatabases: [], enabled: true } });
    expect(res).toMatchObject({ ok: false, code: 'MALFORMED_REQUEST' });
    expect(res.ok ? '' : res.message).toMatch(/tls/);
    const probe = await engine.call('destinations.test', { destination: noTls as unknown as Destination });
    expect(probe).toMatchObject({ ok: false, code: 'MALFORMED_REQUEST' });
    expect(plain.directory && readdirSync(plain.directory)).toEqual([]);
  });

  it('backs up over plain FTP when the destination chooses tls "none", and explicit TLS to that server fails with the hint', async () => {
    const { engine, task, dest, server } = await setup(plain, 'none');
    expect(data(await engine.call('destinations.test', { destination: dest }))).toMatchObject({ ok: true });
    const run = await runTask(engine, task.id, 'full');
    expect(run.status).toBe('success');
    expect(readdirSync(join(server.directory, 'team'))).not.toHaveLength(0);
    const refused = data(await engine.call('destinations.test', { destination: { ...dest, tls: 'explicit' } as Destination }));
    expect(refused).toMatchObject({ ok: false, steps: [{ step: 'put', ok: false, code: 'AUTH_FAILED' }, {}, {}, {}] });
    expect(refused.hint).toContain('does not offer TLS');
  });

  it('a password changed on the server: at most two logins with the old one per run (not one per database), each FTP row says why, nothing written; the new password continues', async () => {
    const proxy = await startTcpFaultProxy({ host: plain.host, port: plain.port }, { rate: 0, seed: 5 });
    try {
      const { engine, task, dest } = await setup(plain, 'none');
      const credentialsRef = (dest as Extract<Destination, { kind: 'ftp' }>).credentialsRef!;
      const viaProxy: Destination = { ...dest, port: proxy.port } as Destination;
      data(await engine.call('tasks.update', { id: task.id, task: { name: task.name, serverId: task.serverId, type: task.type, schedule: task.schedule, retention: task.retention, encryption: task.encryption, destinations: [task.destinations[0]!, viaProxy], excludeDatabases: task.excludeDatabases, enabled: task.enabled } }));
      expect((await runTask(engine, task.id, 'full')).status).toBe('success');
      const folder = join(plain.directory, (dest as Extract<Destination, { kind: 'ftp' }>).path);
      const committed = readdirSync(folder, { recursive: true }).map(String).sort();
      const logins = proxy.stats.clean;
      data(await engine.call('destinations.saveCredentials', { secret: { kind: 'ftp', password: 'the-old-ftp-password' }, credentialsRef }));
      const run = await runTask(engine, task.id, 'incremental');
      expect(run.status).toBe('partial');
      const onFtp = run.databases.filter((d) => d.destination.startsWith('ftp:'));
      expect(onFtp).toHaveLength(3);
      for (const d of onFtp) expect(d).toMatchObject({ status: 'failed', errorCode: 'AUTH_FAILED', pointId: null });
      expect(onFtp.filter((d) => /^Nothing was written: not tried, as this destination refused the login earlier in this run: /.test(d.errorMessage ?? '')).length).toBeGreaterThanOrEqual(1);
      expect(proxy.stats.clean - logins).toBeLessThanOrEqual(2);
      expect(JSON.stringify(run)).not.toContain('the-old-ftp-password');
      expect(readdirSync(folder, { recursive: true }).map(String).sort()).toEqual(committed);
      data(await engine.call('destinations.saveCredentials', { secret: { kind: 'ftp', password: FTP_PASSWORD }, credentialsRef }));
      expect((await runTask(engine, task.id, 'incremental')).status).toBe('success');
      await engine.close();
    } finally {
      await proxy.close();
    }
  });
});
