/**
 * The SFTP backend against a real OpenSSH server (tests/fixtures/sshd.ts): the shared
 * backend contract, logins (key, key + passphrase, password), host-key pinning (missing,
 * changed after a restart with a new key: refused, naming both fingerprints), error
 * mapping, a server killed mid-upload (no partial object visible, reconnect afterwards, which
 * removes its temp file; a killed process's leftover swept once old) and atomic replacement; a server restarted or gone
 * silent (its session processes SIGSTOPped: no reset arrives) in the middle of a put or a
 * list: the call fails within the silence bound with STORAGE naming the server, the put's
 * temp file is removed on a fresh connection, committed objects stay, the next call works.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SftpBackend, createSftpBackend, fetchHostKey, type SftpBackendOptions } from '../../../electron/engine/storage/sftp-backend.ts';
import { probeSftp } from '../../../electron/engine/storage/sftp-probe.ts';
import { runBackendContract } from '../../unit/storage/backend-contract.ts';
import { rejection } from '../../fixtures/servers/common.ts';
import { PASSPHRASE, SFTP_PASSWORD, passwordUser, startSshd, type SshdHandle } from '../../fixtures/sshd.ts';
import { TmpfsMounts } from '../../fixtures/tmpfs.ts';

let sshd: SshdHandle;
let seq = 0;

beforeAll(async () => {
  sshd = await startSshd();
});
afterAll(async () => {
  await sshd?.stop();
});

/** Settings for a fresh, existing folder on the server (a folder store: a missing root is NOT_FOUND, like a local one). */
function options(over: Partial<SftpBackendOptions> = {}): SftpBackendOptions {
  const root = join(sshd.data, `t${seq++}`);
  mkdirSync(root, { mode: 0o777 });
  chmodSync(root, 0o777);
  return { host: sshd.host, port: sshd.port, user: sshd.user, root, hostKey: sshd.hostKey(), privateKeyFile: sshd.clientKey, ...over };
}

runBackendContract('sftp (OpenSSH)', async () => {
  const backend = new SftpBackend(options());
  return { backend, cleanup: () => backend.close() };
});

runBackendContract('sftp with retries, one channel', async () => {
  const backend = createSftpBackend(options({ channels: 1 }));
  return { backend, cleanup: () => backend.close() };
});

describe('SFTP specifics', () => {
  it('a connection reset before the SSH greeting (a server dying as Backstop connects) fails the call as STORAGE naming the server, and nothing is thrown', async () => {
    // The socket's ECONNRESET and then ssh2's "Connection lost before handshake" are two 'error'
    // events of one client: an unheard second one was thrown and ended the job thread.
    const server = createServer((sock) => sock.once('data', () => sock.resetAndDestroy()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const b = new SftpBackend({ ...options(), port });
    try {
      const e = await rejection(b.put('x', Buffer.from('x')));
      expect(e.code).toBe('STORAGE');
      expect(e.message).toContain(`127.0.0.1:${port}`);
      // Both events have come and gone (the second one is emitted on close): still nothing thrown.
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await b.close();
      server.close();
    }
  });

  it('writes through a temp name in the same folder and leaves only the object (posix-rename replaces it)', async () => {
    const o = options();
    const b = new SftpBackend(o);
    try {
      await b.put('packs/aa/x.pack', Buffer.from('first'));
      await b.put('packs/aa/x.pack', Buffer.from('second'));
      expect(readdirSync(join(o.root, 'packs', 'aa'))).toEqual(['x.pack']);
      expect(readFileSync(join(o.root, 'packs', 'aa', 'x.pack'), 'utf8')).toBe('second');
    } finally {
      await b.close();
    }
  });

  it('logs in with a key and its passphrase, and with a password (as root: a dedicated user)', async () => {
    const withPassphrase = new SftpBackend(options({ privateKeyFile: sshd.passphraseKey, passphrase: PASSPHRASE }));
    await withPassphrase.put('k', Buffer.from('1'));
    expect((await withPassphrase.get('k')).toString()).toBe('1');
    await withPassphrase.close();

    const wrongPassphrase = new SftpBackend(options({ privateKeyFile: sshd.passphraseKey, passphrase: 'nope' }));
    const e = await rejection(wrongPassphrase.stat('k'));
    expect(e.code).toBe('VALIDATION');
    expect(e.message).toMatch(/could not be decrypted: the passphrase is wrong or missing/);
    expect(e.message).not.toContain('nope');
    await wrongPassphrase.close();

    const user = passwordUser();
    if (!user) return; // password logins need a user with a password: only as root (CI runs as root).
    const pw = new SftpBackend(options({ user, privateKeyFile: null, password: SFTP_PASSWORD }));
    await pw.put('p/obj', Buffer.from('by password'));
    expect((await pw.get('p/obj')).toString()).toBe('by password');
    await pw.close();

    const bad = new SftpBackend(options({ user, privateKeyFile: null, password: 'wrong-password-1' }));
    const denied = await rejection(bad.put('p/obj2', Buffer.from('x')));
    expect(denied.code).toBe('AUTH_FAILED');
    expect(denied.message).toMatch(new RegExp(`refused the login of user "${user}" \\(password rejected\\)`));
    expect(denied.message).not.toContain('wrong-password-1');
    await bad.close();
  });

  it('refuses a server without a pinned host key, naming its fingerprint', async () => {
    const b = new SftpBackend(options({ hostKey: null }));
    const e = await rejection(b.put('x', Buffer.from('x')));
    expect(e.code).toBe('VALIDATION');
    expect(e.message).toContain(`presents host key ${sshd.hostKey()}, and no host key is pinned`);
    expect(e.message).toContain(`--host-key ${sshd.hostKey()}`);
    await b.close();
    expect(await fetchHostKey(sshd.host, sshd.port)).toBe(sshd.hostKey());
  });

  it('refuses a changed host key (server restarted with a new key), naming both fingerprints; nothing written', async () => {
    const o = options();
    const pinned = sshd.hostKey();
    const b = new SftpBackend(o);
    await b.put('before', Buffer.from('ok'));
    await b.close();
    await sshd.restart({ newHostKey: true });
    const now = sshd.hostKey();
    expect(now).not.toBe(pinned);
    const again = new SftpBackend(o);
    const e = await rejection(again.put('after', Buffer.from('must not land')));
    expect(e.code).toBe('AUTH_FAILED');
    expect(e.message).toContain(`has changed: pinned ${pinned}, the server now presents ${now}`);
    expect(e.retryable).toBe(false);
    await again.close();
    expect(existsSync(join(o.root, 'after'))).toBe(false);
    // The retrying backend does not retry it either (same refusal, quickly).
    const retrying = createSftpBackend(o, { sleep: async () => {} });
    expect((await rejection(retrying.stat('before'))).code).toBe('AUTH_FAILED');
    await retrying.close();
  });

  it('maps a missing object, a read-only folder and an unreachable server', async () => {
    const o = options();
    const b = new SftpBackend(o);
    try {
      const missing = await rejection(b.get('no/such'));
      expect(missing.code).toBe('NOT_FOUND');
      expect(missing.message).toMatch(/get of "no\/such" in SFTP folder .* failed: the object does not exist/);
      if (process.getuid?.() === 0) {
        // root writes anywhere: the permission check needs the password user.
        const user = passwordUser()!;
        const locked = join(sshd.data, `locked${seq++}`);
        mkdirSync(locked);
        chmodSync(locked, 0o555);
        const pw = new SftpBackend(options({ user, root: locked, privateKeyFile: null, password: SFTP_PASSWORD }));
        const denied = await rejection(pw.put('a/b', Buffer.from('x')));
        expect(denied.code).toBe('PERMISSION_DENIED');
        expect(denied.message).toContain(`Check that SFTP user "${user}" may write to ${locked}`);
        expect(readdirSync(locked)).toEqual([]);
        await pw.close();
      }
    } finally {
      await b.close();
    }
    const down = new SftpBackend(options({ port: 1 }));
    const e = await rejection(down.stat('x'));
    expect(e.code).toBe('STORAGE');
    expect(e.retryable).toBe(true);
    expect(e.message).toMatch(/Could not connect to the SFTP server at 127\.0\.0\.1:1 \(ECONNREFUSED\)/);
    await down.close();
  });

  it('a server killed mid-upload leaves no visible object; the backend reconnects once it is back', async () => {
    const o = options();
    const b = new SftpBackend(o);
    await b.put('keep', Buffer.from('committed'));
    const chunk = randomBytes(256 * 1024);
    let sent = 0;
    async function* body(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 64; i++) {
        if (i === 8) sshd.kill();
        sent++;
        yield chunk;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    const e = await rejection(b.put('packs/big.pack', body()));
    expect(e.code).toBe('STORAGE');
    expect(e.retryable).toBe(true);
    expect(sent).toBeLessThan(64);
    // Only a hidden temp file can be left (the kill took the connection that would have removed it).
    expect(existsSync(join(o.root, 'packs', 'big.pack'))).toBe(false);
    await sshd.restart();
    expect((await b.list('')).map((x) => x.key)).toEqual(['keep']);
    expect(await b.stat('packs/big.pack')).toBeNull();
    expect((await b.get('keep')).toString()).toBe('committed');
    // The new connection removed the failed put's temp file first.
    const left = () => (existsSync(join(o.root, 'packs')) ? readdirSync(join(o.root, 'packs')) : []);
    expect(left()).toEqual([]);
    // What a killed process leaves (nobody left to remove it): the sweep keeps it while it is
    // young (a put may still be writing it); once not written for longer than the limit it
    // goes, with its bytes counted; objects stay.
    writeFileSync(join(o.root, 'packs', '.dead.pack.tmp-0123456789ab'), Buffer.alloc(70_000, 1));
    expect(await b.sweepTempFiles(60 * 60_000)).toEqual({ removed: 0, bytes: 0 });
    expect(await b.sweepTempFiles(60 * 60_000, Date.now() + 2 * 60 * 60_000)).toEqual({ removed: 1, bytes: 70_000 });
    expect(left()).toEqual([]);
    expect((await b.get('keep')).toString()).toBe('committed');
    await b.close();
  });

  it('a full server disk is DISK_FULL (free space asked with statvfs@openssh.com); no object and no temp file left', async () => {
    if (process.getuid?.() !== 0) return; // mounting a small tmpfs needs root (CI runs as root)
    const o = options();
    const tmpfs = new TmpfsMounts();
    if (!tmpfs.tryMount(o.root, '4m')) return; // mounting not permitted here: the mapping is still covered by the message test below
    const b = new SftpBackend(o);
    try {
      await b.put('small', Buffer.from('fits'));
      const e = await rejection(b.put('packs/big.pack', randomBytes(6 * 1024 * 1024)));
      expect(e.code, `${e.message} ${JSON.stringify(e.cause)}`).toBe('DISK_FULL');
      expect(e.message).toBe(`put of "packs/big.pack" in ${b.location} failed: no space left on the SFTP server's disk. Free space there (or raise the user's quota) and try again.`);
      expect(readdirSync(join(o.root, 'packs'))).toEqual([]);
      expect((await b.get('small')).toString()).toBe('fits');
    } finally {
      await b.close();
      tmpfs.unmountAll();
    }
  });

  it('reads ranges of a multi-piece object', async () => {
    const b = new SftpBackend(options());
    try {
      const data = randomBytes(300_000);
      await b.put('r', data);
      expect((await b.get('r', { offset: 70_000, length: 200_000 })).equals(data.subarray(70_000, 270_000))).toBe(true);
      expect((await b.get('r', { offset: 299_990, length: 100 })).equals(data.subarray(299_990))).toBe(true);
      expect((await b.get('r')).equals(data)).toBe(true);
    } finally {
      await b.close();
    }
  });
});

/** The hidden temp files under `dir` (any depth). */
function tempFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.tmp-[0-9a-f]{12}$/.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

/** Resolves once a put's temp file exists under `dir`. */
async function uploadStarted(dir: string): Promise<void> {
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 5))) {
    if (tempFiles(dir).length > 0) return;
  }
  throw new Error('the upload never started');
}

/** How long a call may take to fail once the server goes silent (stallTimeoutMs 1.5 s + a 300 ms keepalive): 3× + 10 s. */
const SILENCE_BOUND = 3 * (1_500 + 300) + 10_000;

/** `p` settled, or 'HUNG' after `ms` (so a call that never settles fails the test instead of timing it out). */
function settledWithin<T>(p: Promise<T>, ms: number): Promise<T | 'HUNG'> {
  return Promise.race([p, new Promise<'HUNG'>((r) => setTimeout(() => r('HUNG'), ms).unref())]);
}

describe('SFTP: the server restarts or goes silent mid-call', () => {
  it('restarted while a put waits for its body: the put fails at once with STORAGE naming the server (never hangs), its temp file is removed on a new connection, committed objects stay', async () => {
    const o = options();
    const b = new SftpBackend(o);
    try {
      await b.put('keep', Buffer.from('committed'));
      const chunk = randomBytes(256 * 1024);
      let restarted!: () => void;
      const back = new Promise<void>((r) => (restarted = r));
      async function* body(): AsyncGenerator<Buffer> {
        for (let i = 0; i < 32; i++) {
          // The connection dies while the put has no request in flight: its next writes go to a dead channel.
          if (i === 4) await back;
          yield chunk;
        }
      }
      const put = rejection(b.put('packs/big.pack', body()));
      await uploadStarted(o.root);
      await sshd.restart();
      const at = Date.now();
      restarted();
      const e = await settledWithin(put, 30_000);
      expect(e, 'the put never settled').not.toBe('HUNG');
      if (e === 'HUNG') return;
      // At once: nothing waits on requests of the dead connection (the 5 s cleanup bounds used to).
      expect(Date.now() - at).toBeLessThan(5_000);
      expect(e.code).toBe('STORAGE');
      expect(e.retryable).toBe(true);
      expect(e.message).toMatch(new RegExp(`put of "packs/big\\.pack" in SFTP folder .* failed: the connection to ${sshd.host.replace(/\./g, '\\.')}:${sshd.port} was lost \\(.+\\)\\. Backstop retries on a new connection; if this persists, check that the SSH server at ${sshd.host.replace(/\./g, '\\.')}:${sshd.port} runs and is reachable`));
      expect(tempFiles(o.root)).toEqual([]);
      expect(existsSync(join(o.root, 'packs', 'big.pack'))).toBe(false);
      expect((await b.get('keep')).toString()).toBe('committed');
      const again = randomBytes(1_000_000);
      await b.put('packs/big.pack', again);
      expect((await b.get('packs/big.pack')).equals(again)).toBe(true);
      expect(tempFiles(o.root)).toEqual([]);
    } finally {
      await b.close();
    }
  });

  it('killed mid-put and back before the retry: the retrying put succeeds, and the first attempt’s temp file is removed by the new connection', async () => {
    const o = options();
    let back: Promise<void> | undefined;
    // The retry waits for the server to be back (deterministic instead of a backoff race).
    const b = createSftpBackend(o, { sleep: () => back ?? Promise.resolve() });
    try {
      await b.put('keep', Buffer.from('committed'));
      const data = randomBytes(24 * 1024 * 1024);
      const put = settledWithin(b.put('packs/big.pack', data), 60_000);
      await uploadStarted(o.root);
      sshd.kill();
      back = sshd.restart();
      await back;
      expect(await put).toBeUndefined();
      expect((await b.get('packs/big.pack')).equals(data)).toBe(true);
      expect(tempFiles(o.root)).toEqual([]);
      expect((await b.get('keep')).toString()).toBe('committed');
    } finally {
      await b.close();
    }
  });

  it('gone silent (session processes stopped, no reset): a put and a list fail within the silence bound with STORAGE naming the server; the temp file is removed on a new connection', async () => {
    const o = options({ stallTimeoutMs: 1_500, keepaliveIntervalMs: 300 });
    const b = new SftpBackend(o);
    const thaws: (() => void)[] = [];
    try {
      await b.put('keep', Buffer.from('committed'));
      const put = rejection(b.put('packs/big.pack', randomBytes(32 * 1024 * 1024)));
      await uploadStarted(o.root);
      thaws.push(sshd.freezeSessions());
      const at = Date.now();
      const e = await settledWithin(put, 30_000);
      expect(e, 'the put never settled').not.toBe('HUNG');
      if (e === 'HUNG') return;
      // The bound: stallTimeoutMs + one keepalive interval — a hang bound (3× that + 10 s for a loaded machine), well
      // under the 30 s that says the call hung.
      expect(Date.now() - at).toBeLessThan(SILENCE_BOUND);
      expect(e.code).toBe('STORAGE');
      expect(e.message).toMatch(/failed: the connection to 127\.0\.0\.1:\d+ was lost \(no answer from the server for \d+ s\)\. Backstop retries on a new connection; if this persists, check that the SSH server at 127\.0\.0\.1:\d+ runs and is reachable/);
      expect(tempFiles(o.root)).toEqual([]);

      // The new connection goes silent too, in the middle of a list.
      thaws.push(sshd.freezeSessions());
      const listAt = Date.now();
      const l = await settledWithin(rejection(b.list('')), 30_000);
      expect(l, 'the list never settled').not.toBe('HUNG');
      if (l === 'HUNG') return;
      expect(Date.now() - listAt).toBeLessThan(SILENCE_BOUND);
      expect(l.code).toBe('STORAGE');
      expect(l.message).toContain(`the connection to ${sshd.host}:${sshd.port} was lost (no answer from the server`);

      // Once the stopped sessions run again (and see their connections gone), nothing reappears.
      for (const thaw of thaws.splice(0)) thaw();
      await new Promise((r) => setTimeout(r, 300));
      expect(tempFiles(o.root)).toEqual([]);
      expect((await b.list('')).map((x) => x.key)).toEqual(['keep']);
      expect((await b.get('keep')).toString()).toBe('committed');
    } finally {
      for (const thaw of thaws) thaw();
      await b.close();
    }
  });

  it('an SFTP channel whose server process dies takes its connection with it: the next calls run on a new one instead of waiting on the dead channel', async () => {
    const b = new SftpBackend(options({ channels: 2 }));
    try {
      await b.put('keep', Buffer.from('committed'));
      const first = (b as unknown as { current: unknown }).current;
      expect(sshd.killSftpChannel()).toBe(true);
      // Round robin reaches the dead channel within two calls; each call settles promptly.
      const results: string[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await settledWithin(
          b.get('keep').then(
            (v) => v.toString(),
            (e: Error & { code?: string }) => `${e.code}: ${e.message}`,
          ),
          10_000,
        );
        expect(r, 'a call waited on the dead channel').not.toBe('HUNG');
        results.push(r as string);
      }
      // A call already on the dead channel may fail as a lost connection (the retry layer repeats it); the rest succeed on a new connection.
      expect(results.filter((r) => r !== 'committed').every((r) => r.startsWith('STORAGE: ') && r.includes('was lost (the server closed an SFTP channel)'))).toBe(true);
      expect(results.at(-1)).toBe('committed');
      expect((b as unknown as { current: unknown }).current).not.toBe(first);
    } finally {
      await b.close();
    }
  });

  it('an idle connection is not silence: calls after an idle time longer than the bound use it normally', async () => {
    const b = new SftpBackend(options({ stallTimeoutMs: 600, keepaliveIntervalMs: 200 }));
    try {
      const connection = () => (b as unknown as { current: unknown }).current;
      await b.put('a', Buffer.from('1'));
      const first = connection();
      await new Promise((r) => setTimeout(r, 1_500));
      expect((await b.get('a')).toString()).toBe('1');
      const data = randomBytes(8 * 1024 * 1024);
      await b.put('b', data);
      expect((await b.get('b')).equals(data)).toBe(true);
      // Still the first connection: never dropped as silent.
      expect(connection()).toBe(first);
    } finally {
      await b.close();
    }
  });
});

describe('SFTP "Test connection"', () => {
  it('passes with the pinned key; without one it fails naming the server’s fingerprint for the user to accept', async () => {
    const o = options();
    const passed = await probeSftp(o);
    expect(passed).toEqual({ ok: true, steps: ['put', 'get', 'list', 'delete'].map((step) => ({ step, ok: true })) });
    expect(readdirSync(o.root)).toEqual([]);

    const first = await probeSftp({ ...o, hostKey: null });
    expect(first.ok).toBe(false);
    expect(first.hostKey).toBe(sshd.hostKey());
    expect(first.steps[0]).toMatchObject({ step: 'put', ok: false, code: 'VALIDATION' });
    expect(first.hint).toMatch(/host key is not accepted yet/);

    const other = 'SHA256:' + 'B'.repeat(43);
    const changed = await probeSftp({ ...o, hostKey: other });
    expect(changed.hostKey).toBe(sshd.hostKey());
    expect(changed.steps[0]).toMatchObject({ code: 'AUTH_FAILED', message: expect.stringContaining(`pinned ${other}, the server now presents ${sshd.hostKey()}`) });
    expect(changed.hint).toMatch(/not the one accepted before/);
  });

  it('names the fix for a missing folder, a refused login and an unreachable server', async () => {
    const missing = await probeSftp(options({ root: join(sshd.data, 'nope', 'x'), base: join(sshd.data, 'nope') }));
    expect(missing.steps[0]).toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining(`The folder ${join(sshd.data, 'nope')} does not exist`) });
    expect(missing.hint).toBe(`The folder ${join(sshd.data, 'nope')} does not exist on the server. Create it, or correct the path.`);
    expect(existsSync(join(sshd.data, 'nope'))).toBe(false);

    const badKey = await probeSftp(options({ privateKeyFile: join(sshd.dir, 'host_ed25519') }));
    expect(badKey.steps[0]).toMatchObject({ code: 'AUTH_FAILED' });
    expect(badKey.hint).toMatch(/refused the login of ".*"\. Check the user name and the private key file/);

    const down = await probeSftp(options({ port: 1 }));
    expect(down.steps[0]).toMatchObject({ code: 'STORAGE' });
    expect(down.hint).toBe('Could not reach an SSH server at 127.0.0.1:1. Check the host and port, that sshd runs there, and any firewall.');
  });
});
