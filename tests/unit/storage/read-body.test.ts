/** readBody (storage/backend.ts): a response body collected into one buffer of its declared length. */
import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { readBody } from '../../../electron/engine/storage/backend.ts';

const body = (...pieces: (Buffer | string)[]) => Readable.from(pieces, { objectMode: true });

describe('readBody', () => {
  it('fills one buffer of the declared length, the pieces copied in order', async () => {
    const a = Buffer.from('hello, ');
    const b = Buffer.from('world');
    const out = await readBody(body(a, b), 12);
    expect(out.toString()).toBe('hello, world');
    // A copy, not a view into the pieces (which the stream may reuse).
    a.fill(0);
    expect(out.toString()).toBe('hello, world');
  });

  it('returns only what arrived when the body is shorter than declared', async () => {
    const out = await readBody(body(Buffer.from('abc')), 10);
    expect(out.length).toBe(3);
    expect(out.toString()).toBe('abc');
  });

  it('keeps every byte when more arrives than declared, and when no length is known', async () => {
    expect((await readBody(body('abc', Buffer.from('defg')), 5)).toString()).toBe('abcdefg');
    expect((await readBody(body('ab', 'cd'))).toString()).toBe('abcd');
    expect((await readBody(body(), 0)).length).toBe(0);
    expect((await readBody(undefined, 7)).length).toBe(0);
  });
});
