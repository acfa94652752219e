/**
 * spoolTar (wal-stream.ts): the archive a WAL incremental stores, read from the spool in
 * buffers of exactly the block size the point is cut into, each a whole allocation of its
 * own (so a sole writer hands it to an encoder without a copy), and extracting to the
 * spooled segments trimmed of their trailing empty pages; segments fed as they come (while
 * pg_receivewal still receives); and the removal of a `.partial` a killed pg_receivewal left
 * short.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { padSegment, removeTornPartials, segmentsIn, spoolTar, WAL_BLOCK_BYTES } from '../../../electron/engine/servers/postgres/wal-stream.ts';
import { extractTar } from '../../../electron/engine/servers/tar-extract.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const SEG = 16 * 1024 * 1024;
const PAGE = 8192;

/** A segment of `used` pages of records, then pages holding only a page header (as after a WAL switch). */
function segment(used: number, headerOnlyPages: number, size = SEG): Buffer {
  const b = Buffer.alloc(size);
  randomBytes(used * PAGE).copy(b);
  for (let p = used; p < used + headerOnlyPages; p++) randomBytes(24).copy(b, p * PAGE);
  return b;
}

async function collect(dir: string, blockBytes: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const b of spoolTar(dir, segmentsIn(dir, SEG), blockBytes)) out.push(b);
  return out;
}

describe('spoolTar', () => {
  it('yields whole buffers of exactly the block size and extracts to the trimmed segments', async () => {
    const spool = tempDir();
    const files: Record<string, Buffer> = {
      '000000010000000000000003': segment(2048, 0), // full: nothing to trim
      '000000010000000000000004': segment(300, 1748), // switched: header-only pages after record 300
      '000000010000000000000005.partial': segment(7, 0), // zeros after 7 pages
    };
    for (const [name, data] of Object.entries(files)) writeFileSync(join(spool, name), data);

    for (const blockBytes of [WAL_BLOCK_BYTES, 64 * 1024]) {
      const blocks = await collect(spool, blockBytes);
      const tar = Buffer.concat(blocks);
      // 3 headers, the trimmed data (each a multiple of 512), the last segment moved to a block boundary, the end marker.
      const beforeLast = 2 * 512 + (2048 + 300) * PAGE;
      const lastAt = Math.ceil(beforeLast / blockBytes) * blockBytes;
      expect(lastAt - beforeLast).toBeGreaterThan(0);
      expect(tar.length).toBe(lastAt + 512 + 7 * PAGE + 1024);
      expect(tar.subarray(lastAt, lastAt + 32).toString('ascii')).toBe('000000010000000000000005.partial');
      for (const [i, b] of blocks.entries()) {
        if (i < blocks.length - 1) expect(b.length).toBe(blockBytes);
        expect(b.byteOffset).toBe(0);
        expect(b.buffer.byteLength).toBe(b.length);
      }
      expect(new Set(blocks.map((b) => b.buffer)).size).toBe(blocks.length);

      const out = tempDir();
      await extractTar(Readable.from(blocks), out);
      expect(readFileSync(join(out, '000000010000000000000003')).equals(files['000000010000000000000003']!)).toBe(true);
      expect(readFileSync(join(out, '000000010000000000000004')).equals(files['000000010000000000000004']!.subarray(0, 300 * PAGE))).toBe(true);
      expect(readFileSync(join(out, '000000010000000000000005.partial')).equals(files['000000010000000000000005.partial']!.subarray(0, 7 * PAGE))).toBe(true);
      // A restore pads a trimmed segment back to its size with zeros.
      padSegment(join(out, '000000010000000000000005.partial'), SEG);
      expect(readFileSync(join(out, '000000010000000000000005.partial')).equals(files['000000010000000000000005.partial']!)).toBe(true);
    }
  });

  it('puts the last segment (stored again, complete, by the next incremental) at a block boundary, so its blocks recur', async () => {
    const e = segment(600, 0); // 4.7 MiB of records so far
    const first = tempDir();
    writeFileSync(join(first, '00000001000000000000000D'), segment(2048, 0));
    writeFileSync(join(first, '00000001000000000000000E.partial'), e);
    // The next run: E completed (a switch right after the same records), then F.
    const next = tempDir();
    const complete = Buffer.from(e);
    for (let p = 600; p < 2048; p++) randomBytes(24).copy(complete, p * PAGE);
    writeFileSync(join(next, '00000001000000000000000E'), complete);
    writeFileSync(join(next, '00000001000000000000000F.partial'), segment(3, 0));
    const key = (b: Buffer) => b.toString('base64');
    const earlier = new Set((await collect(first, WAL_BLOCK_BYTES)).map(key));
    const blocks = await collect(next, WAL_BLOCK_BYTES);
    // E is 600 pages (4.69 MiB) after a 512-byte header: blocks 1 to 3 lie wholly inside its records in both points.
    expect(blocks.slice(1, 4).every((b) => earlier.has(key(b)))).toBe(true);
    expect(earlier.has(key(blocks[0]!))).toBe(false); // the header names it without .partial
    const out = tempDir();
    await extractTar(Readable.from(blocks), out);
    expect(readFileSync(join(out, '00000001000000000000000E')).equals(e.subarray(0, 600 * PAGE))).toBe(true);
  });

  it('takes its segments as they come (an async feed, as while pg_receivewal receives) and aligns the one stored again: the same bytes as from a list', async () => {
    const spool = tempDir();
    writeFileSync(join(spool, '000000010000000000000003'), segment(2048, 0));
    writeFileSync(join(spool, '000000010000000000000004'), segment(300, 1748));
    writeFileSync(join(spool, '000000010000000000000005.partial'), segment(7, 0));
    const listed = segmentsIn(spool, SEG);
    const read: string[] = [];
    async function* feed() {
      for (const s of listed) {
        await new Promise((r) => setTimeout(r, 5)); // a segment completes a moment later
        read.push(s.file);
        yield s;
      }
    }
    const fed: Buffer[] = [];
    for await (const b of spoolTar(spool, feed(), WAL_BLOCK_BYTES, (s) => s.partial)) {
      fed.push(b);
      // The archive is written while the feed goes on: the first blocks come before the last segment was fed.
      if (fed.length === 1) expect(read).toEqual(['000000010000000000000003']);
    }
    expect(Buffer.concat(fed).equals(Buffer.concat(await collect(spool, WAL_BLOCK_BYTES)))).toBe(true);
    // An async feed with no segment to store again: nothing aligned (no pax comment entry).
    const plain = Buffer.concat(await (async () => {
      const out: Buffer[] = [];
      for await (const b of spoolTar(spool, feed(), WAL_BLOCK_BYTES)) out.push(b);
      return out;
    })());
    expect(plain.length).toBe(3 * 512 + (2048 + 300 + 7) * PAGE + 1024);
  });

  it('removes a .partial that a killed pg_receivewal left short while it zero-filled it, and nothing that holds WAL', async () => {
    const spool = tempDir();
    writeFileSync(join(spool, '000000010000000000000003'), segment(2048, 0));
    writeFileSync(join(spool, '000000010000000000000004.partial'), Buffer.alloc(9781248)); // torn pre-fill: zeros, short
    writeFileSync(join(spool, '000000010000000000000005.partial'), Buffer.alloc(0)); // pg_receivewal accepts 0 bytes
    const odd = Buffer.alloc(4 * PAGE);
    odd[PAGE + 3] = 1; // short but not all zeros: not Backstop's to judge
    writeFileSync(join(spool, '000000010000000000000006.partial'), odd);
    writeFileSync(join(spool, '000000010000000000000007.partial'), segment(3, 0)); // whole size: the one being written
    expect(removeTornPartials(spool, SEG)).toEqual(['000000010000000000000004.partial']);
    expect(segmentsIn(spool, SEG).map((s) => s.file)).toEqual(['000000010000000000000003', '000000010000000000000005.partial', '000000010000000000000006.partial', '000000010000000000000007.partial']);
  });

  it('keeps a segment whose only records are on its first page, and an empty spool is just the end marker', async () => {
    const spool = tempDir();
    const first = Buffer.alloc(SEG);
    randomBytes(40).copy(first); // long page header only: no records
    writeFileSync(join(spool, '000000010000000000000007.partial'), first);
    const tar = Buffer.concat(await collect(spool, WAL_BLOCK_BYTES));
    expect(tar.length).toBe(512 + 1024); // trimmed to nothing
    const empty = tempDir();
    expect(Buffer.concat(await collect(empty, WAL_BLOCK_BYTES)).equals(Buffer.alloc(1024))).toBe(true);
  });
});
