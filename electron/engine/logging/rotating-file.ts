/**
 * A size-rotated log file: `<dir>/backstop.log`, rolled to `backstop.1.log` …
 * `backstop.<keep>.log` when it would exceed `maxBytes`; the oldest is dropped.
 *
 * Contract: `write` appends one whole line synchronously (log volume is small and a
 * crash must not lose the line that explains it); lines are passed through `scrub`
 * first, so a registered secret can never reach the disk. After `close`, lines are dropped:
 * a late line (a scheduled run's error logged as the engine shuts down) must neither throw nor
 * land in whatever file the OS has since given the closed descriptor's number.
 * A line the disk refuses (full, read-only, I/O error) is dropped, never thrown: a log that
 * cannot be written must not fail the backup it describes (the data folder's disk filling up
 * during a run made the CLI answer INTERNAL "Details are in the Backstop log" for a run whose
 * backups were stored). The first refusal is said once on stderr; the next line that gets
 * through starts on a line of its own, after any part of a line the disk took.
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
  /** The last line was refused (the disk may hold part of it). */
  private refused = false;
  /** The refusal was said on stderr (once per process). */
  private told = false;

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
    const text = this.scrub(line);
    const data = Buffer.from(this.refused ? `\n${text}` : text, 'utf8');
    try {
      if (this.size > 0 && this.size + data.length > this.maxBytes) this.rotate();
      // A full disk may take part of a line (a short write) before it refuses the rest.
      for (let at = 0; at < data.length; ) {
        const n = writeSync(this.fd!, data, at);
        at += n;
        this.size += n;
      }
      this.refused = false;
    } catch (e) {
      if (!this.told) {
        this.told = true;
        process.stderr.write(`backstop: the log ${this.path} cannot be written (${(e as Error).message}); log lines are dropped until it can.\n`);
      }
      this.refused = true;
      if (this.fd === null) this.fd = this.reopen();
    }
  }

  /** The log file open again after a rotation that failed half-way (null: dropped until the next line tries). */
  private reopen(): number | null {
    try {
      return openSync(this.path, 'a', 0o600);
    } catch {
      return null;
    }
  }

  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }

  private rotate(): void {
    closeSync(this.fd!);
    this.fd = null; // closed: a rename the disk refuses must not leave a stale descriptor number behind
    const nth = (n: number) => join(this.opts.dir, `backstop.${n}.log`);
    rmSync(nth(this.keep), { force: true });
    for (let n = this.keep - 1; n >= 1; n--) if (existsSync(nth(n))) renameSync(nth(n), nth(n + 1));
    renameSync(this.path, nth(1));
    this.fd = openSync(this.path, 'a', 0o600);
    this.size = 0;
  }
}
