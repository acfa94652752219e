/** Where the agent's control endpoint listens: a socket in the data dir, or on Windows a pipe named after it. */
import { describe, expect, it } from 'vitest';
import { agentEndpointPath } from '../../../electron/agent/endpoint-path.ts';

describe('agentEndpointPath', () => {
  it('is <dataDir>/agent.sock on Linux and macOS', () => {
    expect(agentEndpointPath('/home/dba/.config/Backstop', 'linux')).toBe('/home/dba/.config/Backstop/agent.sock');
    expect(agentEndpointPath('/Users/dba/Library/Application Support/Backstop/', 'darwin')).toBe('/Users/dba/Library/Application Support/Backstop/agent.sock');
  });

  it('is a named pipe derived from the data dir on Windows: one per data dir, case-insensitive, never shared', () => {
    const a = agentEndpointPath('C:\\Users\\dba\\AppData\\Roaming\\Backstop', 'win32');
    expect(a).toMatch(/^\\\\\.\\pipe\\backstop-agent-[0-9a-f]{24}$/);
    expect(agentEndpointPath('c:\\users\\DBA\\appdata\\roaming\\backstop\\', 'win32')).toBe(a);
    expect(agentEndpointPath('C:\\Users\\dba\\AppData\\Roaming\\Backstop-2', 'win32')).not.toBe(a);
    // The name is the SHA-256 of the lower-cased absolute path: fixed, so an agent and a window built apart agree.
    expect(agentEndpointPath('C:\\Backstop', 'win32')).toBe('\\\\.\\pipe\\backstop-agent-d4cf99ebb4cbc72fce413c91');
  });
});
