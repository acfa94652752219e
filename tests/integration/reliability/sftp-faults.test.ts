/**
 * SFTP faults on the real path (task file → CLI → engine → SftpBackend → ssh2 → OpenSSH):
 *  - a TCP fault proxy in front of a throwaway sshd resets connections or stalls them (then
 *    drops them) mid-login and mid-transfer on 40 % of connections: every run finishes or
 *    fails cleanly with a known non-INTERNAL code, earlier points still verify through a
 *    fault-free connection, GC never takes a needed pack, the newest point restores right
 *    (fault-runs.ts);
 *  - a link that hangs without being dropped (no byte either way): the backend drops it
 *    after its stall timeout and the retry on a new connection completes the upload;
 *  - the server killed (SIGKILL, every session with it) in the middle of a run: the run
 *    fails with STORAGE naming the destination, nothing committed is lost, no temp file is
 *    visible as an object, and the next run after the restart succeeds;
 *  - full storage: the destination folder is a 4 MiB tmpfs (mounted by the test, as root —
 *    CI runs as root; skipped otherwise): the run that no longer fits fails with DISK_FULL
 *    naming the destination and the fix, the earlier point still verifies and restores, no
 *    temp file is left, and after the disk is grown the next run succeeds.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { createSftpBackend } from '../../../electron/engine/storage/index.ts';
import { cli, Scratch, workerCrashes } from '../../fixtures/reliability/common.ts';
import { faultyRunsLoseNothing, grow } from '../../fixtures/reliability/fault-runs.ts';
import { startTcpFaultProxy, type TcpFaultProxy } from '../../fixtures/reliability/tcp-fault-proxy.ts';
import { startSshd, type SshdHandle } from '../../fixtures/sshd.ts';
import { TmpfsMounts } from '../../fixtures/tmpfs.ts';

const SEED = Number(process.env.BACKSTOP_SOAK_SEED ?? 4242);
const scratch = new Scratch();
let sshd: SshdHandle;
let proxy: TcpFaultProxy;
let seq = 0;

beforeAll(async () => {
  sshd = await startSshd();
  // A stalled connection is dropped after 1 s (the backend's own stall timeout, 45 s of silence, never
  // fires first either way, so the same path is hit as with a longer stall).
  proxy = await startTcpFaultProxy({ host: sshd.host, port: sshd.port }, { rate: 0, seed: SEED, stallMs: 1_000 });
});
afterAll(async () => {
  await proxy?.close();
  await sshd?.stop();
  scratch.cleanup();
});

/** A fresh base folder on the server, writable by the test user. */
function baseFolder(): string {
  const base = join(sshd.data, `rel${seq++}`);
  mkdirSync(base);
  chmodSync(base, 0o777);
  return base;
}

/** The task file's SFTP destination (key login, pinned host key) at `port`. */
function destination(base: string, port = sshd.port) {
  return { kind: 'sftp', host: sshd.host, port, user: sshd.user, path: base, privateKeyFile: sshd.clientKey, hostKey: sshd.hostKey() };
}

const location = (base: string, d: string) => `sftp://${sshd.user}@${sshd.host}:${sshd.port}${base}/${encodeDatabaseFolder(d)}`;
const flags = () => ['--identity', sshd.clientKey, '--host-key', sshd.hostKey()];

/** Files under `dir` whose name marks an SFTP temp upload (`.<name>.tmp-<random>`). */
function tempFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.includes('.tmp-'))
    .map((e) => join(e.parentPath, e.name));
}

/**
 * Waits until a pack's upload under `dir` is under way — its temp file exists on the server
 * (created once the open succeeded, renamed when the upload is done) — and returns true, or
 * false if `run` ends first. No deadline: however slow a loaded machine makes the run, only
 * the run's own end (or the test timeout, for a hang) stops the wait. Each check is one turn
 * of the event loop the in-process CLI also uploads on, so a multi-MB pack cannot slip by.
 */
async function packUploadUnderWay(dir: string, run: Promise<unknown>): Promise<boolean> {
  let ended = false;
  void run.then(
    () => (ended = true),
    () => (ended = true),
  );
  for (;;) {
    const over = ended; // read before looking: a run that ended has no upload left to find
    if (tempFiles(dir).some((f) => /\.pack\.tmp-[0-9a-f]+$/.test(f))) return true;
    if (over) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
}

type BackupJson = { databases: { database: string; status: string; point: string | null; error?: { code: string; message: string } }[] };

function taskFile(folder: string, dest: Record<string, unknown>): string {
  const task = join(scratch.dir(), 'task.json');
  writeFileSync(task, JSON.stringify({ name: 'sftp', server: { kind: 'sqlite', folder }, type: 'snapshot', schedule: { full: '0 2 * * 0' }, destinations: [dest] }));
  return task;
}

describe('SFTP faults', () => {
  it('connection resets and stalls mid-login and mid-transfer: runs finish or fail cleanly, nothing committed is lost', async () => {
    const base = baseFolder();
    const { outcomes } = await faultyRunsLoseNothing({
      scratch,
      label: 'sftp',
      destination: destination(base, proxy.port),
      location: (d) => location(base, d),
      locationArgs: flags(),
      backend: (d) => createSftpBackend({ host: sshd.host, port: sshd.port, user: sshd.user, root: `${base}/${encodeDatabaseFolder(d)}`, hostKey: sshd.hostKey(), privateKeyFile: sshd.clientKey }),
      faults: { on: () => proxy.setRate(0.4), off: () => proxy.setRate(0) },
    });
    console.log('SFTP faults injected:', proxy.stats, 'database outcomes:', outcomes.join(' '));
    expect(proxy.stats.reset + proxy.stats.stall).toBeGreaterThan(2);
  }, 300_000);

  it('a link that hangs without being dropped: the call fails as a lost connection after the stall timeout and is retried on a new one', async () => {
    const stalling = await startTcpFaultProxy({ host: sshd.host, port: sshd.port }, { rate: 1, seed: SEED, kinds: ['stall'], stallMs: 600_000 });
    const root = baseFolder();
    const backend = createSftpBackend({ host: sshd.host, port: stalling.port, user: sshd.user, root, hostKey: sshd.hostKey(), privateKeyFile: sshd.clientKey, stallTimeoutMs: 2_000 });
    try {
      const body = randomBytes(1_500_000);
      const put = backend.put('packs/stalled.pack', body);
      // Only the first connection hangs; the retry's is clean.
      await stalling.faulted('stall');
      stalling.setRate(0);
      const started = Date.now();
      await put;
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(stalling.stats).toMatchObject({ stall: 1, clean: expect.any(Number) });
      expect(stalling.stats.clean).toBeGreaterThan(0);
      expect((await backend.get('packs/stalled.pack')).equals(body)).toBe(true);
      // The dropped connection could not remove its temp file: it stays hidden, never an object.
      expect((await backend.list('packs/')).map((o) => o.key)).toEqual(['packs/stalled.pack']);
      expect(tempFiles(root).every((f) => f.split('/').at(-1)!.startsWith('.stalled.pack.tmp-'))).toBe(true);
    } finally {
      await backend.close();
      await stalling.close();
    }
  }, 120_000);

  it('the server killed mid-run: STORAGE naming the destination, nothing lost, the next run succeeds', async () => {
    const base = baseFolder();
    const folder = scratch.dir();
    const dataDir = scratch.dir();
    grow(join(folder, 'a.db'), 2_000);
    const task = taskFile(folder, destination(base));
    const first = await cli('backup', '--config', task, '--data-dir', dataDir, '--kind', 'full', '--json');
    expect(first.code, first.out).toBe(0);
    const before = await cli('points', location(base, 'a.db'), ...flags(), '--data-dir', dataDir, '--json');
    const kept = (before.json as { id: string }[]).map((p) => p.id);
    expect(kept).toHaveLength(1);

    // ~12 MB of incompressible rows: the upload takes long enough to be cut.
    const db = new Database(join(folder, 'a.db'));
    const ins = db.prepare('INSERT INTO ledger (v) VALUES (?)');
    db.transaction(() => {
      for (let i = 0; i < 3_000; i++) ins.run(randomBytes(2_000).toString('base64'));
    })();
    db.close();
    const running = cli('backup', '--config', task, '--data-dir', dataDir, '--kind', 'full', '--json');
    // Kill while a pack is being written (its temp file is on the server).
    expect(await packUploadUnderWay(base, running), 'the run ended before a pack upload was seen: the upload never started').toBe(true);
    sshd.kill();
    const r = await running;
    await sshd.restart();
    expect(r.code, r.out).not.toBe(0);
    const failed = (r.json as BackupJson).databases.find((d) => d.database === 'a.db')!;
    expect(failed.status, r.out).not.toBe('ok');
    expect(failed.error?.code, `${r.out}\n${workerCrashes(dataDir)}`).toBe('STORAGE');
    expect(failed.error?.message).toContain(`${sshd.host}:${sshd.port}`);

    const after = await cli('points', location(base, 'a.db'), ...flags(), '--data-dir', dataDir, '--json');
    expect((after.json as { id: string }[]).map((p) => p.id)).toEqual(kept);
    const v = await cli('verify', location(base, 'a.db'), ...flags(), '--data-dir', dataDir, '--json');
    expect(v.json, v.out).toMatchObject({ ok: true, pointsChecked: 1 });
    const again = await cli('backup', '--config', task, '--data-dir', dataDir, '--kind', 'full', '--json');
    expect(again.code, again.out).toBe(0);
    const v2 = await cli('verify', location(base, 'a.db'), ...flags(), '--data-dir', dataDir, '--json');
    expect(v2.json, v2.out).toMatchObject({ ok: true, pointsChecked: 2 });
  }, 180_000);

  it.runIf(process.getuid?.() === 0)('full storage: DISK_FULL naming the destination and the fix, the earlier point intact, no temp file left', async (ctx) => {
    const base = baseFolder();
    const tmpfs = new TmpfsMounts();
    if (!tmpfs.tryMount(base, '4m', '0777')) ctx.skip('mount -t tmpfs is not permitted here');
    try {
      const folder = scratch.dir();
      const dataDir = scratch.dir();
      const rows = grow(join(folder, 'a.db'), 1_000);
      const task = taskFile(folder, destination(base));
      const first = await cli('backup', '--config', task, '--data-dir', dataDir, '--kind', 'full', '--json');
      expect(first.code, first.out).toBe(0);
      const db = new Database(join(folder, 'a.db'));
      const ins = db.prepare('INSERT INTO ledger (v) VALUES (?)');
      db.transaction(() => {
        for (let i = 0; i < 3_000; i++) ins.run(randomBytes(2_000).toString('base64'));
      })();
      db.close();
      const r = await cli('backup', '--config', task, '--data-dir', dataDir, '--kind', 'full', '--json');
      expect(r.code, r.out).not.toBe(0);
      const failed = (r.json as BackupJson).databases[0]!;
      expect(failed).toMatchObject({ database: 'a.db', error: { code: 'DISK_FULL' } });
      expect(failed.error!.message).toContain(`${sshd.host}:${sshd.port}`);
      expect(failed.error!.message).toMatch(/no space left on the SFTP server's disk\. Free space there/);
      expect(tempFiles(base)).toEqual([]);

      const pts = await cli('points', location(base, 'a.db'), ...flags(), '--data-dir', dataDir, '--json');
      expect(pts.json as unknown[], pts.out).toHaveLength(1);
      const v = await cli('verify', location(base, 'a.db'), ...flags(), '--data-dir', dataDir, '--json');
      expect(v.json, v.out).toMatchObject({ ok: true, pointsChecked: 1 });
      const serverFile = join(scratch.dir(), 'server.json');
      writeFileSync(serverFile, JSON.stringify({ kind: 'sqlite', folder }));
      const back = await cli('restore', location(base, 'a.db'), ...flags(), '--point', 'latest', '--server', serverFile, '--database', 'a-back.db', '--data-dir', dataDir, '--json');
      expect(back.code, back.out).toBe(0);
      const restored = new Database(join(folder, 'a-back.db'), { readonly: true });
      expect((restored.prepare('SELECT count(*) AS n FROM ledger').get() as { n: number }).n).toBe(rows);
      restored.close();

      execFileSync('mount', ['-o', 'remount,size=64m', base]);
      const again = await cli('backup', '--config', task, '--data-dir', dataDir, '--kind', 'full', '--json');
      expect(again.code, again.out).toBe(0);
    } finally {
      tmpfs.unmountAll();
    }
  }, 180_000);
});
