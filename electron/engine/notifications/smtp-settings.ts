/**
 * The server-wide SMTP settings e-mail notifications use: from environment variables
 * (BACKSTOP_SMTP_*), else `<dataDir>/smtp.json` (documented in docs/NOTIFICATIONS.md).
 *
 * Contract: a password is never read from a file: BACKSTOP_SMTP_PASSWORD or the variable
 * the file's `passwordEnv` names (the app keeps it in the keychain). No host anywhere →
 * null (e-mail channels are then refused with VALIDATION where they are configured).
 * A malformed file or value is MALFORMED_REQUEST naming it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { BackstopError } from '../../shared/result.ts';

export type SmtpSecurity = 'starttls' | 'tls' | 'none';

export interface SmtpSettings {
  host: string;
  port: number;
  /** tls: TLS from the first byte (port 465); starttls: upgrade required (587); none: plain (a local relay only). */
  security: SmtpSecurity;
  user: string | null;
  password: string | null;
  from: string;
  /** PEM of an extra certificate authority to trust (a company's own SMTP server). */
  ca: string | null;
}

const SmtpFile = z.strictObject({
  host: z.string().min(1).max(255),
  port: z.number().int().min(1).max(65535).optional(),
  security: z.enum(['starttls', 'tls', 'none']).optional(),
  user: z.string().min(1).max(320).optional(),
  passwordEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional(),
  from: z.string().min(3).max(320).optional(),
  caFile: z.string().min(1).optional(),
});

function readCa(path: string, where: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw new BackstopError('MALFORMED_REQUEST', `The certificate authority file ${path} (${where}) cannot be read. Fix the path or remove it.`);
  }
}

export function smtpSettings(dataDir: string | null, env: NodeJS.ProcessEnv = process.env): SmtpSettings | null {
  let file: z.infer<typeof SmtpFile> | null = null;
  if (dataDir) {
    const path = join(dataDir, 'smtp.json');
    let text: string | null = null;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      text = null;
    }
    if (text !== null) {
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        throw new BackstopError('MALFORMED_REQUEST', `The SMTP settings file ${path} is not valid JSON. Fix it or remove it.`);
      }
      const parsed = SmtpFile.safeParse(raw);
      if (!parsed.success) throw new BackstopError('MALFORMED_REQUEST', `The SMTP settings file ${path}: ${parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ')}.`);
      file = parsed.data;
    }
  }
  const host = env.BACKSTOP_SMTP_HOST || file?.host;
  if (!host) return null;
  const security = (env.BACKSTOP_SMTP_SECURITY || file?.security || 'starttls') as SmtpSecurity;
  if (!['starttls', 'tls', 'none'].includes(security)) throw new BackstopError('MALFORMED_REQUEST', `BACKSTOP_SMTP_SECURITY must be starttls, tls or none.`);
  const portText = env.BACKSTOP_SMTP_PORT;
  const port = portText ? Number(portText) : (file?.port ?? (security === 'tls' ? 465 : 587));
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new BackstopError('MALFORMED_REQUEST', `BACKSTOP_SMTP_PORT must be a port number (1–65535).`);
  const user = env.BACKSTOP_SMTP_USER || file?.user || null;
  const password = env.BACKSTOP_SMTP_PASSWORD || (file?.passwordEnv ? env[file.passwordEnv] || null : null);
  const caFile = env.BACKSTOP_SMTP_CA_FILE || file?.caFile;
  return {
    host,
    port,
    security,
    user,
    password,
    from: env.BACKSTOP_SMTP_FROM || file?.from || `backstop@${host}`,
    ca: caFile ? readCa(caFile, env.BACKSTOP_SMTP_CA_FILE ? 'BACKSTOP_SMTP_CA_FILE' : 'caFile in smtp.json') : null,
  };
}
