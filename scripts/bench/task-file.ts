/**
 * The task file the bench hands `backstop backup`: a logical task (weekly full, hourly
 * incremental, UTC) on one server, to one local folder. `extra` adds what a section needs
 * (encryption, excluded databases, tool paths). The server's password comes from the
 * environment variable the server names (`passwordEnv`), never from the file.
 */
import { writeFileSync } from 'node:fs';

export interface BenchServer {
  kind: 'postgres' | 'mysql';
  host: string;
  port: number;
  user: string;
  passwordEnv: string;
}

export function writeBenchTaskFile(file: string, name: string, server: BenchServer, backups: string, extra: Record<string, unknown> = {}): string {
  writeFileSync(
    file,
    JSON.stringify({
      name,
      server: { ...server, tls: 'disable' },
      type: 'logical',
      schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' },
      destinations: [{ kind: 'local', path: backups }],
      ...extra,
    }),
  );
  return file;
}
