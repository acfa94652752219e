/**
 * `backstop keys generate|list|export|import` through the real CLI and the real OS
 * keychain (run under the `kr` wrapper): keys go into the keychain and are shown by
 * fingerprint, printed only by `export --out -`, written to 0600 files that are never
 * overwritten; without a keychain `generate --out` still makes the key file and says so.
 * Also: hex keys are accepted, a missing key's error says how to get it, and a key file that is
 * missing or a folder is named as such.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyFingerprint } from '../../../electron/engine/crypto/index.ts';
import { KeychainSecretStore } from '../../../electron/engine/secrets/index.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { CHINOOK, oneJsonDocument, runBackstop, writeTaskFile } from '../../fixtures/cli.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

describe('backstop keys', () => {
  it('generate → list → export (file and stdout) → import elsewhere, secrets printed only when asked', async () => {
    const dataDir = tempDir();
    const dir = tempDir();
    const out = join(dir, 'nightly.key');
    const gen = await runBackstop(['keys', 'generate', '--name', 'nightly', '--out', out, '--data-dir', dataDir, '--json']);
    expect(gen.code, gen.stderr).toBe(0);
    const k = oneJsonDocument(gen.stdout) as { fingerprint: string; name: string; file: string; inKeychain: boolean };
    expect(k).toMatchObject({ name: 'nightly', file: out, inKeychain: true, exported: true });
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const keyLine = readFileSync(out, 'utf8').split('\n').find((l) => /^[A-Za-z0-9+/]{43}=$/.test(l))!;
    expect(keyFingerprint(Buffer.from(keyLine, 'base64'))).toBe(k.fingerprint);
    expect(gen.stdout).not.toContain(keyLine);
    expect(await new KeychainSecretStore().get(`key.${k.fingerprint}`)).toBe(keyLine);

    const again = await runBackstop(['keys', 'generate', '--out', out, '--data-dir', dataDir, '--json']);
    expect(again.code).toBe(1);
    expect(oneJsonDocument(again.stdout)).toEqual({ error: { code: 'CONFLICT', message: `${out} already exists; choose another file (Backstop never overwrites a file).` } });

    const list = await runBackstop(['keys', 'list', '--data-dir', dataDir, '--json']);
    expect(oneJsonDocument(list.stdout)).toEqual([{ fingerprint: k.fingerprint, name: 'nightly', createdAt: expect.any(String), origin: 'generated', exported: true }]);
    expect(list.stdout).not.toContain(keyLine);

    const printed = await runBackstop(['keys', 'export', k.fingerprint, '--out', '-', '--data-dir', dataDir]);
    expect(printed.code).toBe(0);
    expect(printed.stdout.trim()).toBe(keyLine);
    const copy = join(dir, 'copy.key');
    const exported = await runBackstop(['keys', 'export', k.fingerprint, '--out', copy, '--data-dir', dataDir, '--json']);
    expect(oneJsonDocument(exported.stdout)).toEqual({ fingerprint: k.fingerprint, file: copy, key: null });
    expect(statSync(copy).mode & 0o777).toBe(0o600);

    // Another app-data folder (another machine's app): import the file, list shows it.
    await new KeychainSecretStore().delete(`key.${k.fingerprint}`);
    const other = tempDir();
    const imported = await runBackstop(['keys', 'import', copy, '--name', 'from nightly', '--data-dir', other, '--json']);
    expect(imported.code, imported.stdout).toBe(0);
    expect(oneJsonDocument(imported.stdout)).toMatchObject({ fingerprint: k.fingerprint, name: 'from nightly', origin: 'imported' });
    expect(await new KeychainSecretStore().get(`key.${k.fingerprint}`)).toBe(keyLine);

    const missing = await runBackstop(['keys', 'export', 'ffff-ffff-ffff-ffff', '--out', '-', '--data-dir', other, '--json']);
    expect(missing.code).toBe(1);
    expect(oneJsonDocument(missing.stdout)).toMatchObject({ error: { code: 'NOT_FOUND', message: expect.stringContaining('backstop keys import FILE') } });
  }, 120_000);

  it('without a keychain: generate --out writes the key file only and says so; without --out it says what to do', async () => {
    const env = { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus' };
    const out = join(tempDir(), 'only.key');
    const r = await runBackstop(['keys', 'generate', '--out', out, '--data-dir', tempDir(), '--json'], { env });
    expect(r.code, r.stdout).toBe(0);
    const k = oneJsonDocument(r.stdout) as { fingerprint: string; note: string };
    expect(k).toMatchObject({ inKeychain: false, file: out, note: `No keychain on this machine: the key is only in ${out}. Keep that file safe; give it to backups with --key-file.` });
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const none = await runBackstop(['keys', 'generate', '--data-dir', tempDir(), '--json'], { env });
    expect(none.code).toBe(1);
    expect(oneJsonDocument(none.stdout)).toMatchObject({ error: { code: 'KEYCHAIN_UNAVAILABLE', message: expect.stringContaining('"backstop keys generate --out FILE"') } });
  }, 60_000);

  it('accepts a hex key in a key file and BACKSTOP_KEY; a missing key says how to get one', async () => {
    const folder = tempDir();
    copyFileSync(CHINOOK, join(folder, 'chinook.sqlite'));
    const backups = tempDir();
    const key = randomBytes(32);
    const keyFile = join(tempDir(), 'hex.key');
    writeFileSync(keyFile, `${key.toString('hex')}\n`);
    const task = writeTaskFile(tempDir(), { name: 'hex', server: { kind: 'sqlite', folder }, destinations: [{ kind: 'local', path: backups }], encryption: { mode: 'key', keyFile } });
    const dataDir = tempDir();
    const b = await runBackstop(['backup', '--config', task, '--data-dir', dataDir, '--json']);
    expect(b.code, b.stdout).toBe(0);
    const location = join(backups, encodeDatabaseFolder('chinook.sqlite'));
    const viaEnv = await runBackstop(['points', location, '--data-dir', dataDir, '--json'], { env: { BACKSTOP_KEY: key.toString('hex') } });
    expect(oneJsonDocument(viaEnv.stdout)).toHaveLength(1);
    const noKey = await runBackstop(['points', location, '--data-dir', dataDir, '--json']);
    expect(noKey.code).toBe(1);
    expect(oneJsonDocument(noKey.stdout)).toEqual({
      error: {
        code: 'KEY_REQUIRED',
        message: `This backup is encrypted with key ${keyFingerprint(key)}. Give it with --key-file FILE or BACKSTOP_KEY, or bring it into this machine's keychain: on the machine that has it run "backstop keys export ${keyFingerprint(key)} --out FILE", then here "backstop keys import FILE".`,
      },
    });
    const bad = await runBackstop(['points', location, '--data-dir', dataDir, '--json'], { env: { BACKSTOP_KEY: 'abc' } });
    expect(oneJsonDocument(bad.stdout)).toMatchObject({ error: { code: 'VALIDATION', message: expect.stringContaining('as base64 (44 characters ending in "=") or as hex (64 characters') } });
  }, 120_000);

  it('a key file that is missing or a folder: NOT_FOUND saying which and what to give, exit 1', async () => {
    const dir = tempDir();
    const missing = join(dir, 'missing.key');
    const r = await runBackstop(['keys', 'import', missing, '--data-dir', tempDir(), '--json']);
    expect(r.code).toBe(1);
    expect(oneJsonDocument(r.stdout)).toEqual({ error: { code: 'NOT_FOUND', message: `The key file ${missing} does not exist. Give the path of a key file ("backstop keys export FINGERPRINT --out FILE" writes one).` } });
    const folder = await runBackstop(['keys', 'import', dir, '--data-dir', tempDir(), '--json']);
    expect(folder.code).toBe(1);
    expect(oneJsonDocument(folder.stdout)).toEqual({ error: { code: 'NOT_FOUND', message: `The key file ${dir} is a folder. Give the path of the key file itself.` } });
  });
});
