/**
 * A size-rotated log file: `<dir>/backstop.log`, rolled to `backstop.1.log` …
 * `backstop.<keep>.log` when it would exceed `maxBytes`; the oldest is dropped.
 *
 * Contract: `write` appends one whole line synchronously (log volume is small and a
 * crash must not lose the line that explains it); lines are passed through `scrub`
 * first, so a registered secret can never reach the disk. After `close`, lines are dropped:
 * a late line (a scheduled run's error logged as the engine shuts down) must neither throw nor
 * land in whatever file the OS has since given the closed descriptor's number.
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface RotatingFileOptions {
  dir: string;
  maxBytes?: number;
  keep?: number;
  scrub?: (line: string) => string;
}

export class RotatingFile {
  readonly path: string;
  private fd: number | null;
  private size: number;
  private readonly maxBytes: number;
  private readonly keep: number;
  private readonly scrub: (line: string) => string;

  constructor(private readonly opts: RotatingFileOptions) {
    mkdirSync(opts.dir, { recursive: true });
    this.path = join(opts.dir, 'backstop.log');
    this.maxBytes = opts.maxBytes ?? 5 * 1024 * 1024;
    this.keep = opts.keep ?? 5;
    this.scrub = opts.scrub ?? ((l) => l);
    this.fd = openSync(this.path, 'a', 0o600);
    this.size = fstatSync(this.fd).size;
  }

  write(line: string): void {
    if (this.fd === null) return;
    const data = Buffer.from(this.scrub(line), 'utf8');
    if (this.size > 0 && this.size + data.length > this.maxBytes) this.rotate();
    writeSync(this.fd, data);
    this.size += data.length;
  }

  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }

  private rotate(): void {
    closeSync(this.fd!);
    const nth = (n: number) => join(this.opts.dir, `backstop.${n}.log`);
    rmSync(nth(this.keep), { force: true });
    for (let n = this.keep - 1; n >= 1; n--) if (existsSync(nth(n))) renameSync(nth(n), nth(n + 1));
    renameSync(this.path, nth(1));
    this.fd = openSync(this.path, 'a', 0o600);
    this.size = 0;
  }
}
