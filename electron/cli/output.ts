/**
 * CLI output: human text by default, one JSON document with `--json`.
 *
 * Contract: success prints the data (JSON: the data itself) to stdout and exits 0;
 * failure prints `{"error":{"code","message"}}` (JSON) or `backstop: CODE: message` to
 * stderr and exits non-zero (2 for usage errors, 1 otherwise).
 */
import type { Failure } from '../shared/result.ts';

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
};

/**
 * stdout that cannot take the result: the reader closed it early (`| head -c 10`: EPIPE) or
 * it is a file on a full disk (`> /dev/full`: ENOSPC). Node reports either as an 'error'
 * event that, unheard, crashes the process with a stack trace after the work was done. Heard
 * here: a reader that left chose to stop reading (the exit code stays the command's); any
 * other failure is said on stderr and makes the exit code 1 — the result was lost. Returns
 * the exit code to use, once the command's `code` is known.
 */
export function guardStdout(): (code: number) => Promise<number> {
  let failure: NodeJS.ErrnoException | null = null;
  const heard = (e: NodeJS.ErrnoException) => void (failure ??= e);
  process.stdout.on('error', heard);
  return async (code) => {
    // A write that failed in the last tick reports in the next one.
    await new Promise((r) => setImmediate(r));
    const f = failure as NodeJS.ErrnoException | null;
    if (!f || f.code === 'EPIPE') return code;
    process.stderr.write(`backstop: the result could not be written to stdout (${f.message}); the command's work itself ${code === 0 ? 'succeeded' : `ended with exit code ${code}`}. Free space on the disk stdout goes to, or send it elsewhere.\n`);
    return code === 0 ? 1 : code;
  };
}

export function printFailure(io: Io, json: boolean, f: Pick<Failure, 'code' | 'message'>): number {
  if (json) io.out(JSON.stringify({ error: { code: f.code, message: f.message } }));
  else io.err(`backstop: ${f.code}: ${f.message}`);
  return f.code === 'MALFORMED_REQUEST' ? 2 : 1;
}

export function printData(io: Io, json: boolean, data: unknown, human: () => string): number {
  io.out(json ? JSON.stringify(data, null, 2) : human());
  return 0;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
