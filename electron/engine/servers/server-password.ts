/**
 * A stored server's password, from the keychain. Null for servers without one (SQLite,
 * or no password set); AUTH_FAILED when the reference points at nothing, so the user is
 * told to enter it again rather than seeing a connection error.
 */
import type { Server } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';
import type { SecretStore } from '../secrets/index.ts';

export async function serverPassword(secrets: SecretStore, server: Server): Promise<string | null> {
  if (server.kind === 'sqlite' || !server.passwordRef) return null;
  const password = await secrets.get(server.passwordRef);
  if (password === null) {
    throw new BackstopError('AUTH_FAILED', `The password of server "${server.name}" is missing from the keychain; enter it again in the server's settings.`);
  }
  return password;
}
