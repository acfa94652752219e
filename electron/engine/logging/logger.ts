/**
 * Structured logging: pino JSON lines to a size-rotated file in `<dataDir>/logs`.
 *
 * Contract: fields that could carry a secret (password, secret, key, token, credentials,
 * anywhere in the object) are censored by pino, and the file sink scrubs every secret
 * value registered with the Redactor, so no secret is ever written. Callers add run and
 * database ids with `logger.child({ runId, database })`.
 */
import { pino, type Logger } from 'pino';
import { RotatingFile } from './rotating-file.ts';
import type { Redactor } from './redactor.ts';

export type { Logger } from 'pino';

const SECRET_FIELDS = ['password', 'secret', 'secretAccessKey', 'sessionToken', 'key', 'token', 'credentials', 'passphrase'];

export interface LoggerOptions {
  logsDir: string;
  redactor: Redactor;
  level?: string;
  maxBytes?: number;
}

export function createLogger(opts: LoggerOptions): { logger: Logger; close: () => void } {
  const file = new RotatingFile({ dir: opts.logsDir, maxBytes: opts.maxBytes, scrub: (l) => opts.redactor.scrub(l) });
  const logger = pino(
    {
      level: opts.level ?? process.env.BACKSTOP_LOG_LEVEL ?? 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]), censor: '[redacted]' },
    },
    { write: (line: string) => file.write(line) },
  );
  return { logger, close: () => file.close() };
}
