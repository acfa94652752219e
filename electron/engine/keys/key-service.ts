/**
 * Encryption keys: generated or imported into the OS keychain, referenced everywhere
 * else by `keyRef` (`key.<fingerprint>`) and shown by fingerprint.
 *
 * Contract:
 * - The key bytes live only in the keychain; the app database records the reference,
 *   the fingerprint, the origin and whether the user saved the key elsewhere.
 * - A generated key starts "never exported"; it becomes exported when the user copies it,
 *   saves it to a file, prints the recovery sheet, or confirms they saved it. An imported
 *   key counts as exported (the user already holds it).
 * - `saveToFile` never overwrites an existing file (CONFLICT) and writes mode 0600.
 * - A keyRef whose key is missing from the keychain → NOT_FOUND naming the fingerprint.
 */
import { writeFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { BackstopError } from '../../shared/result.ts';
import { generateKey, keyFingerprint } from '../crypto/index.ts';
import type { SecretStore } from '../secrets/index.ts';
import type { KeyRecord, KeysTable } from '../store/keys-table.ts';
import { encodeKey, keyFileText, parseKey, recoverySheetHtml } from './key-text.ts';

export type ExportMethod = 'clipboard' | 'file' | 'print' | 'confirmed';

export function keyRefFor(fingerprint: string): string {
  return `key.${fingerprint}`;
}

export class KeyService {
  constructor(
    private readonly secrets: SecretStore,
    private readonly table: KeysTable,
    private readonly now: () => Date,
  ) {}

  list(): KeyRecord[] {
    return this.table.list();
  }

  record(keyRef: string): KeyRecord {
    const rec = this.table.get(keyRef);
    if (!rec) throw new BackstopError('NOT_FOUND', `No encryption key ${keyRef} is known to this app.`);
    return rec;
  }

  async generate(): Promise<KeyRecord> {
    return this.store(generateKey(), 'generated');
  }

  async import(text: string): Promise<KeyRecord> {
    return this.store(parseKey(text), 'imported');
  }

  /** The key bytes, from the keychain. */
  async key(keyRef: string): Promise<Buffer> {
    const rec = this.record(keyRef);
    const text = await this.secrets.get(keyRef);
    if (text === null) {
      throw new BackstopError('NOT_FOUND', `The key with fingerprint ${rec.fingerprint} is not in this computer's keychain. Import it from your saved copy.`);
    }
    return parseKey(text);
  }

  /** Finds a key in the keychain by fingerprint (restore tries this before asking the user). */
  async findByFingerprint(fingerprint: string): Promise<Buffer | null> {
    const text = await this.secrets.get(keyRefFor(fingerprint));
    if (text === null) return null;
    const key = parseKey(text);
    return keyFingerprint(key) === fingerprint ? key : null;
  }

  /** The key as text, for the key panel (copy / show). Marks nothing: the caller says how it was saved. */
  async reveal(keyRef: string): Promise<string> {
    return encodeKey(await this.key(keyRef));
  }

  markExported(keyRef: string, method: ExportMethod): KeyRecord {
    this.record(keyRef);
    this.table.markExported(keyRef, method, this.now().toISOString());
    return this.record(keyRef);
  }

  async saveToFile(keyRef: string, path: string, taskName: string): Promise<KeyRecord> {
    if (!isAbsolute(path)) throw new BackstopError('VALIDATION', `path: "${path}" must be an absolute path.`);
    const rec = this.record(keyRef);
    const text = keyFileText({ taskName, fingerprint: rec.fingerprint, key: await this.reveal(keyRef), date: this.now() });
    try {
      writeFileSync(path, text, { flag: 'wx', mode: 0o600 });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new BackstopError('CONFLICT', `${path} already exists; choose another file name (Backstop never overwrites a file).`);
      if (code === 'ENOSPC') throw new BackstopError('DISK_FULL', `The disk holding ${path} is full; the key was not saved there.`);
      throw new BackstopError('STORAGE', `Cannot write ${path}: ${code ?? 'error'}.`);
    }
    return this.markExported(keyRef, 'file');
  }

  async recoverySheet(keyRef: string, taskName: string): Promise<string> {
    const rec = this.record(keyRef);
    return recoverySheetHtml({ taskName, fingerprint: rec.fingerprint, key: await this.reveal(keyRef), date: this.now() });
  }

  private async store(key: Buffer, origin: 'generated' | 'imported'): Promise<KeyRecord> {
    const fingerprint = keyFingerprint(key);
    const keyRef = keyRefFor(fingerprint);
    await this.secrets.set(keyRef, encodeKey(key));
    const at = this.now().toISOString();
    return this.table.upsert({
      keyRef,
      fingerprint,
      origin,
      createdAt: at,
      ...(origin === 'imported' ? { exportedAt: at, exportMethod: 'imported' } : {}),
    });
  }
}
