/**
 * The FTP backend against a real FTP server (ftp-srv in a child process) over explicit
 * TLS, implicit TLS and (chosen) plain FTP: the shared backend contract, certificate
 * pinning, and the failures a DBA meets (login, TLS refused, full disk, killed server).
 */
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FtpBackend, probeFtp, type FtpBackendOptions } from '../../../electron/engine/storage/index.ts';
import { FTP_FULL_USER, FTP_PASSWORD, FTP_USER, startFtpServer, type FtpServerHandle } from '../../fixtures/ftp-server.ts';
import { runBackendContract } from '../../unit/storage/backend-contract.ts';

let seq = 0;
function options(s: FtpServerHandle, over: Partial<FtpBackendOptions> = {}): FtpBackendOptions {
  return { host: s.host, port: s.port, user: FTP_USER, password: FTP_PASSWORD, tls: s.tls, certificateFingerprint: s.certificateFingerprint || null, root: `/t${seq++}`, ...over };
}

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return { code: (e as { code: string }).code, message: (e as Error).message };
  }
  throw new Error('expected a failure');
}

for (const tls of ['explicit', 'implicit', 'none'] as const) {
  let server: FtpServerHandle;
  beforeAll(async () => {
    server = await startFtpServer(tls);
  });
  afterAll(async () => {
    await server?.stop();
  });
  runBackendContract(`ftp (${tls} TLS)`, async () => {
    const backend = new FtpBackend(options(server));
    return { backend, cleanup: () => backend.close() };
  });
}

describe('FTP backend: certificates, logins and failures', () => {
  let server: FtpServerHandle;
  beforeAll(async () => {
    server = await startFtpServer('explicit');
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('refuses a self-signed certificate that is not pinned, naming its fingerprint', async () => {
    const b = new FtpBackend(options(server, { certificateFingerprint: null }));
    const f = await failure(b.put('x', Buffer.from('x')));
    expect(f.code).toBe('AUTH_FAILED');
    expect(f.message).toContain('not trusted');
    expect(f.message).toContain(server.certificateFingerprint);
    await b.close();
    expect(readdirSync(server.directory)).toEqual([]);
  });

  it('refuses a certificate other than the pinned one', async () => {
    const other = 'AA:'.repeat(31) + 'AA';
    const b = new FtpBackend(options(server, { certificateFingerprint: other }));
    const f = await failure(b.stat('x'));
    expect(f.code).toBe('AUTH_FAILED');
    expect(f.message).toContain('not the pinned one');
    expect(f.message).toContain(server.certificateFingerprint);
    await b.close();
  });

  it('a wrong password is AUTH_FAILED and the password is in no message', async () => {
    const report = await probeFtp(options(server, { password: 'wrong-Pw-77' }));
    expect(report.ok).toBe(false);
    expect(report.steps[0]).toMatchObject({ step: 'put', ok: false, code: 'AUTH_FAILED' });
    expect(report.hint).toBe('Check the user name and password.');
    expect(JSON.stringify(report)).not.toContain('wrong-Pw-77');
  });

  it('Test connection passes on a reachable server and leaves nothing behind', async () => {
    const o = options(server);
    const report = await probeFtp(o);
    expect(report).toEqual({ ok: true, steps: ['put', 'get', 'list', 'delete'].map((step) => ({ step, ok: true })) });
    expect(readdirSync(join(server.directory, o.root))).toEqual([]);
  });

  it("a put reports the bytes sent to its progress listener, summing to the object's size", async () => {
    const b = new FtpBackend(options(server));
    try {
      const data = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
      const sent: number[] = [];
      await b.put('packs/bb/x.pack', [data.subarray(0, 1024 * 1024), data.subarray(1024 * 1024)], { onProgress: (n) => sent.push(n) });
      expect(sent.length).toBeGreaterThan(0);
      expect(sent.every((n) => n > 0)).toBe(true);
      expect(sent.reduce((a, n) => a + n, 0)).toBe(data.length);
      // The listener is gone afterwards: another put reports nothing to it.
      await b.put('packs/bb/y.pack', data);
      expect(sent.reduce((a, n) => a + n, 0)).toBe(data.length);
    } finally {
      await b.close();
    }
  });

  it('list gives each file its real modification time on a server without MLSD (asked with MDTM), so GC can tell old packs', async () => {
    const o = options(server);
    const b = new FtpBackend(o);
    try {
      await b.put('packs/aa/old.pack', Buffer.from('old'));
      await b.put('packs/aa/new.pack', Buffer.from('new'));
      const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
      utimesSync(join(server.directory, o.root, 'packs', 'aa', 'old.pack'), twoHoursAgo, twoHoursAgo);
      const listed = new Map((await b.list('packs/')).map((x) => [x.key, x.modifiedMs]));
      expect(Math.abs(listed.get('packs/aa/old.pack')! - twoHoursAgo.getTime())).toBeLessThan(2_000);
      expect(Math.abs(listed.get('packs/aa/new.pack')! - Date.now())).toBeLessThan(60_000);
    } finally {
      await b.close();
    }
  });

  it('a full disk (552) is DISK_FULL with a hint, and no object is left', async () => {
    const o = options(server, { user: FTP_FULL_USER });
    const b = new FtpBackend(o);
    const f = await failure(b.put('packs/p1', Buffer.alloc(1000)));
    expect(f.code).toBe('DISK_FULL');
    expect(f.message).toContain('Free space on the server');
    await b.close();
    const report = await probeFtp(o);
    expect(report.steps[0]).toMatchObject({ step: 'put', ok: false, code: 'DISK_FULL' });
    expect(report.hint).toContain('quota');
  });

  it('an unreachable port is STORAGE with the reachability hint', async () => {
    const dead = await startFtpServer('explicit');
    await dead.stop();
    const report = await probeFtp(options(dead));
    expect(report.steps[0]).toMatchObject({ step: 'put', ok: false, code: 'STORAGE' });
    expect(report.hint).toContain('reachable');
  });

  it('explicit TLS against a server without TLS: AUTH TLS refused, hint names the choices', async () => {
    const plain = await startFtpServer('none');
    try {
      const report = await probeFtp(options(plain, { tls: 'explicit' }));
      expect(report.steps[0]).toMatchObject({ step: 'put', ok: false, code: 'AUTH_FAILED' });
      expect(report.hint).toContain('does not offer TLS');
      expect(readdirSync(plain.directory)).toEqual([]);
    } finally {
      await plain.stop();
    }
  });

  it('implicit TLS against an explicit-TLS port fails the handshake with the TLS-mode hint', async () => {
    const report = await probeFtp(options(server, { tls: 'implicit', timeoutMs: 5000 }));
    expect(report.ok).toBe(false);
    expect(report.hint).toMatch(/TLS mode|reachable/);
  });

  it('a server killed mid-upload leaves no object visible, and a restarted server serves the next upload', async () => {
    const s = await startFtpServer('explicit');
    const o = options(s);
    const b = new FtpBackend(o);
    let sent = 0;
    async function* body() {
      for (let i = 0; i < 200; i++) {
        sent++;
        if (i === 20) await s.kill();
        await new Promise((r) => setTimeout(r, 5));
        yield Buffer.alloc(64 * 1024, i);
      }
    }
    const f = await failure(b.put('packs/big.pack', body()));
    expect(f.code).toBe('STORAGE');
    expect(sent).toBeLessThan(200);
    await b.close();
    // What the dead server left on disk: at most a temporary file, never the object's name.
    const dir = join(s.directory, o.root, 'packs');
    const left = existsSync(dir) ? readdirSync(dir) : [];
    expect(left.filter((n) => !n.startsWith('.backstop-tmp-'))).toEqual([]);
    const again = await startFtpServer('explicit', { port: s.port, directory: s.directory, pems: (s as FtpServerHandle & { pems: { key: string; cert: string } }).pems });
    try {
      const b2 = new FtpBackend(o);
      expect(await b2.list('')).toEqual([]);
      expect(await b2.stat('packs/big.pack')).toBeNull();
      await b2.put('packs/big.pack', Buffer.from('whole'));
      expect((await b2.get('packs/big.pack')).toString()).toBe('whole');
      // The sweep: a leftover just written stays (a put may still be writing it); once it has
      // not been written for longer than the limit it goes, with its bytes counted; the object stays.
      const leftovers = readdirSync(dir).filter((n) => n.startsWith('.backstop-tmp-'));
      expect(await b2.sweepTempFiles(60 * 60_000)).toEqual({ removed: 0, bytes: 0 });
      const bytes = leftovers.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
      expect(await b2.sweepTempFiles(60 * 60_000, Date.now() + 2 * 60 * 60_000)).toEqual({ removed: leftovers.length, bytes });
      expect(readdirSync(dir)).toEqual(['big.pack']);
      expect((await b2.get('packs/big.pack')).toString()).toBe('whole');
      await b2.close();
    } finally {
      await again.stop();
    }
  });

  it('a server that goes silent mid-upload (stopped, no reset): the put fails within the timeout with STORAGE naming the server and the fix; the next call removes its temp file', async () => {
    const s = await startFtpServer('explicit');
    const o = options(s, { timeoutMs: 1_500 });
    const b = new FtpBackend(o);
    let thaw: (() => void) | undefined;
    try {
      await b.put('keep', Buffer.from('committed'));
      const dir = join(s.directory, o.root, 'packs');
      const started = (async () => {
        for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 5))) {
          if (existsSync(dir) && readdirSync(dir).some((n) => n.startsWith('.backstop-tmp-'))) return;
        }
        throw new Error('the upload never started');
      })();
      const put = failure(b.put('packs/big.pack', Buffer.alloc(64 * 1024 * 1024, 7)));
      await started;
      thaw = s.freeze();
      const at = Date.now();
      const f = await Promise.race([put, new Promise<'HUNG'>((r) => setTimeout(() => r('HUNG'), 30_000).unref())]);
      expect(f, 'the put never settled').not.toBe('HUNG');
      if (f === 'HUNG') return;
      // The bound: timeoutMs for the upload, then at most timeoutMs for the cleanup's connection attempt — a hang
      // bound (3× that + 10 s for a loaded machine), well under the 30 s that says the put hung.
      expect(Date.now() - at).toBeLessThan(3 * (2 * 1_500) + 10_000);
      expect(f.code).toBe('STORAGE');
      expect(f.message).toContain(`${s.host}:${s.port}`);
      // Which socket notices depends on how far the upload got before SIGSTOP landed: the
      // data socket while bytes still flow, the control socket once they were all sent and
      // the server's 226 never comes (the freeze comes late when this loaded process's timer is).
      expect(f.message).toMatch(/failed: Timeout \((data|control) socket\)\. The FTP server stopped answering .*check that it runs and is reachable from this computer\. The call is retried on a new connection\./);
      thaw();
      thaw = undefined;
      // The next call removes the temp file first (the cleanup could not reach the frozen server); the object was never committed.
      expect(await b.stat('packs/big.pack')).toBeNull();
      expect(readdirSync(dir)).toEqual([]);
      expect((await b.get('keep')).toString()).toBe('committed');
    } finally {
      thaw?.();
      await b.close();
      await s.stop();
    }
  }, 60_000);
});
