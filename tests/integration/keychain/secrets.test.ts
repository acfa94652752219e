/**
 * Secrets against the real OS keychain (GNOME keyring on the private D-Bus session that
 * `npm test` starts): a password given to the engine lands in the keychain and nowhere
 * else; without a reachable or unlocked keychain the engine refuses with a specific
 * error and stores nothing — never a plaintext fallback.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KEYCHAIN_SERVICE, KeychainSecretStore, keychainService } from '../../../electron/engine/secrets/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const ROOT = join(import.meta.dirname, '../../..');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

describe('secrets in the OS keychain', () => {
  it('keeps a server password only in the keychain: not in the app database, logs or events', async () => {
    const engine = await testEngine();
    const secret = `pg-pass-${Date.now()}-Zq9`;
    const events: string[] = [];
    engine.events.onAny((name, payload) => events.push(JSON.stringify({ name, payload })));
    const res = await engine.call('servers.create', { kind: 'postgres', name: 'prod', host: '127.0.0.1', user: 'backup', password: secret });
    expect(res.ok).toBe(true);
    if (!res.ok || res.data.kind !== 'postgres') throw new Error('unexpected');
    const ref = res.data.passwordRef!;
    expect(await new KeychainSecretStore().get(ref)).toBe(secret);
    // A malformed request carrying the secret is rejected without echoing it.
    const bad = await engine.call('servers.create', { kind: 'postgres', name: 'x', host: 'h', user: 'u', password: secret, port: -1 });
    expect(JSON.stringify(bad)).not.toContain(secret);
    engine.logger.info({ password: secret, nested: { secretAccessKey: secret } }, `a careless line mentioning ${secret}`);
    await engine.close();

    expect(events.length).toBeGreaterThan(0);
    for (const e of events) expect(e).not.toContain(secret);
    const files = filesUnder(engine.dataDir);
    expect(files.some((f) => f.endsWith('backstop.db'))).toBe(true);
    expect(files.some((f) => f.endsWith('backstop.log'))).toBe(true);
    for (const f of files) expect(readFileSync(f).includes(Buffer.from(secret)), f).toBe(false);
    const log = readFileSync(join(engine.logsDir, 'backstop.log'), 'utf8');
    expect(log).toContain('a careless line mentioning [redacted]');

    const again = await testEngine({ dataDir: engine.dataDir });
    expect((await again.call('servers.delete', { id: res.data.id })).ok).toBe(true);
    expect(await new KeychainSecretStore().get(ref)).toBeNull();
  });

  it('stores under the service BACKSTOP_KEYCHAIN_SERVICE names, unseen under any other service', async () => {
    // The harness (tests/fixtures/keychain-namespace.ts) gives this file its own service.
    const service = process.env.BACKSTOP_KEYCHAIN_SERVICE!;
    expect(service).toMatch(/^dev\.backstop\.test-w\d+-[0-9a-f]{8}$/);
    expect(keychainService()).toBe(service);
    const account = `isolation.${Date.now()}`;
    await new KeychainSecretStore().set(account, 'ns-secret-1');
    expect(await new KeychainSecretStore(service).get(account)).toBe('ns-secret-1');
    expect(await new KeychainSecretStore(KEYCHAIN_SERVICE).get(account)).toBeNull();
    expect(await new KeychainSecretStore(`${service}-other`).get(account)).toBeNull();
    await new KeychainSecretStore(`${service}-other`).set(account, 'ns-secret-2');
    expect(await new KeychainSecretStore().get(account)).toBe('ns-secret-1');
    await new KeychainSecretStore().delete(account);
    expect(await new KeychainSecretStore(`${service}-other`).get(account)).toBe('ns-secret-2');
    await new KeychainSecretStore(`${service}-other`).delete(account);
  });

  it('fails with KEYCHAIN_UNAVAILABLE and stores nothing when no keychain can be reached', () => {
    const dataDir = tempDir();
    const env = { ...process.env, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus' };
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'tests/fixtures/keychain-probe.ts', dataDir], { cwd: ROOT, env, encoding: 'utf8' });
    const { res, servers } = JSON.parse(out.trim().split('\n').pop()!);
    expect(res).toMatchObject({ ok: false, code: 'KEYCHAIN_UNAVAILABLE', message: expect.stringContaining('never stores secrets in plain text') });
    expect(res.message).not.toContain('probe-secret-value');
    expect(servers).toBe(0);
  });

  it('fails with KEYCHAIN_LOCKED and stores nothing when the keychain is locked', () => {
    const dataDir = tempDir();
    const home = tempDir();
    // A fresh D-Bus session whose keyring daemon is started but never unlocked.
    const r = spawnSync(
      'dbus-run-session',
      ['--', 'bash', '-c', `gnome-keyring-daemon --start --components=secrets >/dev/null 2>&1; exec "${process.execPath}" --import tsx tests/fixtures/keychain-probe.ts "${dataDir}"`],
      { cwd: ROOT, env: { ...process.env, HOME: home, DBUS_SESSION_BUS_ADDRESS: '' }, encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const { res, servers } = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(res).toMatchObject({ ok: false, code: 'KEYCHAIN_LOCKED', message: expect.stringContaining('locked') });
    expect(servers).toBe(0);
  });
});
