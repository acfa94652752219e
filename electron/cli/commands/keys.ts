/**
 * `backstop keys generate|list|export|import`: the app's encryption keys from the command
 * line, through the same key service as the window (keys in the OS keychain, the app
 * database recording fingerprint, name, origin and whether the key was saved elsewhere).
 *
 * Contract: a key is printed only by `keys export FP --out -`; every other command shows
 * fingerprints. Key files are written 0600 and never overwrite a file (CONFLICT). Where
 * no keychain exists (KEYCHAIN_UNAVAILABLE), `generate --out FILE` still writes the key
 * file and says the key is only there; nothing else falls back to plaintext.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { BackstopError, hasCode } from '../../shared/result.ts';
import type { Engine } from '../../engine/index.ts';
import { generateKey, keyFingerprint } from '../../engine/crypto/index.ts';
import { encodeKey, keyFileText } from '../../engine/keys/index.ts';
import { keyFromFile } from '../cli-secrets.ts';

export interface KeyLine {
  fingerprint: string;
  name: string | null;
  createdAt: string;
  origin: string;
  /** Saved outside the keychain (file, copy, import), so the key survives this machine. */
  exported: boolean;
}

export interface GeneratedKey extends KeyLine {
  file: string | null;
  inKeychain: boolean;
  note: string | null;
}

function writeKeyFile(path: string, name: string | null, key: Buffer): string {
  const target = resolve(path);
  if (existsSync(target)) throw new BackstopError('CONFLICT', `${target} already exists; choose another file (Backstop never overwrites a file).`);
  const text = keyFileText({ taskName: name ?? '(backstop keys)', fingerprint: keyFingerprint(key), key: encodeKey(key), date: new Date() });
  try {
    writeFileSync(target, text, { flag: 'wx', mode: 0o600 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new BackstopError(code === 'EEXIST' ? 'CONFLICT' : code === 'ENOSPC' ? 'DISK_FULL' : 'STORAGE', `Cannot write the key file ${target} (${code ?? 'error'}).`);
  }
  return target;
}

const line = (r: { fingerprint: string; name?: string | null; createdAt: string; origin: string; exportedAt: string | null }): KeyLine => ({
  fingerprint: r.fingerprint,
  name: r.name ?? null,
  createdAt: r.createdAt,
  origin: r.origin,
  exported: r.exportedAt !== null,
});

export async function keysGenerate(engine: Engine, opts: { name?: string; out?: string }): Promise<GeneratedKey> {
  const key = generateKey();
  // The file first: an existing file stops everything before the keychain is touched.
  const file = opts.out ? writeKeyFile(opts.out, opts.name ?? null, key) : null;
  try {
    const rec = await engine.keys.generate(opts.name, key);
    const saved = file ? engine.keys.markExported(rec.keyRef, 'file') : rec;
    return { ...line(saved), file, inKeychain: true, note: file ? null : `The key is only in this machine's keychain: save a copy with "backstop keys export ${rec.fingerprint} --out FILE".` };
  } catch (e) {
    if (!(hasCode(e, 'KEYCHAIN_UNAVAILABLE'))) throw e;
    if (!file) throw new BackstopError('KEYCHAIN_UNAVAILABLE', `${e.message} Without a keychain, generate the key into a file: "backstop keys generate --out FILE".`);
    return {
      fingerprint: keyFingerprint(key),
      name: opts.name ?? null,
      createdAt: new Date().toISOString(),
      origin: 'generated',
      exported: true,
      file,
      inKeychain: false,
      note: `No keychain on this machine: the key is only in ${file}. Keep that file safe; give it to backups with --key-file.`,
    };
  }
}

export async function keysList(engine: Engine): Promise<KeyLine[]> {
  return engine.keys.list().map(line);
}

/** `out` '-' returns the base64 key for printing; a path gets a key file (0600, never overwritten). */
export async function keysExport(engine: Engine, fingerprint: string, out: string): Promise<{ fingerprint: string; file: string | null; key: string | null }> {
  const known = engine.keys.list().find((k) => k.fingerprint === fingerprint);
  const key = known ? await engine.keys.key(known.keyRef) : await engine.keys.findByFingerprint(fingerprint);
  if (!key) {
    throw new BackstopError('NOT_FOUND', `No key with fingerprint ${fingerprint} is in this machine's keychain. "backstop keys list" shows the keys here; import one with "backstop keys import FILE".`);
  }
  if (out === '-') {
    if (known) engine.keys.markExported(known.keyRef, 'clipboard');
    return { fingerprint, file: null, key: encodeKey(key) };
  }
  const file = writeKeyFile(out, known?.name ?? null, key);
  if (known) engine.keys.markExported(known.keyRef, 'file');
  return { fingerprint, file, key: null };
}

export async function keysImport(engine: Engine, file: string, name?: string): Promise<KeyLine> {
  const key = keyFromFile(resolve(file));
  return line(await engine.keys.import(encodeKey(key), name));
}

