import { describe, expect, it, vi } from 'vitest';
import { dispatch, type Handlers } from '../../../electron/engine/api/dispatch.ts';
import { COMMANDS } from '../../../electron/shared/ipc/index.ts';
import { BackstopError, ERROR_CODES } from '../../../electron/shared/result.ts';

/** A handler table whose every handler records its call and echoes a marker. */
function recordingHandlers() {
  const calls: string[] = [];
  const handlers = Object.fromEntries(
    COMMANDS.map((name) => [
      name,
      (input: unknown) => {
        calls.push(name);
        return { handled: name, input };
      },
    ]),
  ) as unknown as Handlers;
  return { handlers, calls };
}

// Payloads no command accepts: wrong types, prototype tricks, huge strings, deep nesting.
const HOSTILE: unknown[] = [
  42,
  'a string',
  [],
  [1, 2, 3],
  true,
  { __proto__: { polluted: true }, id: 5 },
  { id: 'x'.repeat(1_000_000) },
  { id: '../../etc/passwd' },
  { kind: 'sqlite', name: 'n', folder: '/tmp', extra: 'field' },
  { kind: 'postgres', name: 'n', host: 'h', port: 99999, user: 'u' },
  { kind: 'oracle', name: 'n' },
  { theme: 'neon' },
  { limit: -1 },
  { id: { nested: { deeper: [1, { evenDeeper: null }] } } },
];

describe('dispatch', () => {
  it('answers an unknown command with MALFORMED_REQUEST and calls nothing', async () => {
    const { handlers, calls } = recordingHandlers();
    const res = await dispatch(handlers, 'fs.readFile' as never, { path: '/etc/passwd' });
    expect(res).toEqual({ ok: false, code: 'MALFORMED_REQUEST', message: 'Unknown command "fs.readFile".', retryable: false });
    expect(calls).toEqual([]);
  });

  it('rejects every hostile payload for every command that takes input, without calling the handler', async () => {
    const { handlers, calls } = recordingHandlers();
    let rejected = 0;
    for (const name of COMMANDS) {
      for (const payload of HOSTILE) {
        const res = await dispatch(handlers, name, payload);
        if (!res.ok) {
          expect(res.code).toBe('MALFORMED_REQUEST');
          expect(res.message).toMatch(new RegExp(`^Invalid request for ${name.replace('.', '\\.')}: `));
          expect(res.message.length).toBeLessThan(1000);
          rejected++;
        }
      }
    }
    // Commands without input accept nothing but undefined/null/{}: all hostile payloads are rejected there too.
    expect(rejected).toBe(COMMANDS.length * HOSTILE.length);
    expect(calls).toEqual([]);
  });

  it('never echoes submitted values (they may be secrets) in the error message', async () => {
    const { handlers } = recordingHandlers();
    const secret = 'hunter2-super-secret';
    const res = await dispatch(handlers, 'servers.create', { kind: 'postgres', name: 'db', host: 'h', user: 'u', password: secret, port: 'not-a-number' });
    expect(res.ok).toBe(false);
    expect(JSON.stringify(res)).not.toContain(secret);
    expect(!res.ok && res.message).toContain('port');
  });

  it('passes the parsed input (with defaults applied) to the handler', async () => {
    const { handlers } = recordingHandlers();
    const res = await dispatch(handlers, 'servers.create', { kind: 'postgres', name: ' main ', host: 'db.local', user: 'backup' });
    expect(res).toEqual({
      ok: true,
      data: { handled: 'servers.create', input: { kind: 'postgres', name: 'main', host: 'db.local', port: 5432, user: 'backup', tls: 'prefer' } },
    });
  });

  it('turns a BackstopError into its code, and anything else into INTERNAL without leaking its text', async () => {
    const { handlers } = recordingHandlers();
    const onInternal = vi.fn();
    handlers['servers.list'] = () => {
      throw new BackstopError('UNREACHABLE', 'Server db.local:5432 did not answer.');
    };
    handlers['tasks.list'] = () => {
      throw new TypeError('cannot read properties of undefined (secret path /home/x)');
    };
    expect(await dispatch(handlers, 'servers.list', undefined, onInternal)).toEqual({
      ok: false,
      code: 'UNREACHABLE',
      message: 'Server db.local:5432 did not answer.',
      retryable: true,
    });
    expect(onInternal).not.toHaveBeenCalled();
    const internal = await dispatch(handlers, 'tasks.list', undefined, onInternal);
    expect(internal).toMatchObject({ ok: false, code: 'INTERNAL', retryable: false });
    expect(JSON.stringify(internal)).not.toContain('secret path');
    expect(onInternal).toHaveBeenCalledWith(expect.any(TypeError), 'tasks.list');
  });

  it('has a closed, duplicate-free set of error codes', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
  });
});

describe('describeIssues', () => {
  it('keeps the answer short whatever the payload', async () => {
    const { handlers } = recordingHandlers();
    const res = await dispatch(handlers, 'app.info', Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`key${i}`, i])));
    expect(res).toMatchObject({ ok: false, code: 'MALFORMED_REQUEST' });
    expect(!res.ok && res.message.length).toBeLessThan(300);
    expect(!res.ok && res.message).toBe('Invalid request for app.info: unknown keys "key0", "key1", "key2", "key3", "key4" and 9995 more');
  });

  it('names one or a few unknown keys in full, and clips a hostile key name', async () => {
    const { handlers } = recordingHandlers();
    const one = await dispatch(handlers, 'servers.delete', { id: 'x', extra: 1 });
    expect(one).toMatchObject({ ok: false, code: 'MALFORMED_REQUEST', message: 'Invalid request for servers.delete: unknown key "extra"' });
    const long = await dispatch(handlers, 'app.info', { ['k'.repeat(5_000)]: 1, b: 2 });
    expect(!long.ok && long.message).toBe(`Invalid request for app.info: unknown keys "${'k'.repeat(39)}…", "b"`);
  });
});
