/**
 * Secrets (database passwords, S3 credentials, encryption keys) live only in the OS
 * keychain. Everything else in Backstop stores a reference: the account name under the
 * `dev.backstop` service.
 *
 * Contract: `set` overwrites; `get` resolves null when absent; `delete` is idempotent.
 * When no keychain is reachable every call fails with KEYCHAIN_UNAVAILABLE, when it is
 * locked with KEYCHAIN_LOCKED — there is no plaintext fallback. On Linux the store is
 * pinned to the Secret Service (the kernel keyring does not survive a reboot). Error
 * messages never include the secret or the keychain's raw output.
 *
 * Test/isolation knob: BACKSTOP_KEYCHAIN_SERVICE, when set, replaces the service name
 * (read when a store is made, so child processes inherit it). The test harness gives each
 * test file its own, so files running at once never see each other's secrets. Users never
 * need it; the default is `dev.backstop`.
 */
import type { AsyncEntry } from '@napi-rs/keyring';
import { BackstopError } from '../../shared/result.ts';

export interface SecretStore {
  set(account: string, value: string): Promise<void>;
  get(account: string): Promise<string | null>;
  delete(account: string): Promise<void>;
}

export const KEYCHAIN_SERVICE = 'dev.backstop';

/** The service name secrets are stored under: KEYCHAIN_SERVICE unless BACKSTOP_KEYCHAIN_SERVICE names another. */
export function keychainService(): string {
  return process.env.BACKSTOP_KEYCHAIN_SERVICE || KEYCHAIN_SERVICE;
}

const ACCOUNT = /^[A-Za-z0-9._:-]{1,200}$/;

function platformHint(): string {
  switch (process.platform) {
    case 'linux':
      return 'Install and start a Secret Service provider (gnome-keyring or KWallet) in your desktop session, and unlock it.';
    case 'darwin':
      return 'Unlock your login keychain in Keychain Access.';
    case 'win32':
      return 'Make sure Windows Credential Manager is available for your account.';
    default:
      return 'Make sure the operating system keychain is available and unlocked.';
  }
}

/** Maps a keyring failure to a specific, secret-free error. */
export function keychainError(e: unknown): BackstopError {
  const text = e instanceof Error ? `${e.message} ${String((e.cause as Error | undefined)?.message ?? '')}` : String(e);
  if (/locked|no result found|prompt|dismissed|not unlocked/i.test(text)) {
    return new BackstopError('KEYCHAIN_LOCKED', `The OS keychain is locked or has no default collection. ${platformHint()}`);
  }
  return new BackstopError(
    'KEYCHAIN_UNAVAILABLE',
    `The OS keychain is not available, and Backstop never stores secrets in plain text. ${platformHint()}`,
  );
}

export class KeychainSecretStore implements SecretStore {
  constructor(private readonly service = keychainService()) {}

  /** The native keychain module loads on first use, so commands that never read a secret start faster. */
  private async entry(account: string): Promise<AsyncEntry> {
    if (!ACCOUNT.test(account)) throw new BackstopError('VALIDATION', 'Invalid keychain reference.');
    try {
      const { AsyncEntry } = await import('@napi-rs/keyring');
      return new AsyncEntry(this.service, account, { linux: { store: 'secret-service' } });
    } catch (e) {
      throw keychainError(e);
    }
  }

  async set(account: string, value: string): Promise<void> {
    const entry = await this.entry(account);
    try {
      await entry.setPassword(value);
    } catch (e) {
      throw keychainError(e);
    }
  }

  async get(account: string): Promise<string | null> {
    const entry = await this.entry(account);
    try {
      return await entry.getPassword();
    } catch (e) {
      throw keychainError(e);
    }
  }

  async delete(account: string): Promise<void> {
    const entry = await this.entry(account);
    try {
      await entry.deleteCredential();
    } catch (e) {
      throw keychainError(e);
    }
  }
}
