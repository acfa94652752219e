/**
 * "Test connection" for an SFTP destination (storage/probe.ts's put/get/list/delete probe in
 * the base folder) with SFTP's own hint: the most likely fix for a host key not yet pinned or
 * changed, a refused login, a missing base folder, missing permissions, an unreachable server.
 * A non-retrying backend, so failures show quickly. A refused host key puts the server's
 * fingerprint in the report (`hostKey`): the window shows it for the user to accept.
 */
import type { ProbeReport, ProbeStep } from '../../shared/domain.ts';
import { probeBackend, type ProbeFailure } from './probe.ts';
import { HostKeyRefused, SftpBackend, type SftpBackendOptions } from './sftp-backend.ts';

export type SftpErrorKind = 'host-key-unpinned' | 'host-key-changed' | 'auth' | 'unreachable' | 'no-such-folder' | 'permission' | 'other';

function classify(e: unknown, seen: { hostKey?: string }): SftpErrorKind | null {
  if (e instanceof HostKeyRefused) {
    seen.hostKey = e.seen;
    return e.pinned ? 'host-key-changed' : 'host-key-unpinned';
  }
  if (typeof e !== 'object' || e === null) return null;
  const { level, code } = e as { level?: unknown; code?: unknown };
  if (level === 'client-authentication') return 'auth';
  if (level === 'client-socket' || level === 'client-timeout' || level === 'client-dns') return 'unreachable';
  if (code === 2) return 'no-such-folder';
  if (code === 3) return 'permission';
  return 'other';
}

function hintFor(o: SftpBackendOptions, steps: ProbeStep[], failures: ProbeFailure<SftpErrorKind>[]): string | undefined {
  const kinds = new Set(failures.map((f) => f.info));
  const at = `${o.host}:${o.port}`;
  if (kinds.has('host-key-unpinned')) return "The server's host key is not accepted yet. Compare its fingerprint with the server's (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and accept it.";
  if (kinds.has('host-key-changed')) return "The server's host key is not the one accepted before. If the server was reinstalled, verify and accept the new key; otherwise do not connect: someone may be intercepting.";
  if (kinds.has('auth')) return `The server refused the login of "${o.user}". Check the user name and the ${o.privateKeyFile ? 'private key file (and its passphrase), and that its public key is in the user\'s authorized_keys' : 'password'}.`;
  if (kinds.has('unreachable')) return `Could not reach an SSH server at ${at}. Check the host and port, that sshd runs there, and any firewall.`;
  if (kinds.has('no-such-folder') || steps.some((s) => s.code === 'NOT_FOUND')) return `The folder ${o.base || o.root || "(the login folder)"} does not exist on the server. Create it, or correct the path.`;
  if (kinds.has('permission') || steps.some((s) => s.code === 'PERMISSION_DENIED')) return `User "${o.user}" may not write to ${o.root || 'its login folder'}. Fix the folder's owner or mode on the server, or choose another folder.`;
  if (steps.some((s) => s.code === 'DISK_FULL')) return "The server's disk (or the user's quota) is full. Free space there.";
  return failures.length > 0 ? 'The SFTP server rejected a request. See the failed step for details.' : undefined;
}

/** The probe's report; `hostKey` is the server's fingerprint when it was refused over its host key (for the editor to show and accept). */
export async function probeSftp(options: SftpBackendOptions): Promise<ProbeReport> {
  const backend = new SftpBackend({ ...options, readyTimeoutMs: options.readyTimeoutMs ?? 10_000, channels: 1 });
  const seen: { hostKey?: string } = {};
  const report = await probeBackend(backend, { classify: (e) => classify(e, seen), hint: (steps, failures) => hintFor(options, steps, failures) });
  return seen.hostKey ? { ...report, hostKey: seen.hostKey } : report;
}
