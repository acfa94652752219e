/**
 * child-process.ts `retry`: a client tool refused a session because connection slots are full
 * is started again (real processes: node scripts that fail like a refused pg_dump a given
 * number of times, counting their starts in a file), its stream carries only the successful
 * try's bytes; a tool that already wrote output is never started again; a cancel during the
 * pause ends with CANCELED.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { describe, expect, test } from 'vitest';
import { pgConnectionSlotsFull, classifyPostgres } from '../../../electron/engine/servers/classify.ts';
import { runTool, streamTool, type ToolCommand } from '../../../electron/engine/servers/child-process.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { until } from '../../fixtures/until.ts';

const REFUSED = 'pg_dump: error: connection to server at "127.0.0.1", port 5432 failed: FATAL:  too many connections for role "bk"';
const classify = classifyPostgres({ server: 'PostgreSQL server db:5432', action: 'dumping database "shop"', fallback: 'DUMP_FAILED' });

/** A tool refused `refusals` times, then writing `out`; `partial`: each refused try writes it to stdout first. */
function tool(refusals: number, out: string, partial = ''): { cmd: ToolCommand; starts: () => number } {
  const counter = join(tempDir(), 'starts');
  writeFileSync(counter, '0');
  const script = `const fs = require('fs'); const n = Number(fs.readFileSync(${JSON.stringify(counter)}, 'utf8')) + 1; fs.writeFileSync(${JSON.stringify(counter)}, String(n));
if (n <= ${refusals}) { process.stdout.write(${JSON.stringify(partial)}); process.stderr.write(${JSON.stringify(REFUSED)} + '\\n'); process.exitCode = 1; } else process.stdout.write(${JSON.stringify(out)});`;
  return { cmd: { path: process.execPath, args: ['-e', script] }, starts: () => Number(readFileSync(counter, 'utf8')) };
}

describe('a session refused for full connection slots is asked again', () => {
  test('streamTool: two refusals, then the dump; the stream holds only its bytes', async () => {
    const t = tool(2, 'PGDMP-archive');
    const { stream, done } = streamTool(t.cmd, { classify, retry: pgConnectionSlotsFull });
    const chunks: Buffer[] = [];
    for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
    await done;
    expect(Buffer.concat(chunks).toString()).toBe('PGDMP-archive');
    expect(t.starts()).toBe(3);
  });

  test('streamTool: a tool that wrote output before failing is not started again', async () => {
    const t = tool(5, 'never', 'half an archive');
    const { stream, done } = streamTool(t.cmd, { classify, retry: pgConnectionSlotsFull });
    stream.resume();
    await expect(done).rejects.toMatchObject({ code: 'DUMP_FAILED', message: expect.stringContaining('Role "bk" has reached its CONNECTION LIMIT') });
    expect(t.starts()).toBe(1);
  });

  test('runTool: retried; without `retry` the first refusal stands', async () => {
    const t = tool(1, 'answer');
    await expect(runTool(t.cmd, { classify, retry: pgConnectionSlotsFull })).resolves.toBe('answer');
    expect(t.starts()).toBe(2);
    const once = tool(1, 'answer');
    await expect(runTool(once.cmd, { classify })).rejects.toMatchObject({ code: 'DUMP_FAILED' });
    expect(once.starts()).toBe(1);
  });

  test('a cancel while waiting to ask again ends with CANCELED, the tool not started again', async () => {
    const t = tool(100, 'never');
    const ac = new AbortController();
    const { stream, done } = streamTool(t.cmd, { classify, retry: pgConnectionSlotsFull, signal: ac.signal });
    void text(stream).catch(() => undefined);
    // Cancel once the tool was started a second time (it is refused, paused or starting again then).
    await until('a second start', () => t.starts() >= 2, 10_000, 20);
    const at = t.starts();
    ac.abort();
    await expect(done).rejects.toMatchObject({ code: 'CANCELED' });
    // No start after the cancel (one already spawned may still have counted itself).
    expect(t.starts()).toBeLessThanOrEqual(at + 1);
  });
});
