/**
 * Encryption keys against the real OS keychain: generated and imported keys live only
 * there; export is tracked; a task cannot be saved with a generated key never exported.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keyFingerprint } from '../../../electron/engine/crypto/index.ts';
import { KeychainSecretStore } from '../../../electron/engine/secrets/index.ts';
import type { KeyInfo } from '../../../electron/shared/domain.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

function data<T>(res: { ok: true; data: T } | { ok: false; code: string; message: string }): T {
  if (!res.ok) throw new Error(`expected ok, got ${res.code}: ${res.message}`);
  return res.data;
}

describe('encryption keys', () => {
  it('generates a 256-bit key into the keychain, never into the app database, and tracks its export', async () => {
    const engine = await testEngine();
    const events: string[] = [];
    engine.events.onAny((name, payload) => events.push(JSON.stringify({ name, payload })));
    const info: KeyInfo = data(await engine.call('keys.generate', undefined));
    expect(info).toMatchObject({ origin: 'generated', exportedAt: null, keyRef: `key.${info.fingerprint}` });
    expect(info.fingerprint).toMatch(/^[0-9a-f]{4}(-[0-9a-f]{4}){3}$/);

    const { key } = data(await engine.call('keys.reveal', { keyRef: info.keyRef }));
    const bytes = Buffer.from(key, 'base64');
    expect(bytes).toHaveLength(32);
    expect(keyFingerprint(bytes)).toBe(info.fingerprint);
    expect(await new KeychainSecretStore().get(info.keyRef)).toBe(key);

    // Save to a file: mode 0600, never overwriting.
    const dir = tempDir();
    const file = join(dir, 'nightly-key.txt');
    const saved = data(await engine.call('keys.saveToFile', { keyRef: info.keyRef, path: file, taskName: 'nightly' }));
    expect(saved).toMatchObject({ exportMethod: 'file', exportedAt: expect.any(String) });
    expect(readFileSync(file, 'utf8')).toContain(key);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = await engine.call('keys.saveToFile', { keyRef: info.keyRef, path: file, taskName: 'nightly' });
    expect(again).toMatchObject({ ok: false, code: 'CONFLICT', message: expect.stringContaining('never overwrites') });

    await engine.close();
    for (const f of readdirSync(engine.dataDir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile())) {
      expect(readFileSync(join(f.parentPath, f.name)).includes(Buffer.from(key)), f.name).toBe(false);
    }
    for (const e of events) expect(e).not.toContain(key);
  });

  it('imports an existing key (validated) as already exported, and finds it by fingerprint', async () => {
    const engine = await testEngine();
    const text = randomBytes(32).toString('base64');
    const info = data(await engine.call('keys.import', { key: text }));
    expect(info).toMatchObject({ origin: 'imported', exportMethod: 'imported', fingerprint: keyFingerprint(Buffer.from(text, 'base64')) });
    const bad = await engine.call('keys.import', { key: randomBytes(31).toString('base64') });
    expect(bad).toMatchObject({ ok: false, code: 'VALIDATION', message: expect.stringContaining('this one is base64 of 31 bytes') });
    expect(data(await engine.call('keys.list', undefined)).map((k) => k.keyRef)).toEqual([info.keyRef]);
  });

  it('refuses a task with a generated key until the key is exported', async () => {
    const engine = await testEngine();
    const folder = tempDir();
    const server = data(await engine.call('servers.create', { kind: 'sqlite', name: 'files', folder }));
    const key = data(await engine.call('keys.generate', undefined));
    const task = {
      name: 'secret',
      serverId: server.id,
      type: 'snapshot' as const,
      schedule: { full: '0 2 * * *', timezone: 'UTC' },
      encryption: { mode: 'key' as const, keyRef: key.keyRef, fingerprint: key.fingerprint },
      destinations: [{ kind: 'local' as const, path: tempDir() }],
    };
    const refused = await engine.call('tasks.create', task);
    expect(refused).toMatchObject({ ok: false, code: 'VALIDATION', message: expect.stringContaining(`Save the key ${key.fingerprint} first`) });
    expect(data(await engine.call('tasks.list', undefined))).toEqual([]);

    const wrongFp = await engine.call('tasks.create', { ...task, encryption: { ...task.encryption, fingerprint: '0000-0000-0000-0000' } });
    expect(wrongFp).toMatchObject({ ok: false, code: 'VALIDATION', message: expect.stringContaining('does not match') });

    data(await engine.call('keys.markExported', { keyRef: key.keyRef, method: 'print' }));
    const created = data(await engine.call('tasks.create', task));
    expect(created.encryption).toEqual({ mode: 'key', keyRef: key.keyRef, fingerprint: key.fingerprint });

    // A key that has vanished from the keychain is reported by fingerprint.
    await new KeychainSecretStore().delete(key.keyRef);
    const missing = await engine.call('tasks.update', { id: created.id, task });
    expect(missing).toMatchObject({ ok: false, code: 'NOT_FOUND', message: expect.stringContaining(`fingerprint ${key.fingerprint} is not in this computer's keychain`) });
    expect(existsSync(folder)).toBe(true);
  });

  it('writes a recovery sheet with the key and the task name', async () => {
    const engine = await testEngine();
    const key = data(await engine.call('keys.generate', undefined));
    const { html } = data(await engine.call('keys.recoverySheet', { keyRef: key.keyRef, taskName: 'nightly' }));
    const { key: text } = data(await engine.call('keys.reveal', { keyRef: key.keyRef }));
    expect(html).toContain(key.fingerprint);
    expect(html.replace(/ /g, '')).toContain(text);
    expect(await engine.call('keys.reveal', { keyRef: 'key.0000-0000-0000-0000' })).toMatchObject({ ok: false, code: 'NOT_FOUND' });
  });
});
