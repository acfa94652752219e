/**
 * Where the agent's control endpoint listens for a data dir (issue #25: the window becomes
 * a client of a running agent).
 *
 * Contract: on Linux and macOS, the Unix domain socket `<dataDir>/agent.sock` (the data dir
 * is 0700 and the socket 0600, so only the user who owns the data dir can connect). On
 * Windows, the named pipe `\\.\pipe\backstop-agent-<hash>` where `<hash>` is the first 24 hex
 * digits of the SHA-256 of the data dir's absolute path, lower-cased (Windows paths are
 * case-insensitive), so one data dir always names one pipe and two never share one.
 */
import { createHash } from 'node:crypto';
import { join, resolve, win32 } from 'node:path';

export const AGENT_SOCKET_FILE = 'agent.sock';

export function agentEndpointPath(dataDir: string, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') {
    const key = win32.resolve(dataDir).toLowerCase();
    return `\\\\.\\pipe\\backstop-agent-${createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 24)}`;
  }
  return join(resolve(dataDir), AGENT_SOCKET_FILE);
}
