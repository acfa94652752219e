/**
 * The base-backup tar extractor on archives built by the system tar and by hand: files,
 * directories, long names; refusing path traversal, links and truncation; files asked to be
 * sparse (a selective restore) at their size with no block written, the next entry intact.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { extractTar } from '../../../electron/engine/servers/tar-extract.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

function header(name: string, type: string, size: number, linkname = ''): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000600\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write(linkname, 157, 100);
  h.write('ustar\0' + '00', 257);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

function entry(name: string, data: string, type = '0', linkname = ''): Buffer {
  const body = Buffer.from(data);
  const pad = Buffer.alloc((512 - (body.length % 512)) % 512);
  return Buffer.concat([header(name, type, body.length, linkname), body, pad]);
}

const END = Buffer.alloc(1024);

describe('extractTar', () => {
  test('extracts an archive made by tar (nested folders, long names, empty and binary files)', async () => {
    const src = tempDir();
    const deep = join(src, 'base', 'x'.repeat(120), 'y'.repeat(60));
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, 'z'.repeat(90)), 'deep file');
    writeFileSync(join(src, 'base', 'empty'), '');
    writeFileSync(join(src, 'base', 'bin'), Buffer.from([0, 255, 1, 2]));
    const archive = execFileSync('tar', ['-C', join(src, 'base'), '-cf', '-', '.']);
    const dest = tempDir();
    const chunks = [];
    for (let i = 0; i < archive.length; i += 777) chunks.push(archive.subarray(i, i + 777));
    const files = await extractTar(Readable.from(chunks), dest);
    expect(files).toBe(3);
    expect(readFileSync(join(dest, 'x'.repeat(120), 'y'.repeat(60), 'z'.repeat(90)), 'utf8')).toBe('deep file');
    expect(readFileSync(join(dest, 'empty')).length).toBe(0);
    expect([...readFileSync(join(dest, 'bin'))]).toEqual([0, 255, 1, 2]);
  });

  test('creates the files `sparse` names at their size without writing them; the others as usual', async () => {
    const src = tempDir();
    mkdirSync(join(src, 'base', '16384'), { recursive: true });
    mkdirSync(join(src, 'base', '5'), { recursive: true });
    const big = Buffer.alloc(3 * 1024 * 1024 + 100, 0x5a);
    writeFileSync(join(src, 'base', '16384', '2619'), big);
    writeFileSync(join(src, 'base', '16384', 'PG_VERSION'), '15\n');
    writeFileSync(join(src, 'base', '5', '1259'), 'kept for real');
    const archive = execFileSync('tar', ['-C', src, '-cf', '-', 'base'], { maxBuffer: 16 * 1024 * 1024 });
    const dest = tempDir();
    const chunks = [];
    for (let i = 0; i < archive.length; i += 4099) chunks.push(archive.subarray(i, i + 4099));
    const files = await extractTar(Readable.from(chunks), dest, { sparse: (path) => path.startsWith('base/16384/') });
    expect(files).toBe(3);
    const sparse = statSync(join(dest, 'base', '16384', '2619'));
    expect(sparse.size).toBe(big.length);
    expect(sparse.blocks * 512).toBeLessThan(64 * 1024);
    expect(readFileSync(join(dest, 'base', '16384', '2619')).every((b) => b === 0)).toBe(true);
    expect(readFileSync(join(dest, 'base', '16384', 'PG_VERSION'))).toEqual(Buffer.alloc(3));
    expect(readFileSync(join(dest, 'base', '5', '1259'), 'utf8')).toBe('kept for real');
  });

  test.each([
    ['../escape', '0'],
    ['/etc/absolute', '0'],
    ['a/../../b', '0'],
  ])('refuses the unsafe path %s', async (name, type) => {
    const dest = tempDir();
    await expect(extractTar(Readable.from([Buffer.concat([entry(name, 'x', type), END])]), dest)).rejects.toMatchObject({ code: 'RESTORE_FAILED' });
    expect(readdirSync(dest)).toEqual([]);
  });

  test('refuses links', async () => {
    const dest = tempDir();
    await expect(extractTar(Readable.from([Buffer.concat([entry('link', '', '2', '/etc/passwd'), END])]), dest)).rejects.toMatchObject({
      code: 'RESTORE_FAILED',
      message: expect.stringMatching(/unsupported entry type "2"/),
    });
    expect(existsSync(join(dest, 'link'))).toBe(false);
  });

  test('refuses a truncated archive and a damaged header', async () => {
    const whole = Buffer.concat([entry('a', 'hello'), entry('b', 'world'), END]);
    await expect(extractTar(Readable.from([whole.subarray(0, 700)]), tempDir())).rejects.toMatchObject({ message: expect.stringMatching(/truncated/) });
    const damaged = Buffer.from(whole);
    damaged[10] = 0x41;
    await expect(extractTar(Readable.from([damaged]), tempDir())).rejects.toMatchObject({ message: expect.stringMatching(/checksum/) });
  });

  test('never overwrites an existing file', async () => {
    const dest = tempDir();
    writeFileSync(join(dest, 'a'), 'keep');
    await expect(extractTar(Readable.from([Buffer.concat([entry('a', 'new'), END])]), dest)).rejects.toThrow();
    expect(readFileSync(join(dest, 'a'), 'utf8')).toBe('keep');
  });
});
