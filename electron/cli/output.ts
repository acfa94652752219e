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
