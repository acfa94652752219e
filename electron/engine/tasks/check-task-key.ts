/**
 * A task that encrypts must reference a key this app knows, whose fingerprint matches,
 * that is present in the keychain, and — for a key Backstop generated — that the user
 * has saved outside the keychain (losing the key loses every backup made with it).
 *
 * Contract: throws VALIDATION / NOT_FOUND with what to do; touches nothing.
 */
import type { TaskInputParsed } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';
import type { KeyService } from '../keys/index.ts';

export async function checkTaskKey(input: TaskInputParsed, keys: KeyService): Promise<void> {
  const enc = input.encryption;
  if (enc.mode !== 'key') return;
  const rec = keys.record(enc.keyRef);
  if (rec.fingerprint !== enc.fingerprint) {
    throw new BackstopError('VALIDATION', `encryption.fingerprint: ${enc.fingerprint} does not match the key ${rec.fingerprint}.`);
  }
  await keys.key(enc.keyRef); // present in the keychain, or NOT_FOUND naming the fingerprint
  if (rec.exportedAt === null) {
    throw new BackstopError(
      'VALIDATION',
      `Save the key ${rec.fingerprint} first — copy it, save it to a file or print the recovery sheet — and confirm "I have saved this key". Without it, these backups cannot be restored.`,
    );
  }
}
