import { closeSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger, Redactor, RotatingFile } from '../../../electron/engine/logging/index.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

describe('logging', () => {
  it('rotates by size and keeps a bounded number of files', () => {
    const dir = tempDir();
    const file = new RotatingFile({ dir, maxBytes: 100, keep: 2 });
    for (let i = 0; i < 20; i++) file.write(`line ${String(i).padStart(2, '0')} ${'x'.repeat(30)}\n`);
    file.close();
    expect(readdirSync(dir).sort()).toEqual(['backstop.1.log', 'backstop.2.log', 'backstop.log']);
    for (const f of readdirSync(dir)) expect(readFileSync(join(dir, f)).length).toBeLessThanOrEqual(100);
    expect(readFileSync(join(dir, 'backstop.log'), 'utf8')).toContain('line 19');
    expect(readFileSync(join(dir, 'backstop.2.log'), 'utf8')).not.toContain('line 00');
  });

  it('drops a line written after close: no throw, and nothing lands in a file that got the closed descriptor', () => {
    const dir = tempDir();
    const file = new RotatingFile({ dir });
    file.write('before\n');
    file.close();
    // The OS hands the lowest free descriptor to the next open: the log's, just closed.
    const other = join(dir, 'a-pack');
    const fd = openSync(other, 'w');
    try {
      expect(() => file.write('after\n')).not.toThrow();
      writeSync(fd, 'pack bytes');
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(other, 'utf8')).toBe('pack bytes');
    expect(readFileSync(join(dir, 'backstop.log'), 'utf8')).toBe('before\n');
    expect(() => file.close()).not.toThrow();
  });

  it('writes JSON lines with child-logger ids and never a secret', () => {
    const dir = tempDir();
    const redactor = new Redactor();
    redactor.register('s3-SECRET-abc');
    const { logger, close } = createLogger({ logsDir: dir, redactor });
    logger.child({ runId: 'run-1', database: 'app' }).warn({ password: 'pw-field-value', s3: { secretAccessKey: 'sk' } }, 'uploading with s3-SECRET-abc');
    close();
    const line = JSON.parse(readFileSync(join(dir, 'backstop.log'), 'utf8').trim());
    expect(line).toMatchObject({ runId: 'run-1', database: 'app', password: '[redacted]', s3: { secretAccessKey: '[redacted]' }, msg: 'uploading with [redacted]' });
    expect(JSON.stringify(line)).not.toMatch(/pw-field-value|s3-SECRET-abc/);
  });
});
