/**
 * The agent's control endpoint and its client (agent/endpoint.ts, agent/client.ts) with a real
 * engine in this process: the contract over the socket (same Results and codes as dispatch),
 * events pushed, malformed and oversize messages, a socket something else answers on, and a
 * call cut off by the agent going away.
 */
import { chmodSync, existsSync, lstatSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { connectAgent } from '../../../electron/agent/client.ts';
import { startAgentEndpoint } from '../../../electron/agent/endpoint.ts';
import { agentEndpointPath } from '../../../electron/agent/endpoint-path.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { MemorySecretStore } from '../../fixtures/memory-secret-store.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

/** Sends raw text on the socket; resolves with the lines it got back until it closed or `lines` arrived. */
function raw(path: string, text: string, lines = 1): Promise<{ lines: string[]; closed: boolean }> {
  return new Promise((resolve) => {
    const s = connect(path);
    let buf = '';
    const got: string[] = [];
    const done = (closed: boolean) => {
      s.destroy();
      resolve({ lines: got, closed });
    };
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) {
        got.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
      if (got.length >= lines) done(false);
    });
    s.on('close', () => done(true));
    s.on('error', () => done(true));
    s.write(text);
  });
}

describe('the agent control endpoint', () => {
  it('answers contract commands with the same Results as dispatch, pushes events, refuses malformed and oversize messages', async () => {
    const engine = await testEngine({ secrets: new MemorySecretStore(), encoderWorkers: 0 });
    const ep = await startAgentEndpoint(engine);
    onTestFinished(() => ep.close());
    expect(ep.path).toBe(agentEndpointPath(engine.dataDir));
    expect(lstatSync(ep.path).mode & 0o777).toBe(0o600);

    const conn = await connectAgent(engine.dataDir);
    onTestFinished(() => conn.close());
    expect(await conn.call('tasks.list', undefined)).toEqual({ ok: true, data: [] });
    expect(await conn.call('tasks.runNow', { id: 'nope', extra: 1 })).toEqual(await engine.call('tasks.runNow', { id: 'nope', extra: 1 } as never));
    expect(await conn.call('tasks.runNow', { id: '00000000-0000-4000-8000-000000000000' })).toEqual(await engine.call('tasks.runNow', { id: '00000000-0000-4000-8000-000000000000' }));
    expect(await conn.call('no.such', {})).toEqual({ ok: false, code: 'MALFORMED_REQUEST', message: 'Unknown command "no.such".', retryable: false });

    const seen: unknown[] = [];
    conn.onEvent((name, payload) => seen.push({ name, payload }));
    engine.events.emit('tasks.changed', { ids: ['t1'] });
    await expect.poll(() => seen).toEqual([{ name: 'tasks.changed', payload: { ids: ['t1'] } }]);

    expect(JSON.parse((await raw(ep.path, 'not json\n')).lines[0]!)).toEqual({ id: null, result: { ok: false, code: 'MALFORMED_REQUEST', message: 'The message is not a JSON object.', retryable: false } });
    expect(JSON.parse((await raw(ep.path, '{"id":7}\n')).lines[0]!)).toEqual({ id: 7, result: { ok: false, code: 'MALFORMED_REQUEST', message: 'The message names no command.', retryable: false } });
    expect(JSON.parse((await raw(ep.path, '{"id":8,"op":"browse"}\n')).lines[0]!)).toEqual({ id: 8, result: { ok: false, code: 'MALFORMED_REQUEST', message: 'Unknown op "browse".', retryable: false } });
    // A line above 16 MiB ends the connection without an answer; the endpoint keeps serving others.
    const big = await raw(ep.path, 'x'.repeat(17 * 1024 * 1024));
    expect(big).toEqual({ lines: [], closed: true });
    expect(await conn.call('tasks.list', undefined)).toEqual({ ok: true, data: [] });
  });

  it('refuses to replace a socket another process answers on (CONFLICT), and leaves it alone', async () => {
    const dataDir = tempDir();
    const engine = await testEngine({ dataDir, secrets: new MemorySecretStore(), encoderWorkers: 0 });
    const path = agentEndpointPath(dataDir);
    const accepted: Socket[] = [];
    const other = createServer((s) => {
      accepted.push(s);
      s.end();
    });
    await new Promise<void>((r) => other.listen(path, r));
    onTestFinished(() => {
      for (const s of accepted) s.destroy();
      other.close();
    });
    await expect(startAgentEndpoint(engine)).rejects.toMatchObject({
      code: 'CONFLICT',
      message: `Another process already answers on ${path}. Stop it (another "backstop agent" or "backstop serve" on this data dir), then start this one again.`,
    });
    expect(lstatSync(path).isSocket()).toBe(true);
    expect((await raw(path, '{}\n')).closed).toBe(true); // still the other process's
  });

  it('a call the agent never answers resolves UNREACHABLE when it goes away; a missing endpoint is UNREACHABLE after the wait', async () => {
    const dataDir = tempDir();
    const path = agentEndpointPath(dataDir);
    await expect(connectAgent(dataDir, { waitMs: 200 })).rejects.toMatchObject({
      code: 'UNREACHABLE',
      message: `The Backstop agent does not answer at ${path}. It may still be starting or have stopped; this window uses its own engine.`,
    });
    // A silent endpoint (0600, this user's): the call waits, then the endpoint closes.
    const sockets: Socket[] = [];
    const silent = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => silent.listen(path, r));
    chmodSync(path, 0o600);
    const conn = await connectAgent(dataDir);
    const pending = conn.call('tasks.list', undefined);
    await expect.poll(() => sockets.length).toBe(1);
    sockets[0]!.destroy();
    expect(await pending).toEqual({ ok: false, code: 'UNREACHABLE', message: 'The Backstop agent stopped before it answered. The window now uses its own engine; try again.', retryable: true });
    expect(conn.closed).toBe(true);
    expect(await conn.call('tasks.list', undefined)).toMatchObject({ ok: false, code: 'UNREACHABLE', message: 'The Backstop agent is no longer connected. Try again.' });
    await new Promise<void>((r) => silent.close(() => r()));
    expect(existsSync(path)).toBe(false);
  });
});
