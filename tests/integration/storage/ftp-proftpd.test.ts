/**
 * The FTP destination against a real ProFTPD (tests/fixtures/proftpd.ts) over explicit TLS,
 * with ProFTPD's own defaults where they differ from ftp-srv: TLS session reuse required on
 * every data connection, MLSD listings, its 55x answers, a hard upload quota (mod_quotatab).
 * One daemon for the file (a second, implicit-TLS one only for the probe test):
 *  - the shared backend contract;
 *  - a DBA's task: Test connection, full and incremental of a SQLite folder, the points,
 *    the restore browser, restore, verify, retention deleting the old chain and GC its packs;
 *  - a full quota: DISK_FULL naming the fix, nothing left on the server;
 *  - the server restarting (sessions dropped) between calls and mid-run;
 *  - a missing file (ProFTPD resets the RETR's data connection before its 550 arrives);
 *  - settings DBAs meet, each on a folder or user of the same daemon: AllowOverwrite off (a
 *    task's runs work: the in-flight marker is replaced by delete + rename, GC sees it though
 *    its first look falls between the two, create-only puts stay CONFLICT, a format-1 header
 *    stays as it is), MaxStoreFileSize, MaxClientsPerUser.
 * Root only (ProFTPD chroots its virtual users).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'basic-ftp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Location } from '../../../electron/engine/destinations/index.ts';
import { initRepository, openRepository } from '../../../electron/engine/repository/index.ts';
import { INFLIGHT_PREFIX, inflightKey, packKey } from '../../../electron/engine/repository/layout.ts';
import { BackendDecorator, FtpBackend, probeFtp, type FtpBackendOptions } from '../../../electron/engine/storage/index.ts';
import { FTP_PASSWORD, FTP_USER } from '../../fixtures/ftp-server.ts';
import { PROFTPD_LIMITED_USER, PROFTPD_QUOTA_USER, proftpdEnabled, startProftpd, type ProftpdHandle } from '../../fixtures/proftpd.ts';
import { grow } from '../../fixtures/reliability/fault-runs.ts';
import { sqliteCount } from '../../fixtures/reliability/kill-harness.ts';
import { garbageReport } from '../../fixtures/reliability/repo-check.ts';
import { remoteFolder, remoteTask, secretsLeaked, type RemoteKind } from '../../fixtures/remote-task.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { data, runTask, waitForRun } from '../../fixtures/runs.ts';
import { rejection } from '../../fixtures/servers/common.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { collect, pieces, pointOpts } from '../../unit/repository/helpers.ts';
import { runBackendContract } from '../../unit/storage/backend-contract.ts';

const HOUR = 3_600_000;
/** The quota user's hard upload quota. */
const QUOTA = 256 * 1024;
let seq = 0;

function options(s: ProftpdHandle, over: Partial<FtpBackendOptions> = {}): FtpBackendOptions {
  return { host: s.host, port: s.port, user: FTP_USER, password: FTP_PASSWORD, tls: s.tls, certificateFingerprint: s.certificateFingerprint, root: `/t${seq++}`, ...over };
}

/** The ProFTPD server as a remote kind for the task fixtures (remote-task.ts). */
function proftpdRemote(s: ProftpdHandle, user = FTP_USER, base = '/team'): RemoteKind {
  return {
    kind: 'ftp',
    secret: { kind: 'ftp', password: FTP_PASSWORD },
    secretText: FTP_PASSWORD,
    destination: (credentialsRef) => ({ kind: 'ftp', host: s.host, port: s.port, user, path: `${base}/run-${seq++}`, tls: s.tls, certificateFingerprint: s.certificateFingerprint, credentialsRef }),
    backend: (l) => Location.at(l, { password: FTP_PASSWORD }).backend(),
    stop: async () => {},
  };
}

/** Every file under `dir` (relative paths), for "nothing was left" checks. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe.runIf(proftpdEnabled)('FTP destination on ProFTPD', () => {
  let server: ProftpdHandle;
  beforeAll(async () => {
    server = await startProftpd('explicit', {
      quotaBytes: QUOTA,
      extraConfig: [
        // Settings DBAs meet, each on its own folder or user.
        '<Directory ~/strict>',
        '  AllowOverwrite off',
        '</Directory>',
        '<Directory ~/small>',
        '  MaxStoreFileSize 64 Kb',
        '</Directory>',
        `<IfUser ${PROFTPD_LIMITED_USER}>`,
        '  MaxClientsPerUser 2',
        '</IfUser>',
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  runBackendContract('ftp on ProFTPD (explicit TLS, session reuse required)', async () => {
    const backend = new FtpBackend(options(server));
    return { backend, cleanup: () => backend.close() };
  });

  it('Test connection passes over explicit and implicit TLS, though the server refuses data connections that do not resume the TLS session', async () => {
    const o = options(server);
    expect(await probeFtp(o)).toEqual({ ok: true, steps: ['put', 'get', 'list', 'delete'].map((step) => ({ step, ok: true })) });
    expect(filesUnder(join(server.directory, o.root))).toEqual([]);
    const implicit = await startProftpd('implicit');
    try {
      expect(await probeFtp(options(implicit))).toMatchObject({ ok: true });
    } finally {
      await implicit.stop();
    }
    // Every data connection Backstop opened so far resumed its session; the requirement is on:
    // a client that does not resume has its data connection refused.
    expect(server.logs()).toContain('client reused TLS session for data connection');
    expect(server.logs()).not.toContain('client did not reuse TLS session');
    const raw = new Client(5_000);
    try {
      await raw.connect(server.host, server.port);
      await raw.useTLS({ rejectUnauthorized: false });
      await raw.login(FTP_USER, FTP_PASSWORD);
      await raw.useDefaultSettings();
      const ftp = raw.ftp as unknown as { tlsSessionStore: unknown; socket: { getSession(): unknown } };
      ftp.tlsSessionStore = undefined;
      ftp.socket.getSession = () => undefined;
      await raw.list('/').catch(() => undefined); // basic-ftp tries LIST after the refused MLSD
      expect(server.logs()).toContain('client did not reuse TLS session, rejecting data connection');
    } finally {
      raw.close();
    }
  });

  it("a DBA's task: Test connection, full and incremental, points, the restore browser, restore, verify, retention and GC", async () => {
    const remote = proftpdRemote(server);
    const folder = tempDir();
    grow(join(folder, 'ledger.db'), 2_000);
    const t = await remoteTask(remote, { server: { kind: 'sqlite', name: 'files', folder }, type: 'snapshot', retention: { minAgeDays: 0, minAgeHours: 0, keepLast: 1 } });
    expect(data(await t.engine.call('destinations.test', { destination: t.dest }))).toMatchObject({ ok: true });
    const full = await runTask(t.engine, t.taskId, 'full');
    expect(full.status, JSON.stringify(full.databases)).toBe('success');
    const rows = grow(join(folder, 'ledger.db'), 1_000);
    const incremental = await runTask(t.engine, t.taskId, 'incremental');
    expect(incremental.status, JSON.stringify(incremental.databases)).toBe('success');

    const folders = data(await t.engine.call('restore.folders', { destination: t.dest })).filter((f) => !f.serverStream);
    expect(folders.map((f) => f.database)).toEqual(['ledger.db']);
    const location = await remoteFolder(t, 'ledger.db');
    const points = data(await t.engine.call('restore.inspect', { location })).points;
    expect(points.map((p) => p.kind).sort()).toEqual(['full', 'incremental']);
    const restored = await restoreAndWait(t.engine, { location, pointId: 'latest', serverId: t.serverId, database: 'ledger-back.db' });
    expect(restored).toMatchObject({ status: 'success', path: join(folder, 'ledger-back.db') });
    expect(sqliteCount(restored.path!)).toBe(rows);
    expect(data(await t.engine.call('restore.verify', { location }))).toMatchObject({ ok: true, problems: [] });

    // Two more fulls with new rows: retention (keep 1) deletes the older chains' points.
    let last = rows;
    for (let i = 0; i < 2; i++) {
      last = grow(join(folder, 'ledger.db'), 1_500);
      const r = await runTask(t.engine, t.taskId, 'full');
      expect(r.status, JSON.stringify(r.databases)).toBe('success');
    }
    const kept = data(await t.engine.call('restore.inspect', { location })).points;
    expect(kept).toHaveLength(1);
    const backend = remote.backend(location);
    try {
      const before = await garbageReport(backend);
      expect(before.unreferenced).toBeGreaterThan(0);
      const later = await openRepository(backend, { key: null, workers: 0, now: () => Date.now() + 3 * HOUR });
      expect((await later.collectGarbage()).packsDeleted).toBe(before.unreferenced);
      expect(await garbageReport(backend)).toMatchObject({ packs: before.packs - before.unreferenced, unreferenced: 0, markers: 0 });
    } finally {
      await backend.close();
    }
    const again = await restoreAndWait(t.engine, { location, pointId: 'latest', serverId: t.serverId, database: 'ledger-again.db' });
    expect(again.status).toBe('success');
    expect(sqliteCount(again.path!)).toBe(last);
    expect(data(await t.engine.call('restore.verify', { location }))).toMatchObject({ ok: true, problems: [] });
    expect(filesUnder(server.directory).filter((f) => f.includes('.backstop-tmp-'))).toEqual([]);
    expect(await secretsLeaked(remote, t)).toEqual([]);
  }, 240_000);

  it('a full quota (mod_quotatab) is DISK_FULL naming the fix, for Test connection and a run; nothing is left on the server', async () => {
    const remote = proftpdRemote(server, PROFTPD_QUOTA_USER);
    const folder = tempDir();
    grow(join(folder, 'ledger.db'), 4_000); // ~1 MB of random rows: past the quota once packed
    const t = await remoteTask(remote, { server: { kind: 'sqlite', name: 'files', folder }, type: 'snapshot' });
    const probe = data(await t.engine.call('destinations.test', { destination: t.dest }));
    expect(probe.ok).toBe(true); // a small probe file fits
    const run = await runTask(t.engine, t.taskId, 'full');
    expect(run.status).toBe('failed');
    const failed = run.databases[0]!;
    expect(failed).toMatchObject({ status: 'failed', pointId: null });
    // ProFTPD answers the upload past the quota with 552, but may reset the data connection before that reply
    // reaches Backstop (seen in CI under load): then the database fails as a reset, STORAGE (docs/destinations/ftp.md).
    if (failed.errorCode === 'DISK_FULL') expect(failed.errorMessage).toContain('Free space on the server or raise the FTP user\'s quota.');
    else expect(failed, JSON.stringify(failed)).toMatchObject({ errorCode: 'STORAGE', errorMessage: expect.stringMatching(/ECONNRESET|EPIPE|reset|closed/i) });
    const path = t.dest.kind === 'ftp' ? t.dest.path : '';
    expect(filesUnder(join(server.directory, path)).filter((f) => f.includes('.backstop-tmp-') || f.includes('points/'))).toEqual([]);
    await t.engine.close();
  }, 120_000);

  it('pooled connections the server dropped (restart, idle timeout) are not used again: the next call works without a retry', async () => {
    const b = new FtpBackend(options(server));
    try {
      // Four calls at once: four pooled, logged-in connections.
      await Promise.all(['a', 'b', 'c', 'd'].map((k) => b.put(`x/${k}`, Buffer.from(k))));
      await server.restart();
      expect((await b.get('x/a')).toString()).toBe('a');
      expect((await Promise.all(['b', 'c', 'd'].map((k) => b.get(`x/${k}`)))).map(String)).toEqual(['b', 'c', 'd']);
    } finally {
      await b.close();
    }
  });

  it('the server restarting mid-run: the run still commits every database or fails it with STORAGE, and the next run and a restore work', async () => {
    const remote = proftpdRemote(server);
    const folder = tempDir();
    for (const d of ['a.db', 'b.db', 'c.db']) grow(join(folder, d), 6_000);
    const t = await remoteTask(remote, { server: { kind: 'sqlite', name: 'files', folder }, type: 'snapshot' });
    const root = join(server.directory, t.dest.kind === 'ftp' ? t.dest.path : '');
    const { runId } = data(await t.engine.call('tasks.runNow', { id: t.taskId, kind: 'full' }));
    for (const deadline = Date.now() + 30_000; Date.now() < deadline && filesUnder(root).length === 0; ) await new Promise((r) => setTimeout(r, 5));
    expect(filesUnder(root).length).toBeGreaterThan(0);
    await server.restart();
    const run = await waitForRun(t.engine, runId);
    for (const d of run.databases) {
      if (d.status !== 'success') expect(d, JSON.stringify(d)).toMatchObject({ status: 'failed', errorCode: 'STORAGE', pointId: null });
    }
    const next = await runTask(t.engine, t.taskId, 'incremental');
    expect(next.status, JSON.stringify(next.databases)).toBe('success');
    const location = await remoteFolder(t, 'b.db');
    const restored = await restoreAndWait(t.engine, { location, pointId: 'latest', serverId: t.serverId, database: 'b-back.db' });
    expect(restored.status).toBe('success');
    expect(sqliteCount(restored.path!)).toBe(6_000);
    expect(data(await t.engine.call('restore.verify', { location }))).toMatchObject({ ok: true, problems: [] });
    await t.engine.close();
  }, 180_000);

  it('a missing object is NOT_FOUND though ProFTPD resets the data connection of a RETR it refuses (the reset arrives before its 550)', async () => {
    const b = new FtpBackend(options(server));
    try {
      const missing = await rejection(b.get('nope/none'));
      expect(missing.code).toBe('NOT_FOUND');
      expect(missing.message).toContain('read of "nope/none" at ftp://backup@127.0.0.1');
      expect(missing.message).toContain('there is no such file on the server');
      expect(await b.stat('nope/none')).toBeNull();
      await b.delete('nope/none'); // idempotent
    } finally {
      await b.close();
    }
  });

  it('a folder where the server refuses to replace files (AllowOverwrite off): replacing any other object is PERMISSION_DENIED naming AllowOverwrite on; the first version stays', async () => {
    const b = new FtpBackend(options(server, { root: '/strict/a' }));
    try {
      await b.put('k', Buffer.from('one'));
      const refused = await rejection(b.put('k', Buffer.from('two')));
      expect(refused.code).toBe('PERMISSION_DENIED');
      expect(refused.message).toContain('Rename permission denied: the server refuses to replace an existing file by renaming over it. Let it (ProFTPD: "AllowOverwrite on" for this folder).');
      expect((await b.get('k')).toString()).toBe('one');
      expect(filesUnder(join(server.directory, 'strict'))).toEqual(['a/k']);
    } finally {
      await b.close();
    }
  });

  it('AllowOverwrite off: the in-flight marker is replaced by delete + rename, so a full and an incremental run work; a create-only put onto an existing key is still CONFLICT', async () => {
    const b = new FtpBackend(options(server, { root: '/strict/b' }));
    try {
      await b.put('inflight/w', Buffer.from('one'), { replaceable: true });
      await b.put('inflight/w', Buffer.from('two'), { replaceable: true });
      expect((await b.get('inflight/w')).toString()).toBe('two');
      await b.put('backstop.repo', Buffer.from('header'));
      const exists = await rejection(b.put('backstop.repo', Buffer.from('other'), { ifAbsent: true, replaceable: true }));
      expect(exists.code).toBe('CONFLICT');
      expect(exists.message).toContain('"backstop.repo" already exists');
      expect((await b.get('backstop.repo')).toString()).toBe('header');
      expect(filesUnder(join(server.directory, 'strict/b'))).toEqual(['backstop.repo', 'inflight/w']);
    } finally {
      await b.close();
    }
    const remote = proftpdRemote(server, FTP_USER, '/strict');
    const folder = tempDir();
    grow(join(folder, 'ledger.db'), 1_000);
    const t = await remoteTask(remote, { server: { kind: 'sqlite', name: 'files', folder }, type: 'snapshot' });
    expect(data(await t.engine.call('destinations.test', { destination: t.dest }))).toMatchObject({ ok: true });
    const full = await runTask(t.engine, t.taskId, 'full');
    expect(full.status, JSON.stringify(full.databases)).toBe('success');
    const rows = grow(join(folder, 'ledger.db'), 500);
    const incremental = await runTask(t.engine, t.taskId, 'incremental');
    expect(incremental.status, JSON.stringify(incremental.databases)).toBe('success');
    const location = await remoteFolder(t, 'ledger.db');
    expect(data(await t.engine.call('restore.verify', { location }))).toMatchObject({ ok: true, problems: [] });
    const restored = await restoreAndWait(t.engine, { location, pointId: 'latest', serverId: t.serverId, database: 'ledger-back.db' });
    expect(restored.status).toBe('success');
    expect(sqliteCount(restored.path!)).toBe(rows);
    const path = t.dest.kind === 'ftp' ? t.dest.path : '';
    expect(filesUnder(join(server.directory, path)).filter((f) => f.includes('.backstop-tmp-') || f.includes('inflight/'))).toEqual([]);
    await t.engine.close();
  }, 120_000);

  it('AllowOverwrite off: a format-1 folder cannot have its header replaced, so its first full leaves it format 1 (header untouched) and the point reads back', async () => {
    const b = new FtpBackend(options(server, { root: '/strict/v1' }));
    try {
      await initRepository(b, { key: null, workers: 0, formatVersion: 1 });
      const header = await b.get('backstop.repo');
      const repo = await openRepository(b, { key: null, workers: 0 });
      const body = Buffer.alloc(300_000, 7);
      const point = await repo.writePoint(pieces(body), pointOpts({ kind: 'full' }));
      expect(header.readUInt16LE(8)).toBe(1);
      expect((await b.get('backstop.repo')).equals(header)).toBe(true);
      expect((await collect(await (await openRepository(b, { key: null, workers: 0 })).readPoint(point.id))).equals(body)).toBe(true);
      expect(filesUnder(join(server.directory, 'strict/v1')).filter((f) => f.includes('.backstop-tmp-') || f.startsWith('inflight/'))).toEqual([]);
    } finally {
      await b.close();
    }
  });

  it('AllowOverwrite off: garbage collection that lists the markers while one is being replaced (old deleted, new not yet renamed in) still keeps the packs it names', async () => {
    const b = new FtpBackend(options(server, { root: '/strict/gc' }));
    try {
      await initRepository(b, { key: null, workers: 0 });
      const packId = 'ab'.repeat(32);
      await b.put(packKey(packId), Buffer.from('a pack a running backup uploaded, not committed yet'));
      const writeId = 'cd'.repeat(16);
      const marker = Buffer.from(JSON.stringify({ writeId, startedAt: new Date().toISOString(), basePoints: [], packs: [packId] }));
      await b.put(inflightKey(writeId), marker, { replaceable: true });
      // GC's first look at the markers sees the folder as it is during such a replacement.
      let armed = false;
      let looks = 0;
      const gcView = new (class extends BackendDecorator {
        override async list(prefix: string) {
          if (!armed || prefix !== INFLIGHT_PREFIX || looks++ > 0) return super.list(prefix);
          await b.delete(inflightKey(writeId));
          try {
            return await super.list(prefix);
          } finally {
            await b.put(inflightKey(writeId), marker, { replaceable: true });
          }
        }
      })(b);
      // A minute on: the pack is past a grace of 0, the marker (1 h) still live.
      const repo = await openRepository(gcView, { key: null, workers: 0, gcGraceMs: 0, now: () => Date.now() + 60_000 });
      armed = true;
      expect(await repo.collectGarbage()).toMatchObject({ packsDeleted: 0, markersDeleted: 0 });
      expect(looks).toBeGreaterThan(1);
      expect((await b.get(packKey(packId))).toString()).toBe('a pack a running backup uploaded, not committed yet');
      expect((await b.get(inflightKey(writeId))).equals(marker)).toBe(true);
    } finally {
      await b.close();
    }
  });

  it("an upload size limit (MaxStoreFileSize, 552 File too large) is PERMISSION_DENIED naming the limit, not a full disk; nothing is left", async () => {
    const b = new FtpBackend(options(server, { root: '/small/a' }));
    try {
      const e = await rejection(b.put('packs/big', Buffer.alloc(200 * 1024, 1)));
      expect(e.code).toBe('PERMISSION_DENIED');
      expect(e.message).toContain('552 Transfer aborted. File too large');
      expect(e.message).toContain("The server refuses files this large (an upload size limit, such as ProFTPD's MaxStoreFileSize");
      expect(e.message).not.toContain('Free space');
      expect(filesUnder(join(server.directory, 'small'))).toEqual([]);
    } finally {
      await b.close();
    }
  });

  it('a per-user connection limit (MaxClientsPerUser 2): the pool shrinks to it; a login refused by it is STORAGE naming the setting, not a wrong password', async () => {
    const limited = () => new FtpBackend(options(server, { user: PROFTPD_LIMITED_USER, root: '/limited' }));
    // Two calls leave two idle connections; of the next three, two take those and are done
    // before the third's login is refused — which must then take one of them, not wait.
    const c = limited();
    try {
      await Promise.all([c.stat('x/a'), c.stat('x/b')]);
      const three = Promise.all(['a', 'b', 'c'].map((k) => c.stat(`x/${k}`)));
      const settled = await Promise.race([three, new Promise<'HUNG'>((r) => setTimeout(() => r('HUNG'), 10_000).unref())]);
      expect(settled, 'a call waited for a connection that was already idle').toEqual([null, null, null]);
    } finally {
      await c.close();
    }
    const b = limited();
    const other = limited();
    try {
      // The server counts a closed session until its process has ended (waited for up to 30 s: on a loaded machine
      // ending the processes can take longer than the 10 s this waited, and the puts below then meet the limit).
      for (const deadline = Date.now() + 30_000; await b.stat('x/a').then(() => false, () => Date.now() < deadline); ) await new Promise((r) => setTimeout(r, 100));
      await Promise.all(['a', 'b', 'c', 'd'].map((k) => b.put(`x/${k}`, Buffer.alloc(256 * 1024, 1))));
      expect((await Promise.all(['a', 'b', 'c', 'd'].map((k) => b.stat(`x/${k}`)))).map((st) => st?.size)).toEqual([262144, 262144, 262144, 262144]);
      // `b` holds the user's two connections (idle in its pool): another backend's login is refused.
      const busy = await rejection(other.stat('x/a'));
      expect(busy).toMatchObject({ code: 'STORAGE', retryable: true });
      expect(busy.message).toContain('530 Sorry, the maximum number of clients (2) for this user are already connected');
      expect(busy.message).toContain('ProFTPD MaxClientsPerUser / MaxClientsPerHost');
      expect(busy.message).not.toContain('Check the user name and password');
      const report = await probeFtp(options(server, { user: PROFTPD_LIMITED_USER }));
      expect(report.hint).toContain('limits how many connections');
    } finally {
      await b.close();
      await other.close();
    }
  });
});
