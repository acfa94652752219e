import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { hasId, sortedIds } from '../../../electron/engine/repository/chunk-codec.ts';

describe('known chunk id lists', () => {
  it('finds exactly the ids it was built from (binary search over a sorted list)', () => {
    const ids = Array.from({ length: 1000 }, () => randomBytes(32));
    const list = sortedIds([...ids, ids[0]!, ids[500]!]); // duplicates are kept once
    expect(list.length).toBe(1000 * 32);
    for (const id of ids) expect(hasId(list, id)).toBe(true);
    for (let i = 0; i < 200; i++) expect(hasId(list, randomBytes(32))).toBe(false);
    // Neighbours of a present id (one bit off) are absent.
    const near = Buffer.from(ids[7]!);
    near[31]! ^= 1;
    expect(hasId(list, near)).toBe(false);
  });

  it('an empty list knows nothing, and ids must be 32 bytes', () => {
    const empty = sortedIds([]);
    expect(empty.length).toBe(0);
    expect(hasId(empty, randomBytes(32))).toBe(false);
    expect(() => sortedIds([randomBytes(31)])).toThrow(/32 bytes/);
  });
});
