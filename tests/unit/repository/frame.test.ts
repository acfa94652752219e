import { Decompressor } from 'zstd-napi';
import { describe, expect, it } from 'vitest';
import { frame, unframe } from '../../../electron/engine/repository/frame.ts';

const damaged = (reason: string) => new Error(`damaged: ${reason}`);

describe('compression frame', () => {
  const payload = Buffer.from('row,row,row\n'.repeat(1000));

  it('round-trips with zstd and without compression', () => {
    for (const level of [0, 1, 3]) {
      const f = frame(payload, level);
      expect(f[0]).toBe(level === 0 ? 0 : 1);
      expect(unframe(f, new Decompressor(), damaged).equals(payload)).toBe(true);
    }
    expect(frame(payload, 3).length).toBeLessThan(payload.length / 10);
  });

  it("names what is wrong with the caller's error: empty, unknown compression id, not decompressible", () => {
    expect(() => unframe(Buffer.alloc(0), new Decompressor(), damaged)).toThrow('damaged: its frame is empty');
    expect(() => unframe(Buffer.from([7, 1, 2]), new Decompressor(), damaged)).toThrow('damaged: it uses unknown compression id 7');
    const f = frame(payload, 3);
    f.fill(0xaa, 5, 20);
    expect(() => unframe(f, new Decompressor(), damaged)).toThrow(/^damaged: it does not decompress/);
  });
});
