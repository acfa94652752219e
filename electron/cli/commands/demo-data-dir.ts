/** A fresh temporary data folder for `backstop demo` (no --data-dir); cheap to import. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function demoDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'backstop-demo-'));
}
